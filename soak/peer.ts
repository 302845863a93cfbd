import { once } from 'node:events';
import * as net from 'node:net';

/**
 * The soak's upstream: a line-echo server on loopback. Every line it reads
 * (`\n`-terminated, whatever the slicing) is written back, so each request's
 * reply carries the request's id. It can go away and come back on the same
 * port (`stop()` / `listen()`), like a real server restarting.
 */
export class EchoPeer {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private port = 0;
  /** Lines answered, restarts done. */
  lines = 0;
  restarts = 0;

  get endpoint(): { host: string; port: number } {
    return { host: '127.0.0.1', port: this.port };
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  async listen(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((socket) => this.accept(socket));
    server.listen({ host: '127.0.0.1', port: this.port });
    await once(server, 'listening');
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Stops listening and closes every connection (a crash, seen from the clients). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** Stops, then listens again on the same port after `downMillis`. */
  async restart(downMillis: number): Promise<void> {
    await this.stop();
    this.restarts++;
    if (downMillis > 0) await new Promise((resolve) => setTimeout(resolve, downMillis));
    await this.listen();
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.once('close', () => this.sockets.delete(socket));
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      let start = 0;
      let end: number;
      let out = '';
      while ((end = pending.indexOf('\n', start)) >= 0) {
        out += pending.slice(start, end + 1);
        start = end + 1;
        this.lines++;
      }
      pending = pending.slice(start);
      if (out.length > 0 && !socket.destroyed) socket.write(out, 'latin1');
    });
  }
}
