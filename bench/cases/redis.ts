import { Redis } from 'ioredis';
import { once } from 'node:events';
import * as net from 'node:net';
import { ConnectionPool } from '../../lib/index.js';
import { RedisClient, redisProtocol } from '../../sample/redis/redis-client.js';
import type { RespValue } from '../../sample/redis/resp.js';
import { compare, result, type BenchFlags, type CaseResult, type Sample } from '../harness.js';

const HOST = '127.0.0.1';
const PORT = 6379;
const CALLERS = 64;
/** Connections of our pool; the "ioredis ×N" peer opens as many clients. */
const CONNECTIONS = 4;
const VALUE = 'v'.repeat(32);
const AUTO = 'ioredis auto-pipelining';

/**
 * Case `redis`: PING and GET (a 32-byte value) against the machine's real
 * Redis on 127.0.0.1:6379, 64 concurrent callers, each awaiting its command
 * before sending the next. Ours: the sample's client (sample/redis:
 * `redisProtocol()` framing and `pool.request()`) on a pool of 4 connections.
 * Peers: ioredis with default options, one client (as users normally run
 * it); 4 ioredis clients used round-robin (the same connections as ours);
 * and one ioredis client with `enableAutoPipelining` (it then writes the
 * commands of a tick together, as our connections do by corking).
 * Redis runs on the same 2 cores as the benchmark, so the figures include its
 * share of the CPU. Skipped, with a note, when no Redis answers.
 */
export async function redis(flags: BenchFlags): Promise<CaseResult[]> {
  const down = await unreachable();
  if (down !== undefined) return [skipped('redis-ping', down), skipped('redis-get', down)];

  const perCaller = flags.quick ? 150 : 1500;
  const total = CALLERS * perCaller;
  const rounds = flags.quick ? 3 : 9;
  const warmup = flags.quick ? 1 : 2;
  const key = `connman:bench:${process.pid}`;

  const pool = new ConnectionPool<RespValue>({
    name: 'bench-redis',
    host: HOST,
    port: PORT,
    min: CONNECTIONS,
    max: CONNECTIONS,
    ...redisProtocol(),
  });
  await pool.open();
  const ours = new RedisClient(pool);
  const single = new Redis({ host: HOST, port: PORT });
  const several = Array.from({ length: CONNECTIONS }, () => new Redis({ host: HOST, port: PORT }));
  const batching = new Redis({ host: HOST, port: PORT, enableAutoPipelining: true });
  const all = [single, ...several, batching];
  await Promise.all(all.map((client) => once(client, 'ready')));
  await single.set(key, VALUE);
  if ((await ours.command('GET', key)) !== VALUE) throw new Error('redis bench: GET did not read back the value');

  let turn = 0;
  const next = (): Redis => several[turn++ % CONNECTIONS];
  const callers = (command: () => Promise<unknown>) => async () => {
    await Promise.all(
      Array.from({ length: CALLERS }, async () => {
        for (let i = 0; i < perCaller; i++) await command();
      }),
    );
  };
  const peersOf = (results: Record<string, Sample>) => {
    const { ours: mine, ...peers } = results;
    return { mine, peers };
  };

  const ping = peersOf(
    await compare(
      {
        ours: callers(() => ours.command('PING')),
        ioredis: callers(() => single.ping()),
        [`ioredis ×${CONNECTIONS}`]: callers(() => next().ping()),
        [AUTO]: callers(() => batching.ping()),
      },
      total,
      rounds,
      warmup,
    ),
  );
  const get = peersOf(
    await compare(
      {
        ours: callers(() => ours.command('GET', key)),
        ioredis: callers(() => single.get(key)),
        [`ioredis ×${CONNECTIONS}`]: callers(() => next().get(key)),
        [AUTO]: callers(() => batching.get(key)),
      },
      total,
      rounds,
      warmup,
    ),
  );

  await single.del(key);
  await Promise.all(all.map((client) => client.quit()));
  await pool.close({ timeoutMillis: 0 });
  const setup =
    `${CALLERS} callers, each awaiting its command before the next; ours: the sample's client ` +
    `(pool.request(), RESP framing) over ${CONNECTIONS} connections; ioredis: one client, default options; ` +
    `ioredis ×${CONNECTIONS}: ${CONNECTIONS} clients round-robin; ${AUTO}: one client that batches the ` +
    `commands of a tick into one write, as ours does; Redis on the same machine`;
  return [
    result('redis-ping', 'commands/s', 'higher', ping.mine, ping.peers, [`PING; ${setup}`]),
    result('redis-get', 'commands/s', 'higher', get.mine, get.peers, [`GET of a 32-byte value; ${setup}`]),
  ];
}

/** Why Redis cannot be benchmarked (nothing answers PING on 127.0.0.1:6379), or undefined. */
async function unreachable(): Promise<string | undefined> {
  const socket = net.connect({ host: HOST, port: PORT });
  socket.setTimeout(1000, () => socket.destroy(new Error('no answer within 1 s')));
  try {
    await once(socket, 'connect');
    socket.write('PING\r\n');
    const [reply] = (await once(socket, 'data')) as [Buffer];
    return reply.toString('latin1').startsWith('+PONG') ? undefined : 'it did not answer PING with PONG';
  } catch (error) {
    return (error as Error).message;
  } finally {
    socket.destroy();
  }
}

/** The row of a case that could not run: zeros, and a note that says why. */
function skipped(name: string, why: string): CaseResult {
  return {
    name: `${name} (skipped)`,
    unit: 'commands/s',
    better: 'higher',
    ours: 0,
    peers: { ioredis: 0 },
    ratios: { ioredis: 0 },
    spread: {},
    notes: [`skipped: no Redis on ${HOST}:${PORT} (${why}); start one to measure this case`],
  };
}
