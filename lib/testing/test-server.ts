import { EventEmitter, once } from 'node:events';
import type { TcpEndpoint } from '../core/types.js';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { Arrivals } from './arrivals.js';
import {
  invalidOption,
  listenPort,
  loopbackHost,
  onlyKnownKeys,
  optionalSignal,
  optionsObject,
  positiveInteger,
} from './checks.js';

/**
 * What a {@link TestServer} does with each connection it accepts: `socket` is
 * the server's side, `count` the connection's number since the start (1 for the
 * first), so a script can treat the first connection differently from the next.
 */
export type ConnectionHandler = (socket: net.Socket, count: number) => void;

/** A handler that writes back whatever it reads. The default. */
export const echo: ConnectionHandler = (socket) => socket.pipe(socket);

/** A handler that reads and never answers (an accepted but silent peer). */
export const silent: ConnectionHandler = () => undefined;

/** What a line script answers: bytes to write (as given, delimiter included), or nothing. */
export type LineReply = string | Uint8Array | null | undefined | void;

/**
 * A line script: a map from a whole line (without its delimiter) to the reply,
 * or a function of the line. Lines the map does not know get no reply.
 */
export type LineScript =
  | Readonly<Record<string, string | Uint8Array | ((line: string) => LineReply)>>
  | ((line: string, socket: net.Socket) => LineReply);

/** Options of {@link replyLines}. */
export interface ReplyLinesOptions {
  /** What ends a line. Default `'\n'`, and a `'\r'` before it is removed (so `\r\n` works too). */
  delimiter?: string;
}

/**
 * A handler that reads lines and answers each as `script` says, in order: "on
 * line X, answer Y". Replies are written as given, so include their line end.
 *
 * @example
 * TestServer.start({ handler: replyLines({ PING: '+PONG\r\n', version: 'VERSION 1.6.21\r\n' }) });
 * TestServer.start({ handler: replyLines((line) => (line.startsWith('get ') ? 'END\r\n' : undefined)) });
 */
export function replyLines(script: LineScript, options: ReplyLinesOptions = {}): ConnectionHandler {
  if (script === null || (typeof script !== 'function' && typeof script !== 'object')) {
    throw invalidOption('replyLines', 'script', 'an object of replies by line, or a function of the line', script);
  }
  onlyKnownKeys('replyLines', optionsObject('replyLines', 'options', options), ['delimiter']);
  const delimiterText = options.delimiter ?? '\n';
  if (typeof delimiterText !== 'string' || delimiterText.length === 0) {
    throw invalidOption('replyLines', 'delimiter', 'a non-empty string', delimiterText);
  }
  const delimiter = Buffer.from(delimiterText);
  const stripCr = delimiterText === '\n';
  const answer = (line: string, socket: net.Socket): LineReply => {
    if (typeof script === 'function') return script(line, socket);
    if (!Object.hasOwn(script, line)) return undefined;
    const reply = script[line];
    return typeof reply === 'function' ? reply(line) : reply;
  };
  return (socket) => {
    let buffered: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      let start = 0;
      let end: number;
      while ((end = buffered.indexOf(delimiter, start)) >= 0) {
        let line = buffered.toString('utf8', start, end);
        start = end + delimiter.length;
        if (stripCr && line.endsWith('\r')) line = line.slice(0, -1);
        const reply = answer(line, socket);
        if (reply !== undefined && reply !== null && !socket.destroyed) socket.write(reply);
      }
      buffered = start === 0 ? buffered : buffered.subarray(start);
    });
  };
}

/** Options of {@link TestServer.start}. */
export interface TestServerOptions {
  /** What to do with each connection. Default {@link echo}. Can be changed later through `server.handler`. */
  handler?: ConnectionHandler;
  /** Port to listen on. Default 0: any free port; `restart()` keeps the port it got. */
  port?: number;
  /**
   * Loopback address to listen on: `127.0.0.1` (default), another `127.x.y.z`,
   * `::1`, or `localhost` (listens on 127.0.0.1). Anything else is refused.
   */
  host?: string;
  /** Serve TLS with these options (at least `key` and `cert`). Default: plain TCP. */
  tls?: tls.TlsOptions;
  /** Keep the server's side writable after the client ends its side. Default false. */
  allowHalfOpen?: boolean;
}

