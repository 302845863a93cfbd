// Reliability matrix, rows 31 and 42: secrets in options, and bad input anywhere.
// Each test is named after the row of /work/shared/RELIABILITY.md it checks.
import { describe, expect, it } from '@jest/globals';
import diagnostics from 'node:diagnostics_channel';
import { inspect } from 'node:util';
import {
  CHANNELS,
  ConnectionPool,
  Connman,
  ConnmanError,
  PersistentConnection,
  fixedLength,
  lengthPrefixed,
  lines,
  type ConnectionContext,
  type PoolOptions,
} from 'nestjs-connman';
import { RecordingLogger, useScope } from '../helpers/resources.js';
import { selfSigned } from '../helpers/tls.js';
import { Rig, rejection } from './kit.js';

const SECRET = 'SECRET-d41d8cd98f';

/** Everything a user can print of `value`: inspect at any depth, String, JSON, and an error's causes. */
function printed(value: unknown): string[] {
  const out = [inspect(value), inspect(value, { depth: Infinity, showHidden: false }), String(value)];
  try {
    out.push(JSON.stringify(value) ?? '');
  } catch {
    // circular: not something users print
  }
  let error: unknown = value;
  while (error instanceof Error) {
    out.push(error.message, error.stack ?? '', inspect(error, { depth: Infinity }));
    error = error.cause;
  }
  return out;
}

/** A deep copy of plain objects and arrays (functions and other values shared). */
function clone<T>(value: T): T {
  if (Array.isArray(value)) return value.map(clone) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clone(v)])) as T;
  }
  return value;
}

/** Sets `value` at `path` ("a.b[0].c") in a copy of `base`. */
function withValue(base: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const copy = clone(base);
  const keys = path.replace(/\[(\d+)\]/g, '.$1').split('.');
  let node: Record<string, unknown> = copy;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
  node[keys[keys.length - 1]] = value;
  return copy;
}

const fn = (): undefined => undefined;
/** Hostile values: each field below is given every one of them. */
const HOSTILE: [string, unknown][] = [
  ['null', null],
  ['NaN', Number.NaN],
  ['-1', -1],
  ['1.5', 1.5],
  ['Infinity', Infinity],
  ['a string', SECRET],
  ['an empty string', ''],
  ['true', true],
  ['an object', {}],
  ['an object without prototype', Object.create(null)],
  ['an array', []],
  ['a function', fn],
  ['a symbol', Symbol('x')],
  ['a bigint', 10n],
];

const isFn = (v: unknown) => typeof v === 'function';
const isBool = (v: unknown) => typeof v === 'boolean';
const isPlainObject = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
const never = () => false;

/** [path in the options, what the message must name, which hostile values are in fact valid] */
const FIELDS: [string, string, (v: unknown) => boolean][] = [
  ['name', 'name', (v) => typeof v === 'string' && v !== ''],
  ['min', 'min', never],
  ['max', 'max', never],
  ['acquireTimeoutMillis', 'acquireTimeoutMillis', never],
  ['maxWaitingClients', 'maxWaitingClients', never],
  ['idleTimeoutMillis', 'idleTimeoutMillis', never],
  ['maxLifetimeMillis', 'maxLifetimeMillis', never],
  ['maxConcurrentCreates', 'maxConcurrentCreates', never],
  ['validate', 'validate', isFn],
  ['validateTimeoutMillis', 'validateTimeoutMillis', never],
  ['leakDetectionThresholdMillis', 'leakDetectionThresholdMillis', never],
  ['reapIntervalMillis', 'reapIntervalMillis', never],
  ['openTimeoutMillis', 'openTimeoutMillis', never],
  ['fifo', 'fifo', isBool],
  ['callbacks', 'callbacks', isPlainObject],
  ['callbacks.onConnect', 'callbacks.onConnect', isFn],
  ['callbacks.onData', 'callbacks.onData', isFn],
  ['callbacks.onReset', 'callbacks.onReset', isFn],
  ['callbacks.onReconnect', 'callbacks.onReconnect', isFn],
  ['endpoints', 'endpoints', (v) => Array.isArray(v) && v.length === 0],
  ['endpoints[0]', 'endpoints[0]', never],
  ['endpoints[0].host', 'endpoints[0].host', (v) => typeof v === 'string' && v !== ''],
  ['endpoints[0].port', 'endpoints[0].port', never],
  ['endpoints[0].tls', 'endpoints[0].tls', (v) => v === true || isPlainObject(v)],
  ['connectTimeoutMillis', 'connectTimeoutMillis', never],
  ['backoff', 'backoff', isPlainObject],
  ['backoff.initialDelayMillis', 'backoff.initialDelayMillis', never],
  ['backoff.maxDelayMillis', 'backoff.maxDelayMillis', never],
  ['backoff.factor', 'backoff.factor', (v) => v === 1.5],
  ['backoff.jitter', 'backoff.jitter', never],
  ['backoff.resetAfterMillis', 'backoff.resetAfterMillis', never],
  ['readIdleTimeoutMillis', 'readIdleTimeoutMillis', never],
  ['noDelay', 'noDelay', isBool],
  ['keepAlive', 'keepAlive', isBool],
  ['keepAliveInitialDelayMillis', 'keepAliveInitialDelayMillis', never],
  ['socketOptions', 'socketOptions', isPlainObject],
  ['logger', 'logger', never],
  ['handshake', 'handshake', isFn],
  ['framing', 'framing', isFn],
  ['isReply', 'isReply', isFn],
  ['requestTimeoutMillis', 'requestTimeoutMillis', never],
  ['resetOnRequestTimeout', 'resetOnRequestTimeout', isBool],
  ['heartbeat', 'heartbeat', never],
  ['heartbeat.intervalMillis', 'heartbeat.intervalMillis', never],
  ['heartbeat.payload', 'heartbeat.payload', (v) => isFn(v) || (typeof v === 'string' && v !== '')],
  ['heartbeat.timeoutMillis', 'heartbeat.timeoutMillis', never],
];

