// test/observability/examples/otel.ts
import { metrics } from '@opentelemetry/api';
import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { ConnectionPool } from 'nestjs-connman';
import { instrumentOpenTelemetry } from 'nestjs-connman/otel';

// Usually done by your OpenTelemetry setup (NodeSDK and an exporter of your choice).
const provider = new MeterProvider({
  readers: [new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter(), exportIntervalMillis: 60_000 })],
});
metrics.setGlobalMeterProvider(provider);

const pool = new ConnectionPool({
  name: 'memcached',
  host: '127.0.0.1',
  port: Number(process.env.MEMCACHED_PORT ?? 11211),
  min: 2,
});
// The global provider's meter 'nestjs-connman'; or pass { meter: provider.getMeter('my-app') }.
const stopMetrics = instrumentOpenTelemetry(pool);
await pool.open();
await pool.use(() => undefined); // a lease: connman.connection.wait_time and .use_time

await provider.forceFlush(); // exports connman.connection.count, .create_time, ... now
stopMetrics();
await pool.close();
await provider.shutdown();
