import { beforeAll, describe, expect, it } from '@jest/globals';
import diagnostics from 'node:diagnostics_channel';
import { AggregatorRegistry, Counter, Registry, type OpenMetricsContentType } from 'prom-client';
import { instrumentPrometheus } from 'nestjs-connman/prometheus';
import { CHANNELS, ConnectionPool, Connman, ConnmanError } from '../../lib/index.js';
import { until } from '../helpers/events.js';
import { anySubscriber, removeLeftoverPublishStubs } from './channels.js';
import { useScope } from '../helpers/resources.js';
import { TestServer } from '../helpers/server.js';
import { parseSamples, typesOf, valueOf } from './prom-text.js';
import { linePool, runScenario, startUpstream, tally } from './scenario.js';

const METRICS = {
  connman_connections: 'gauge',
  connman_waiting: 'gauge',
  connman_acquire_wait_seconds: 'histogram',
  connman_connect_seconds: 'histogram',
  connman_resets_total: 'counter',
  connman_connect_errors_total: 'counter',
  connman_acquire_timeouts_total: 'counter',
  connman_leaks_total: 'counter',
  connman_requests_total: 'counter',
};

/** Every event of `pool` and its listener count. */
function listeners(pool: ConnectionPool): Record<string, number> {
  return Object.fromEntries(pool.eventNames().map((name) => [String(name), pool.listenerCount(name)]));
}

async function scrape(registry: Registry): Promise<ReturnType<typeof parseSamples>> {
  return parseSamples(await registry.metrics());
}

