import { describe, expect, it } from '@jest/globals';
import {
  ConnectionPool,
  Connman,
  ConnmanError,
  PersistentConnection,
  lines,
  type PoolOptions,
} from '../../lib/index.js';
import { useScope } from '../helpers/resources.js';

/** Never connected to: no pool in this file is opened. */
const ep = { host: '127.0.0.1', port: 9 };
const base = { name: 'bad', ...ep };
const noop = (): void => undefined;
/** A value planted where a secret might be given by mistake: it must never be echoed. */
const SECRET = 'hunter2-do-not-print';

type Case = [label: string, run: (env: Env) => unknown, field: string];

interface Env {
  pool(options?: Partial<PoolOptions>): ConnectionPool;
  connman: Connman;
}

const poolOption = (options: Record<string, unknown>, field: string): Case => [
  `pool option ${JSON.stringify(options, (_k, v: unknown) => (typeof v === 'function' ? 'fn' : v))}`,
  () => new ConnectionPool({ ...base, ...options } as unknown as PoolOptions),
  field,
];

const cases: Case[] = [
  // The pool's own options.
  ['pool options that are null', () => new ConnectionPool(null as unknown as PoolOptions), 'options'],
  ['pool options that are an array', () => new ConnectionPool([] as unknown as PoolOptions), 'options'],
  ['a missing pool name', () => new ConnectionPool({ ...ep } as unknown as PoolOptions), "'name'"],
  poolOption({ name: '' }, "'name'"),
  poolOption({ name: 42 }, "'name'"),
  poolOption({ maxx: 3 }, "'maxx'"),
  poolOption({ min: -1 }, "'min'"),
  poolOption({ min: 1.5 }, "'min'"),
  poolOption({ min: '1' }, "'min'"),
  poolOption({ max: 0 }, "'max'"),
  poolOption({ min: 5, max: 2 }, "'min'"),
  poolOption({ acquireTimeoutMillis: -1 }, "'acquireTimeoutMillis'"),
  poolOption({ acquireTimeoutMillis: '3000' }, "'acquireTimeoutMillis'"),
  poolOption({ acquireTimeoutMillis: SECRET }, "'acquireTimeoutMillis'"),
  poolOption({ maxWaitingClients: -1 }, "'maxWaitingClients'"),
  poolOption({ idleTimeoutMillis: Number.NaN }, "'idleTimeoutMillis'"),
  poolOption({ maxLifetimeMillis: 0 }, "'maxLifetimeMillis'"),
  poolOption({ maxConcurrentCreates: 0 }, "'maxConcurrentCreates'"),
  poolOption({ validate: 'yes' }, "'validate'"),
  poolOption({ validateTimeoutMillis: 0 }, "'validateTimeoutMillis'"),
  poolOption({ leakDetectionThresholdMillis: -5 }, "'leakDetectionThresholdMillis'"),
  poolOption({ reapIntervalMillis: 0 }, "'reapIntervalMillis'"),
  poolOption({ openTimeoutMillis: -1 }, "'openTimeoutMillis'"),
  poolOption({ fifo: 'true' }, "'fifo'"),
  poolOption({ callbacks: 5 }, "'callbacks'"),
  poolOption({ callbacks: { onData: 'x' } }, "'callbacks.onData'"),
  poolOption({ callbacks: { onDate: noop } }, "'callbacks.onDate'"),
  poolOption({ callbacks: { onReset: SECRET } }, "'callbacks.onReset'"),
  // Endpoints, nested.
  ['endpoints that are not an array', () => new ConnectionPool({ name: 'bad', endpoints: ep } as never), "'endpoints'"],
  ['no endpoint with min 1', () => new ConnectionPool({ name: 'bad', endpoints: [], min: 1 }), "'min'"],
  ['a null endpoint', () => new ConnectionPool({ name: 'bad', endpoints: [null] } as never), "'endpoints[0]'"],
  [
    'an endpoint without port',
    () => new ConnectionPool({ name: 'bad', endpoints: [{ host: 'h' }] } as never),
    "'endpoints[0].port'",
  ],
  [
    'an endpoint with port 0',
    () => new ConnectionPool({ name: 'bad', endpoints: [{ host: 'h', port: 0 }] }),
    "'endpoints[0].port'",
  ],
  [
    'an endpoint with port 70000',
    () => new ConnectionPool({ name: 'bad', endpoints: [ep, { host: 'h', port: 70_000 }] }),
    "'endpoints[1].port'",
  ],
  [
    'an endpoint with a string port',
    () => new ConnectionPool({ name: 'bad', endpoints: [{ host: 'h', port: '80' }] } as never),
    "'endpoints[0].port'",
  ],
  [
    'an endpoint with an empty host',
    () => new ConnectionPool({ name: 'bad', endpoints: [{ host: '', port: 1 }] }),
    "'endpoints[0].host'",
  ],
  [
    'an endpoint with an empty path',
    () => new ConnectionPool({ name: 'bad', endpoints: [{ path: '' }] }),
    "'endpoints[0].path'",
  ],
  [
    'an endpoint with path and host',
    () => new ConnectionPool({ name: 'bad', endpoints: [{ path: '/x', host: 'h' }] } as never),
    "'endpoints[0]'",
  ],
  [
    'a misspelt tls key in an endpoint',
    () => new ConnectionPool({ name: 'bad', endpoints: [{ ...ep, tsl: {} }] } as never),
    "'endpoints[0].tsl'",
  ],
  [
    'tls that is a string',
    () => new ConnectionPool({ name: 'bad', endpoints: [{ ...ep, tls: SECRET }] } as never),
    "'endpoints[0].tls'",
  ],
  [
    'an unknown TLS option',
    () => new ConnectionPool({ name: 'bad', endpoints: [{ ...ep, tls: { rejectUnauthorised: false } }] } as never),
    "'endpoints[0].tls.rejectUnauthorised'",
  ],
  [
    'TLS ca given as objects',
    () => new ConnectionPool({ name: 'bad', endpoints: [{ ...ep, tls: { ca: [{}] } }] } as never),
    "'endpoints[0].tls.ca'",
  ],
  [
    'a TLS cert given as objects',
    () => new ConnectionPool({ name: 'bad', endpoints: [{ ...ep, tls: { cert: [{ pem: 'x' }] } }] } as never),
    "'endpoints[0].tls.cert'",
  ],
  [
    'a TLS key object without pem',
    () => new ConnectionPool({ name: 'bad', endpoints: [{ ...ep, tls: { key: [{ passphrase: SECRET }] } }] } as never),
    "'endpoints[0].tls.key'",
  ],
  [
    'a TLS secureContext that is a plain object',
    () => new ConnectionPool({ name: 'bad', endpoints: [{ ...ep, tls: { secureContext: {} } }] } as never),
    "'endpoints[0].tls.secureContext'",
  ],
  [
    'tls that is a Date',
    () => new ConnectionPool({ name: 'bad', endpoints: [{ ...ep, tls: new Date() }] } as never),
    "'endpoints[0].tls'",
  ],
  [
    'a host with credentials in it',
    () => new ConnectionPool({ name: 'bad', host: `user:${SECRET}@127.0.0.1`, port: 6379 }),
    "'host'",
  ],
  ['a host with a scheme', () => new ConnectionPool({ name: 'bad', host: 'redis://127.0.0.1', port: 6379 }), "'host'"],
  ['a host with spaces around it', () => new ConnectionPool({ name: 'bad', host: ' 127.0.0.1 ', port: 1 }), "'host'"],
  [
    'a host with a port in it',
    () => new ConnectionPool({ name: 'bad', endpoints: [{ host: '127.0.0.1:6379', port: 6379 }] }),
    "'endpoints[0].host'",
  ],
  [
    'endpoints with a hole',
    // eslint-disable-next-line no-sparse-arrays
    () => new ConnectionPool({ name: 'bad', endpoints: [, ep] } as never),
    "'endpoints[0]'",
  ],
  ['endpoints and host together', () => new ConnectionPool({ ...base, endpoints: [ep] }), "'endpoints'"],
  ['tls without host', () => new ConnectionPool({ name: 'bad', tls: true }), "'tls'"],
  ['host without port', () => new ConnectionPool({ name: 'bad', host: 'h' }), "'port'"],
  [
    'a misspelt key in the shorthand tls',
    () => new ConnectionPool({ ...base, tls: { cer: 'x' } } as never),
    "'tls.cer'",
  ],
  // Connection options, nested.
  poolOption({ connectTimeoutMillis: 0 }, "'connectTimeoutMillis'"),
  poolOption({ connectTimeoutMillis: 1e12 }, "'connectTimeoutMillis'"),
  poolOption({ backoff: 'fast' }, "'backoff'"),
  poolOption({ backoff: { initialDelayMillis: 0 } }, "'backoff.initialDelayMillis'"),
  poolOption({ backoff: { initialDelayMillis: 10, maxDelayMillis: 5 } }, "'backoff.maxDelayMillis'"),
  poolOption({ backoff: { factor: 0.5 } }, "'backoff.factor'"),
  poolOption({ backoff: { jitter: 2 } }, "'backoff.jitter'"),
  poolOption({ backoff: { resetAfterMillis: -1 } }, "'backoff.resetAfterMillis'"),
  poolOption({ backoff: { delay: 1 } }, "'backoff.delay'"),
  poolOption({ readIdleTimeoutMillis: 0 }, "'readIdleTimeoutMillis'"),
  poolOption({ noDelay: 'yes' }, "'noDelay'"),
  poolOption({ keepAlive: 1 }, "'keepAlive'"),
  poolOption({ keepAliveInitialDelayMillis: -1 }, "'keepAliveInitialDelayMillis'"),
  poolOption({ socketOptions: 'x' }, "'socketOptions'"),
  poolOption({ socketOptions: { timeout: 5 } }, "'socketOptions.timeout'"),
  poolOption({ socketOptions: { rejectUnauthorized: false } }, "'socketOptions.rejectUnauthorized'"),
  poolOption({ socketOptions: { bogus: 1 } }, "'socketOptions.bogus'"),
  poolOption({ socketOptions: { onread: {} } }, "'socketOptions.onread'"),
  poolOption({ socketOptions: { localAddress: 'not-an-ip' } }, "'socketOptions.localAddress'"),
  poolOption({ backoff: new Map([['initialDelayMillis', 5]]) }, "'backoff'"),
  poolOption({ callbacks: new Date() }, "'callbacks'"),
  [
    'options with a getter that throws',
    () =>
      new ConnectionPool({
        ...base,
        get max(): number {
          throw new Error(SECRET);
        },
      }),
    'could not be read',
  ],
  [
    'a revoked Proxy as backoff',
    () => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return new ConnectionPool({ ...base, backoff: proxy });
    },
    'could not be read',
  ],
  poolOption({ logger: {} }, "'logger'"),
  poolOption({ logger: 'console' }, "'logger'"),
  // Protocol options, nested.
  poolOption({ handshake: 'AUTH x' }, "'handshake'"),
  poolOption({ framing: {} }, "'framing'"),
  poolOption({ framing: lines }, "'framing'"),
  poolOption({ isReply: noop }, "'isReply'"),
  poolOption({ framing: lines(), isReply: 'x' }, "'isReply'"),
  poolOption({ requestTimeoutMillis: 0 }, "'requestTimeoutMillis'"),
  poolOption({ requestTimeoutMillis: '100' }, "'requestTimeoutMillis'"),
  poolOption({ resetOnRequestTimeout: 'no' }, "'resetOnRequestTimeout'"),
  poolOption({ heartbeat: 'PING' }, "'heartbeat'"),
  poolOption({ heartbeat: {} }, "'heartbeat.intervalMillis'"),
  poolOption({ heartbeat: { intervalMillis: 0, payload: 'x' } }, "'heartbeat.intervalMillis'"),
  poolOption({ heartbeat: { intervalMillis: '10', payload: 'x' } }, "'heartbeat.intervalMillis'"),
  poolOption({ heartbeat: { intervalMillis: 10 } }, "'heartbeat.payload'"),
  poolOption({ heartbeat: { intervalMillis: 10, payload: '' } }, "'heartbeat.payload'"),
  poolOption({ heartbeat: { intervalMillis: 10, payload: 5 } }, "'heartbeat.payload'"),
  poolOption({ heartbeat: { intervalMillis: 10, payload: 'x', timeoutMillis: 0 } }, "'heartbeat.timeoutMillis'"),
  poolOption({ heartbeat: { intervalMillis: 10, payload: 'x', every: 5 } }, "'heartbeat.every'"),
  poolOption({ heartbeat: { intervalMillis: 10, payload: 'x', idle: 'sometimes' } }, "'heartbeat.idle'"),
  // Per-call options: checked before the pool opens or anything else changes.
  ['acquire({ timeoutMillis: -1 })', ({ pool }) => pool().acquire({ timeoutMillis: -1 }), "'timeoutMillis'"],
  ['acquire({ timeoutMillis: "5" })', ({ pool }) => pool().acquire({ timeoutMillis: '5' as never }), "'timeoutMillis'"],
  ['acquire({ timeoutMillis: 1.5 })', ({ pool }) => pool().acquire({ timeoutMillis: 1.5 }), "'timeoutMillis'"],
  ['acquire({ signal: "x" })', ({ pool }) => pool().acquire({ signal: 'x' as never }), "'signal'"],
  ['acquire({ wait: true })', ({ pool }) => pool().acquire({ wait: true } as never), "'wait'"],
  ['acquire(null)', ({ pool }) => pool().acquire(null as never), 'acquire()'],
  ['open({ timeoutMillis: -1 })', ({ pool }) => pool().open({ timeoutMillis: -1 }), "'timeoutMillis'"],
  ['open({ wait: "yes" })', ({ pool }) => pool().open({ wait: 'yes' as never }), "'wait'"],
  ['open({ bogus: 1 })', ({ pool }) => pool().open({ bogus: 1 } as never), "'bogus'"],
  ['open(5)', ({ pool }) => pool().open(5 as never), 'open()'],
  ['close({ timeoutMillis: "5" })', ({ pool }) => pool().close({ timeoutMillis: '5' as never }), "'timeoutMillis'"],
  ['close({ grace: 5 })', ({ pool }) => pool().close({ grace: 5 } as never), "'grace'"],
  [
    'tryAcquire({ timeoutMillis: 5 })',
    ({ pool }) => {
      const p = pool();
      return Reflect.apply(p.tryAcquire, p, [{ timeoutMillis: 5 }]);
    },
    'tryAcquire()',
  ],
  ['use("not a function")', ({ pool }) => pool().use('x' as never), 'use()'],
  [
    'request() with a 0 timeout',
    ({ pool }) => pool({ framing: lines() }).request('x\n', { timeoutMillis: 0 }),
    "'timeoutMillis'",
  ],
  ['request() with an object payload', ({ pool }) => pool({ framing: lines() }).request({} as never), 'payload'],
  ['request() without framing', ({ pool }) => pool().request('x\n'), "'framing'"],
  [
    'addConnection() without port',
    ({ pool }) => pool({ min: 0 }).addConnection({ host: 'h' } as never),
    "'endpoint.port'",
  ],
  [
    'addConnection() with a misspelt key',
    ({ pool }) => pool({ min: 0 }).addConnection({ ...ep, tsl: true } as never),
    "'endpoint.tsl'",
  ],
  [
    'addConnection() with a bad callback',
    ({ pool }) => pool({ min: 0 }).addConnection(ep, { onData: 5 } as never),
    "'callbacks.onData'",
  ],
  [
    'addHandlers() with a bad handler',
    ({ pool }) => pool().addHandlers({ onConnect: 'x' } as never),
    "'handlers.onConnect'",
  ],
  ['addHandlers(null)', ({ pool }) => pool().addHandlers(null as never), "'handlers'"],
  // A single connection.
  ['a connection to no endpoint', () => new PersistentConnection([]), "'endpoint'"],
  [
    'a connection with a misspelt endpoint key',
    () => new PersistentConnection({ ...ep, tsl: true } as never),
    "'endpoint.tsl'",
  ],
  [
    'a connection whose second endpoint is bad',
    () => new PersistentConnection([ep, { host: 'h' }] as never),
    "'endpoint[1].port'",
  ],
  ['callbacks that are a string', () => new PersistentConnection(ep, 'callbacks' as never), "'callbacks'"],
  [
    'an onData that is not a function',
    () => new PersistentConnection(ep, { onData: 1 } as never),
    "'callbacks.onData'",
  ],
  [
    'a string connectTimeoutMillis',
    () => new PersistentConnection(ep, {}, { connectTimeoutMillis: '100' } as never),
    "'connectTimeoutMillis'",
  ],
  ['connection options that are null', () => new PersistentConnection(ep, {}, null as never), 'options'],
  ['an unknown connection option', () => new PersistentConnection(ep, {}, { maxx: 1 } as never), "'maxx'"],
  ['pool-only options on a connection', () => new PersistentConnection(ep, {}, { min: 1 } as never), "'min'"],
  [
    'a bad heartbeat on a connection',
    () => new PersistentConnection(ep, {}, { heartbeat: { payload: 'x' } } as never),
    "'heartbeat.intervalMillis'",
  ],
  ['waitUntilConnected(-1)', () => new PersistentConnection(ep).waitUntilConnected(-1), "'timeoutMillis'"],
  ['waitUntilConnected(1e12)', () => new PersistentConnection(ep).waitUntilConnected(1e12), "'timeoutMillis'"],
  [
    'a connection whose endpoint list has a hole',
    // eslint-disable-next-line no-sparse-arrays
    () => new PersistentConnection([, ep] as never),
    "'endpoint[0]'",
  ],
  [
    'a connection options getter that throws',
    () =>
      new PersistentConnection(ep, {}, {
        get connectTimeoutMillis(): number {
          throw new Error('boom');
        },
      } as never),
    'could not be read',
  ],
  ['reset("x")', () => new PersistentConnection(ep).reset('x' as never), 'reset()'],
  [
    'addCallbacks({ onReset: 1 })',
    () => new PersistentConnection(ep).addCallbacks({ onReset: 1 } as never),
    "'callbacks.onReset'",
  ],
  [
    'request() with a bad option on a connection',
    () => new PersistentConnection(ep, {}, { framing: lines() }).request('x\n', { signal: 1 } as never),
    "'signal'",
  ],
  // The registry.
  ['createPool(name, null)', ({ connman }) => connman.createPool('x', null as never), 'createPool'],
  ['createPool("", {})', ({ connman }) => connman.createPool('', {}), 'createPool()'],
  ['createPool(42)', ({ connman }) => connman.createPool(42 as never), 'createPool()'],
  ['createPool with two names', ({ connman }) => connman.createPool('a', { name: 'b', ...ep }), "'b'"],
  ['createPool with a bad option', ({ connman }) => connman.createPool('a', { ...ep, max: -1 }), "'max'"],
  ['getPool(undefined)', ({ connman }) => connman.getPool(undefined as never), 'getPool()'],
  ['connect(null)', ({ connman }) => connman.connect(null as never), "'endpoint'"],
  [
    'connect() with a bad callback',
    ({ connman }) => connman.connect(ep, { onReset: 'x' } as never),
    "'callbacks.onReset'",
  ],
  // eslint-disable-next-line no-sparse-arrays
  ['connect() with a hole in the endpoints', ({ connman }) => connman.connect([, ep] as never), "'endpoint[0]'"],
  [
    'disconnectAll({ timeoutMillis: -1 })',
    ({ connman }) => connman.disconnectAll({ timeoutMillis: -1 }),
    "'timeoutMillis'",
  ],
  ['disconnect(42)', ({ connman }) => connman.disconnect(42 as never), 'disconnect()'],
  ['addPool({})', ({ connman }) => connman.addPool({} as never), 'addPool()'],
];

