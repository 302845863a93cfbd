import { describe, expect, it } from '@jest/globals';
import diagnostics from 'node:diagnostics_channel';
import {
  CHANNELS,
  ConnectionPool,
  ConnmanError,
  PersistentConnection,
  lines,
  type AcquireTraceContext,
  type PoolOptions,
  type RequestTraceContext,
} from '../../lib/index.js';
import { next } from '../helpers/events.js';
import { acquireTracing, requestTracing } from '../../lib/core/diagnostics.js';
import { echoLines, lineHandler } from '../helpers/line-server.js';
import { RecordingLogger, useScope } from '../helpers/resources.js';
import { TestServer, refusedPort } from '../helpers/server.js';

const quick = { backoff: { initialDelayMillis: 20, maxDelayMillis: 40 } } as const;
const plain = ['connect', 'connectError', 'reset', 'close', 'acquireTimeout', 'leak'] as const;

/** Subscribes to every plain channel and both tracing channels; records what comes, by channel. */
function record(): { seen: Map<string, unknown[]>; stop: () => void } {
  const seen = new Map<string, unknown[]>();
  const push = (name: string, message: unknown): void => {
    const list = seen.get(name) ?? [];
    list.push(message);
    seen.set(name, list);
  };
  const stops: (() => void)[] = [];
  for (const key of plain) {
    const listener = (message: unknown): void => push(key, message);
    diagnostics.subscribe(CHANNELS[key], listener);
    stops.push(() => diagnostics.unsubscribe(CHANNELS[key], listener));
  }
  for (const key of ['acquire', 'request'] as const) {
    const tracing = diagnostics.tracingChannel(CHANNELS[key]);
    const handlers = {
      start: (m: unknown) => push(`${key}:start`, m),
      end: () => undefined,
      asyncStart: () => undefined,
      asyncEnd: (m: unknown) => push(`${key}:asyncEnd`, m),
      error: (m: unknown) => push(`${key}:error`, m),
    };
    tracing.subscribe(handlers);
    stops.push(() => tracing.unsubscribe(handlers));
  }
  return { seen, stop: () => stops.forEach((stop) => stop()) };
}