describe('instrumentPrometheus', () => {
  const scope = useScope();
  beforeAll(removeLeftoverPublishStubs);

  it('after real traffic, a reset, an outage, an acquire timeout, leaks and request timeouts, every metric has its value and labels in the scrape', async () => {
    const upstream = await startUpstream(scope);
    const { pool, logger } = linePool(scope, upstream);
    const registry = new Registry();
    const remove = instrumentPrometheus(pool, { registry });
    scope.defer(remove);
    const pool1 = { pool: 'obs' };

    const counts = await runScenario(pool, upstream, logger, async () => {
      // Two leases held, one acquire waiting.
      const during = await scrape(registry);
      expect(valueOf(during, 'connman_connections', { ...pool1, state: 'leased' })).toBe(2);
      expect(valueOf(during, 'connman_connections', { ...pool1, state: 'idle' })).toBe(0);
      expect(valueOf(during, 'connman_connections', { ...pool1, state: 'pending' })).toBe(0);
      expect(valueOf(during, 'connman_waiting', pool1)).toBe(1);
      expect(valueOf(during, 'connman_leaks_total', pool1)).toBe(2);
    });

    const text = await registry.metrics();
    expect(typesOf(text)).toEqual(METRICS);
    const after = parseSamples(text);
    expect(valueOf(after, 'connman_connections', { ...pool1, state: 'idle' })).toBe(2);
    expect(valueOf(after, 'connman_connections', { ...pool1, state: 'leased' })).toBe(0);
    expect(valueOf(after, 'connman_connections', { ...pool1, state: 'pending' })).toBe(0);
    expect(valueOf(after, 'connman_waiting', pool1)).toBe(0);
    expect(valueOf(after, 'connman_requests_total', { ...pool1, outcome: 'ok' })).toBe(20);
    expect(valueOf(after, 'connman_requests_total', { ...pool1, outcome: 'timeout' })).toBe(1);
    expect(valueOf(after, 'connman_requests_total', { ...pool1, outcome: 'error' })).toBe(1);
    expect(valueOf(after, 'connman_resets_total', pool1)).toBe(counts.resets);
    expect(valueOf(after, 'connman_connect_errors_total', pool1)).toBe(counts.connectErrors);
    expect(counts.connectErrors).toBeGreaterThanOrEqual(2);
    expect(valueOf(after, 'connman_acquire_timeouts_total', pool1)).toBe(1);
    expect(valueOf(after, 'connman_leaks_total', pool1)).toBe(2);

    // Histograms: one observation per lease (the timed-out acquire is not one), one per connect.
    expect(valueOf(after, 'connman_acquire_wait_seconds_count', pool1)).toBe(counts.leases);
    expect(valueOf(after, 'connman_acquire_wait_seconds_bucket', { ...pool1, le: '+Inf' })).toBe(counts.leases);
    // The waiter waited at least the 10 ms of the acquire that timed out behind it.
    expect(valueOf(after, 'connman_acquire_wait_seconds_bucket', { ...pool1, le: '0.005' })).toBeLessThanOrEqual(2);
    expect(valueOf(after, 'connman_acquire_wait_seconds_sum', pool1)).toBeGreaterThanOrEqual(0.009);
    expect(valueOf(after, 'connman_connect_seconds_count', pool1)).toBe(counts.connects);
    expect(counts.connects).toBeGreaterThanOrEqual(2 + counts.resets);
    expect(valueOf(after, 'connman_connect_seconds_sum', pool1)).toBeGreaterThan(0);
    // Buckets are cumulative and end with +Inf = count.
    const buckets = after.filter((s) => s.name === 'connman_connect_seconds_bucket').map((s) => s.value);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
    expect(buckets.at(-1)).toBe(counts.connects);
  });

  it('names every metric with the prefix given, and with none for an empty prefix', async () => {
    const upstream = await TestServer.start();
    scope.defer(() => upstream.stop());
    const { pool } = linePool(scope, upstream);
    const registry = new Registry();
    const remove = instrumentPrometheus(pool, { registry, prefix: 'edge_tcp_' });
    scope.defer(remove);
    await pool.open();
    expect(Object.keys(typesOf(await registry.metrics())).sort()).toEqual(
      Object.keys(METRICS)
        .map((name) => name.replace(/^connman_/, 'edge_tcp_'))
        .sort(),
    );
    expect(valueOf(await scrape(registry), 'edge_tcp_connect_seconds_count', { pool: 'obs' })).toBe(2);

    const bare = new Registry();
    const removeBare = instrumentPrometheus(pool, { registry: bare, prefix: '' });
    scope.defer(removeBare);
    expect(Object.keys(typesOf(await bare.metrics()))).toContain('resets_total');
  });

  it('the remover leaves no metric in the registry, no listener on the pool and no channel subscriber; a second call is harmless', async () => {
    const upstream = await TestServer.start();
    scope.defer(() => upstream.stop());
    const { pool } = linePool(scope, upstream);
    const registry = new Registry();
    const own = new Counter({ name: 'app_requests_total', help: 'the app', registers: [registry] });
    expect(anySubscriber()).toBe(false);
    const before = listeners(pool);
    const remove = instrumentPrometheus(pool, { registry });
    expect(anySubscriber()).toBe(true);
    await pool.open();
    (await pool.acquire()).release();
    remove();
    remove();
    expect(registry.getMetricsAsArray()).toEqual([own]);
    expect(listeners(pool)).toEqual(before);
    for (const name of Object.values(CHANNELS)) {
      expect([name, diagnostics.channel(name).hasSubscribers]).toEqual([name, false]);
      expect([name, diagnostics.tracingChannel(name).hasSubscribers]).toEqual([name, false]);
    }
  });

  it('covers every pool of a Connman, those it registers later included, and drops the gauges of pools it closes (counters stay)', async () => {
    const upstream = await TestServer.start();
    scope.defer(() => upstream.stop());
    const connman = new Connman();
    scope.defer(() => connman.disconnectAll({ timeoutMillis: 0 }));
    const first = connman.createPool('first', { ...upstream.endpoint, min: 1 });
    const registry = new Registry();
    const remove = instrumentPrometheus(connman, { registry });
    scope.defer(remove);
    const later = connman.createPool('later', { ...upstream.endpoint, min: 2 });
    await Promise.all([first.open(), later.open()]);
    (await later.acquire()).release();

    let samples = await scrape(registry);
    expect(valueOf(samples, 'connman_connections', { pool: 'first', state: 'idle' })).toBe(1);
    expect(valueOf(samples, 'connman_connections', { pool: 'later', state: 'idle' })).toBe(2);
    expect(valueOf(samples, 'connman_connect_seconds_count', { pool: 'first' })).toBe(1);
    expect(valueOf(samples, 'connman_connect_seconds_count', { pool: 'later' })).toBe(2);
    expect(valueOf(samples, 'connman_acquire_wait_seconds_count', { pool: 'later' })).toBe(1);

    await until(upstream, 'connection', () => upstream.connections === 3); // accepted, not just connected
    const reconnects = tally(later, 'reconnect');
    await upstream.resetAll();
    await until(later, 'reconnect', () => reconnects.count === 2);
    await connman.disconnect('later');
    samples = await scrape(registry);
    expect(samples.filter((s) => s.name === 'connman_connections' && s.labels.pool === 'later')).toEqual([]);
    expect(valueOf(samples, 'connman_resets_total', { pool: 'later' })).toBe(2);
    expect(valueOf(samples, 'connman_resets_total', { pool: 'first' })).toBe(1);
  });

  it('instrumenting one registry again adds pools to the same metrics, counts a pool once, and refuses two pools with one name', async () => {
    const upstream = await TestServer.start();
    scope.defer(() => upstream.stop());
    const a = new ConnectionPool({ name: 'a', ...upstream.endpoint });
    const b = new ConnectionPool({ name: 'b', ...upstream.endpoint });
    const otherA = new ConnectionPool({ name: 'a', ...upstream.endpoint });
    for (const p of [a, b, otherA]) scope.defer(() => p.close({ timeoutMillis: 0 }));
    const registry = new Registry();
    const removeA = instrumentPrometheus(a, { registry });
    scope.defer(removeA);
    const removeAB = instrumentPrometheus([a, b], { registry });
    scope.defer(removeAB);
    const error = (() => {
      try {
        instrumentPrometheus(otherA, { registry });
      } catch (e) {
        return e as ConnmanError;
      }
    })();
    expect(error).toMatchObject({ code: 'ERR_INVALID_OPTIONS', pool: 'a' });
    expect(error?.message).toMatch(/two different pools named 'a'/);
    expect(() => instrumentPrometheus([a, otherA], { registry: new Registry() })).toThrow(
      /two different pools named 'a'/,
    );

    await Promise.all([a.open(), b.open()]);
    let samples = await scrape(registry);
    expect(valueOf(samples, 'connman_connect_seconds_count', { pool: 'a' })).toBe(1); // once, though covered twice
    expect(valueOf(samples, 'connman_connect_seconds_count', { pool: 'b' })).toBe(1);

    removeAB();
    samples = await scrape(registry);
    expect(samples.some((s) => s.labels.pool === 'b' && s.name === 'connman_connections')).toBe(false);
    expect(valueOf(samples, 'connman_connections', { pool: 'a', state: 'idle' })).toBe(1);
    removeA();
    expect(registry.getMetricsAsArray()).toEqual([]);
  });

  it('refuses a registry holding a foreign metric of the same name, naming it, and registers nothing', () => {
    const registry = new Registry();
    new Counter({ name: 'connman_leaks_total', help: 'someone else', registers: [registry] });
    const pool = new ConnectionPool({ name: 'p', host: '127.0.0.1', port: 1 });
    expect(() => instrumentPrometheus(pool, { registry })).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_OPTIONS',
        message: expect.stringContaining("'connman_leaks_total'"),
      }),
    );
    expect(registry.getMetricsAsArray().map((m) => m.name)).toEqual(['connman_leaks_total']);
    expect(anySubscriber()).toBe(false);
  });

  it('rejects bad arguments with ERR_INVALID_OPTIONS naming the field', () => {
    const pool = new ConnectionPool({ name: 'p', host: '127.0.0.1', port: 1 });
    const registry = new Registry();
    const cases: [unknown, unknown, RegExp][] = [
      [undefined, { registry }, /'target'/],
      [{}, { registry }, /'target'/],
      [[pool, 'x'], { registry }, /'target\[1\]'/],
      [pool, undefined, /expected an object \{ registry, prefix\? \}/],
      [pool, {}, /'registry'/],
      [pool, { registry: { metrics: () => '' } }, /'registry'/],
      [pool, { registry, prefix: '9lives_' }, /'prefix'/],
      [pool, { registry, prefix: 7 }, /'prefix'/],
      [pool, { registry, buckets: [] }, /Unknown option 'buckets'/],
    ];
    for (const [target, options, message] of cases) {
      expect(() => instrumentPrometheus(target as ConnectionPool, options as { registry: Registry })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_OPTIONS', message: expect.stringMatching(message) }),
      );
    }
    expect(registry.getMetricsAsArray()).toEqual([]);
    expect(anySubscriber()).toBe(false);
  });

  it('works with an OpenMetrics registry, resetMetrics() and cluster aggregation, and with any registry of the same shape', async () => {
    const upstream = await TestServer.start();
    scope.defer(() => upstream.stop());
    const { pool } = linePool(scope, upstream);
    const registry = new Registry<OpenMetricsContentType>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const remove = instrumentPrometheus(pool, { registry });
    scope.defer(remove);
    const worker = new Registry(); // a cluster worker's, in the Prometheus format
    const removeWorker = instrumentPrometheus(pool, { registry: worker });
    scope.defer(removeWorker);
    await pool.open();
    await until(upstream, 'connection', () => upstream.connections === 2); // accepted, not just connected
    const reconnects = tally(pool, 'reconnect');
    await upstream.resetAll();
    await until(pool, 'reconnect', () => reconnects.count === 2);
    const open = await registry.metrics();
    expect(open).toMatch(/^# TYPE connman_resets counter$/m);
    expect(open).toMatch(/^connman_resets_total\{pool="obs"\} 2$/m);
    expect(open.endsWith('# EOF\n')).toBe(true);

    // Cluster mode: workers' JSON aggregated by the master.
    const json = await worker.getMetricsAsJSON();
    const merged = AggregatorRegistry.aggregate([json, json]);
    expect(await merged.metrics()).toMatch(/^connman_resets_total\{pool="obs"\} 4$/m);

    registry.resetMetrics();
    expect(await registry.metrics()).toMatch(/^connman_resets_total\{pool="obs"\} 0$/m);
    remove();
    expect(registry.getMetricsAsArray()).toEqual([]);

    // Any object with the three methods (the successor's Registry keeps them).
    const store = new Map<string, { name: string; get(): Promise<{ values: { labels: object; value: number }[] }> }>();
    const minimal = {
      registerMetric: (metric: never) => void store.set((metric as { name: string }).name, metric),
      getSingleMetric: (name: string) => store.get(name),
      removeSingleMetric: (name: string) => void store.delete(name),
    };
    const removeMinimal = instrumentPrometheus(pool, { registry: minimal });
    expect([...store.keys()].sort()).toEqual(Object.keys(METRICS).sort());
    expect((await store.get('connman_connections')!.get()).values).toContainEqual({
      labels: { pool: 'obs', state: 'idle' },
      value: 2,
    });
    removeMinimal();
    expect(store.size).toBe(0);
  });
});
