import { once } from 'node:events';
import * as net from 'node:net';

export const HOST = '127.0.0.1';

/** An in-process server on loopback that tracks its sockets, to stop and restart it. */
export class BenchServer {
  readonly sockets = new Set<net.Socket>();
  private server: net.Server | undefined;
  port = 0;

  constructor(private readonly handler: (socket: net.Socket) => void) {}

  async listen(): Promise<this> {
    const server = net.createServer({ noDelay: true }, (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      this.handler(socket);
    });
    server.listen({ port: this.port, host: HOST, backlog: 2048 });
    await once(server, 'listening');
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}

export const echoServer = (): Promise<BenchServer> => new BenchServer((socket) => socket.pipe(socket)).listen();

/** A connected plain socket (the resource the generic pools manage). */
export async function connectSocket(port: number): Promise<net.Socket> {
  const socket = net.connect({ port, host: HOST, noDelay: true });
  await once(socket, 'connect');
  return socket;
}

/**
 * Request/response of fixed-size messages on a socket used by one caller at a
 * time: one 'data' listener per socket for its whole life, no per-call closure
 * on the socket.
 */
export class ExclusiveReader {
  private static readonly readers = new WeakMap<net.Socket, ExclusiveReader>();
  private wanted = 0;
  private resolve: (() => void) | undefined;

  private constructor(socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.wanted -= chunk.length;
      if (this.wanted <= 0 && this.resolve) {
        const resolve = this.resolve;
        this.resolve = undefined;
        resolve();
      }
    });
  }

  static roundTrip(socket: net.Socket, message: Buffer): Promise<void> {
    let reader = ExclusiveReader.readers.get(socket);
    if (!reader) {
      reader = new ExclusiveReader(socket);
      ExclusiveReader.readers.set(socket, reader);
    }
    const r = reader;
    return new Promise<void>((resolve) => {
      r.wanted = message.length;
      r.resolve = resolve;
      socket.write(message);
    });
  }
}

/** Pipelined request/response of fixed-size messages: replies match requests in order. */
export class PipelinedReader {
  private static readonly readers = new WeakMap<net.Socket, PipelinedReader>();
  private readonly waiting: (() => void)[] = [];
  private head = 0;
  private received = 0;

  private constructor(
    socket: net.Socket,
    private readonly size: number,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      while (this.received >= this.size && this.head < this.waiting.length) {
        this.received -= this.size;
        this.waiting[this.head++]();
      }
      if (this.head > 1024 && this.head === this.waiting.length) {
        this.waiting.length = 0;
        this.head = 0;
      }
    });
  }

  static request(socket: net.Socket, message: Buffer): Promise<void> {
    let reader = PipelinedReader.readers.get(socket);
    if (!reader) {
      reader = new PipelinedReader(socket, message.length);
      PipelinedReader.readers.set(socket, reader);
    }
    const r = reader;
    return new Promise<void>((resolve) => {
      r.waiting.push(resolve);
      socket.write(message);
    });
  }
}

/**
 * A line-echo server: answers every `\n`-terminated line with the same line,
 * in order. Like a pipelining server (Redis, memcached), it answers all the
 * complete lines of a read with one write, and keeps a partial line for the
 * next read.
 */
export const lineEchoServer = (): Promise<BenchServer> =>
  new BenchServer((socket) => {
    let partial: Buffer | undefined;
    socket.on('data', (chunk: Buffer) => {
      const data = partial === undefined ? chunk : Buffer.concat([partial, chunk]);
      const end = data.lastIndexOf(0x0a) + 1;
      partial = end < data.length ? Buffer.from(data.subarray(end)) : undefined;
      if (end > 0) socket.write(data.subarray(0, end));
    });
  }).listen();

/**
 * A hand-written pipelined line client on one socket, the floor for
 * `pool.request()` with `lines()`: a FIFO of the callers' resolve functions,
 * a line splitter over the chunks (a line may span chunks; a `\r` before the
 * `\n` is removed, as `lines()` does), and each request written at once with
 * its own `socket.write()` (or, with `corkTicks`, the writes of one tick
 * gathered into one system call). It has no timeouts, no abort, no reconnection, no
 * pushes (every line answers the oldest request) and no limit on line length.
 */
export class RawLineClient {
  private waiting: (((line: Buffer) => void) | undefined)[] = [];
  private head = 0;
  private rest: Buffer | undefined;
  private corked = false;

  /** @param corkTicks gather the writes of one tick into one system call (cork, uncork on the next tick) */
  constructor(
    readonly socket: net.Socket,
    private readonly corkTicks = false,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  /** Requests written and not yet answered. */
  get pending(): number {
    return this.waiting.length - this.head;
  }

  request(line: Buffer): Promise<Buffer> {
    return new Promise<Buffer>((resolve) => {
      this.waiting.push(resolve);
      if (this.corkTicks && !this.corked) {
        this.corked = true;
        this.socket.cork();
        process.nextTick(() => {
          this.corked = false;
          this.socket.uncork();
        });
      }
      this.socket.write(line);
    });
  }

  private onData(chunk: Buffer): void {
    const data = this.rest === undefined ? chunk : Buffer.concat([this.rest, chunk]);
    this.rest = undefined;
    let pos = 0;
    let at: number;
    while ((at = data.indexOf(0x0a, pos)) >= 0) {
      const end = at > pos && data[at - 1] === 0x0d ? at - 1 : at;
      const resolve = this.waiting[this.head];
      this.waiting[this.head++] = undefined;
      resolve?.(data.subarray(pos, end));
      pos = at + 1;
    }
    if (pos < data.length) this.rest = data.subarray(pos);
    if (this.head === this.waiting.length) {
      this.waiting.length = 0;
      this.head = 0;
    } else if (this.head > 1024) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
  }
}