describe('diagnostics_channel', () => {
  const scope = useScope();

  async function server(handler = echoLines): Promise<TestServer> {
    const s = await TestServer.start({ handler });
    scope.defer(() => s.stop());
    return s;
  }
  function pool(options: Omit<PoolOptions, 'name'> & { name?: string }): ConnectionPool {
    const p = new ConnectionPool({ name: 'diag', ...quick, ...options });
    scope.defer(() => p.close({ timeoutMillis: 0 }));
    return p;
  }

  it('publishes connect, reset, connectError, close, acquire and request traces, acquireTimeout and leak with their fields', async () => {
    const { seen, stop } = record();
    scope.defer(stop);
    const upstream = await server();
    const logger = new RecordingLogger();
    const p = pool({ ...upstream.endpoint, min: 1, max: 1, framing: lines(), leakDetectionThresholdMillis: 1, logger });
    await p.open();
    expect((await p.request('hi\n')).toString()).toBe('hi');
    const lease = await p.acquire();
    while (logger.warnings.length === 0) await logger.nextMessage();
    const timeout = await p.acquire({ timeoutMillis: 10 }).catch((e: ConnmanError) => e);
    lease.release();
    upstream.resetAll();
    await next(p, 'reconnect');

    const endpoint = `127.0.0.1:${upstream.port}`;
    const connect = seen.get('connect') as {
      pool: string;
      endpoint: string;
      reconnect: boolean;
      durationMillis: number;
    }[];
    expect(connect[0]).toMatchObject({ pool: 'diag', endpoint, reconnect: false });
    expect(connect[0].durationMillis).toBeGreaterThanOrEqual(0);
    expect(connect.at(-1)).toMatchObject({ pool: 'diag', endpoint, reconnect: true });
    expect(seen.get('reset')?.[0]).toMatchObject({
      pool: 'diag',
      endpoint,
      error: expect.objectContaining({ code: 'ECONNRESET' }),
    });
    expect(seen.get('acquireTimeout')?.[0]).toMatchObject({
      pool: 'diag',
      endpoint,
      timeoutMillis: 10,
      error: timeout,
    });
    expect(seen.get('leak')?.[0]).toMatchObject({ pool: 'diag', endpoint, heldMillis: 1, lease });
    expect((seen.get('leak')?.[0] as { stack: string }).stack).toMatch(/diagnostics\.spec/);
    const acquires = seen.get('acquire:asyncEnd') as AcquireTraceContext[];
    expect(acquires[0]).toMatchObject({ pool: 'diag', endpoint, result: lease });
    expect((seen.get('acquire:error') as AcquireTraceContext[])[0].error).toBe(timeout);
    const requests = seen.get('request:asyncEnd') as RequestTraceContext[];
    expect(requests[0]).toMatchObject({ pool: 'diag', endpoint, payloadBytes: 3 });
    expect(String(requests[0].result)).toBe('hi');

    // A connect error, and a close of a single connection.
    const port = await refusedPort();
    const conn = new PersistentConnection({ host: '127.0.0.1', port }, undefined, quick);
    await next(conn.connect(), 'connectError');
    await conn.disconnect();
    expect(seen.get('connectError')?.at(-1)).toMatchObject({
      pool: undefined,
      endpoint: `127.0.0.1:${port}`,
      error: expect.objectContaining({ code: 'ECONNREFUSED' }),
      failures: 1,
    });
    expect(seen.get('close')?.at(-1)).toMatchObject({
      pool: undefined,
      endpoint: `127.0.0.1:${port}`,
      connection: conn,
    });
  });

  it('traces a request that times out with its error', async () => {
    const { seen, stop } = record();
    scope.defer(stop);
    const upstream = await server(lineHandler(() => undefined));
    const p = pool({ ...upstream.endpoint, min: 1, framing: lines(), requestTimeoutMillis: 30 });
    const error = (await p.request('x\n').catch((e: ConnmanError) => e)) as ConnmanError;
    expect(error.code).toBe('ERR_REQUEST_TIMEOUT');
    expect((seen.get('request:error') as RequestTraceContext[])[0]).toMatchObject({ pool: 'diag', error });
  });

  it('builds and publishes nothing while no one subscribes', async () => {
    const calls: string[] = [];
    const restore: (() => void)[] = [];
    for (const key of plain) {
      const channel = diagnostics.channel(CHANNELS[key]);
      channel.publish = () => void calls.push(key);
      // Deleting the own property puts back Node's prototype method (assigning it back would pin
      // the inactive no-op, and the channel would deliver nothing once subscribed).
      restore.push(() => delete (channel as { publish?: unknown }).publish);
    }
    // The core's own tracing objects (tracingChannel() makes a new wrapper each call).
    for (const [key, tracing] of [
      ['acquire', acquireTracing],
      ['request', requestTracing],
    ] as const) {
      tracing.tracePromise = ((fn: (...a: unknown[]) => unknown, _ctx: unknown, self: unknown, ...args: unknown[]) => {
        calls.push(key);
        return fn.apply(self, args);
      }) as typeof tracing.tracePromise;
      restore.push(() => delete (tracing as { tracePromise?: unknown }).tracePromise);
    }
    scope.defer(() => restore.forEach((r) => r()));
    const upstream = await server();
    const logger = new RecordingLogger();
    const p = pool({ ...upstream.endpoint, min: 1, max: 1, framing: lines(), leakDetectionThresholdMillis: 1, logger });
    await p.open();
    await p.request('x\n');
    const lease = await p.acquire();
    while (logger.warnings.length === 0) await logger.nextMessage(); // the leak happened
    expect(((await p.acquire({ timeoutMillis: 5 }).catch((e: ConnmanError) => e)) as ConnmanError).code).toBe(
      'ERR_ACQUIRE_TIMEOUT',
    );
    lease.release();
    upstream.resetAll();
    await next(p, 'reconnect');
    const port = await refusedPort();
    const conn = new PersistentConnection({ host: '127.0.0.1', port }, undefined, quick);
    await next(conn.connect(), 'connectError');
    await conn.disconnect();
    await p.close();
    expect(calls).toEqual([]);
  });
});
