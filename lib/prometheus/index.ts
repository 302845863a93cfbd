// Subpath export `nestjs-connman/prometheus`: pool metrics on a Prometheus
// registry you pass in. It imports nothing of prom-client (an optional peer):
// the metric objects are the library's own, shaped as a registry expects.
export {
  instrumentPrometheus,
  type PrometheusInstrumentationOptions,
  type PrometheusRegistry,
  type RemoveInstrumentation,
} from './instrument.js';
export type { InstrumentationTarget } from '../instrumentation/targets.js';
