interface Waiter {
  count: number;
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * Counts arrivals (accepted connections) and settles the promises waiting for
 * the nth one. No timer, no polling: each arrival resolves what it satisfies.
 */
export class Arrivals {
  private arrived = 0;
  private waiters: Waiter[] = [];

  /** Arrivals so far. */
  get count(): number {
    return this.arrived;
  }

  /** One more arrival; resolves every wait it satisfies. */
  arrive(): number {
    const count = ++this.arrived;
    if (this.waiters.length === 0) return count;
    const due = this.waiters.filter((waiter) => waiter.count <= count);
    if (due.length === 0) return count;
    this.waiters = this.waiters.filter((waiter) => waiter.count > count);
    for (const waiter of due) {
      waiter.signal?.removeEventListener('abort', waiter.onAbort!);
      waiter.resolve();
    }
    return count;
  }

  /** Resolves once `count` arrivals happened (at once if they have); rejects with the signal's reason. */
  waitFor(count: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.arrived >= count) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { count, resolve, reject, signal, onAbort: undefined };
      if (signal) {
        waiter.onAbort = () => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiters.push(waiter);
    });
  }
}
