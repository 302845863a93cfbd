import type { AnyFrame } from './types.js';
import type { Lease } from './connection-pool.js';
import { performance } from 'node:perf_hooks';
import { Timekeeper, promiseOf, type Pending } from './pending.js';
import { WaitQueue } from './wait-queue.js';

/** What the pool tells its wait list: the errors it settles waiters with. */
export interface WaitListHooks {
  /** The error of a waiter whose deadline passed. */
  timeoutError(waiter: Waiter): Error;
  /** The error of a waiter whose signal aborted. */
  abortedError(reason: unknown): Error;
}

/**
 * A waiting `acquire()`. Its life: queued, then taken (handed a connection,
 * which may be validated for it first), then settled, exactly once, by a
 * grant, its deadline, its signal or the pool's close, whichever comes first.
 * A waiter whose connection is still being validated is settled at once by
 * its deadline, its signal or close; the validation's outcome then goes to
 * the next waiter.
 */
export class Waiter implements Pending<Lease<AnyFrame>> {
  // The fields of a Pending, declared here in one class (not inherited): the
  // constructor of a waiter runs on every waiting acquire, and a flat one inlines.
  prev: Pending<AnyFrame> | undefined = undefined;
  next: Pending<AnyFrame> | undefined = undefined;
  queued = false;
  deadline = 0;
  timer: NodeJS.Timeout | undefined = undefined;
  settled = false;
  resolve: (value: Lease<AnyFrame>) => void = noop;
  reject: (error: Error) => void = noop;
  /** Taken out of the queue while its connection is being validated. */
  held = false;

  constructor(
    private readonly list: WaitList,
    readonly signal: AbortSignal | undefined,
    readonly timeoutMillis: number,
    /** Where `acquire()` was called (for leak detection), when enabled. */
    readonly stack: string | undefined,
  ) {}

  expire(): void {
    this.list.fail(this, this.list.hooks.timeoutError(this));
  }

  abort(reason: unknown): void {
    this.list.fail(this, this.list.hooks.abortedError(reason));
  }
}

function noop(): void {}

/**
 * The pool's waiting acquires: the one owner of a waiter's life. Every change
 * of a waiter's state goes through here, so its deadline timer, its signal
 * listener and its place in the queue are kept together.
 *
 * Deadlines: waiters with the pool's own timeout join the queue in creation
 * order, which is deadline order, so the queue itself is the deadline list:
 * one timer, armed for the oldest, serves them all (no timer and no second
 * list per wait, on the hot path). A waiter with another timeout, or one that
 * has ever been taken out for a validation (it may come back at the front,
 * out of deadline order), has a timer of its own.
 */
export class WaitList {
  private readonly queue = new WaitQueue<Waiter>();
  /** Waiters taken out of the queue while their connection is validated. */
  private readonly held = new Set<Waiter>();
  /** Own timers and abort signals. */
  private readonly clock: Timekeeper;
  /** The one timer of the queued waiters with the default timeout; left to fire when they leave. */
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly defaultTimeoutMillis: number,
    readonly hooks: WaitListHooks,
  ) {
    this.clock = new Timekeeper(defaultTimeoutMillis);
  }

  /** Waiters in the queue (not those whose connection is being validated). */
  get size(): number {
    return this.queue.size;
  }

  /** A new waiter at the back of the queue, its deadline running. */
  add(signal: AbortSignal | undefined, timeoutMillis: number, stack: string | undefined): Promise<Lease<AnyFrame>> {
    const waiter = new Waiter(this, signal, timeoutMillis, stack);
    const promise = promiseOf(waiter);
    waiter.deadline = performance.now() + timeoutMillis;
    if (timeoutMillis === this.defaultTimeoutMillis) {
      if (this.timer === undefined) this.arm(timeoutMillis);
      else if (this.queue.size === 0) this.timer.ref();
    } else {
      this.clock.armOwn(waiter, timeoutMillis);
    }
    this.queue.push(waiter);
    if (signal !== undefined) this.clock.watchSignal(waiter);
    return promise;
  }

  /**
   * The oldest waiter, taken out of the queue. It is still waiting: grant it
   * with `claim()` + `resolve()`, or `hold()` it while its connection is
   * validated.
   */
  shift(): Waiter | undefined {
    const waiter = this.queue.shift();
    if (this.queue.size === 0 && this.timer !== undefined) this.timer.unref();
    return waiter;
  }

  /** Marks a taken waiter as waiting for a validation (close and abort still reach it; so does its deadline). */
  hold(waiter: Waiter): void {
    if (waiter.settled) return;
    waiter.held = true;
    this.held.add(waiter);
    if (waiter.timer === undefined) this.clock.armOwn(waiter, waiter.deadline - performance.now());
  }

  /** Puts a taken waiter back at the front of the queue: it keeps its turn. */
  requeue(waiter: Waiter): void {
    if (waiter.settled) return;
    this.release(waiter);
    // Back at the front, maybe out of deadline order: its own timer keeps its deadline.
    if (waiter.timer === undefined) this.clock.armOwn(waiter, waiter.deadline - performance.now());
    if (this.queue.size === 0 && this.timer !== undefined) this.timer.ref();
    this.queue.unshift(waiter);
  }

  /**
   * Settles a waiter for a grant: true if it was still waiting (the caller
   * then resolves it), false if it already settled (the caller offers the
   * connection to someone else).
   */
  claim(waiter: Waiter): boolean {
    if (waiter.settled) return false;
    this.settle(waiter);
    return true;
  }

  /** Settles a waiter with an error, from any state. Does nothing if it already settled. */
  fail(waiter: Waiter, error: Error): void {
    if (waiter.settled) return;
    this.settle(waiter);
    waiter.reject(error);
  }

  /** Settles every waiter, queued or held, with `error` (the pool is closing). */
  failAll(error: () => Error): void {
    let waiter: Waiter | undefined;
    while ((waiter = this.queue.first) !== undefined) this.fail(waiter, error());
    for (const held of [...this.held]) this.fail(held, error());
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.clock.stopIfIdle();
  }

  private settle(waiter: Waiter): void {
    waiter.settled = true;
    if (waiter.queued) {
      this.queue.remove(waiter);
      if (this.queue.size === 0 && this.timer !== undefined) this.timer.unref();
    }
    this.release(waiter);
    if (waiter.timer !== undefined || waiter.signal !== undefined) this.clock.untrack(waiter);
  }

  private release(waiter: Waiter): void {
    if (!waiter.held) return;
    waiter.held = false;
    this.held.delete(waiter);
  }

  private arm(delay: number): void {
    this.timer = setTimeout(this.onTimer, Math.max(1, Math.ceil(delay)));
  }

  /** Times out the queued waiters (with the default timeout) whose deadline passed, oldest first. */
  private readonly onTimer = (): void => {
    this.timer = undefined;
    // libuv's loop clock may lag performance.now() by up to a millisecond.
    const now = performance.now() + 1;
    let waiter = this.queue.first;
    while (waiter !== undefined) {
      const next = waiter.next as Waiter | undefined;
      if (waiter.timer === undefined) {
        if (waiter.deadline > now) {
          this.arm(waiter.deadline - now + 1);
          return;
        }
        this.fail(waiter, this.hooks.timeoutError(waiter));
      }
      if (next === undefined) return;
      // A subscriber of the timeout's diagnostics message may have taken `next` out of the queue.
      waiter = next.queued ? next : this.queue.first;
    }
  };
}
