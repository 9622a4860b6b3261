/**
 * Runs `fn` over an async iterable with at most `limit` calls in flight, pulling input lazily so
 * memory stays bounded by `limit`, not by the input. Stops pulling when `signal` aborts; calls
 * already started finish. Rejects with the first error thrown by `fn` (after in-flight calls end).
 */
export async function forEachConcurrent<T>(
  items: AsyncIterable<T> | Iterable<T>,
  limit: number,
  fn: (item: T) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const iterator =
    Symbol.asyncIterator in items
      ? (items as AsyncIterable<T>)[Symbol.asyncIterator]()
      : (items as Iterable<T>)[Symbol.iterator]();
  let failed: { error: unknown } | undefined;
  let done = false;
  // Pulling from one iterator must be serialised.
  let pulling: Promise<unknown> = Promise.resolve();
  const next = (): Promise<IteratorResult<T>> => {
    const result = pulling.then(() => iterator.next());
    pulling = result.catch(() => undefined);
    return result;
  };
  const worker = async (): Promise<void> => {
    while (!done && !failed && !signal?.aborted) {
      const result = await next();
      if (result.done) {
        done = true;
        return;
      }
      try {
        await fn(result.value);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
  if (failed) throw failed.error;
}
