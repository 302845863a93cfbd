import { Logger } from '@nestjs/common';
import { once } from 'node:events';
import * as net from 'node:net';
import { RespDecoder, type RespValue } from '../redis/resp.js';

/** The largest command the embedded server takes. */
const MAX_COMMAND_BYTES = 1024 * 1024;

/**
 * A tiny in-process server that speaks enough of Redis's RESP (PING, ECHO,
 * GET, SET, INCR, DEL, CLIENT SETNAME) for the sample to run with no outside server. It can be
 * stopped and started again on the same port, to watch the pool recover.
 */
export class EmbeddedRedis {
  private readonly logger = new Logger('EmbeddedRedis');
  private readonly data = new Map<string, string>();
  private readonly sockets = new Set<net.Socket>();
  private server: net.Server | undefined;

  private constructor(
    readonly host: string,
    private listenPort: number,
  ) {}

  /** Starts listening (port 0: any free port) and resolves once it does. */
  static async start(host = '127.0.0.1', port = 0): Promise<EmbeddedRedis> {
    const upstream = new EmbeddedRedis(host, port);
    await upstream.start();
    return upstream;
  }

  get port(): number {
    return this.listenPort;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((socket) => this.serve(socket));
    server.listen(this.listenPort, this.host);
    await once(server, 'listening');
    this.listenPort = (server.address() as net.AddressInfo).port;
    this.server = server;
    this.logger.log(`embedded RESP server listening on ${this.host}:${this.listenPort}`);
  }

  /** Stops listening and drops every connection, as a crashed server would. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
    this.logger.log('embedded RESP server stopped');
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const decoder = new RespDecoder(MAX_COMMAND_BYTES);
    socket.on('data', (chunk: Buffer) => {
      let out = '';
      try {
        for (const request of decoder.decode(chunk)) out += this.execute(request);
      } catch {
        out += '-ERR protocol error\r\n';
        socket.end(out);
        return;
      }
      if (out) socket.write(out);
    });
  }

  private execute(request: RespValue): string {
    if (!Array.isArray(request) || request.length === 0) return '-ERR expected a command\r\n';
    const [name, ...args] = request.map(String);
    switch (name.toUpperCase()) {
      case 'PING':
        return args.length ? bulk(args[0]) : '+PONG\r\n';
      case 'ECHO':
        return bulk(args[0] ?? '');
      case 'GET':
        return bulk(this.data.get(args[0]) ?? null);
      case 'SET':
        this.data.set(args[0], args[1] ?? '');
        return '+OK\r\n';
      case 'CLIENT': // the handshake names each connection; nothing to keep here
        return args[0]?.toUpperCase() === 'SETNAME' ? '+OK\r\n' : `-ERR unknown subcommand '${args[0]}'\r\n`;
      case 'DEL':
        return `:${args.filter((key) => this.data.delete(key)).length}\r\n`;
      case 'INCR': {
        const value = Number(this.data.get(args[0]) ?? '0') + 1;
        if (!Number.isInteger(value)) return '-ERR value is not an integer or out of range\r\n';
        this.data.set(args[0], String(value));
        return `:${value}\r\n`;
      }
      default:
        return `-ERR unknown command '${name}' (the embedded server knows PING ECHO GET SET INCR DEL CLIENT SETNAME)\r\n`;
    }
  }
}

function bulk(value: string | null): string {
  return value === null ? '$-1\r\n' : `$${Buffer.byteLength(value)}\r\n${value}\r\n`;
}
