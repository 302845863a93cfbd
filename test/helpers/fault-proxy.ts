import { once } from 'node:events';
import * as net from 'node:net';

/**
 * An in-process TCP proxy with Toxiproxy's toxics, for fault scenarios on
 * loopback: latency, reset_peer, timeout (stop forwarding), limit_data,
 * slicer, down and up. Toxics apply to both directions unless noted.
 */
export class FaultProxy {
  private server: net.Server | undefined;
  private readonly links = new Set<Link>();
  private listenPort = 0;
  /** Delay added to every chunk, in ms. */
  latencyMillis = 0;
  /** When true, nothing is forwarded (a zombie peer). */
  stalled = false;
  /** Close a connection after this many bytes went downstream (to the client). */
  limitBytes = Infinity;
  /** Deliver data one byte at a time. */
  sliced = false;
  /** Connections accepted since the start. */
  accepted = 0;

  private constructor(readonly target: { host: string; port: number }) {}

  static async start(target: { host: string; port: number }): Promise<FaultProxy> {
    const proxy = new FaultProxy(target);
    await proxy.up();
    return proxy;
  }

  get port(): number {
    return this.listenPort;
  }

  get endpoint(): { host: string; port: number } {
    return { host: '127.0.0.1', port: this.listenPort };
  }

  get connections(): number {
    return this.links.size;
  }

  /** Listens (again, on the same port after `down()`). */
  async up(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((client) => this.accept(client));
    server.listen({ port: this.listenPort, host: '127.0.0.1' });
    await once(server, 'listening');
    this.listenPort = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Closes the listener and every connection. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closing = [...this.links].map((link) => link.close(false));
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.all(closing);
  }

  /** RST to every client connection (reset_peer). */
  async resetPeers(): Promise<void> {
    await Promise.all([...this.links].map((link) => link.close(true)));
  }

  /** Removes every toxic. */
  heal(): void {
    this.latencyMillis = 0;
    this.stalled = false;
    this.limitBytes = Infinity;
    this.sliced = false;
    for (const link of this.links) link.flush();
  }

  async close(): Promise<void> {
    this.heal();
    await this.down();
  }

  private accept(client: net.Socket): void {
    this.accepted++;
    const link = new Link(this, client, net.connect(this.target));
    this.links.add(link);
    void link.closed.then(() => this.links.delete(link));
  }
}

class Link {
  readonly closed: Promise<void>;
  private downstreamBytes = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly held: [net.Socket, Buffer][] = [];

  constructor(
    private readonly proxy: FaultProxy,
    private readonly client: net.Socket,
    private readonly upstream: net.Socket,
  ) {
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    client.on('data', (chunk: Buffer) => this.forward(upstream, chunk, false));
    upstream.on('data', (chunk: Buffer) => this.forward(client, chunk, true));
    client.once('close', () => this.close(false));
    upstream.once('close', () => this.close(false));
    client.once('end', () => this.close(false));
    upstream.once('end', () => this.close(false));
    this.closed = Promise.all([once(client, 'close'), once(upstream, 'close')]).then(() => {
      for (const timer of this.timers) clearTimeout(timer);
    });
  }

  flush(): void {
    for (const [to, chunk] of this.held.splice(0)) this.forward(to, chunk, to === this.client);
  }

  close(reset: boolean): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (reset) this.client.resetAndDestroy();
    else this.client.destroy();
    this.upstream.destroy();
    return this.closed;
  }

  private forward(to: net.Socket, chunk: Buffer, downstream: boolean): void {
    const proxy = this.proxy;
    if (proxy.stalled) {
      this.held.push([to, chunk]);
      return;
    }
    if (downstream && this.downstreamBytes + chunk.length > proxy.limitBytes) {
      const room = proxy.limitBytes - this.downstreamBytes;
      if (room > 0) to.write(chunk.subarray(0, room));
      this.downstreamBytes = proxy.limitBytes;
      to.end();
      this.upstream.destroy();
      return;
    }
    if (downstream) this.downstreamBytes += chunk.length;
    const send = (): void => {
      if (!proxy.sliced) {
        to.write(chunk);
        return;
      }
      let i = 0;
      const step = (): void => {
        if (i >= chunk.length || to.destroyed) return;
        to.write(chunk.subarray(i, i + 1));
        i++;
        this.later(step, 1);
      };
      step();
    };
    if (proxy.latencyMillis > 0) this.later(send, proxy.latencyMillis);
    else send();
  }

  private later(fn: () => void, delay: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, delay);
    this.timers.add(timer);
  }
}