const BASE: Record<string, unknown> = {
  name: 'fuzz',
  endpoints: [{ host: '127.0.0.1', port: 9 }],
  callbacks: {},
  backoff: {},
  socketOptions: {},
  framing: lines(),
  heartbeat: { intervalMillis: 1000, payload: 'PING\n' },
};

/** The ConnmanError a call throws or rejects with (undefined if it succeeds). */
async function failureOf(run: () => unknown): Promise<unknown> {
  try {
    const result = run();
    if (result instanceof Promise) await result;
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('reliability matrix: input', () => {
  const scope = useScope();
  const rig = new Rig(scope);

  describe('row 31: secrets in options', () => {
    it('row 31: TLS keys, passphrases and socket options never appear in an error message, a log line, a diagnostics message or util.inspect output', async () => {
      const upstream = await rig.server({ tls: selfSigned });
      const logger = new RecordingLogger();
      const seen: unknown[] = [];
      const onMessage = (message: unknown) => void seen.push(message);
      for (const channel of [CHANNELS.connect, CHANNELS.connectError, CHANNELS.reset, CHANNELS.leak]) {
        diagnostics.subscribe(channel, onMessage);
        scope.defer(() => diagnostics.unsubscribe(channel, onMessage));
      }
      const tls = { ca: selfSigned.cert, key: selfSigned.key, passphrase: SECRET, servername: 'localhost' };
      const contexts: ConnectionContext[] = [];
      const connman = new Connman();
      scope.defer(() => connman.disconnectAll({ timeoutMillis: 0 }));
      const pool = connman.createPool('vault', {
        endpoints: [{ ...upstream.endpoint, tls }],
        socketOptions: { localAddress: '127.0.0.1' },
        min: 1,
        max: 1,
        logger,
        leakDetectionThresholdMillis: 1,
        callbacks: {
          onConnect: (_socket, context) => {
            contexts.push(context);
            throw new Error('a failing handler');
          },
        },
      });
      await pool.open();
      const lease = await pool.acquire();
      while (logger.warnings.length === 0) await logger.nextMessage();
      // A pool whose TLS fails (no ca), and one that times out: their errors must be clean too.
      const failing = connman.createPool('failing', {
        endpoints: [{ ...upstream.endpoint, tls: { key: selfSigned.key, passphrase: SECRET } }],
        min: 1,
        logger,
        backoff: { initialDelayMillis: 20, maxDelayMillis: 20 },
      });
      const createErrors: Error[] = [];
      failing.on('createError', (error) => void createErrors.push(error));
      const openError = await rejection(failing.open({ timeoutMillis: 100 }));
      const acquireError = await rejection(failing.acquire({ timeoutMillis: 30 }));
      pool.connections[0].reset();
      const reachable: unknown[] = [
        pool,
        pool.options,
        pool.stats(),
        pool.connections,
        lease,
        ...contexts,
        connman,
        failing,
        failing.stats(),
        openError,
        acquireError,
        ...createErrors,
        ...seen,
      ];
      const output = [...reachable.flatMap(printed), ...logger.errors, ...logger.warnings].join('\n');
      expect(createErrors.length).toBeGreaterThan(0);
      // (Diagnostics messages are checked when they come: on Node 20 a subscription by name can
      // miss the library's channel object after an earlier one of that name was collected.)
      expect(output).not.toContain(SECRET);
      expect(output).not.toContain('PRIVATE KEY');
      expect(output).not.toContain(selfSigned.key.slice(100, 140));
      expect(output).not.toContain('localAddress');
      // What is printed still says where.
      expect(output).toContain(`127.0.0.1:${upstream.port}`);
      lease.release();
    });

    it('row 31: a secret given in the wrong place is never echoed by the options error', async () => {
      const attempts: (() => unknown)[] = [
        () => new ConnectionPool({ name: 'p', host: '127.0.0.1', port: 1, tls: SECRET as never }),
        () =>
          new ConnectionPool({ name: 'p', host: '127.0.0.1', port: 1, socketOptions: { passphrase: SECRET } as never }),
        () => new ConnectionPool({ name: 'p', host: '127.0.0.1', port: 1, acquireTimeoutMillis: SECRET as never }),
        () => new ConnectionPool({ name: 'p', host: '127.0.0.1', port: SECRET as never }),
        () =>
          new ConnectionPool({ name: 'p', host: '127.0.0.1', port: 1, heartbeat: { intervalMillis: SECRET } } as never),
        () => new PersistentConnection({ host: '127.0.0.1', port: 1 }, { onData: SECRET } as never),
        () => lines({ delimiter: 5, maxFrameBytes: SECRET } as never),
      ];
      for (const attempt of attempts) {
        const error = await failureOf(attempt);
        expect(error).toBeInstanceOf(ConnmanError);
        expect(printed(error).join('\n')).not.toContain(SECRET);
      }
    });
  });

  describe('row 42: bad input, nested', () => {
    const cases = FIELDS.flatMap(([path, label, valid]) =>
      HOSTILE.filter(([, value]) => !valid(value)).map(
        ([what, value]) => [path, what, label, value] as [string, string, string, unknown],
      ),
    );

    it.each(cases)(
      "row 42: pool option '%s' given %s fails with ERR_INVALID_OPTIONS naming it, never a TypeError",
      async (path, _what, label, value) => {
        const options = withValue(BASE, path, value);
        const error = await failureOf(() => new ConnectionPool(options as unknown as PoolOptions));
        expect(error).toBeInstanceOf(ConnmanError);
        expect((error as ConnmanError).code).toBe('ERR_INVALID_OPTIONS');
        expect((error as ConnmanError).message).toContain(`'${label}`);
        expect((error as ConnmanError).message).not.toContain(SECRET);
      },
    );

    it.each(
      FIELDS.flatMap(([path, , valid]) => HOSTILE.filter(([, v]) => valid(v)).map(([what, v]) => [path, what, v])),
    )("row 42: pool option '%s' given %s (a valid value) is accepted", (path, _what, value) => {
      const options = withValue(BASE, path as string, value);
      expect(() => new ConnectionPool(options as unknown as PoolOptions)).not.toThrow();
    });

    it.each([
      ['maxx', { maxx: 1 }, 'maxx'],
      ['backoff.delay', { backoff: { delay: 1 } }, 'backoff.delay'],
      ['heartbeat.every', { heartbeat: { intervalMillis: 10, payload: 'x', every: 1 } }, 'heartbeat.every'],
      ['endpoints[0].tsl', { endpoints: [{ host: 'h', port: 1, tsl: true }] }, 'endpoints[0].tsl'],
      [
        'endpoints[0].tls.rejectUnauthorised',
        { endpoints: [{ host: 'h', port: 1, tls: { rejectUnauthorised: false } }] },
        'endpoints[0].tls.rejectUnauthorised',
      ],
      ['socketOptions.timeout', { socketOptions: { timeout: 1 } }, 'socketOptions.timeout'],
      ['socketOptions.bogus', { socketOptions: { bogus: 1 } }, 'socketOptions.bogus'],
      ['callbacks.onDate', { callbacks: { onDate: fn } }, 'callbacks.onDate'],
    ])('row 42: an unknown key %s is refused, naming it', async (_key, extra, label) => {
      const error = await failureOf(
        () => new ConnectionPool({ name: 'keys', endpoints: [{ host: 'h', port: 1 }], ...extra } as never),
      );
      expect(error).toBeInstanceOf(ConnmanError);
      expect((error as ConnmanError).message).toContain(`'${label}'`);
    });

    it.each([
      ['lines(options)', (v: unknown) => lines(v as never), 'options', (v: unknown) => isPlainObject(v)],
      [
        'lines({ delimiter })',
        (v: unknown) => lines({ delimiter: v } as never),
        'delimiter',
        (v: unknown) => typeof v === 'string' && v !== '',
      ],
      ['lines({ maxFrameBytes })', (v: unknown) => lines({ maxFrameBytes: v } as never), 'maxFrameBytes', never],
      ['lengthPrefixed(options)', (v: unknown) => lengthPrefixed(v as never), 'lengthBytes', never],
      [
        'lengthPrefixed({ lengthBytes })',
        (v: unknown) => lengthPrefixed({ lengthBytes: v } as never),
        'lengthBytes',
        never,
      ],
      [
        'lengthPrefixed({ littleEndian })',
        (v: unknown) => lengthPrefixed({ lengthBytes: 2, littleEndian: v } as never),
        'littleEndian',
        isBool,
      ],
      ['fixedLength(bytes)', (v: unknown) => fixedLength(v as never), 'bytes', never],
    ])(
      'row 42: framing %s refuses every bad value with ERR_INVALID_OPTIONS naming it',
      async (_call, make, label, valid) => {
        for (const [, value] of HOSTILE) {
          const error = await failureOf(() => make(value));
          if (valid(value)) {
            expect(error).toBeUndefined();
            continue;
          }
          // lengthPrefixed(null) and the like name the options object or the missing field.
          expect(error).toBeInstanceOf(ConnmanError);
          expect((error as ConnmanError).code).toBe('ERR_INVALID_OPTIONS');
          expect((error as ConnmanError).message).toMatch(new RegExp(`'(${label}|options)'`));
        }
      },
    );

    it('row 42: bad per-call input changes nothing: the pool stays new, no connection is made', async () => {
      const upstream = await rig.server();
      const p = rig.pool({ ...upstream.endpoint, min: 1, framing: lines() });
      const calls: (() => unknown)[] = [
        () => p.acquire({ timeoutMillis: -1 }),
        () => p.acquire({ signal: 'x' } as never),
        () => p.acquire({ wait: true } as never),
        () => p.request('', {}),
        () => p.request('x\n', { timeoutMillis: 0 }),
        () => p.request(Symbol('x') as never),
        () => p.open({ timeoutMillis: Number.NaN }),
        () => p.use(null as never),
        () => p.addConnection({ host: '127.0.0.1', port: Symbol('p') } as never),
        () => p.addHandlers({ onData: 5 } as never),
        () => p.close({ timeoutMillis: -5 }),
      ];
      for (const call of calls) {
        const error = await failureOf(call);
        expect(error).toBeInstanceOf(ConnmanError);
        expect((error as ConnmanError).code).toBe('ERR_INVALID_OPTIONS');
      }
      expect(p.stats()).toMatchObject({ state: 'new', size: 0 });
      expect(upstream.accepted).toBe(0);
    });

    // Regression: only the keys of `tls` and `socketOptions` were checked; a bad value met Node's
    // TypeError on every connect attempt instead (before d0fa9ee).
    it.each([
      ['endpoints[0].tls.ca', { endpoints: [{ host: '127.0.0.1', port: 9, tls: { ca: 5 } }] }],
      ['endpoints[0].tls.servername', { endpoints: [{ host: '127.0.0.1', port: 9, tls: { servername: 5 } }] }],
      ['endpoints[0].tls.minVersion', { endpoints: [{ host: '127.0.0.1', port: 9, tls: { minVersion: 'TLSv9' } }] }],
      ['socketOptions.localAddress', { host: '127.0.0.1', port: 9, socketOptions: { localAddress: 5 } }],
      ['socketOptions.highWaterMark', { host: '127.0.0.1', port: 9, socketOptions: { highWaterMark: -1 } }],
      ['socketOptions.lookup', { host: '127.0.0.1', port: 9, socketOptions: { lookup: 5 } }],
      ['socketOptions.family', { host: '127.0.0.1', port: 9, socketOptions: { family: 'x' } }],
    ])(
      'row 42: a bad value for %s is refused up front, not met as a TypeError on every connect attempt',
      async (label, options) => {
        let pool: ConnectionPool | undefined;
        const error = await failureOf(
          () => (pool = new ConnectionPool({ name: 'nested', min: 0, ...options } as never)),
        );
        if (pool !== undefined) {
          // What happens instead: each attempt fails with Node's own error.
          const p = pool;
          scope.defer(() => p.close({ timeoutMillis: 0 }));
        }
        expect(error).toBeInstanceOf(ConnmanError);
        expect((error as ConnmanError).code).toBe('ERR_INVALID_OPTIONS');
        expect((error as ConnmanError).message).toContain(`'${label}'`);
      },
    );
  });
});
