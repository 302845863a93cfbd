import { describe, expect, it } from '@jest/globals';
import { Backoff } from '../../lib/index.js';

const options = { initialDelayMillis: 100, maxDelayMillis: 5000, factor: 2, jitter: 1, resetAfterMillis: 0 };

describe('Backoff', () => {
  it('keeps every delay within [floor, min(cap, floor * factor^n)], never 0', () => {
    for (const random of [() => 0, () => 0.999999, Math.random]) {
      const backoff = new Backoff(options, random);
      for (let n = 1; n <= 20; n++) {
        const delay = backoff.next();
        expect(delay).toBeGreaterThanOrEqual(100);
        expect(delay).toBeLessThanOrEqual(Math.min(5000, 100 * 2 ** n));
      }
    }
  });

  it('spreads delays over the whole window with full jitter', () => {
    const delays = Array.from({ length: 2000 }, () => new Backoff(options).next());
    // First window is [100, 200]: both halves are used.
    expect(delays.filter((d) => d < 150).length).toBeGreaterThan(700);
    expect(delays.filter((d) => d >= 150).length).toBeGreaterThan(700);
  });

  it('without jitter follows the exponential schedule up to the cap', () => {
    const backoff = new Backoff({ ...options, jitter: 0 });
    expect(Array.from({ length: 8 }, () => backoff.next())).toEqual([200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
  });

  it('starts over after reset()', () => {
    const backoff = new Backoff({ ...options, jitter: 0 });
    backoff.next();
    backoff.next();
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(backoff.next()).toBe(200);
  });
});
