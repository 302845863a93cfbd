import { beforeAll, describe, expect, it } from '@jest/globals';
import { metrics } from '@opentelemetry/api';
import {
  DataPointType,
  MeterProvider,
  MetricReader,
  type HistogramMetricData,
  type MetricData,
  type SumMetricData,
} from '@opentelemetry/sdk-metrics';
import { readFileSync } from 'node:fs';
import { instrumentOpenTelemetry } from 'nestjs-connman/otel';
import { ConnectionPool, Connman, type ConnmanError } from '../../lib/index.js';
import { BUCKETS } from '../../lib/instrumentation/hub.js';
import { PACKAGE_VERSION } from '../../lib/otel/version.js';
import { until } from '../helpers/events.js';
import { anySubscriber, removeLeftoverPublishStubs } from './channels.js';
import { useScope, type TestScope } from '../helpers/resources.js';
import { TestServer } from '../helpers/server.js';
import { linePool, runScenario, startUpstream, tally } from './scenario.js';

/** A reader the test collects from when it wants (no timer). */
class TestReader extends MetricReader {
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

function meterProvider(scope: TestScope): { provider: MeterProvider; reader: TestReader } {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  scope.defer(() => provider.shutdown());
  return { provider, reader };
}

/** The metrics of one collection, by instrument name. */
async function collect(reader: MetricReader): Promise<Map<string, MetricData>> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  return new Map(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m]));
}

/** The value of the sum data point with exactly `attributes`. */
function sumOf(metric: MetricData | undefined, attributes: Record<string, string>): number {
  expect(metric?.dataPointType).toBe(DataPointType.SUM);
  const points = (metric as SumMetricData).dataPoints.filter(
    (p) => JSON.stringify(Object.entries(p.attributes).sort()) === JSON.stringify(Object.entries(attributes).sort()),
  );
  expect(points).toHaveLength(1);
  return points[0].value;
}

/** The histogram data point of `pool`. */
function histogramOf(metric: MetricData | undefined, pool: string): HistogramMetricData['dataPoints'][number]['value'] {
  expect(metric?.dataPointType).toBe(DataPointType.HISTOGRAM);
  const points = (metric as HistogramMetricData).dataPoints.filter((p) => p.attributes['connman.pool.name'] === pool);
  expect(points).toHaveLength(1);
  expect(Object.keys(points[0].attributes)).toEqual(['connman.pool.name']);
  return points[0].value;
}

function listeners(pool: ConnectionPool): Record<string, number> {
  return Object.fromEntries(pool.eventNames().map((name) => [String(name), pool.listenerCount(name)]));
}

const POOL = { 'connman.pool.name': 'obs' };
const state = (value: string) => ({ ...POOL, 'connman.connection.state': value });

