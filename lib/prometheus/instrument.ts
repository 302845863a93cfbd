import { ConnmanError } from '../core/errors.js';
import { invalidOption } from '../core/options.js';
import { Hub } from '../instrumentation/hub.js';
import { resolveTarget, type InstrumentationTarget } from '../instrumentation/targets.js';
import { PrometheusObserver, buildMetrics, type RegistryMetric } from './metrics.js';

const CALL = 'instrumentPrometheus()';
const METRIC_PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * The part of a Prometheus registry the instrumentation uses: prom-client's
 * `Registry` (its global `register`, the one `@willsoto/nestjs-prometheus`
 * serves, or your own), or the same class of its renamed successor
 * `@prometheus-io/client`. Nothing of prom-client is imported.
 */
export interface PrometheusRegistry {
  /** Adds a metric object (`name`, `help`, `type`, `aggregator`, `get()`, `reset()`). */
  registerMetric(metric: never): void;
  /** The metric registered under `name`, if any. */
  getSingleMetric(name: string): unknown;
  /** Removes the metric registered under `name`. */
  removeSingleMetric(name: string): void;
}

/** Options of {@link instrumentPrometheus}. */
export interface PrometheusInstrumentationOptions {
  /** Where the metrics are registered (and scraped from). */
  registry: PrometheusRegistry;
  /**
   * Prepended to every metric name. Default `'connman_'`; `''` for none. A
   * valid start of a Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
   */
  prefix?: string;
}

/** Takes back everything one {@link instrumentPrometheus} call registered. Calling it again does nothing. */
export type RemoveInstrumentation = () => void;

/** The metrics of one registry and prefix, shared by every call that instruments it. */
interface Installation {
  hub: Hub;
  metrics: RegistryMetric[];
}

const installations = new WeakMap<object, Map<string, Installation>>();

/**
 * Exposes a pool's (or every pool's of a `Connman`, or an array of pools')
 * metrics on a Prometheus registry:
 *
 * | metric | type | labels |
 * | --- | --- | --- |
 * | `connman_connections` | gauge | `pool`, `state` (`idle`, `leased`, `pending`) |
 * | `connman_waiting` | gauge | `pool` |
 * | `connman_acquire_wait_seconds` | histogram | `pool` |
 * | `connman_connect_seconds` | histogram | `pool` |
 * | `connman_resets_total`, `connman_connect_errors_total`, `connman_acquire_timeouts_total`, `connman_leaks_total` | counter | `pool` |
 * | `connman_requests_total` | counter | `pool`, `outcome` (`ok`, `error`, `timeout`) |
 *
 * Gauges are read from `stats()` at scrape time; counters and histograms are
 * fed by the library's `diagnostics_channel` channels, subscribed to only
 * while instrumented. With a `Connman`, pools it registers later are covered
 * from their first connect (or the next scrape), and pools it drops (closed)
 * leave the gauges.
 *
 * Calling it again on the same registry and prefix adds pools to the same
 * metrics; a pool name is counted once however many calls cover it, and two
 * different pools with one name are refused (ERR_INVALID_OPTIONS), as is a
 * registry that already holds a metric of that name registered by someone
 * else.
 *
 * @returns a function that removes what this call added: its pools, and once
 *   no call is left, the metrics from the registry and the channel subscriptions.
 */
export function instrumentPrometheus(
  target: InstrumentationTarget,
  options: PrometheusInstrumentationOptions,
): RemoveInstrumentation {
  const source = resolveTarget(target, CALL);
  const { registry, prefix } = readOptions(options);
  let byPrefix = installations.get(registry);
  if (byPrefix === undefined) {
    byPrefix = new Map();
    installations.set(registry, byPrefix);
  }
  const installation = byPrefix.get(prefix) ?? install(prefix);
  byPrefix.set(prefix, installation);
  let remove: () => void;
  try {
    ensureRegistered(registry, installation.metrics);
    remove = installation.hub.add(source);
  } catch (error) {
    if (installation.hub.empty) uninstall(registry, prefix, installation);
    throw error;
  }
  let removed = false;
  return () => {
    if (removed) return;
    removed = true;
    remove();
    if (installation.hub.empty) uninstall(registry, prefix, installation);
  };
}

function install(prefix: string): Installation {
  const observer = new PrometheusObserver();
  const hub = new Hub(observer, CALL);
  return { hub, metrics: buildMetrics(prefix, () => hub.pools(), observer) };
}

/** Registers the metrics not in the registry yet; refuses a name taken by a foreign metric, before registering any. */
function ensureRegistered(registry: PrometheusRegistry, metrics: RegistryMetric[]): void {
  for (const metric of metrics) {
    const existing = registry.getSingleMetric(metric.key);
    if (existing !== undefined && existing !== metric) {
      throw new ConnmanError(
        'ERR_INVALID_OPTIONS',
        `Invalid option 'registry' for ${CALL}: it already has a metric named '${metric.key}' that this library did not register. Pass another 'prefix', or remove that metric from the registry first.`,
      );
    }
  }
  const added: RegistryMetric[] = [];
  try {
    for (const metric of metrics) {
      if (registry.getSingleMetric(metric.key) === metric) continue;
      metric.name = metric.key;
      registry.registerMetric(metric as never);
      added.push(metric);
    }
  } catch (error) {
    for (const metric of added) registry.removeSingleMetric(metric.key);
    throw error;
  }
}

function uninstall(registry: PrometheusRegistry, prefix: string, installation: Installation): void {
  const byPrefix = installations.get(registry);
  if (byPrefix?.get(prefix) === installation) byPrefix.delete(prefix);
  for (const metric of installation.metrics) {
    if (registry.getSingleMetric(metric.key) === metric) registry.removeSingleMetric(metric.key);
  }
}

function readOptions(options: unknown): { registry: PrometheusRegistry; prefix: string } {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ConnmanError(
      'ERR_INVALID_OPTIONS',
      `Invalid options for ${CALL}: expected an object { registry, prefix? }.`,
    );
  }
  for (const key of Object.keys(options)) {
    if (key !== 'registry' && key !== 'prefix') {
      throw new ConnmanError(
        'ERR_INVALID_OPTIONS',
        `Unknown option '${key}' for ${CALL}; known options: registry, prefix.`,
      );
    }
  }
  const { registry, prefix = 'connman_' } = options as Partial<PrometheusInstrumentationOptions>;
  const candidate = registry as Partial<Record<keyof PrometheusRegistry, unknown>> | null | undefined;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.registerMetric !== 'function' ||
    typeof candidate.getSingleMetric !== 'function' ||
    typeof candidate.removeSingleMetric !== 'function'
  ) {
    throw invalidOption(
      CALL,
      'registry',
      "a Prometheus registry (prom-client's Registry, or one with registerMetric, getSingleMetric and removeSingleMetric)",
      registry,
    );
  }
  if (typeof prefix !== 'string' || (prefix !== '' && !METRIC_PREFIX.test(prefix))) {
    throw invalidOption(CALL, 'prefix', "'' or a string matching [a-zA-Z_:][a-zA-Z0-9_:]*", prefix);
  }
  return { registry: registry as PrometheusRegistry, prefix };
}
