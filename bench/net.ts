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