/** Events of a {@link TestServer}. */
export interface TestServerEvents {
  /** A connection was accepted (for TLS: after its handshake); `count` is its number since the start. */
  connection: [socket: net.Socket, count: number];
}

/** Options of the waits of a {@link TestServer}. */
export interface TestServerWaitOptions {
  /** Gives up waiting: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

const OPTION_KEYS = ['handler', 'port', 'host', 'tls', 'allowHalfOpen'] as const;

/**
 * A real server on loopback for tests, that a test scripts: what it answers
 * (`handler`, {@link replyLines}), when it resets (`resetAll()`), stops and
 * comes back on the same port (`stop()`, `listen()`, `restart()`). It counts
 * and tracks its connections, lets a test wait for the next one, and after
 * `stop()` leaves no socket or server behind. Framework-free (Node built-ins
 * only), for any test runner.
 *
 * @example
 * const server = await TestServer.start({ handler: replyLines({ PING: '+PONG\r\n' }) });
 * const pool = new ConnectionPool({ name: 'redis', ...server.endpoint });
 * // ...
 * await server.stop();
 */
export class TestServer extends EventEmitter<TestServerEvents> {
  /** The handler for connections accepted from now on (open ones keep theirs). */
  handler: ConnectionHandler;
  private readonly open = new Set<net.Socket>();
  /** Every socket the server holds, TLS sockets still in their handshake included. */
  private readonly raw = new Set<net.Socket>();
  private readonly arrivals = new Arrivals();
  private waiting: { resolve: (socket: net.Socket) => void; cancel: (() => void) | undefined }[] = [];
  private backlog: net.Socket[] = [];
  private server: net.Server | undefined;
  private readonly listenHost: string;
  private listenPort: number;

  private constructor(private readonly options: TestServerOptions) {
    super();
    this.listenHost = loopbackHost('TestServer', 'host', options.host);
    this.listenPort = listenPort('TestServer', 'port', options.port);
    if (options.handler !== undefined && typeof options.handler !== 'function') {
      throw invalidOption('TestServer', 'handler', 'a function (socket, count) => void', options.handler);
    }
    if (options.tls !== undefined && (options.tls === null || typeof options.tls !== 'object')) {
      throw invalidOption('TestServer', 'tls', 'an object of tls.createServer options', options.tls);
    }
    if (options.allowHalfOpen !== undefined && typeof options.allowHalfOpen !== 'boolean') {
      throw invalidOption('TestServer', 'allowHalfOpen', 'true or false', options.allowHalfOpen);
    }
    this.handler = options.handler ?? echo;
  }

  /**
   * Starts a server and resolves once it listens.
   *
   * @throws ConnmanError `ERR_INVALID_OPTIONS` naming the option (a
   *   non-loopback `host` included); the listen error (e.g. `EADDRINUSE`).
   */
  static async start(options: TestServerOptions = {}): Promise<TestServer> {
    const checked = optionsObject('TestServer', 'options', options) as TestServerOptions;
    onlyKnownKeys('TestServer', checked, OPTION_KEYS);
    const server = new TestServer(checked);
    await server.listen();
    return server;
  }

  /** The port it listens on (kept across `stop()` / `listen()`). */
  get port(): number {
    return this.listenPort;
  }

  /** The loopback address it listens on. */
  get host(): string {
    return this.listenHost;
  }

  /** Where clients connect: `{ host, port }`, ready to spread into pool options. */
  get endpoint(): TcpEndpoint {
    return { host: this.listenHost, port: this.listenPort };
  }

  /** True while it listens. */
  get listening(): boolean {
    return this.server !== undefined;
  }

  /** The server's side of every open connection. */
  get sockets(): ReadonlySet<net.Socket> {
    return this.open;
  }

