import { describe, expect, it } from '@jest/globals';
import type { Socket } from 'node:net';
import { ConnectionPool, ConnmanError, PersistentConnection, lines, type PoolOptions } from '../../lib/index.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { next, until } from '../helpers/events.js';
import { LineLog, lineHandler } from '../helpers/line-server.js';
import { useScope } from '../helpers/resources.js';
import { TestServer } from '../helpers/server.js';

const quick = { backoff: { initialDelayMillis: 20, maxDelayMillis: 40 } } as const;

/** Answers `PING` with `PONG` (unless `hold` is set, then later) and echoes other lines; logs lines per socket. */
class PingServer {
  readonly log = new LineLog();
  readonly bySocket = new Map<Socket, string[]>();
  hold = false;
  readonly held: Socket[] = [];
  readonly handler = lineHandler((line, socket) => {
    this.log.push(line);
    const mine = this.bySocket.get(socket) ?? [];
    mine.push(line);
    this.bySocket.set(socket, mine);
    if (line !== 'PING') socket.write(`${line}\n`);
    else if (this.hold) this.held.push(socket);
    else socket.write('PONG\n');
  });

  pings(): number {
    return this.log.lines.filter((l) => l === 'PING').length;
  }

  /** Resolves once `count` PINGs in all were received. */
  async untilPings(count: number): Promise<void> {
    while (this.pings() < count) await this.log.until(this.log.lines.length + 1);
  }

  release(): void {
    for (const socket of this.held.splice(0)) if (!socket.destroyed) socket.write('PONG\n');
  }
}

