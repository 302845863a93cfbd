import type { AnyFrame } from './types.js';
import { performance } from 'node:perf_hooks';

/**
 * Something a caller awaits: a waiting `acquire()` or a request. It is settled
 * exactly once (`settled` guards every path), and carries the links of the
 * two intrusive lists it may sit in: a wait queue (`prev` / `next`) and a
 * deadline list (`dPrev` / `dNext`). Intrusive links make queueing allocate
 * nothing and removal O(1), however long the list.
 */
export abstract class Pending<T> {
  prev: Pending<AnyFrame> | undefined = undefined;
  next: Pending<AnyFrame> | undefined = undefined;
  queued = false;
  /** `performance.now()` value at which the caller gives up. */
  deadline = 0;
  /** A timer of its own, for a deadline that the shared list cannot order. */
  timer: NodeJS.Timeout | undefined = undefined;
  settled = false;
  resolve: (value: T) => void = noop;
  reject: (error: Error) => void = noop;

  constructor(
    readonly signal: AbortSignal | undefined,
    readonly timeoutMillis: number,
  ) {}

  /** Called once when the deadline passes while unsettled. */
  abstract expire(): void;
  /** Called once when the signal aborts while unsettled. */
  abstract abort(reason: unknown): void;
}

function noop(): void {}

/*
 * The executor of every pending promise: it runs synchronously inside
 * `new Promise`, so the pending being built is handed over in a module
 * variable instead of a closure allocated per call.
 */
let capturing: Pending<AnyFrame> | undefined;
function captureResolvers(resolve: (value: unknown) => void, reject: (error: Error) => void): void {
  capturing!.resolve = resolve;
  capturing!.reject = reject;
}

/** The promise of `pending`, whose resolvers become its `resolve` / `reject`. */
export function promiseOf<T>(pending: Pending<T>): Promise<T> {
  capturing = pending as Pending<AnyFrame>;
  const promise = new Promise<T>(captureResolvers as (resolve: (value: T) => void, reject: (e: Error) => void) => void);
  capturing = undefined;
  return promise;
}

/** The links of a pending that can join a Timekeeper's deadline list (requests do; waiters need not). */
export interface DeadlineLinks {
  dPrev: Listed | undefined;
  dNext: Listed | undefined;
  dListed: boolean;
}

/** A pending that can join a deadline list. */
export type Listed = Pending<AnyFrame> & DeadlineLinks;

/**
 * The clock of a set of pendings that share one default timeout, and their
 * abort signals. Pendings with the default timeout join one list in creation
 * order, which is deadline order, and share one timer armed for the oldest;
 * a pending with another timeout gets a timer of its own. Each signal gets
 * one listener, however many pendings share it.
 *
 * This is the only place that arms, re-arms or clears these timers: callers
 * `track` a pending when it starts waiting and `untrack` it when it settles.
 */
export class Timekeeper {
  private head: Listed | undefined;
  private tail: Listed | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly signals = new Map<AbortSignal, { listener: () => void; members: Set<Pending<AnyFrame>> }>();

  constructor(readonly defaultTimeoutMillis: number) {}

  /** Starts the clock of `pending` (and listens to its signal). */
  track(pending: Listed, now = performance.now()): void {
    const timeout = pending.timeoutMillis;
    pending.deadline = now + timeout;
    if (timeout === this.defaultTimeoutMillis) {
      pending.dPrev = this.tail;
      pending.dNext = undefined;
      pending.dListed = true;
      if (this.tail === undefined) {
        this.head = pending;
        // A timer left from earlier entries keeps running (it fires early and re-arms).
        if (this.timer !== undefined) this.timer.ref();
      } else {
        this.tail.dNext = pending;
      }
      this.tail = pending;
      if (this.timer === undefined) this.arm(timeout);
    } else {
      pending.timer = setTimeout(onOwnTimer, timeout, pending);
    }
    const signal = pending.signal;
    if (signal !== undefined) this.listen(signal, pending);
  }

  /** Stops the clock of `pending` and forgets its signal. Idempotent. */
  untrack(pending: Pending<AnyFrame> & Partial<DeadlineLinks>): void {
    if (pending.dListed === true) {
      const { dPrev, dNext } = pending;
      if (dPrev === undefined) this.head = dNext;
      else dPrev.dNext = dNext;
      if (dNext === undefined) this.tail = dPrev;
      else dNext.dPrev = dPrev;
      pending.dPrev = pending.dNext = undefined;
      pending.dListed = false;
      // The shared timer is left to fire (it re-arms for the new oldest, or
      // stops): cheaper than clearing and re-arming it for every entry. While
      // nothing is listed, it does not keep the process alive.
      if (this.head === undefined && this.timer !== undefined) this.timer.unref();
    } else if (pending.timer !== undefined) {
      clearTimeout(pending.timer);
      pending.timer = undefined;
    }
    const signal = pending.signal;
    if (signal !== undefined) {
      const entry = this.signals.get(signal);
      if (entry !== undefined && entry.members.delete(pending) && entry.members.size === 0) {
        signal.removeEventListener('abort', entry.listener);
        this.signals.delete(signal);
      }
    }
  }

  /** Gives `pending` a timer of its own, due in `delay` ms (cleared by `untrack`). */
  armOwn(pending: Pending<AnyFrame>, delay: number): void {
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    pending.timer = setTimeout(onOwnTimer, Math.max(0, Math.ceil(delay)), pending);
  }

  /** Listens to `pending`'s signal (for an owner that keeps its deadline itself). */
  watchSignal(pending: Pending<AnyFrame>): void {
    if (pending.signal !== undefined) this.listen(pending.signal, pending);
  }

  /**
   * Stops the shared timer once nothing is listed any more (an owner that
   * closes calls it after settling its pendings, which untracks them).
   */
  stopIfIdle(): void {
    if (this.head === undefined && this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private arm(delay: number): void {
    this.timer = setTimeout(this.onTimer, Math.max(1, Math.ceil(delay)));
  }

  /** Expires every listed pending whose deadline passed, oldest first, then re-arms for the next. */
  private readonly onTimer = (): void => {
    this.timer = undefined;
    // libuv's loop clock may lag performance.now() by up to a millisecond.
    const now = performance.now() + 1;
    let pending: Listed | undefined;
    while ((pending = this.head) !== undefined && pending.deadline <= now) {
      this.untrack(pending);
      if (!pending.settled) pending.expire();
    }
    if (pending !== undefined && this.timer === undefined) this.arm(pending.deadline - now + 1);
  };

  private listen(signal: AbortSignal, pending: Pending<AnyFrame>): void {
    let entry = this.signals.get(signal);
    if (entry === undefined) {
      const members = new Set<Pending<AnyFrame>>();
      const listener = (): void => {
        this.signals.delete(signal);
        for (const member of members) {
          members.delete(member);
          this.untrack(member);
          if (!member.settled) member.abort(signal.reason);
        }
      };
      entry = { listener, members };
      signal.addEventListener('abort', listener, { once: true });
      this.signals.set(signal, entry);
    }
    entry.members.add(pending);
  }
}

function onOwnTimer(pending: Pending<AnyFrame>): void {
  pending.timer = undefined;
  if (!pending.settled) pending.expire();
}
