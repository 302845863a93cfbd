import { MeterProvider } from '@opentelemetry/sdk-metrics';
import diagnostics from 'node:diagnostics_channel';
import { Registry } from 'prom-client';
import { CHANNELS, ConnectionPool } from '../../lib/index.js';
import { instrumentOpenTelemetry } from '../../lib/otel/index.js';
import { instrumentPrometheus } from '../../lib/prometheus/index.js';
import { compare, result, type BenchFlags, type CaseResult, type Sample } from '../harness.js';
import { HOST, echoServer } from '../net.js';

/** A setting the pool runs under: switched on before a round and off after it. */
type Setting = (pool: ConnectionPool) => () => void;

const noop = (): void => undefined;

/** The settings compared; `plain` is the baseline (no subscriber at all: the core publishes nothing). */
const SETTINGS: Record<string, Setting> = {
  plain: () => noop,
  prometheus: (pool) => instrumentPrometheus(pool, { registry: new Registry() }),
  otel: (pool) => {
    const provider = new MeterProvider();
    const remove = instrumentOpenTelemetry(pool, { meter: provider.getMeter('bench') });
    return () => {
      remove();
      void provider.shutdown();
    };
  },
  // What a metrics layer fed by pool events alone would pay (no tracing channel): a no-op listener on `acquire` and `release`.
  'pool events': (pool) => {
    pool.on('acquire', noop).on('release', noop);
    return () => void pool.off('acquire', noop).off('release', noop);
  },
  'dc subscriber': () => {
    // A no-op subscriber on every channel, tracing channels' five events included: the floor of any instrumentation.
    const names = Object.values(CHANNELS).flatMap((name) =>
      name === CHANNELS.acquire || name === CHANNELS.request
        ? ['start', 'end', 'asyncStart', 'asyncEnd', 'error'].map((event) => `tracing:${name}:${event}`)
        : [name],
    );
    for (const name of names) diagnostics.subscribe(name, noop);
    return () => {
      for (const name of names) diagnostics.unsubscribe(name, noop);
    };
  },
};

/** Runs `body` under each setting, interleaved by the harness. */
function underEach(pool: ConnectionPool, body: () => Promise<void>): Record<string, () => Promise<void>> {
  return Object.fromEntries(
    Object.entries(SETTINGS).map(([name, setting]) => [
      name,
      async () => {
        const off = setting(pool);
        try {
          await body();
        } finally {
          off();
        }
      },
    ]),
  );
}

function report(name: string, samples: Record<string, Sample>, notes: string[]): CaseResult {
  const { plain, ...instrumented } = samples;
  const costs = Object.entries(instrumented).map(([setting, s]) => {
    const nanos = 1e9 / s.median - 1e9 / plain.median;
    return `${setting}: ${((s.median / plain.median) * 100).toFixed(0)}% of plain throughput, ${nanos >= 0 ? '+' : ''}${nanos.toFixed(0)} ns per acquire+release`;
  });
  return result(name, 'acquire+release/s', 'higher', plain, instrumented, [
    'ours = plain (nothing subscribed); a ratio N says plain is N times the throughput of that setting',
    ...costs,
    ...notes,
  ]);
}

/** `cycle` (one caller, an idle connection every time) plain, instrumented, and with bare subscribers. */
export async function instrumentedCycle(flags: BenchFlags): Promise<CaseResult> {
  const server = await echoServer();
  const pool = new ConnectionPool({ name: 'bench', host: HOST, port: server.port, min: 10, max: 10 });
  await pool.open();
  const n = flags.quick ? 100_000 : 500_000;
  const samples = await compare(
    underEach(pool, async () => {
      for (let i = 0; i < n; i++) {
        const lease = await pool.acquire();
        lease.release();
      }
    }),
    n,
    flags.quick ? 3 : 7,
    flags.quick ? 2 : 3,
  );
  await pool.close({ timeoutMillis: 0 });
  await server.stop();
  return report('instrumented-cycle', samples, [
    'shape of `cycle`: acquire + release with an idle connection, one caller, max 10',
  ]);
}

/** `contended` (1,000 callers on 10 connections) plain, instrumented, and with bare subscribers. */
export async function instrumentedContended(flags: BenchFlags): Promise<CaseResult> {
  const server = await echoServer();
  const pool = new ConnectionPool({
    name: 'bench',
    host: HOST,
    port: server.port,
    min: 10,
    max: 10,
    acquireTimeoutMillis: 60_000,
    maxWaitingClients: 10_000_000,
  });
  await pool.open();
  const callers = 1000;
  const perCaller = flags.quick ? 100 : 300;
  const samples = await compare(
    underEach(pool, () =>
      Promise.all(
        Array.from({ length: callers }, async () => {
          for (let i = 0; i < perCaller; i++) {
            const lease = await pool.acquire();
            await Promise.resolve();
            lease.release();
          }
        }),
      ).then(() => undefined),
    ),
    callers * perCaller,
    flags.quick ? 3 : 7,
    flags.quick ? 2 : 3,
  );
  await pool.close({ timeoutMillis: 0 });
  await server.stop();
  return report('instrumented-contended', samples, [
    'shape of `contended`: 1,000 callers, max 10, acquire, yield once, release (nearly every acquire waits)',
  ]);
}

/** Both shapes. */
export async function instrumented(flags: BenchFlags): Promise<CaseResult[]> {
  return [await instrumentedCycle(flags), await instrumentedContended(flags)];
}
