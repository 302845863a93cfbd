import type { EventEmitter } from 'node:events';

/**
 * The arguments of the next `event` of `emitter`. Unlike `events.once`, it does
 * not listen for 'error', so it leaves the emitter's error reporting as it is.
 */
export function next<T extends unknown[] = unknown[]>(
  emitter: EventEmitter<any> | EventEmitter,
  event: string,
): Promise<T> {
  return new Promise((resolve) => (emitter as EventEmitter).once(event, (...args: unknown[]) => resolve(args as T)));
}

/** Waits, event by event, until `predicate()` holds (checked first, and after each `event`). */
export async function until(
  emitter: EventEmitter<any> | EventEmitter,
  event: string,
  predicate: () => boolean,
): Promise<void> {
  while (!predicate()) await next(emitter, event);
}

/** Waits until `predicate()` holds, checked first and after each of `events` (whichever comes). */
export async function untilAny(
  emitter: EventEmitter<any> | EventEmitter,
  events: readonly string[],
  predicate: () => boolean,
): Promise<void> {
  const target = emitter as EventEmitter;
  while (!predicate()) {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    for (const event of events) target.once(event, wake);
    try {
      await woken;
    } finally {
      for (const event of events) target.off(event, wake);
    }
  }
}
