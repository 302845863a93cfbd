import {
  metrics,
  type Attributes,
  type BatchObservableCallback,
  type Counter,
  type Histogram,
  type Meter,
  type ObservableUpDownCounter,
} from '@opentelemetry/api';
import { ConnmanError } from '../core/errors.js';
import { invalidOption } from '../core/options.js';
import { BUCKETS, Hub, type Observer } from '../instrumentation/hub.js';
import { resolveTarget, type InstrumentationTarget, type PoolLike } from '../instrumentation/targets.js';
import { PACKAGE_VERSION } from './version.js';

const CALL = 'instrumentOpenTelemetry()';

/** The attribute every instrument carries: the pool's name. */
export const POOL_NAME_ATTRIBUTE = 'connman.pool.name';
/** The attribute of `connman.connection.count`: `idle`, `used` or `pending`. */
export const CONNECTION_STATE_ATTRIBUTE = 'connman.connection.state';

/** Options of {@link instrumentOpenTelemetry}. */
export interface OpenTelemetryInstrumentationOptions {
  /** Where the instruments are created. Default: `metrics.getMeter('nestjs-connman', version)` (the global provider). */
  meter?: Meter;
}

/** Takes back what one {@link instrumentOpenTelemetry} call added. Calling it again does nothing. */
export type RemoveOpenTelemetryInstrumentation = () => void;

/** Attribute sets of one pool, built once. */
interface PoolAttributes {
  pool: Attributes;
  idle: Attributes;
  used: Attributes;
  pending: Attributes;
}

/** Records into the instruments, by pool. */
class OpenTelemetryObserver implements Observer {
  private readonly attributes = new Map<string, PoolAttributes>();

  constructor(
    private readonly timeouts: Counter,
    private readonly resets: Counter,
    private readonly createTime: Histogram,
    private readonly waitTime: Histogram,
    private readonly useTime: Histogram,
  ) {}

  of(name: string): PoolAttributes {
    let set = this.attributes.get(name);
    if (set === undefined) {
      const state = (value: string): Attributes => ({
        [POOL_NAME_ATTRIBUTE]: name,
        [CONNECTION_STATE_ATTRIBUTE]: value,
      });
      set = {
        pool: { [POOL_NAME_ATTRIBUTE]: name },
        idle: state('idle'),
        used: state('used'),
        pending: state('pending'),
      };
      this.attributes.set(name, set);
    }
    return set;
  }

  connected(pool: PoolLike, seconds: number): void {
    this.createTime.record(seconds, this.of(pool.name).pool);
  }
  connectFailed(): void {
    // No instrument of the conventions for it (Prometheus has connman_connect_errors_total).
  }
  reset(pool: PoolLike): void {
    this.resets.add(1, this.of(pool.name).pool);
  }
  acquired(pool: PoolLike, seconds: number): void {
    this.waitTime.record(seconds, this.of(pool.name).pool);
  }
  acquireTimedOut(pool: PoolLike): void {
    this.timeouts.add(1, this.of(pool.name).pool);
  }
  leaked(): void {
    // No instrument of the conventions for it (Prometheus has connman_leaks_total).
  }
  requested(): void {
    // No instrument of the conventions for it (Prometheus has connman_requests_total).
  }
  leaseHeld(pool: PoolLike, seconds: number): void {
    this.useTime.record(seconds, this.of(pool.name).pool);
  }
}

interface Installation {
  hub: Hub;
  remove(): void;
}

const installations = new WeakMap<Meter, Installation>();

/**
 * Records a pool's (or every pool's of a `Connman`, or an array of pools')
 * metrics with OpenTelemetry, shaped on the `db.client.connection.*`
 * semantic conventions under the `connman.` namespace; every instrument
 * carries `connman.pool.name`:
 *
 * | instrument | kind | unit |
 * | --- | --- | --- |
 * | `connman.connection.count` (`connman.connection.state`: `idle`, `used`, `pending`) | observable up-down counter | `{connection}` |
 * | `connman.connection.pending_requests` | observable up-down counter | `{request}` |
 * | `connman.connection.timeouts` | counter | `{timeout}` |
 * | `connman.connection.resets` | counter | `{reset}` |
 * | `connman.connection.create_time`, `.wait_time`, `.use_time` | histogram | `s` |
 *
 * Observable instruments read `stats()` when the reader collects; the others
 * are fed by the library's `diagnostics_channel` channels and, for
 * `use_time`, the pools' `acquire` / `release` events. `@opentelemetry/api` is
 * an optional peer, loaded by this entry point only.
 *
 * Calling it again with the same meter adds pools to the same instruments; a
 * pool name is recorded once however many calls cover it, and two different
 * pools with one name are refused (ERR_INVALID_OPTIONS).
 *
 * @returns a function that takes back what this call added: its pools, and
 *   once no call is left on the meter, the observable callbacks, the channel
 *   subscriptions and the pool listeners. (OpenTelemetry has no way to delete
 *   an instrument: they stay in the meter, and record nothing more.)
 */
