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

/**
 * Keeps up to `size` items of `source` pulled ahead of the consumer: a consumer that frees a
 * request slot takes its next item at once instead of waiting for it to be built. The refill is a
 * timer (the start of the next event-loop turn, after the current turn's I/O callbacks and the
 * requests they queued are written), at most `size / 4` items at a time, so building runs between
 * bursts of answers rather than in front of the next request. A consumer that finds nothing ready
 * gets the next item as soon as it is built (the first request does not wait for `size` of them,
 * and the requests of waiting consumers leave before anything is read ahead).
 * The source's error reaches the waiting and the next `next()`; `return()` drops what was read
 * ahead and ends the source.
 */
export function readAhead<T>(
  source: AsyncIterator<T>,
  size: number,
): AsyncIterableIterator<T> & { return(): Promise<IteratorResult<T>> } {
  const buffer: T[] = [];
  const waiting: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }[] = [];
  let ended = false;
  let error: { error: unknown } | undefined;
  // One pull loop at a time. `running` is set and cleared synchronously around the loop, so a
  // waiter added after the loop's last check always starts a new one.
  let running = false;
  let inflight: Promise<unknown> | undefined;
  let scheduled = false;
  const fill = async (limit = Number.POSITIVE_INFINITY): Promise<void> => {
    if (running) return;
    running = true;
    let pulled = 0;
    try {
      while (!ended && (waiting.length > 0 || (buffer.length < size && pulled++ < limit))) {
        let next: IteratorResult<T>;
        try {
          const pending = source.next();
          inflight = pending;
          next = await pending;
        } catch (e) {
          error ??= { error: e };
          ended = true;
          break;
        } finally {
          inflight = undefined;
        }
        if (next.done) ended = true;
        else if (waiting.length > 0) waiting.shift()!.resolve({ done: false, value: next.value });
        else buffer.push(next.value);
      }
    } finally {
      running = false;
    }
    if (!ended) return;
    // Ended: whoever still waits gets the error, or the end.
    for (const w of waiting.splice(0)) {
      if (error) {
        w.reject(error.error);
        error = undefined;
      } else w.resolve({ done: true, value: undefined });
    }
  };
  const refillLater = (): void => {
    if (scheduled || ended || running) return;
    scheduled = true;
    setTimeout(async () => {
      scheduled = false;
      await fill(Math.max(1, size >> 2));
      if (buffer.length < size) refillLater();
    }, 0);
  };
  const iterator: AsyncIterableIterator<T> & { return(): Promise<IteratorResult<T>> } = {
    next(): Promise<IteratorResult<T>> {
      if (buffer.length > 0) {
        const value = buffer.shift() as T;
        if (buffer.length <= size >> 1) refillLater();
        return Promise.resolve({ done: false, value });
      }
      if (error) {
        const e = error.error;
        error = undefined;
        return Promise.reject(e);
      }
      if (ended) return Promise.resolve({ done: true, value: undefined });
      return new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        // Only what is waited for now; reading ahead waits for the next turn.
        void fill(0).then(refillLater);
      });
    },
    async return(): Promise<IteratorResult<T>> {
      ended = true;
      buffer.length = 0;
      // A pull in flight ends first (a generator cannot be returned in the middle of a step).
      await inflight?.catch(() => undefined);
      await source.return?.(undefined);
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
