import type { Sandbox, SandboxResult, SandboxRunOptions, SandboxStep } from "../core/index.js";

/**
 * Caps how many sandboxes are alive at once (`execution.concurrency`): runs beyond the cap wait,
 * first come first served. Wraps any Sandbox and is one itself.
 */
export class SandboxPool implements Sandbox {
  readonly name: string;
  readonly concurrency: number;
  private readonly sandbox: Sandbox;
  private live = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(sandbox: Sandbox, concurrency: number) {
    this.sandbox = sandbox;
    this.name = sandbox.name;
    this.concurrency = Math.max(1, Math.floor(concurrency));
  }

  /** Sandboxes alive right now. */
  get active(): number {
    return this.live;
  }

  /** Runs waiting for a slot. */
  get pending(): number {
    return this.waiting.length;
  }

  async run(steps: SandboxStep[], options: SandboxRunOptions): Promise<SandboxResult> {
    if (this.live >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.live += 1;
    try {
      return await this.sandbox.run(steps, options);
    } finally {
      const next = this.waiting.shift();
      if (next)
        next(); // the slot passes straight to the next run
      else this.live -= 1;
    }
  }

  async start(): Promise<void> {
    await this.sandbox.start?.();
  }

  async close(): Promise<void> {
    await this.sandbox.close?.();
  }
}