export function instrumentOpenTelemetry(
  target: InstrumentationTarget,
  options: OpenTelemetryInstrumentationOptions = {},
): RemoveOpenTelemetryInstrumentation {
  const source = resolveTarget(target, CALL);
  const meter = readOptions(options);
  const installation = installations.get(meter) ?? install(meter);
  installations.set(meter, installation);
  let remove: () => void;
  try {
    remove = installation.hub.add(source);
  } catch (error) {
    if (installation.hub.empty) uninstall(meter, installation);
    throw error;
  }
  let removed = false;
  return () => {
    if (removed) return;
    removed = true;
    remove();
    if (installation.hub.empty) uninstall(meter, installation);
  };
}

function install(meter: Meter): Installation {
  const histogram = (name: string, description: string): Histogram =>
    meter.createHistogram(name, { description, unit: 's', advice: { explicitBucketBoundaries: [...BUCKETS] } });
  const observer = new OpenTelemetryObserver(
    meter.createCounter('connman.connection.timeouts', {
      description:
        'The number of connection timeouts that have occurred trying to obtain a connection from the pool (ERR_ACQUIRE_TIMEOUT).',
      unit: '{timeout}',
    }),
    meter.createCounter('connman.connection.resets', {
      description: 'The number of ready connections that were lost (each reconnects with backoff).',
      unit: '{reset}',
    }),
    histogram(
      'connman.connection.create_time',
      'The time it took to create a new connection, or to reconnect (DNS, TCP, TLS and handshake).',
    ),
    histogram(
      'connman.connection.wait_time',
      'The time it took to obtain an open connection from the pool (acquire()).',
    ),
    histogram('connman.connection.use_time', 'The time between borrowing a connection and returning it to the pool.'),
  );
  const hub = new Hub(observer, CALL);
  const count: ObservableUpDownCounter = meter.createObservableUpDownCounter('connman.connection.count', {
    description:
      'The number of connections that are currently in the state described by the state attribute: idle (ready and free), used (ready and busy: leased, validated or in a heartbeat), pending (connecting, reconnecting or in their handshake).',
    unit: '{connection}',
  });
  const pending: ObservableUpDownCounter = meter.createObservableUpDownCounter('connman.connection.pending_requests', {
    description:
      'The number of callers waiting for a connection: acquire() calls, and request() calls queued until a connection is ready.',
    unit: '{request}',
  });
  const observables = [count, pending];
  const callback: BatchObservableCallback = (result) => {
    for (const pool of hub.pools()) {
      const stats = pool.stats();
      const attributes = observer.of(pool.name);
      result.observe(count, stats.idle, attributes.idle);
      result.observe(count, Math.max(0, stats.connected - stats.idle), attributes.used);
      result.observe(count, stats.pending, attributes.pending);
      result.observe(pending, stats.waiting + stats.waitingRequests, attributes.pool);
    }
  };
  meter.addBatchObservableCallback(callback, observables);
  return { hub, remove: () => meter.removeBatchObservableCallback(callback, observables) };
}

function uninstall(meter: Meter, installation: Installation): void {
  if (installations.get(meter) === installation) installations.delete(meter);
  installation.remove();
}

function readOptions(options: unknown): Meter {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ConnmanError('ERR_INVALID_OPTIONS', `Invalid options for ${CALL}: expected an object { meter? }.`);
  }
  for (const key of Object.keys(options)) {
    if (key !== 'meter') {
      throw new ConnmanError('ERR_INVALID_OPTIONS', `Unknown option '${key}' for ${CALL}; known options: meter.`);
    }
  }
  const { meter } = options as OpenTelemetryInstrumentationOptions;
  if (meter === undefined) return metrics.getMeter('nestjs-connman', PACKAGE_VERSION);
  const candidate = meter as Partial<Record<keyof Meter, unknown>> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.createCounter !== 'function' ||
    typeof candidate.createHistogram !== 'function' ||
    typeof candidate.createObservableUpDownCounter !== 'function' ||
    typeof candidate.addBatchObservableCallback !== 'function' ||
    typeof candidate.removeBatchObservableCallback !== 'function'
  ) {
    throw invalidOption(CALL, 'meter', 'an OpenTelemetry Meter (from @opentelemetry/api)', meter);
  }
  return meter;
}
