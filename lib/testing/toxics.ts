import { ConnmanError } from '../core/errors.js';
import { bool, delayMillis, invalidOption, onlyKnownKeys, positiveInteger } from './checks.js';

/**
 * A direction through the proxy: `upstream` is client to server (what the
 * client writes), `downstream` is server to client (what the client reads).
 */
export type FaultDirectionName = 'upstream' | 'downstream';

/**
 * The toxics of one direction, Toxiproxy-like. Every field is live: a change
 * applies to the connections already open as well as to new ones. The defaults
 * (below) are "no fault": bytes pass at once, whole and unlimited.
 */
export interface ToxicSettings {
  /** Delay added to every chunk, in ms (Toxiproxy's `latency`). Default 0. */
  latencyMillis: number;
  /**
   * Each chunk's delay is drawn uniformly from
   * `[latencyMillis - jitterMillis, latencyMillis + jitterMillis]` (never below 0). Default 0.
   * A chunk is never delivered before the one read ahead of it, so order is kept.
   */
  jitterMillis: number;
  /**
   * When true, nothing is forwarded: the bytes are held, in order, and
   * delivered when the stall ends (`stalled = false` or `heal()`). The sockets
   * stay open: a zombie peer. Default false.
   */
  stalled: boolean;
  /**
   * Close the connection once this many bytes have passed in this direction
   * (Toxiproxy's `limit_data`): exactly this many are delivered, then the
   * receiving side gets a FIN and the other side is closed. Counted on each
   * connection from the moment the limit is set (or the connection opens, if
   * later); 0 closes the open connections at once. Default `Infinity` (no limit).
   */
  limitBytes: number;
  /**
   * Deliver data in chunks of `sliceBytes` (Toxiproxy's `slicer`), with
   * `sliceDelayMillis` between them. Default false.
   */
  sliced: boolean;
  /** Chunk size when `sliced`, in bytes. Default 1. */
  sliceBytes: number;
  /**
   * Pause between two slices, in ms. Default 0: the next slice goes on the next
   * turn of the event loop. TCP may still merge slices written close together;
   * a delay of a millisecond or more keeps them apart.
   */
  sliceDelayMillis: number;
}

/** The defaults of {@link ToxicSettings}: no fault at all. */
export const DEFAULT_TOXICS: Readonly<ToxicSettings> = Object.freeze({
  latencyMillis: 0,
  jitterMillis: 0,
  stalled: false,
  limitBytes: Infinity,
  sliced: false,
  sliceBytes: 1,
  sliceDelayMillis: 0,
});

/** The keys of {@link ToxicSettings}. */
export const TOXIC_KEYS = Object.keys(DEFAULT_TOXICS) as (keyof ToxicSettings)[];

/** Which kind of change the open connections must act on. */
export type ToxicChange = 'stall' | 'limit' | 'heal' | 'other';

/** Validates one toxic value; `label` names it in the error (e.g. `downstream.latencyMillis`). */
export function checkToxic<K extends keyof ToxicSettings>(key: K, value: unknown, label: string): ToxicSettings[K] {
  const scope = 'FaultProxy';
  switch (key) {
    case 'stalled':
    case 'sliced':
      return bool(scope, label, value) as ToxicSettings[K];
    case 'sliceBytes':
      return positiveInteger(scope, label, value) as ToxicSettings[K];
    case 'limitBytes':
      if (value === Infinity) return value as ToxicSettings[K];
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
        throw invalidOption(scope, label, 'an integer >= 0, or Infinity (no limit)', value);
      }
      return value as ToxicSettings[K];
    case 'latencyMillis':
    case 'jitterMillis':
    case 'sliceDelayMillis':
      return delayMillis(scope, label, value) as ToxicSettings[K];
    default:
      throw new ConnmanError(
        'ERR_INVALID_OPTIONS',
        `Unknown toxic '${label}'; known toxics: ${TOXIC_KEYS.join(', ')}.`,
      );
  }
}

/** Validates a partial settings object, every key first, before anything changes. */
export function checkToxics(settings: unknown, prefix: string): Partial<ToxicSettings> {
  if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) {
    throw invalidOption('FaultProxy', prefix || 'toxics', 'an object of toxic settings', settings);
  }
  onlyKnownKeys('FaultProxy toxics', settings, TOXIC_KEYS);
  const checked: Partial<Record<keyof ToxicSettings, unknown>> = {};
  for (const [key, value] of Object.entries(settings)) {
    if (value === undefined) continue;
    const name = key as keyof ToxicSettings;
    checked[name] = checkToxic(name, value, prefix ? `${prefix}.${key}` : key);
  }
  return checked as Partial<ToxicSettings>;
}

