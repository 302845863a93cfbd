// Subpath export `nestjs-connman/otel`: pool metrics through OpenTelemetry.
// The only entry point that loads @opentelemetry/api (an optional peer).
export {
  CONNECTION_STATE_ATTRIBUTE,
  POOL_NAME_ATTRIBUTE,
  instrumentOpenTelemetry,
  type OpenTelemetryInstrumentationOptions,
  type RemoveOpenTelemetryInstrumentation,
} from './instrument.js';
export type { InstrumentationTarget } from '../instrumentation/targets.js';
