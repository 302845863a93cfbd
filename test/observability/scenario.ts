import { expect } from '@jest/globals';
import type { EventEmitter } from 'node:events';
import { ConnectionPool, ConnmanError, lines, type PoolOptions } from '../../lib/index.js';
import { until } from '../helpers/events.js';
import { lineHandler } from '../helpers/line-server.js';
import { RecordingLogger, type TestScope } from '../helpers/resources.js';
import { TestServer } from '../helpers/server.js';

/** Counts the events `names` of `emitter` from now on. */
export function tally(emitter: EventEmitter<any>, ...names: string[]): { count: number } {
  const counter = { count: 0 };
  for (const name of names) (emitter as EventEmitter).on(name, () => counter.count++);
  return counter;
}

/** A line server that echoes every line except those starting with `hang` (never answered). */
export async function startUpstream(scope: TestScope): Promise<TestServer> {
  const upstream = await TestServer.start({
    handler: lineHandler((line, socket) => {
      if (!line.startsWith('hang')) socket.write(`${line}\n`);
    }),
  });
  scope.defer(() => upstream.stop());
  return upstream;
}

/** A pool of 2 line-framed connections to `upstream`, leak warnings after 30 ms, quick backoff. */
export function linePool(
  scope: TestScope,
  upstream: TestServer,
  extra: Partial<PoolOptions> = {},
): { pool: ConnectionPool; logger: RecordingLogger } {
  const logger = new RecordingLogger();
  const pool = new ConnectionPool({
    name: 'obs',
    ...upstream.endpoint,
    min: 2,
    max: 2,
    framing: lines(),
    leakDetectionThresholdMillis: 30,
    backoff: { initialDelayMillis: 20, maxDelayMillis: 40 },
    logger,
    ...extra,
  });
  scope.defer(() => pool.close({ timeoutMillis: 0 }));
  return { pool, logger };
}

/** What the scenario did, as the pool's own events tell it. */
export interface ScenarioCounts {
  /** Pool `reset` events. */
  resets: number;
  /** Pool `createError` events. */
  connectErrors: number;
  /** Pool `connect` + `reconnect` events. */
  connects: number;
  /** Successful acquires (all of them through `acquire()`). */
  leases: number;
}

/**
 * Real traffic on `pool` (opened here), in steps; `checkpoint` runs while two
 * leases are held and one acquire waits:
 * 1. 20 pipelined requests, answered;
 * 2. two leases held past the leak threshold (2 leak warnings), a third
 *    acquire waiting for one of them, a fourth timing out after 10 ms; then the
 *    waiter gets its lease (after waiting at least 10 ms);
 * 3. a request that times out (its connection is reset: resetOnRequestTimeout),
 *    and one that fails when the server resets every connection;
 * 4. the server stopped until two connect attempts failed, then back.
 */
export async function runScenario(
  pool: ConnectionPool,
  upstream: TestServer,
  logger: RecordingLogger,
  checkpoint: () => Promise<void>,
): Promise<ScenarioCounts> {
  const resets = tally(pool, 'reset');
  const connectErrors = tally(pool, 'createError');
  const connects = tally(pool, 'connect', 'reconnect');
  await pool.open();

  // 1. Pipelined requests.
  const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => pool.request(`r${i}\n`)));
  expect(replies.map(String)).toEqual(Array.from({ length: 20 }, (_, i) => `r${i}`));

  // 2. Leases, a leak, a waiter, a timeout.
  const first = await pool.acquire();
  const second = await pool.acquire();
  while (logger.warnings.length < 2) await logger.nextMessage();
  const waiter = pool.acquire({ timeoutMillis: 10_000 });
  await checkpoint();
  const timedOut = (await pool.acquire({ timeoutMillis: 10 }).catch((e: unknown) => e)) as ConnmanError;
  expect(timedOut.code).toBe('ERR_ACQUIRE_TIMEOUT');
  first.release();
  (await waiter).release();
  second.release();

  // 3. A request that times out, one that fails on a reset.
  const timeout = (await pool.request('hang-1\n', { timeoutMillis: 20 }).catch((e: unknown) => e)) as ConnmanError;
  expect(timeout.code).toBe('ERR_REQUEST_TIMEOUT');
  await until(pool, 'reconnect', () => pool.stats().connected === 2);
  await until(upstream, 'connection', () => upstream.connections === 2); // both accepted by the server
  const failing = pool.request('hang-2\n', { timeoutMillis: 10_000 }).catch((e: unknown) => e);
  await upstream.resetAll();
  expect(((await failing) as ConnmanError).code).toBe('ERR_CONNECTION_CLOSED');
  await until(pool, 'reconnect', () => pool.stats().connected === 2);

  // 4. The upstream down for two failed attempts, then back.
  await upstream.stop();
  await until(pool, 'createError', () => connectErrors.count >= 2);
  await upstream.listen();
  await until(pool, 'reconnect', () => pool.stats().connected === 2);

  expect(resets.count).toBeGreaterThanOrEqual(5); // 1 request timeout + 2 resetAll + 2 stop
  return { resets: resets.count, connectErrors: connectErrors.count, connects: connects.count, leases: 3 };
}
