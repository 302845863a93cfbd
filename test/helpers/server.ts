import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';

/** What a test server does with each accepted socket. */
export type SocketHandler = (socket: net.Socket) => void;

/** Writes back whatever it reads. */
export const echo: SocketHandler = (socket) => socket.pipe(socket);

/** Reads and never answers. */
export const silent: SocketHandler = () => undefined;

export interface TestServerOptions {
  handler?: SocketHandler;
  /** Listen on this port (restarts reuse the first port). Default 0. */
  port?: number;
  host?: string;
  /** Serve TLS with this key and certificate. */
  tls?: tls.TlsOptions;
  allowHalfOpen?: boolean;
}

/**
 * A real server on loopback (port 0) that tracks its sockets, so a test can
 * wait for connections, reset them, stop and restart on the same port, and
 * leave nothing behind.
 */
export class TestServer {
  readonly sockets = new Set<net.Socket>();
  /** Every connection accepted since the start, restarts included. */
  accepted = 0;
  private server: net.Server | undefined;
  private waiting: ((socket: net.Socket) => void)[] = [];
  private backlog: net.Socket[] = [];
  private listenPort: number;
  handler: SocketHandler;

  private constructor(private readonly options: TestServerOptions) {
    this.handler = options.handler ?? echo;
    this.listenPort = options.port ?? 0;
  }

  static async start(options: TestServerOptions = {}): Promise<TestServer> {
    const server = new TestServer(options);
    await server.listen();
    return server;
  }

  get port(): number {
    return this.listenPort;
  }

  get host(): string {
    return this.options.host ?? '127.0.0.1';
  }

  get endpoint(): { host: string; port: number } {
    return { host: this.host, port: this.port };
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  async listen(): Promise<void> {
    const onSocket = (socket: net.Socket): void => {
      this.accepted++;
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.once('close', () => this.sockets.delete(socket));
      this.handler(socket);
      const waiter = this.waiting.shift();
      if (waiter) waiter(socket);
      else this.backlog.push(socket);
    };
    const server = this.options.tls
      ? tls.createServer({ ...this.options.tls, allowHalfOpen: this.options.allowHalfOpen }, onSocket)
      : net.createServer({ allowHalfOpen: this.options.allowHalfOpen }, onSocket);
    server.on('tlsClientError', () => undefined);
    server.listen({ port: this.listenPort, host: this.host });
    await once(server, 'listening');
    this.listenPort = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** The next accepted socket (one already accepted and not yet taken, first). */
  nextConnection(): Promise<net.Socket> {
    const ready = this.backlog.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** RST on every open connection (the client sees ECONNRESET). */
  resetAll(): void {
    for (const socket of this.sockets) socket.resetAndDestroy();
  }

  /** Stops listening and closes every connection; resolves once all are closed. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.backlog = [];
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const sockets = [...this.sockets];
    for (const socket of sockets) socket.destroy();
    await Promise.all(sockets.map((s) => (s.closed ? undefined : once(s, 'close'))));
    await closed;
  }

  /** Stops, then listens again on the same port. */
  async restart(): Promise<void> {
    await this.stop();
    await this.listen();
  }
}

/** A loopback port with nothing listening on it (connecting is refused). */
export async function refusedPort(): Promise<number> {
  const server = net.createServer();
  server.listen({ port: 0, host: '127.0.0.1' });
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
