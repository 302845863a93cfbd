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
