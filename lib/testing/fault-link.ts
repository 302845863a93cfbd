import type * as net from 'node:net';
import type { FaultDirection, FaultDirectionName, ToxicChange } from './toxics.js';

/** Bytes counted per direction over the proxy's life. */
export interface ByteCounters {
  readBytes: number;
  deliveredBytes: number;
}

/** What a link needs from its proxy. */
export interface LinkContext {
  readonly upstream: FaultDirection;
  readonly downstream: FaultDirection;
  readonly random: () => number;
  readonly counters: Record<FaultDirectionName, ByteCounters>;
  /** Called after a chunk was read and queued. */
  read(direction: FaultDirectionName, bytes: number): void;
}

/** A chunk waiting to be delivered, or the end of the stream (`chunk` null). */
interface Pending {
  chunk: Buffer | null;
  /** `performance.now()` time before which it is not delivered. */
  due: number;
}

/**
 * One direction of one proxied connection: a FIFO of what was read from
 * `from`, delivered to `to` under the direction's toxics. Everything goes
 * through the one queue, so the order of bytes is kept whatever the toxics.
 */
class Pipe {
  private queue: (Pending | undefined)[] = [];
  private head = 0;
  private lastDue = 0;
  /** Bytes delivered since the limit was last set (or the connection opened). */
  private passed = 0;
  /** Bytes read and not yet delivered. */
  queued = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private pausedSource = false;
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.immediate = undefined;
    this.pump();
  };
  private readonly onDrain = (): void => {
    this.pausedSource = false;
    if (!this.link.closing) this.from.resume();
  };

  constructor(
    private readonly link: Link,
    readonly toxics: FaultDirection,
    private readonly from: net.Socket,
    private readonly to: net.Socket,
    private readonly counters: ByteCounters,
  ) {}

  /** Queues a chunk read from `from`, due after the direction's latency. */
  push(chunk: Buffer | null): void {
    if (this.link.closing) return;
    const due = Math.max(performance.now() + this.toxics.delay(this.link.context.random), this.lastDue);
    this.lastDue = due;
    this.queue.push({ chunk, due });
    if (chunk !== null) {
      this.counters.readBytes += chunk.length;
      this.queued += chunk.length;
      this.link.context.read(this.toxics.name, chunk.length);
    }
    this.pump();
  }

  /** A toxic of this direction changed: act on it now. */
  changed(change: ToxicChange): void {
    if (this.link.closing) return;
    if (change === 'limit') {
      this.passed = 0;
      if (this.toxics.limitBytes === 0) {
        this.link.limitReached(this, undefined);
        return;
      }
    }
    if (change === 'heal') {
      for (let i = this.head; i < this.queue.length; i++) this.queue[i]!.due = 0;
      this.lastDue = 0;
      this.stopTimers();
    }
    this.pump();
  }

  /** Delivers what is due, in order, until the queue is empty or something must wait. */
  pump(): void {
    if (this.link.closing || this.timer !== undefined || this.immediate !== undefined) return;
    const toxics = this.toxics;
    while (this.head < this.queue.length) {
      if (toxics.stalled) return;
      const item = this.queue[this.head]!;
      const wait = item.due - performance.now();
      if (wait > 0) {
        this.timer = setTimeout(this.onTimer, Math.ceil(wait));
        return;
      }
      if (item.chunk === null) {
        this.advance();
        this.to.end();
        continue;
      }
      let chunk = item.chunk;
      let rest: Buffer | undefined;
      if (toxics.sliced && chunk.length > toxics.sliceBytes) {
        rest = chunk.subarray(toxics.sliceBytes);
        chunk = chunk.subarray(0, toxics.sliceBytes);
      }
      const room = toxics.limitBytes - this.passed;
      if (chunk.length >= room) {
        this.counters.deliveredBytes += room;
        this.link.limitReached(this, chunk.subarray(0, room));
        return;
      }
      this.passed += chunk.length;
      this.queued -= chunk.length;
      this.counters.deliveredBytes += chunk.length;
      const flushed = this.to.write(chunk);
      if (!flushed && !this.pausedSource) {
        this.pausedSource = true;
        this.from.pause();
        this.to.once('drain', this.onDrain);
      }
      if (rest !== undefined) {
        item.chunk = rest;
        if (toxics.sliceDelayMillis > 0) {
          // Through the queue's own clock check: a timer alone may fire early by the loop's cached time.
          item.due = performance.now() + toxics.sliceDelayMillis;
          continue;
        }
        this.immediate = setImmediate(this.onTimer);
        return;
      }
      this.advance();
    }
  }

  /** The socket that receives this direction's bytes. */
  get receiver(): net.Socket {
    return this.to;
  }

  /** The socket this direction reads from. */
  get sender(): net.Socket {
    return this.from;
  }

  stopTimers(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  dispose(): void {
    this.stopTimers();
    this.queue = [];
    this.head = 0;
    this.queued = 0;
    this.to.off('drain', this.onDrain);
  }

  private advance(): void {
    this.queue[this.head++] = undefined;
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}

/** How a link is being closed. */
type CloseMode = 'close' | 'reset-client' | 'reset-upstream';

/**
 * One connection through the proxy: the client's socket, the socket to the
 * target, and a pipe per direction. A FIN is passed on in order (after the
 * bytes queued before it); an error on one side resets the other.
 */
export class Link {
  readonly upstream: Pipe;
  readonly downstream: Pipe;
  /** Set once the link is being torn down: nothing more is delivered. */
  closing = false;
  /** Resolves once both sockets are closed and every timer is cleared. */
  readonly closed: Promise<void>;

  constructor(
    readonly client: net.Socket,
    readonly server: net.Socket,
    readonly context: LinkContext,
  ) {
    const toxics = context;
    this.upstream = new Pipe(this, toxics.upstream, client, server, context.counters.upstream);
    this.downstream = new Pipe(this, toxics.downstream, server, client, context.counters.downstream);
    let open = 2;
    this.closed = new Promise<void>((resolve) => {
      const onClose = (): void => {
        if (--open > 0) {
          // One side is gone for good: without an error, the other finishes what is queued to it.
          return;
        }
        this.closing = true;
        this.upstream.dispose();
        this.downstream.dispose();
        resolve();
      };
      client.once('close', onClose);
      server.once('close', onClose);
    });
    client.on('data', (chunk: Buffer) => this.upstream.push(chunk));
    server.on('data', (chunk: Buffer) => this.downstream.push(chunk));
    client.on('end', () => this.upstream.push(null));
    server.on('end', () => this.downstream.push(null));
    // An error on one side (RST, refused, EPIPE) is passed on as a reset of the other.
    client.on('error', () => this.close('reset-upstream'));
    server.on('error', () => this.close('reset-client'));
    if (toxics.upstream.limitBytes === 0 || toxics.downstream.limitBytes === 0) {
      this.limitReached(toxics.downstream.limitBytes === 0 ? this.downstream : this.upstream, undefined);
    }
  }

  /** Tells the pipe of `direction` that one of its toxics changed. */
  changed(direction: FaultDirection, change: ToxicChange): void {
    if (this.upstream.toxics === direction) this.upstream.changed(change);
    else this.downstream.changed(change);
  }

  /**
   * Closes both sockets at once, dropping what is queued: `close` sends a FIN
   * to both, `reset-client` an RST to the client, `reset-upstream` an RST to
   * the server (when it is connected). Resolves once both are closed.
   */
  close(mode: CloseMode): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      this.upstream.dispose();
      this.downstream.dispose();
    }
    // Also when already closing (a limit flushing its last bytes to a peer that may never
    // read): `closed` waits for both sockets, so whatever is still open is closed now.
    reset(this.client, mode === 'reset-client');
    reset(this.server, mode === 'reset-upstream');
    return this.closed;
  }

  /** `pipe` reached its limit: deliver `last`, FIN the receiver, close the sender. */
  limitReached(pipe: Pipe, last: Buffer | undefined): void {
    if (this.closing) return;
    this.closing = true;
    this.upstream.dispose();
    this.downstream.dispose();
    const receiver = pipe.receiver;
    if (receiver.destroyed || receiver.writableEnded || (receiver.connecting && last === undefined)) {
      receiver.destroy();
    } else {
      // Exactly the bytes within the limit, then a FIN; once it is out, nothing more comes through.
      receiver.end(last ?? Buffer.alloc(0), () => receiver.destroy());
    }
    pipe.sender.destroy();
  }
}

/** Destroys `socket`, with an RST when asked and possible (a connected TCP socket). */
function reset(socket: net.Socket, rst: boolean): void {
  if (socket.destroyed) return;
  // No RST once end() was called and has not finished: libuv refuses to reset a stream whose
  // shutdown is pending (EINVAL), and Node then drops the handle without closing it: no
  // 'close' ever comes (and the fd leaks). A plain destroy still closes it.
  if (rst && !socket.connecting && !(socket.writableEnded && !socket.writableFinished)) socket.resetAndDestroy();
  else socket.destroy();
}
