import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { ConnectionPool, isConnmanError } from '../../lib/index.js';
import { RedisClient, redisProtocol } from '../../sample/redis/redis-client.js';
import type { RespValue } from '../../sample/redis/resp.js';
import { until } from '../helpers/events.js';
import { useScope } from '../helpers/resources.js';

const REDIS = { host: process.env.REDIS_HOST ?? '127.0.0.1', port: Number(process.env.REDIS_PORT ?? 6379) };
const CONNECTIONS = 4;
const CALLERS = 64;

/** What a caller may see: a reply, or one of these typed errors (when its connection is killed under it). */
const ALLOWED_FAILURES = new Set(['ERR_CONNECTION_CLOSED', 'ERR_REQUEST_TIMEOUT']);

describe('pipelined requests against a real Redis', () => {
  const scope = useScope();

  /** A pool of the sample's client, its connections named `name` by the handshake. */
  async function openClient(name: string, connections = CONNECTIONS): Promise<RedisClient> {
    const pool = new ConnectionPool<RespValue>({
      name,
      ...REDIS,
      min: connections,
      max: connections,
      requestTimeoutMillis: 5000,
      backoff: { initialDelayMillis: 20, maxDelayMillis: 200 },
      logger: { error: () => undefined, warn: () => undefined },
      ...redisProtocol({ clientName: name }),
    });
    scope.defer(() => pool.close({ timeoutMillis: 1000 }));
    await pool.open();
    return new RedisClient(pool);
  }

  /** Unique names (keys, clients) for one test, and the keys to delete after it. */
  function names(): { prefix: string; keys: (caller: number) => { text: string; counter: string } } {
    const prefix = `connman:it:${process.pid}:${randomBytes(4).toString('hex')}`;
    return { prefix, keys: (caller) => ({ text: `${prefix}:${caller}:text`, counter: `${prefix}:${caller}:counter` }) };
  }

  /** Deletes every key of `prefix` (SCAN, never KEYS). */
  async function cleanUp(admin: RedisClient, prefix: string): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = (await admin.command('SCAN', cursor, 'MATCH', `${prefix}:*`, 'COUNT', '1000')) as [
        string,
        string[],
      ];
      if (keys.length > 0) await admin.command('DEL', ...keys);
      cursor = next;
    } while (cursor !== '0');
  }

  /** The ids of the clients named `name`, from CLIENT LIST. */
  async function clientIds(admin: RedisClient, name: string): Promise<string[]> {
    const list = (await admin.command('CLIENT', 'LIST')) as string;
    return list
      .split('\n')
      .filter((line) => line.includes(` name=${name} `))
      .map((line) => /^id=(\d+) /.exec(line)![1]);
  }

  it(`matches every reply to its command: ${CALLERS} callers pipelining SET, GET, INCR and ECHO over ${CONNECTIONS} connections`, async () => {
    const { prefix, keys } = names();
    const admin = await openClient(`${prefix}:admin`, 1);
    scope.defer(() => cleanUp(admin, prefix));
    const client = await openClient(`${prefix}:load`);
    const pool = client.pool;
    const rounds = 60;
    let deepest = 0;
    await Promise.all(
      Array.from({ length: CALLERS }, async (_, caller) => {
        const { text, counter } = keys(caller);
        for (let i = 0; i < rounds; i++) {
          const value = `value ${caller}/${i} ${'é'.repeat(i % 5)}`;
          expect(await client.command('SET', text, value)).toBe('OK');
          expect(await client.command('GET', text)).toBe(value);
          expect(await client.command('INCR', counter)).toBe(i + 1);
          const token = `token-${caller}-${i}`;
          const echoed = client.command('ECHO', token);
          for (const connection of pool.connections) deepest = Math.max(deepest, connection.pendingRequests);
          expect(await echoed).toBe(token);
        }
      }),
    );
    // The callers' commands shared the connections, several in flight on one at once.
    expect(deepest).toBeGreaterThan(1);
    expect(pool.stats()).toMatchObject({ connected: CONNECTIONS, pendingRequests: 0, waitingRequests: 0 });
    const counters = await admin.command('MGET', ...Array.from({ length: CALLERS }, (_, c) => keys(c).counter));
    expect(counters).toEqual(Array(CALLERS).fill(String(rounds)));
  });

  it('CLIENT KILL of every connection mid-load: each command gets its own reply or a typed error, none hangs, and the pool heals', async () => {
    const { prefix, keys } = names();
    const admin = await openClient(`${prefix}:admin`, 1);
    scope.defer(() => cleanUp(admin, prefix));
    const clientName = `${prefix}:load`;
    const client = await openClient(clientName);
    const pool = client.pool;
    let resets = 0;
    pool.on('reset', () => resets++);
    expect(await clientIds(admin, clientName)).toHaveLength(CONNECTIONS);

    const rounds = 80;
    const total = CALLERS * rounds * 3;
    let settled = 0;
    const failures = new Map<string, number>();
    let killAt: (() => void) | undefined;
    const halfway = new Promise<void>((resolve) => (killAt = resolve));
    /** Runs one command; a failure must be one of the allowed typed errors. */
    const run = async (...args: string[]): Promise<{ ok: true; reply: RespValue } | { ok: false }> => {
      try {
        return { ok: true, reply: await client.command(...args) };
      } catch (error) {
        const code = isConnmanError(error) ? error.code : `untyped: ${String(error)}`;
        failures.set(code, (failures.get(code) ?? 0) + 1);
        return { ok: false };
      } finally {
        if (++settled === total / 3) killAt!();
      }
    };

    const load = Promise.all(
      Array.from({ length: CALLERS }, async (_, caller) => {
        const { text, counter } = keys(caller);
        // What GET may answer: the last value set for sure, or one whose SET failed (it may have run).
        let possible = new Set<string | null>([null]);
        let incrs = 0;
        let lastCount = 0;
        for (let i = 0; i < rounds; i++) {
          const value = `value ${caller}/${i}`;
          const set = await run('SET', text, value);
          if (set.ok) {
            expect(set.reply).toBe('OK');
            possible = new Set([value]);
          } else {
            possible.add(value);
          }
          const get = await run('GET', text);
          if (get.ok) expect(possible).toContain(get.reply);
          incrs++;
          const incr = await run('INCR', counter);
          if (incr.ok) {
            // Never another caller's count: above the last one seen, at most the INCRs sent so far.
            expect(incr.reply).toBeGreaterThan(lastCount);
            expect(incr.reply).toBeLessThanOrEqual(incrs);
            lastCount = incr.reply as number;
          }
        }
      }),
    );

    await halfway;
    const ids = await clientIds(admin, clientName);
    expect(ids).toHaveLength(CONNECTIONS);
    for (const id of ids) expect(await admin.command('CLIENT', 'KILL', 'ID', id)).toBe(1);
    await load;

    expect(settled).toBe(total);
    expect([...failures.keys()].filter((code) => !ALLOWED_FAILURES.has(code))).toEqual([]);
    // The kills landed under load: commands in flight on the killed connections failed (about 130 here).
    expect(failures.get('ERR_CONNECTION_CLOSED')).toBeGreaterThan(0);
    expect(resets).toBeGreaterThanOrEqual(CONNECTIONS);
    // Healed: every connection back, named again by its handshake, and new commands answered.
    await until(pool, 'reconnect', () => pool.stats().connected === CONNECTIONS);
    expect(await clientIds(admin, clientName)).toHaveLength(CONNECTIONS);
    const pings = await Promise.all(Array.from({ length: 200 }, (_, i) => client.command('ECHO', `after-${i}`)));
    expect(pings).toEqual(Array.from({ length: 200 }, (_, i) => `after-${i}`));
    expect(pool.stats()).toMatchObject({ connected: CONNECTIONS, pendingRequests: 0, waitingRequests: 0 });
  });
});
