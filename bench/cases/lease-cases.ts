import * as genericPool from 'generic-pool';
import Jackpot from 'jackpot';
import type { Socket } from 'node:net';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { Pool as TarnPool } from 'tarn';
import { ConnectionPool } from '../../lib/index.js';
import { compare, result, round, sample, single, type BenchFlags, type CaseResult, type Sample } from '../harness.js';
import { HOST, connectSocket, echoServer, type BenchServer } from '../net.js';

/** The pools under test, all over real loopback sockets to the same server. */
interface Pools {
  ours: ConnectionPool;
  generic: genericPool.Pool<Socket>;
  tarn: TarnPool<Socket>;
  close(): Promise<void>;
}

async function makePools(
  server: BenchServer,
  max: number,
  extra: { acquireTimeoutMillis?: number; maxWaitingClients?: number } = {},
): Promise<Pools> {
  const ours = new ConnectionPool({
    name: 'bench',
    host: HOST,
    port: server.port,
    min: max,
    max,
    acquireTimeoutMillis: extra.acquireTimeoutMillis ?? 60_000,
    maxWaitingClients: extra.maxWaitingClients ?? 10_000_000,
  });
  await ours.open();
  const generic = genericPool.createPool<Socket>(
    { create: () => connectSocket(server.port), destroy: async (s) => void s.destroy() },
    { min: max, max, acquireTimeoutMillis: extra.acquireTimeoutMillis ?? 60_000 },
  );
  await generic.ready();
  const tarn = new TarnPool<Socket>({
    create: () => connectSocket(server.port),
    destroy: (s) => void s.destroy(),
    min: max,
    max,
    acquireTimeoutMillis: extra.acquireTimeoutMillis ?? 60_000,
  });
  // Fill tarn up to max before measuring.
  const held = await Promise.all(Array.from({ length: max }, () => tarn.acquire().promise));
  for (const s of held) tarn.release(s);
  return {
    ours,
    generic,
    tarn,
    close: async () => {
      await ours.close({ timeoutMillis: 0 });
      await generic.drain();
      await generic.clear();
      await tarn.destroy();
    },
  };
}

/** Case 1: acquire + release with an idle connection available, one caller, pool max 10. */
export async function cycle(flags: BenchFlags): Promise<CaseResult> {
  const server = await echoServer();
  const pools = await makePools(server, 10);
  const jackpot = new Jackpot(10, () => net.connect({ port: server.port, host: HOST, noDelay: true }));
  const n = flags.quick ? 100_000 : 500_000;
  const rounds = flags.quick ? 3 : 7;
  const warmup = flags.quick ? 2 : 3;
  const { ours, generic, tarn } = pools;

  const results = await compare(
    {
      baseline: async () => {
        for (let i = 0; i < n; i++) await Promise.resolve();
      },
      ours: async () => {
        for (let i = 0; i < n; i++) {
          const lease = await ours.acquire();
          lease.release();
        }
      },
      'generic-pool': async () => {
        for (let i = 0; i < n; i++) {
          const socket = await generic.acquire();
          void generic.release(socket);
        }
      },
      tarn: async () => {
        for (let i = 0; i < n; i++) {
          const socket = await tarn.acquire().promise;
          tarn.release(socket);
        }
      },
      // jackpot has no exclusive borrow: pull() hands out any writable socket and nothing is given back.
      'jackpot (pull only)': async () => {
        for (let i = 0; i < n; i++) {
          await new Promise<Socket>((resolve, reject) => jackpot.pull((e, c) => (e ? reject(e) : resolve(c))));
        }
      },
    },
    n,
    rounds,
    warmup,
  );
  const { ours: oursSample, ...peerSamples } = results;
  await pools.close();
  for (const socket of jackpot.pool) socket.destroy();
  await server.stop();
  return result(
    'cycle',
    'acquire+release/s',
    'higher',
    oursSample,
    peerSamples,
    [
      `baseline is a bare \`await Promise.resolve()\` loop; ours reaches ${((oursSample.median / results.baseline.median) * 100).toFixed(0)}% of it (target: within 3x of it)`,
    ],
    { baseline: round(1 / 3, 2), 'generic-pool': 4, tarn: 8 },
  );
}