describe('bad input, on every public path', () => {
  const scope = useScope();

  it('disconnect() and disconnectAll() with bad options change nothing: the pools stay open and registered', async () => {
    const connman = new Connman();
    scope.defer(() => connman.disconnectAll({ timeoutMillis: 0 }));
    const a = connman.createPool('a', { ...ep, min: 0 });
    const b = connman.createPool('b', { ...ep, min: 0 });
    await a.open();
    const single = connman.connect(ep, {}, { backoff: { initialDelayMillis: 1000 } });
    for (const attempt of [
      () => connman.disconnect('a', { timeoutMillis: -1 }),
      () => connman.disconnect(a, { grace: 5 } as never),
      () => connman.disconnectAll({ timeoutMillis: '0' as never }),
      () => connman.disconnectAll(null as never),
    ]) {
      await expect(attempt()).rejects.toMatchObject({ code: 'ERR_INVALID_OPTIONS' });
    }
    expect(connman.poolNames).toEqual(['a', 'b']);
    expect(a.stats().state).toBe('open');
    expect(b.stats().state).toBe('new');
    expect(single.state).not.toBe('closed');
    // A pool of the same name that is not the registered one leaves the registered one in place.
    const stranger = new ConnectionPool({ name: 'a', ...ep, min: 0 });
    await connman.disconnect(stranger);
    expect(connman.getPool('a')).toBe(a);
    await connman.disconnectAll();
    expect(connman.poolNames).toEqual([]);
    expect(a.stats().state).toBe('closed');
  });

  it('accepts every host that is a name or an IP address', () => {
    for (const host of [
      'localhost',
      '127.0.0.1',
      '::1',
      'fe80::1%lo',
      'my_host.internal',
      'example.com.',
      'bücher.example',
    ]) {
      expect(new ConnectionPool({ name: 'ok', host, port: 1 }).options.endpoints[0].host).toBe(host);
    }
  });

  it('has at least 80 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(80);
  });

  it.each(cases)('%s: ERR_INVALID_OPTIONS naming %s, nothing changed, no value echoed', async (_label, run, field) => {
    const pools: ConnectionPool[] = [];
    const connman = new Connman();
    scope.defer(() => connman.disconnectAll({ timeoutMillis: 0 }));
    const env: Env = {
      connman,
      pool: (options = {}) => {
        const p = new ConnectionPool({ ...base, ...options });
        pools.push(p);
        scope.defer(() => p.close({ timeoutMillis: 0 }));
        return p;
      },
    };
    let error: unknown;
    try {
      const result = run(env);
      if (result instanceof Promise) await result;
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(ConnmanError);
    expect((error as ConnmanError).code).toBe('ERR_INVALID_OPTIONS');
    expect((error as ConnmanError).message).toContain(field);
    expect((error as ConnmanError).message).not.toContain(SECRET);
    // Nothing started: no pool opened, no connection made.
    for (const p of pools) expect(p.stats()).toMatchObject({ state: 'new', size: 0 });
    expect(connman.poolNames.filter((n) => n !== 'a')).toEqual([]);
  });
});
