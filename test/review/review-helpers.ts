import type { ConnmanError } from '../../lib/index.js';
import { isConnmanError } from '../../lib/index.js';

/** Quick reconnects, so that tests that wait for one are short. */
export const quick = { backoff: { initialDelayMillis: 20, maxDelayMillis: 40 } } as const;

/** The error `promise` rejects with (the test fails if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<ConnmanError> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${String(value)}`);
    },
    (error: unknown) => error as ConnmanError,
  );
}

/** `ok:<value>` for a fulfilled promise, the error's code (or text) for a rejected one. */
export async function outcome(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    (value) => `ok:${Buffer.isBuffer(value) ? value.toString() : String(value)}`,
    (error: unknown) => (isConnmanError(error) ? error.code : `not a ConnmanError: ${String(error)}`),
  );
}

/**
 * Resolves after `millis`: only where the span itself is under test (a deadline that must not
 * fire within it), after waiting for the event that starts it; never to wait for an event.
 */
export function delay(millis: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, millis));
}

/** True if `promise` settles within `millis`, false otherwise (the bound's timer is cleared either way). */
export async function within(promise: Promise<unknown>, millis: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, millis, false)));
  try {
    return await Promise.race([promise.then(() => true), bound]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `predicate` on the event loop (setImmediate rounds) until it holds, within `millis`. */
export async function eventually(predicate: () => boolean, millis = 2000): Promise<void> {
  const end = Date.now() + millis;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Timers alive in the process now (Node's own view). */
export function liveTimers(): number {
  return process.getActiveResourcesInfo().filter((type) => type === 'Timeout').length;
}
