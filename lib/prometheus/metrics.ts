import type { PoolLike } from '../instrumentation/targets.js';
import { BUCKETS, type Observer, type RequestOutcome } from '../instrumentation/hub.js';

/** One line of a metric, as a prom-client registry formats it. */
export interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  /** For histograms: `<name>_bucket`, `<name>_sum`, `<name>_count`. */
  metricName?: string;
}

/** What `get()` returns: the shape prom-client's `Registry` (and its successor's) reads. */
export interface MetricSnapshot {
  name: string;
  help: string;
  type: 'gauge' | 'counter' | 'histogram';
  values: MetricValue[];
  aggregator: 'sum';
}

/** Counts of one histogram (per bucket, not cumulative) for one pool. */
class Histogram {
  readonly counts = new Array<number>(BUCKETS.length).fill(0);
  sum = 0;
  count = 0;

  observe(value: number): void {
    for (let i = 0; i < BUCKETS.length; i++) {
      if (value <= BUCKETS[i]) {
        this.counts[i]++;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }

  clear(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

/** Everything counted for one pool name. */
class PoolSeries {
  resets = 0;
  connectErrors = 0;
  acquireTimeouts = 0;
  leaks = 0;
  readonly requests: Record<RequestOutcome, number> = { ok: 0, error: 0, timeout: 0 };
  readonly acquireWait = new Histogram();
  readonly connect = new Histogram();
}

type CounterField = 'resets' | 'connectErrors' | 'acquireTimeouts' | 'leaks';
type HistogramField = 'acquireWait' | 'connect';

/**
 * @internal The counts of the counters and histograms, by pool name, fed by
 * the hub. A pool's series start at zero as soon as the pool is known, and
 * stay after it is gone (counters never go back).
 */
export class PrometheusObserver implements Observer {
  private readonly series = new Map<string, PoolSeries>();

  /** The series of `name`, created at zero. */
  of(name: string): PoolSeries {
    let series = this.series.get(name);
    if (series === undefined) {
      series = new PoolSeries();
      this.series.set(name, series);
    }
    return series;
  }

  /** Every pool name with series. */
  entries(): IterableIterator<[string, PoolSeries]> {
    return this.series.entries();
  }

  connected(pool: PoolLike, seconds: number): void {
    this.of(pool.name).connect.observe(seconds);
  }
  connectFailed(pool: PoolLike): void {
    this.of(pool.name).connectErrors++;
  }
  reset(pool: PoolLike): void {
    this.of(pool.name).resets++;
  }
  acquired(pool: PoolLike, seconds: number): void {
    this.of(pool.name).acquireWait.observe(seconds);
  }
  acquireTimedOut(pool: PoolLike): void {
    this.of(pool.name).acquireTimeouts++;
  }
  leaked(pool: PoolLike): void {
    this.of(pool.name).leaks++;
  }
  requested(pool: PoolLike, outcome: RequestOutcome): void {
    this.of(pool.name).requests[outcome]++;
  }
}

/**
 * @internal A metric object a prom-client `Registry` accepts: `name`, `help`,
 * `type`, `aggregator`, an async `get()` and `reset()`, nothing else.
 * (`name` stays writable: an OpenMetrics registry strips `_total` from
 * counters' names.)
 */
export class RegistryMetric {
  readonly aggregator = 'sum' as const;
  /** The name it is registered under (an OpenMetrics registry may change `name`, never the key). */
  readonly key: string;

  constructor(
    public name: string,
    readonly help: string,
    readonly type: MetricSnapshot['type'],
    private readonly collect: (name: string) => MetricValue[],
    private readonly clear: () => void = () => undefined,
  ) {
    this.key = name;
  }

  get(): Promise<MetricSnapshot> {
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.collect(this.name),
      aggregator: this.aggregator,
    });
  }

  /** `registry.resetMetrics()`: counters and histograms back to zero; gauges are read live. */
  reset(): void {
    this.clear();
  }
}

/** @internal The metrics of one registry and prefix, reading `pools()` and `observer`. */
export function buildMetrics(prefix: string, pools: () => PoolLike[], observer: PrometheusObserver): RegistryMetric[] {
  /** The series of every pool known now, at zero if nothing happened yet, and of those seen before. */
  const series = (): IterableIterator<[string, PoolSeries]> => {
    for (const pool of pools()) observer.of(pool.name);
    return observer.entries();
  };
  const counter = (suffix: string, help: string, field: CounterField): RegistryMetric =>
    new RegistryMetric(
      prefix + suffix,
      help,
      'counter',
      () => Array.from(series(), ([pool, s]) => ({ labels: { pool }, value: s[field] })),
      () => {
        for (const [, s] of observer.entries()) s[field] = 0;
      },
    );
  const histogram = (suffix: string, help: string, field: HistogramField): RegistryMetric =>
    new RegistryMetric(
      prefix + suffix,
      help,
      'histogram',
      (name) => {
        const values: MetricValue[] = [];
        for (const [pool, s] of series()) {
          const h = s[field];
          let cumulative = 0;
          for (let i = 0; i < BUCKETS.length; i++) {
            cumulative += h.counts[i];
            values.push({ metricName: `${name}_bucket`, labels: { pool, le: BUCKETS[i] }, value: cumulative });
          }
          values.push(
            { metricName: `${name}_bucket`, labels: { pool, le: '+Inf' }, value: h.count },
            { metricName: `${name}_sum`, labels: { pool }, value: h.sum },
            { metricName: `${name}_count`, labels: { pool }, value: h.count },
          );
        }
        return values;
      },
      () => {
        for (const [, s] of observer.entries()) s[field].clear();
      },
    );
  return [
    new RegistryMetric(
      `${prefix}connections`,
      'Connections of the pool by state: idle (ready and free), leased (lent out), pending (connecting, reconnecting or in their handshake).',
      'gauge',
      () =>
        pools().flatMap((pool) => {
          const { idle, leased, pending } = pool.stats();
          return [
            { labels: { pool: pool.name, state: 'idle' }, value: idle },
            { labels: { pool: pool.name, state: 'leased' }, value: leased },
            { labels: { pool: pool.name, state: 'pending' }, value: pending },
          ];
        }),
    ),
    new RegistryMetric(
      `${prefix}waiting`,
      'Callers waiting for a connection: acquire() calls, and request() calls queued until a connection is ready.',
      'gauge',
      () =>
        pools().map((pool) => {
          const { waiting, waitingRequests } = pool.stats();
          return { labels: { pool: pool.name }, value: waiting + waitingRequests };
        }),
    ),
    histogram(
      'acquire_wait_seconds',
      'Time acquire() took to get a lease, in seconds (timeouts are counted in acquire_timeouts_total).',
      'acquireWait',
    ),
    histogram(
      'connect_seconds',
      'Time from the start of a connect attempt to a ready connection (DNS, TCP, TLS and handshake), in seconds.',
      'connect',
    ),
    counter('resets_total', 'Ready connections that were lost (each reconnects with backoff).', 'resets'),
    counter('connect_errors_total', 'Connect attempts that failed (the handshake included).', 'connectErrors'),
    counter('acquire_timeouts_total', 'acquire() calls that timed out (ERR_ACQUIRE_TIMEOUT).', 'acquireTimeouts'),
    counter('leaks_total', 'Leases held longer than leakDetectionThresholdMillis.', 'leaks'),
    new RegistryMetric(
      `${prefix}requests_total`,
      'request() calls on the pool and its connections by outcome: ok, error, or timeout (ERR_REQUEST_TIMEOUT).',
      'counter',
      () =>
        Array.from(series()).flatMap(([pool, s]) =>
          (['ok', 'error', 'timeout'] as const).map((outcome) => ({
            labels: { pool, outcome },
            value: s.requests[outcome],
          })),
        ),
      () => {
        for (const [, s] of observer.entries()) s.requests.ok = s.requests.error = s.requests.timeout = 0;
      },
    ),
  ];
}