describe('heartbeat', () => {
  const scope = useScope();

  async function server(ping: PingServer): Promise<TestServer> {
    const s = await TestServer.start({ handler: ping.handler });
    scope.defer(() => s.stop());
    return s;
  }
  function pool(options: Omit<PoolOptions, 'name'> & { name?: string }): ConnectionPool {
    const p = new ConnectionPool({ name: 'hb', ...quick, framing: lines(), ...options });
    scope.defer(() => p.close({ timeoutMillis: 0 }));
    return p;
  }

  it('pings an idle connection every interval; the reply is consumed, never passed to onData', async () => {
    const ping = new PingServer();
    const upstream = await server(ping);
    const data: string[] = [];
    const p = pool({
      ...upstream.endpoint,
      min: 1,
      heartbeat: { intervalMillis: 30, payload: 'PING\n', timeoutMillis: 5000 },
      callbacks: { onData: (frame) => void data.push(frame.toString()) },
    });
    await p.open();
    await ping.untilPings(3);
    expect(data).toEqual([]);
    expect(p.connections[0].connected).toBe(true);
    expect((await p.request('still-matched\n')).toString()).toBe('still-matched');
  });

  it('resets with ERR_HEARTBEAT_TIMEOUT within interval + timeout when the peer stalls, then reconnects', async () => {
    const ping = new PingServer();
    const upstream = await server(ping);
    const proxy = await FaultProxy.start(upstream.endpoint);
    scope.defer(() => proxy.close());
    const p = pool({
      ...proxy.endpoint,
      min: 1,
      heartbeat: { intervalMillis: 60, payload: 'PING\n', timeoutMillis: 60 },
    });
    await p.open();
    await ping.untilPings(1);
    proxy.stalled = true;
    const stalledAt = Date.now();
    const [error] = (await next(p, 'reset')) as [ConnmanError];
    const took = Date.now() - stalledAt;
    expect(error.code).toBe('ERR_HEARTBEAT_TIMEOUT');
    expect(error.message).toMatch(/did not answer a heartbeat within 60 ms/);
    // Within interval + timeout (a stall may also catch a heartbeat already in flight: sooner).
    expect(took).toBeLessThan(60 + 60 + 1000);
    proxy.heal();
    await next(p, 'reconnect');
    expect(p.stats().connected).toBe(1);
  });

  it('never touches a leased connection, however long the lease', async () => {
    const ping = new PingServer();
    const upstream = await server(ping);
    const p = pool({
      ...upstream.endpoint,
      min: 2,
      max: 2,
      heartbeat: { intervalMillis: 25, payload: 'PING\n', timeoutMillis: 5000 },
    });
    await p.open();
    const lease = await p.acquire();
    const before = ping.pings();
    // The other connection keeps pinging: time passes, measured by its heartbeats.
    await ping.untilPings(before + 4);
    const leasedServerSide = [...ping.bySocket.entries()].find(
      ([socket]) => socket.remotePort === (lease.socket as Socket).localPort,
    );
    const pingsOnLeased = (leasedServerSide?.[1] ?? []).filter((l) => l === 'PING').length;
    // Pings it got before the lease only (at most one, sent before acquire()).
    expect(pingsOnLeased).toBeLessThanOrEqual(1);
    lease.release();
  });

  it('does not lend a connection while its heartbeat is in flight; lends it once answered', async () => {
    const ping = new PingServer();
    ping.hold = true;
    const upstream = await server(ping);
    const p = pool({
      ...upstream.endpoint,
      min: 1,
      max: 1,
      heartbeat: { intervalMillis: 20, payload: 'PING\n', timeoutMillis: 5000 },
    });
    await p.open();
    await ping.untilPings(1);
    expect(p.stats()).toMatchObject({ connected: 1, idle: 0, leased: 0 });
    expect(p.tryAcquire()).toBeUndefined();
    const acquiring = p.acquire({ timeoutMillis: 5000 });
    expect(p.stats().waiting).toBe(1);
    ping.release();
    const lease = await acquiring;
    expect(lease.connection).toBe(p.connections[0]);
    lease.release();
  });

  it('sends no heartbeat on a connection busy with requests', async () => {
    const ping = new PingServer();
    const upstream = await server(ping);
    const witness = pool({
      ...upstream.endpoint,
      name: 'witness',
      min: 1,
      heartbeat: { intervalMillis: 30, payload: 'PING\n', timeoutMillis: 5000 },
    });
    const busy = pool({
      ...upstream.endpoint,
      name: 'busy',
      min: 1,
      heartbeat: { intervalMillis: 30, payload: 'BUSYPING\n', timeoutMillis: 5000 },
    });
    await witness.open();
    await busy.open();
    const start = ping.pings();
    let done = false;
    const loop = (async () => {
      for (let i = 0; i < 100_000 && !done; i++) await busy.request(`work${i}\n`);
    })();
    await ping.untilPings(start + 4);
    done = true;
    await loop;
    expect(ping.log.lines.filter((l) => l === 'BUSYPING')).toEqual([]);
  });

  it('without framing, any bytes read within the timeout answer the heartbeat (a payload function is called each time)', async () => {
    const ping = new PingServer();
    const upstream = await server(ping);
    let calls = 0;
    const data: string[] = [];
    const conn = new PersistentConnection(
      upstream.endpoint,
      { onData: (chunk) => void data.push(chunk.toString()) },
      {
        ...quick,
        heartbeat: {
          intervalMillis: 25,
          timeoutMillis: 5000,
          payload: () => {
            calls++;
            return 'PING\n';
          },
        },
      },
    );
    scope.defer(() => conn.disconnect());
    let resets = 0;
    conn.on('reset', () => resets++);
    await conn.waitUntilConnected(2000);
    await ping.untilPings(3);
    await until(conn, 'data', () => data.join('').split('PONG').length > 3);
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(resets).toBe(0);
  });

  it.each([
    // idle 'write': pings after 30 ms with nothing written, however much it reads.
    ['write', 30, 60, true],
    // idle 'all' (the default): reads every few ms keep it from pinging, over more than two intervals.
    ['all', 200, 150, false],
  ] as const)(
    "with idle: '%s' (interval %d ms), a connection that only receives sends heartbeats after %d pushes: %s",
    async (idle, intervalMillis, count, expected) => {
      const ping = new PingServer();
      const upstream = await TestServer.start({
        handler: (socket, n) => {
          ping.handler(socket, n);
          const pushes = setInterval(() => socket.write('PUSH\n'), 3);
          socket.once('close', () => clearInterval(pushes));
        },
      });
      scope.defer(() => upstream.stop());
      const pushes: string[] = [];
      const p = pool({
        ...upstream.endpoint,
        min: 1,
        heartbeat: { intervalMillis, payload: 'PING\n', timeoutMillis: 5000, idle },
        callbacks: { onData: (frame) => void pushes.push(frame.toString()) },
      });
      await p.open();
      await until(p.connections[0], 'frame', () => pushes.length >= count);
      expect(ping.pings() > 0).toBe(expected);
    },
  );

  it('a heartbeat payload function that throws is reported and the connection stays up', async () => {
    const ping = new PingServer();
    const upstream = await server(ping);
    const errors: Error[] = [];
    const p = pool({
      ...upstream.endpoint,
      min: 1,
      heartbeat: {
        intervalMillis: 20,
        payload: () => {
          throw new Error('no payload');
        },
      },
    });
    p.on('error', (error) => void errors.push(error));
    await p.open();
    await until(p, 'error', () => errors.length >= 2);
    expect(errors[0].message).toBe('no payload');
    expect(p.stats().connected).toBe(1);
    expect(p.stats().idle).toBe(1);
  });
});
