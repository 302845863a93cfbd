// test/observability/examples/prometheus.ts
import { Registry } from 'prom-client';
import { ConnectionPool } from 'nestjs-connman';
import { instrumentPrometheus } from 'nestjs-connman/prometheus';

const registry = new Registry(); // or prom-client's global `register`
const pool = new ConnectionPool({
  name: 'memcached',
  host: '127.0.0.1',
  port: Number(process.env.MEMCACHED_PORT ?? 11211),
  min: 2,
});
// Before open(), so that the first connects are counted too.
const stopMetrics = instrumentPrometheus(pool, { registry });
await pool.open();

// What your /metrics route serves (with the header Content-Type: registry.contentType):
console.log(await registry.metrics()); // connman_connections{pool="memcached",state="idle"} 2 ...

stopMetrics(); // the metrics leave the registry, the channel subscriptions end
await pool.close();