function changeOf(key: keyof ToxicSettings): ToxicChange {
  if (key === 'stalled') return 'stall';
  if (key === 'limitBytes') return 'limit';
  return 'other';
}

/**
 * The toxics of one direction of a {@link FaultProxy} (`proxy.upstream` or
 * `proxy.downstream`). Set a field to switch a toxic on or off; the change
 * applies at once to every open connection and to new ones. Values are
 * checked: a wrong one throws a `ConnmanError` `ERR_INVALID_OPTIONS` naming it.
 */
export class FaultDirection implements ToxicSettings {
  private readonly values: ToxicSettings = { ...DEFAULT_TOXICS };

  /** @internal Created by the proxy; `changed` tells its connections. */
  constructor(
    /** Which direction this is. */
    readonly name: FaultDirectionName,
    private readonly changed: (direction: FaultDirection, change: ToxicChange) => void,
  ) {}

  /** {@inheritDoc ToxicSettings.latencyMillis} */
  get latencyMillis(): number {
    return this.values.latencyMillis;
  }
  set latencyMillis(value: number) {
    this.assign({ latencyMillis: value });
  }

  /** {@inheritDoc ToxicSettings.jitterMillis} */
  get jitterMillis(): number {
    return this.values.jitterMillis;
  }
  set jitterMillis(value: number) {
    this.assign({ jitterMillis: value });
  }

  /** {@inheritDoc ToxicSettings.stalled} */
  get stalled(): boolean {
    return this.values.stalled;
  }
  set stalled(value: boolean) {
    this.assign({ stalled: value });
  }

  /** {@inheritDoc ToxicSettings.limitBytes} */
  get limitBytes(): number {
    return this.values.limitBytes;
  }
  set limitBytes(value: number) {
    this.assign({ limitBytes: value });
  }

  /** {@inheritDoc ToxicSettings.sliced} */
  get sliced(): boolean {
    return this.values.sliced;
  }
  set sliced(value: boolean) {
    this.assign({ sliced: value });
  }

  /** {@inheritDoc ToxicSettings.sliceBytes} */
  get sliceBytes(): number {
    return this.values.sliceBytes;
  }
  set sliceBytes(value: number) {
    this.assign({ sliceBytes: value });
  }

  /** {@inheritDoc ToxicSettings.sliceDelayMillis} */
  get sliceDelayMillis(): number {
    return this.values.sliceDelayMillis;
  }
  set sliceDelayMillis(value: number) {
    this.assign({ sliceDelayMillis: value });
  }

  /**
   * Sets several toxics at once; every value is checked before any changes.
   * Keys left out (or `undefined`) keep their value. Returns this direction.
   *
   * @example proxy.downstream.set({ sliced: true, sliceBytes: 3, sliceDelayMillis: 2 })
   */
  set(settings: Partial<ToxicSettings>): this {
    this.assign(checkToxics(settings, this.name), true);
    return this;
  }

  /** The current settings, as a plain object. */
  settings(): ToxicSettings {
    return { ...this.values };
  }

  /**
   * Removes every toxic of this direction. Bytes held by a stall or still
   * waiting out a latency are delivered at once, in order.
   */
  heal(): void {
    Object.assign(this.values, DEFAULT_TOXICS);
    this.changed(this, 'heal');
  }

  /** @internal A chunk's delay under the current latency and jitter, in ms. */
  delay(random: () => number): number {
    const { latencyMillis, jitterMillis } = this.values;
    if (jitterMillis === 0) return latencyMillis;
    return Math.max(0, latencyMillis + (random() * 2 - 1) * jitterMillis);
  }

  private assign(settings: Partial<ToxicSettings>, checked = false): void {
    const changes = new Set<ToxicChange>();
    const valid = checked ? settings : checkToxics(settings, this.name);
    for (const [key, value] of Object.entries(valid) as [keyof ToxicSettings, never][]) {
      this.values[key] = value;
      changes.add(changeOf(key));
    }
    for (const change of changes) if (change !== 'other') this.changed(this, change);
  }
}