/** Case 2: 1,000 concurrent callers, pool max 10, each acquire, yield once, release. */
export async function contended(flags: BenchFlags): Promise<CaseResult> {
  const server = await echoServer();
  const pools = await makePools(server, 10);
  const callers = 1000;
  const perCaller = flags.quick ? 100 : 300;
  const rounds = flags.quick ? 3 : 7;
  const warmup = flags.quick ? 2 : 3;
  const { ours, generic, tarn } = pools;
  const runners: Record<string, () => Promise<() => void>> = {
    ours: async () => {
      const lease = await ours.acquire();
      return () => lease.release();
    },
    'generic-pool': async () => {
      const socket = await generic.acquire();
      return () => void generic.release(socket);
    },
    tarn: async () => {
      const socket = await tarn.acquire().promise;
      return () => tarn.release(socket);
    },
  };
  // Each implementation gets its own loop, written as a user would write it: no closure per
  // operation, and no call site shared between implementations.
  const all = (body: () => Promise<void>) => Promise.all(Array.from({ length: callers }, body)).then(() => undefined);
  const tokens = new TokenQueue(10);
  const samples = await compare(
    {
      ours: () =>
        all(async () => {
          for (let i = 0; i < perCaller; i++) {
            const lease = await ours.acquire();
            await Promise.resolve();
            lease.release();
          }
        }),
      'generic-pool': () =>
        all(async () => {
          for (let i = 0; i < perCaller; i++) {
            const socket = await generic.acquire();
            await Promise.resolve();
            void generic.release(socket);
          }
        }),
      tarn: () =>
        all(async () => {
          for (let i = 0; i < perCaller; i++) {
            const socket = await tarn.acquire().promise;
            await Promise.resolve();
            tarn.release(socket);
          }
        }),
      // The harness's own floor: the same callers sharing 10 tokens through a minimal FIFO, no pool.
      floor: () =>
        all(async () => {
          for (let i = 0; i < perCaller; i++) {
            await tokens.acquire();
            await Promise.resolve();
            tokens.release();
          }
        }),
    },
    callers * perCaller,
    rounds,
    warmup,
  );

  // Fairness, in a separate run so that timing does not perturb throughput.
  const notes: string[] = [];
  for (const [name, acquire] of Object.entries(runners)) {
    const waits: number[] = [];
    const grantOrder: number[] = [];
    await Promise.all(
      Array.from({ length: callers }, async (_, id) => {
        const start = performance.now();
        const release = await acquire();
        waits.push(performance.now() - start);
        grantOrder.push(id);
        await Promise.resolve();
        release();
      }),
    );
    let outOfOrder = 0;
    for (let i = 1; i < grantOrder.length; i++) if (grantOrder[i] < grantOrder[i - 1]) outOfOrder++;
    const w = sample(waits);
    const p99 = [...waits].sort((a, b) => a - b)[Math.floor(waits.length * 0.99)];
    notes.push(
      `${name}: waits median ${w.median.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${w.max.toFixed(2)} ms; grants out of FIFO order: ${outOfOrder}`,
    );
  }
  await pools.close();
  await server.stop();
  const { ours: oursSample, floor: floorSample, ...peers } = samples;
  notes.unshift(
    `floor (the same callers sharing 10 tokens through a plain FIFO, no pool): ${Math.round(floorSample.median)}/s; ours reaches ${((oursSample.median / floorSample.median) * 100).toFixed(0)}% of it`,
  );
  return result('contended', 'acquire+release/s', 'higher', oursSample, peers, notes, { 'generic-pool': 4 });
}

/**
 * Case 3: cost per cycle with 10, 1,000 and 100,000 waiters queued (pool max 1:
 * every release hands the connection to the oldest waiter), and the cost of
 * 100,000 waiters timing out.
 */