describe('instrumentOpenTelemetry', () => {
  const scope = useScope();
  beforeAll(removeLeftoverPublishStubs);

  it('after real traffic, a reset, an outage, an acquire timeout and request timeouts, every instrument has its value, attributes and unit', async () => {
    const upstream = await startUpstream(scope);
    const { pool, logger } = linePool(scope, upstream);
    const { provider, reader } = meterProvider(scope);
    const remove = instrumentOpenTelemetry(pool, { meter: provider.getMeter('test') });
    scope.defer(remove);

    const counts = await runScenario(pool, upstream, logger, async () => {
      const during = await collect(reader);
      expect(sumOf(during.get('connman.connection.count'), state('used'))).toBe(2);
      expect(sumOf(during.get('connman.connection.count'), state('idle'))).toBe(0);
      expect(sumOf(during.get('connman.connection.count'), state('pending'))).toBe(0);
      expect(sumOf(during.get('connman.connection.pending_requests'), POOL)).toBe(1);
    });

    const after = await collect(reader);
    const shapes = Object.fromEntries(
      [...after.values()].map((m) => [
        m.descriptor.name,
        [DataPointType[m.dataPointType], m.descriptor.unit, 'isMonotonic' in m ? m.isMonotonic : undefined],
      ]),
    );
    expect(shapes).toEqual({
      'connman.connection.count': ['SUM', '{connection}', false],
      'connman.connection.pending_requests': ['SUM', '{request}', false],
      'connman.connection.timeouts': ['SUM', '{timeout}', true],
      'connman.connection.resets': ['SUM', '{reset}', true],
      'connman.connection.create_time': ['HISTOGRAM', 's', undefined],
      'connman.connection.wait_time': ['HISTOGRAM', 's', undefined],
      'connman.connection.use_time': ['HISTOGRAM', 's', undefined],
    });
    for (const metric of after.values()) expect(metric.descriptor.description.length).toBeGreaterThan(20);

    const count = after.get('connman.connection.count');
    expect(sumOf(count, state('idle'))).toBe(2);
    expect(sumOf(count, state('used'))).toBe(0);
    expect(sumOf(count, state('pending'))).toBe(0);
    expect(sumOf(after.get('connman.connection.pending_requests'), POOL)).toBe(0);
    expect(sumOf(after.get('connman.connection.timeouts'), POOL)).toBe(1);
    expect(sumOf(after.get('connman.connection.resets'), POOL)).toBe(counts.resets);

    const create = histogramOf(after.get('connman.connection.create_time'), 'obs');
    expect(create.count).toBe(counts.connects);
    expect(create.buckets.boundaries).toEqual(BUCKETS);
    const wait = histogramOf(after.get('connman.connection.wait_time'), 'obs');
    expect(wait.count).toBe(counts.leases);
    expect(wait.sum).toBeGreaterThanOrEqual(0.009); // the waiter waited behind a 10 ms timeout
    const use = histogramOf(after.get('connman.connection.use_time'), 'obs');
    expect(use.count).toBe(counts.leases);
    expect(use.sum).toBeGreaterThanOrEqual(0.06); // two leases held past the 30 ms leak threshold
  });

  it('the remover leaves no channel subscriber and no pool listener, and nothing is recorded afterwards; a second call is harmless', async () => {
    const upstream = await TestServer.start();
    scope.defer(() => upstream.stop());
    const { pool } = linePool(scope, upstream);
    const { provider, reader } = meterProvider(scope);
    expect(anySubscriber()).toBe(false);
    const before = listeners(pool);
    const remove = instrumentOpenTelemetry(pool, { meter: provider.getMeter('test') });
    expect(anySubscriber()).toBe(true);
    await pool.open();
    (await pool.acquire()).release();
    expect(histogramOf((await collect(reader)).get('connman.connection.use_time'), 'obs').count).toBe(1);
    remove();
    remove();
    expect(anySubscriber()).toBe(false);
    expect(listeners(pool)).toEqual(before);
    (await pool.acquire()).release();
    await until(upstream, 'connection', () => upstream.connections === 2);
    const reconnects = tally(pool, 'reconnect');
    await upstream.resetAll();
    await until(pool, 'reconnect', () => reconnects.count === 2);
    const after = await collect(reader);
    expect(histogramOf(after.get('connman.connection.use_time'), 'obs').count).toBe(1);
    expect(histogramOf(after.get('connman.connection.wait_time'), 'obs').count).toBe(1);
    expect(after.get('connman.connection.resets')?.dataPoints ?? []).toEqual([]);
  });

  it('uses the global meter provider by default, with the meter nestjs-connman at the package version', async () => {
    const upstream = await TestServer.start();
    scope.defer(() => upstream.stop());
    const { pool } = linePool(scope, upstream);
    const { provider, reader } = meterProvider(scope);
    expect(metrics.setGlobalMeterProvider(provider)).toBe(true);
    scope.defer(() => metrics.disable());
    const remove = instrumentOpenTelemetry(pool);
    scope.defer(remove);
    await pool.open();
    const { resourceMetrics } = await reader.collect();
    const [scopeMetrics] = resourceMetrics.scopeMetrics;
    expect(scopeMetrics.scope).toMatchObject({ name: 'nestjs-connman', version: PACKAGE_VERSION });
    const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(PACKAGE_VERSION).toBe(packageJson.version);
    expect(scopeMetrics.metrics.find((m) => m.descriptor.name === 'connman.connection.create_time')).toBeDefined();
  });

  it('covers the pools a Connman registers later, records a pool once however often it is covered, and refuses two pools with one name', async () => {
    const upstream = await TestServer.start();
    scope.defer(() => upstream.stop());
    const connman = new Connman();
    scope.defer(() => connman.disconnectAll({ timeoutMillis: 0 }));
    const { provider, reader } = meterProvider(scope);
    const meter = provider.getMeter('test');
    const removeConnman = instrumentOpenTelemetry(connman, { meter });
    scope.defer(removeConnman);
    const later = connman.createPool('later', { ...upstream.endpoint, min: 1 });
    const removePool = instrumentOpenTelemetry(later, { meter });
    scope.defer(removePool);
    const stranger = new ConnectionPool({ name: 'later', ...upstream.endpoint });
    scope.defer(() => stranger.close());
    expect(() => instrumentOpenTelemetry(stranger, { meter })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTIONS', pool: 'later' }),
    );
    await later.open();
    (await later.acquire()).release();
    const collected = await collect(reader);
    expect(histogramOf(collected.get('connman.connection.create_time'), 'later').count).toBe(1);
    expect(histogramOf(collected.get('connman.connection.use_time'), 'later').count).toBe(1);
    expect(
      sumOf(collected.get('connman.connection.count'), {
        'connman.pool.name': 'later',
        'connman.connection.state': 'idle',
      }),
    ).toBe(1);
  });

  it('rejects bad arguments with ERR_INVALID_OPTIONS naming the field', () => {
    const pool = new ConnectionPool({ name: 'p', host: '127.0.0.1', port: 1 });
    const cases: [unknown, unknown, RegExp][] = [
      [null, {}, /'target'/],
      [[pool, 1], {}, /'target\[1\]'/],
      [pool, null, /expected an object \{ meter\? \}/],
      [pool, { meter: {} }, /'meter'/],
      [pool, { meter: provider() }, /'meter'/],
      [pool, { registry: {} }, /Unknown option 'registry'/],
    ];
    for (const [target, options, message] of cases) {
      let error: ConnmanError | undefined;
      try {
        instrumentOpenTelemetry(target as ConnectionPool, options as object);
      } catch (e) {
        error = e as ConnmanError;
      }
      expect([String(message), error?.code, error?.message]).toEqual([
        String(message),
        'ERR_INVALID_OPTIONS',
        expect.stringMatching(message),
      ]);
    }
    expect(anySubscriber()).toBe(false);
  });
});

/** A MeterProvider passed where a Meter belongs. */
function provider(): unknown {
  return new MeterProvider();
}
