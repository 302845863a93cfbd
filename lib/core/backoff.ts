import type { BackoffOptions } from './types.js';

/**
 * Exponential backoff with jitter and a floor. The n-th delay (n from 1) lies
 * in [floor, min(cap, floor * factor^n)], where the floor is
 * `initialDelayMillis`; so it is never 0 and never a hot loop.
 */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly options: Required<BackoffOptions>,
    private readonly random: () => number = Math.random,
  ) {}

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.failures;
  }

  /** The delay before the next attempt, counting one more failure. */
  next(): number {
    this.failures++;
    const { initialDelayMillis: floor, maxDelayMillis: cap, factor, jitter } = this.options;
    const ceiling = Math.min(cap, floor * factor ** this.failures);
    return Math.floor(ceiling - jitter * this.random() * (ceiling - floor));
  }

  /** Starts the schedule over (after a connection that stayed up). */
  reset(): void {
    this.failures = 0;
  }
}