export async function waitersScale(flags: BenchFlags): Promise<CaseResult[]> {
  const server = await echoServer();
  const sizes = [10, 1000, 100_000];
  const cycles = flags.quick ? 30_000 : 200_000;
  const rounds = flags.quick ? 1 : 3;
  const perSize: Record<string, Record<number, Sample>> = { ours: {}, 'generic-pool': {}, tarn: {}, floor: {} };
  for (const waiters of sizes) {
    const pools = await makePools(server, 1);
    const token = new TokenQueue();
    const { ours, generic, tarn } = pools;
    let remaining = 0;
    // `waiters` callers keep the queue about `waiters` long until `cycles` handoffs are done.
    // One loop per implementation, as a user would write it.
    const callers = (body: () => Promise<void>) => () => {
      remaining = cycles;
      return Promise.all(Array.from({ length: waiters }, body)).then(() => undefined);
    };
    const samples = await compare(
      {
        // The harness's own floor: the same callers passing one token through a minimal FIFO, no pool.
        floor: callers(async () => {
          while (remaining > 0) {
            remaining--;
            await token.acquire();
            token.release();
          }
        }),
        ours: callers(async () => {
          while (remaining > 0) {
            remaining--;
            const lease = await ours.acquire();
            lease.release();
          }
        }),
        'generic-pool': callers(async () => {
          while (remaining > 0) {
            remaining--;
            const socket = await generic.acquire();
            void generic.release(socket);
          }
        }),
        tarn: callers(async () => {
          while (remaining > 0) {
            remaining--;
            const socket = await tarn.acquire().promise;
            tarn.release(socket);
          }
        }),
      },
      cycles,
      rounds,
      1,
    );
    for (const [name, value] of Object.entries(samples)) perSize[name][waiters] = value;
    await pools.close();
  }

  const rows: CaseResult[] = [];
  const big = sizes[sizes.length - 1];
  rows.push(
    result(
      `waiters-scale (${big.toLocaleString('en-US')} waiters)`,
      'handoffs/s',
      'higher',
      perSize.ours[big],
      {
        'ours with 10 waiters': perSize.ours[10],
        'generic-pool': perSize['generic-pool'][big],
        tarn: perSize.tarn[big],
      },
      [
        ...sizes.map(
          (s) =>
            `at ${s} waiters: ours ${Math.round(perSize.ours[s].median)}/s, generic-pool ${Math.round(perSize['generic-pool'][s].median)}/s, tarn ${Math.round(perSize.tarn[s].median)}/s, floor (plain FIFO, no pool) ${Math.round(perSize.floor[s].median)}/s`,
        ),
        `from 10 to ${big} waiters the floor itself falls ${(perSize.floor[10].median / perSize.floor[big].median).toFixed(1)}x (V8 holding ${big} suspended callers), ours ${(perSize.ours[10].median / perSize.ours[big].median).toFixed(1)}x`,
      ],
      // Target: within 1.5x of the cost at 10 waiters.
      { 'ours with 10 waiters': round(1 / 1.5, 2) },
    ),
  );

  // 100,000 waiters timing out on an exhausted pool.
  const count = flags.quick ? 20_000 : 100_000;
  const timeouts: Record<string, Sample> = {};
  for (const name of ['ours', 'generic-pool', 'tarn']) {
    const pools = await makePools(server, 1, { acquireTimeoutMillis: 1 });
    const hold = name === 'ours' ? await pools.ours.acquire() : undefined;
    const heldGeneric = name === 'generic-pool' ? await pools.generic.acquire() : undefined;
    const heldTarn = name === 'tarn' ? await pools.tarn.acquire().promise : undefined;
    const start = performance.now();
    const waits: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) {
      if (name === 'ours') waits.push(pools.ours.acquire().catch(() => undefined));
      else if (name === 'generic-pool') waits.push(pools.generic.acquire().catch(() => undefined));
      else waits.push(pools.tarn.acquire().promise.catch(() => undefined));
    }
    await Promise.all(waits);
    const elapsed = performance.now() - start;
    timeouts[name] = single((elapsed * 1e6) / count);
    hold?.release();
    if (heldGeneric) await pools.generic.release(heldGeneric);
    if (heldTarn) pools.tarn.release(heldTarn);
    await pools.close();
  }
  const { ours: oursTimeouts, ...peerTimeouts } = timeouts;
  rows.push(
    result(
      `waiters-timeout (${count.toLocaleString('en-US')} waiters)`,
      'ns per timed-out waiter',
      'lower',
      oursTimeouts,
      peerTimeouts,
      ['enqueue all, each with acquireTimeoutMillis 1, until the last rejection; includes the timers themselves'],
    ),
  );
  await server.stop();
  return rows;
}

/** A minimal FIFO handing one token from caller to caller: the floor of the waiters-scale harness. */
class TokenQueue {
  private queue: (() => void)[] = [];
  private head = 0;

  constructor(private free = 1) {}

  acquire(): Promise<void> {
    if (this.free > 0 && this.head === this.queue.length) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => this.queue.push(resolve));
  }

  release(): void {
    if (this.head < this.queue.length) {
      const next = this.queue[this.head];
      this.queue[this.head++] = undefined as never;
      if (this.head > 65_536 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      next();
    } else {
      this.free++;
    }
  }
}