  /** Connections open right now. */
  get connections(): number {
    return this.open.size;
  }

  /** Connections accepted since the start, restarts included. */
  get accepted(): number {
    return this.arrivals.count;
  }

  /** Listens (again, on the same port, after `stop()`); nothing to do if it listens. */
  async listen(): Promise<void> {
    if (this.server) return;
    const { tls: tlsOptions, allowHalfOpen } = this.options;
    const onSocket = (socket: net.Socket): void => this.accept(socket);
    const server = tlsOptions
      ? tls.createServer({ ...tlsOptions, allowHalfOpen }, onSocket)
      : net.createServer({ allowHalfOpen }, onSocket);
    server.on('connection', (socket: net.Socket) => {
      this.raw.add(socket);
      socket.on('error', () => undefined);
      socket.once('close', () => this.raw.delete(socket));
    });
    server.on('tlsClientError', () => undefined);
    server.listen({ port: this.listenPort, host: this.listenHost });
    try {
      await once(server, 'listening');
    } catch (error) {
      server.close();
      throw error;
    }
    this.listenPort = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /**
   * The server's side of the next connection: the oldest one accepted and not
   * yet taken by an earlier call (since the last `stop()`), else the next one.
   */
  nextConnection(options: TestServerWaitOptions = {}): Promise<net.Socket> {
    const signal = optionalSignal('TestServer.nextConnection', 'signal', options?.signal);
    const ready = this.backlog.shift();
    if (ready) return Promise.resolve(ready);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const waiter = { resolve, cancel: undefined as (() => void) | undefined };
      if (signal) {
        const onAbort = (): void => {
          this.waiting = this.waiting.filter((w) => w !== waiter);
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        waiter.cancel = () => signal.removeEventListener('abort', onAbort);
      }
      this.waiting.push(waiter);
    });
  }

  /**
   * Resolves once `count` connections were accepted since the start (at once if
   * they were): `await server.waitForConnection(server.accepted + 1)` waits for
   * the next one. Waits go on across `stop()` / `listen()`.
   */
  waitForConnection(count: number, options: TestServerWaitOptions = {}): Promise<void> {
    positiveInteger('TestServer.waitForConnection', 'count', count);
    const signal = optionalSignal('TestServer.waitForConnection', 'signal', options?.signal);
    return this.arrivals.waitFor(count, signal);
  }

  /** RST on every open connection (the client sees ECONNRESET); resolves once they are closed. */
  async resetAll(): Promise<void> {
    const sockets = [...this.raw];
    for (const socket of sockets) if (!socket.destroyed) socket.resetAndDestroy();
    await closedAll(sockets);
  }

  /** Stops listening and closes every connection; resolves once all are closed. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.backlog = [];
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const sockets = [...this.raw, ...this.open];
    for (const socket of sockets) socket.destroy();
    await closedAll(sockets);
    await closed;
  }

  /** Stops, then listens again on the same port. */
  async restart(): Promise<void> {
    await this.stop();
    await this.listen();
  }

  private accept(socket: net.Socket): void {
    const count = this.arrivals.arrive();
    this.open.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => this.open.delete(socket));
    this.handler(socket, count);
    const waiter = this.waiting.shift();
    if (waiter) {
      waiter.cancel?.();
      waiter.resolve(socket);
    } else {
      this.backlog.push(socket);
    }
    this.emit('connection', socket, count);
  }
}

function closedAll(sockets: readonly net.Socket[]): Promise<unknown> {
  return Promise.all(
    sockets.map((socket) =>
      socket.closed ? undefined : new Promise<void>((resolve) => socket.once('close', () => resolve())),
    ),
  );
}

/**
 * A loopback port with nothing listening on it: connecting to it is refused
 * (ECONNREFUSED). Found by listening on port 0 and closing; another process
 * could take it meanwhile, which is unlikely within a test.
 */
export async function refusedPort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  server.listen({ port: 0, host: loopbackHost('refusedPort', 'host', host) });
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
