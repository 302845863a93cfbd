import { afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { metrics } from '@opentelemetry/api';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry, register } from 'prom-client';
import { instrumentPrometheus } from 'nestjs-connman/prometheus';
import { CHANNELS, ConnectionPool, ConnmanModule } from '../../lib/index.js';
import { until } from '../helpers/events.js';
import { useScope } from '../helpers/resources.js';
import { TestServer } from '../helpers/server.js';
import { removeLeftoverPublishStubs } from './channels.js';
import { typesOf } from './prom-text.js';
import { tally } from './scenario.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const doc = readFileSync(resolve(root, 'docs/observability.md'), 'utf8');

/** The cells of the table rows whose first cell starts with `prefix`. */
function rows(prefix: string): string[][] {
  return doc
    .split('\n')
    .filter((line) => line.startsWith(`| \`${prefix}`))
    .map((line) =>
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
}

describe('docs/observability.md', () => {
  const scope = useScope();
  beforeAll(removeLeftoverPublishStubs);
  const env = { ...process.env };
  afterEach(() => {
    process.env = { ...env };
    jest.restoreAllMocks();
  });

  it('shows exactly the example files, which the typecheck compiles', () => {
    const blocks = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(blocks).toHaveLength(4);
    for (const block of blocks) {
      const file = /^\/\/ (test\/observability\/examples\/[\w.-]+\.ts)\n/.exec(block)?.[1];
      expect(file).toBeDefined();
      expect(block).toBe(readFileSync(resolve(root, file!), 'utf8'));
    }
  });

  it('lists every Prometheus metric with its type, and every channel, as the code has them', () => {
    const registry = new Registry();
    const remove = instrumentPrometheus(new ConnectionPool({ name: 'p', host: '127.0.0.1', port: 1 }), { registry });
    scope.defer(remove);
    const documented = Object.fromEntries(rows('connman_').map(([name, type]) => [name.replace(/`/g, ''), type]));
    const registered = Object.fromEntries(registry.getMetricsAsArray().map((m) => [m.name, m.type]));
    expect(documented).toEqual(registered);
    expect(rows('connman:').map(([name]) => name.replace(/`/g, ''))).toEqual(Object.values(CHANNELS));
    expect(rows('connman.connection.').map(([name]) => name.replace(/`/g, ''))).toEqual([
      'connman.connection.count',
      'connman.connection.pending_requests',
      'connman.connection.timeouts',
      'connman.connection.create_time',
      'connman.connection.wait_time',
      'connman.connection.use_time',
      'connman.connection.resets',
    ]);
  });

  it('runs the Prometheus example as written', async () => {
    const server = await TestServer.start();
    scope.defer(() => server.stop());
    process.env.MEMCACHED_PORT = String(server.port);
    const logged: unknown[] = [];
    jest.spyOn(console, 'log').mockImplementation((value: unknown) => void logged.push(value));
    await import('./examples/prometheus.js');
    expect(logged[0]).toMatch(/^connman_connections\{pool="memcached",state="idle"\} 2$/m);
    expect(logged[0]).toMatch(/^connman_connect_seconds_count\{pool="memcached"\} 2$/m);
  });

  it('runs the OpenTelemetry example as written', async () => {
    const server = await TestServer.start();
    scope.defer(() => server.stop());
    scope.defer(() => metrics.disable());
    process.env.MEMCACHED_PORT = String(server.port);
    const exported: { descriptor: { name: string }; dataPoints: unknown[] }[] = [];
    jest.spyOn(console, 'dir').mockImplementation((value: unknown) => void exported.push(value as never));
    await import('./examples/otel.js');
    // Exported by forceFlush(), and again by shutdown().
    expect([...new Set(exported.map((m) => m.descriptor.name))].sort()).toEqual([
      'connman.connection.count',
      'connman.connection.create_time',
      'connman.connection.pending_requests',
      'connman.connection.use_time',
      'connman.connection.wait_time',
    ]);
  });

  it("runs the Nest example: the app's pools on prom-client's global registry, from boot to shutdown", async () => {
    const server = await TestServer.start();
    scope.defer(() => server.stop());
    const { ConnmanMetrics } = await import('./examples/nest-prometheus.js');
    @Module({
      imports: [ConnmanModule.forRoot({ pools: [{ name: 'cache', ...server.endpoint, min: 1 }] })],
      providers: [ConnmanMetrics],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const text = await register.metrics();
    expect(typesOf(text).connman_connections).toBe('gauge');
    expect(text).toMatch(/^connman_connect_seconds_count\{pool="cache"\} 1$/m);
    await app.close();
    expect(register.getSingleMetric('connman_connections')).toBeUndefined();
  });

  it('runs the channels example: a reset and the time of an acquire are logged', async () => {
    const server = await TestServer.start();
    scope.defer(() => server.stop());
    const { watchPools } = await import('./examples/channels.js');
    const lines: string[] = [];
    const stop = watchPools((line) => lines.push(line));
    scope.defer(stop);
    const pool = new ConnectionPool({ name: 'watched', ...server.endpoint, min: 1 });
    scope.defer(() => pool.close({ timeoutMillis: 0 }));
    await pool.open();
    (await pool.acquire()).release();
    await until(server, 'connection', () => server.connections === 1);
    const resets = tally(pool, 'reset');
    await server.resetAll();
    await until(pool, 'reset', () => resets.count === 1);
    expect(lines[0]).toMatch(/^pool watched: acquire\(\) got a lease after \d+\.\d\d ms$/);
    expect(lines[1]).toMatch(/^pool watched: connection to 127\.0\.0\.1:\d+ lost \(.*ECONNRESET.*\)$/);
  });
});
