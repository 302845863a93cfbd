import { ConnmanError, describeError } from './errors.js';
import { Pending, type DeadlineLinks, type Listed, type Timekeeper } from './pending.js';
import type { RequestPayload } from './types.js';
import type { WaitQueue } from './wait-queue.js';

/** @internal What a written request reports its timeout to: the connection it was written on. */
export interface RequestCarrier {
  /** A request written on socket generation `generation` timed out. */
  requestTimedOut(generation: number, error: ConnmanError): void;
  /** A request written on socket generation `generation` settled (answered, failed, timed out, aborted). */
  requestSettled(generation: number): void;
  /** `host:port` of the connection, for messages. */
  describe(): string;
}

/** @internal Where a request was made: a pool, or a single connection. */
export interface RequestOrigin {
  readonly poolName: string | undefined;
  /** The last connect error, for the message of a request that never found a ready connection. */
  readonly lastConnectError: Error | undefined;
}

/** @internal Something waiting for a reply on a connection: a request, or a heartbeat probe. */
export interface InFlight<F> {
  readonly settled: boolean;
  /** Its number on its connection, in write order: a frame answers only entries written before it arrived. */
  seq: number;
  answer(frame: F): void;
  fail(error: Error): void;
}

/**
 * @internal A request's life, from `request()` until it settles, exactly
 * once: waiting (for a ready connection, in a queue), written (in a
 * connection's in-flight queue, answered in write order), then answered,
 * timed out, aborted or failed with its connection. A request that times out
 * or is aborted after it was written stays in its connection's in-flight
 * queue as a settled entry, so that its late reply is consumed in order and
 * never answers the next request.
 */
export class Request<F> extends Pending<F> implements InFlight<F>, DeadlineLinks {
  dPrev: Listed | undefined = undefined;
  dNext: Listed | undefined = undefined;
  dListed = false;
  /** The queue it waits in, while not yet written. */
  waitingIn: WaitQueue<Request<F>> | undefined = undefined;
  /** The connection it was written on, and that connection's socket generation then. */
  carrier: RequestCarrier | undefined = undefined;
  generation = 0;
  seq = 0;

  constructor(
    readonly payload: RequestPayload,
    signal: AbortSignal | undefined,
    timeoutMillis: number,
    private readonly clock: Timekeeper,
    private readonly origin: RequestOrigin,
  ) {
    super(signal, timeoutMillis);
  }

  /** Starts its deadline (and listens to its signal). */
  start(): void {
    this.clock.track(this as Listed);
  }

  /** Joins a queue of requests waiting for a ready connection. */
  wait(queue: WaitQueue<Request<F>>): void {
    this.waitingIn = queue;
    queue.push(this);
  }

  /** Leaves its wait queue: it is being written on `carrier`. */
  written(carrier: RequestCarrier, generation: number): void {
    this.waitingIn?.remove(this);
    this.waitingIn = undefined;
    this.carrier = carrier;
    this.generation = generation;
  }

  answer(frame: F): void {
    if (this.settled) return;
    this.settle();
    this.resolve(frame);
    this.carrier?.requestSettled(this.generation); // after: its caller hears first, then whoever waited for the drain
  }

  fail(error: Error): void {
    if (this.settled) return;
    this.settle();
    this.reject(error);
    this.carrier?.requestSettled(this.generation);
  }

  expire(): void {
    const carrier = this.carrier;
    const error = this.timeoutError(carrier);
    this.fail(error);
    carrier?.requestTimedOut(this.generation, error);
  }

  abort(reason: unknown): void {
    const written = this.carrier !== undefined;
    this.fail(
      new ConnmanError(
        'ERR_REQUEST_ABORTED',
        `request()${this.where()} was aborted by its signal ${written ? 'after it was written (its reply will be read and dropped)' : 'before it was written'}.`,
        { pool: this.origin.poolName, cause: reason },
      ),
    );
  }

  private settle(): void {
    this.settled = true;
    this.clock.untrack(this);
    if (this.waitingIn !== undefined) {
      this.waitingIn.remove(this);
      this.waitingIn = undefined;
    }
  }

  private timeoutError(carrier: RequestCarrier | undefined): ConnmanError {
    const cause = carrier === undefined ? this.origin.lastConnectError : undefined;
    const message =
      carrier !== undefined
        ? `No reply from ${carrier.describe()} within ${this.timeoutMillis} ms (requestTimeoutMillis, or the call's timeoutMillis).`
        : `request()${this.where()} found no ready connection within ${this.timeoutMillis} ms` +
          (cause ? ` (last connect error: ${describeError(cause)})` : '') +
          '; check the peer, or raise requestTimeoutMillis.';
    // The stack would show only a timer callback, never the caller: skip capturing it.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    const error = new ConnmanError('ERR_REQUEST_TIMEOUT', message, { pool: this.origin.poolName, cause });
    Error.stackTraceLimit = limit;
    return error;
  }

  private where(): string {
    const pool = this.origin.poolName;
    return pool === undefined ? '' : ` on pool '${pool}'`;
  }
}

/** Entries of every in-flight queue of the process (see `inFlightEverywhere`). */
let inFlightTotal = 0;

/**
 * @internal How many requests (and heartbeat probes) are written and not yet
 * answered on all connections of the process together: more than one means
 * pipelined traffic, whose writes are worth gathering.
 */
export function inFlightEverywhere(): number {
  return inFlightTotal;
}

/**
 * @internal First in, first out, amortised O(1), for the requests a
 * connection has written and not yet seen answered (settled ones included,
 * until their reply has been read). Counted in `inFlightEverywhere()`.
 */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  push(item: T): void {
    this.items.push(item);
    inFlightTotal++;
  }

  shift(): T | undefined {
    const items = this.items;
    const item = items[this.head];
    if (item === undefined) return undefined;
    items[this.head++] = undefined;
    inFlightTotal--;
    if (this.head === items.length) {
      items.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= items.length) {
      this.items = items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** What it holds, oldest first (not a hot path: a copy). */
  entries(): T[] {
    return this.items.slice(this.head) as T[];
  }

  /** Empties the queue, returning what it held in order. */
  drain(): T[] {
    const out = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    inFlightTotal -= out.length;
    return out;
  }
}
