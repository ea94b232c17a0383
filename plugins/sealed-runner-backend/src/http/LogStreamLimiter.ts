/** How many live log streams may be open, and how long a client may stall one. */
export interface LogStreamLimits {
  maxPerCaller: number;
  maxTotal: number;
  slowClientSeconds: number;
}

export { DEFAULT_STREAM_LIMITS } from '@sealed-runner/backstage-plugin-sealed-runner-node';

/** One open stream's place; `release` frees it (more than once is harmless). */
export interface LogStreamSlot {
  release(): void;
}

/**
 * Counts open log streams per caller and in all, so that nobody (one user
 * with many tabs, one script opening streams in a loop) can hold the
 * backend's sockets and memory. Per replica: each replica guards itself.
 */
export class LogStreamLimiter {
  private readonly open = new Map<string, number>();
  private total = 0;

  constructor(private readonly limits: LogStreamLimits) {}

  /** A slot for one more stream of `caller`, or why there is none. */
  acquire(caller: string): LogStreamSlot | { refused: string } {
    const mine = this.open.get(caller) ?? 0;
    if (mine >= this.limits.maxPerCaller) {
      return {
        refused: `${caller} already has ${mine} open log streams (sealedRunner.logStreams.maxPerCaller: ${this.limits.maxPerCaller}); close one first`,
      };
    }
    if (this.total >= this.limits.maxTotal) {
      return {
        refused: `this backend already serves ${this.total} log streams (sealedRunner.logStreams.maxTotal: ${this.limits.maxTotal}); try again shortly`,
      };
    }
    this.open.set(caller, mine + 1);
    this.total += 1;
    let released = false;
    return {
      release: () => {
        if (released) {
          return;
        }
        released = true;
        this.total -= 1;
        const left = (this.open.get(caller) ?? 1) - 1;
        if (left > 0) {
          this.open.set(caller, left);
        } else {
          this.open.delete(caller);
        }
      },
    };
  }

  /** Open streams, for tests and diagnostics. */
  get openStreams(): number {
    return this.total;
  }
}
