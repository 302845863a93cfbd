import diagnostics from 'node:diagnostics_channel';
import { CHANNELS } from '../../lib/index.js';
import {
  acquireTimeoutChannel,
  closeChannel,
  connectChannel,
  connectErrorChannel,
  leakChannel,
  resetChannel,
} from '../../lib/core/diagnostics.js';

/** True when some channel of the library has a subscriber (by name, as an outside subscriber sees it). */
export function anySubscriber(): boolean {
  return Object.values(CHANNELS).some(
    (name) => diagnostics.channel(name).hasSubscribers || diagnostics.tracingChannel(name).hasSubscribers,
  );
}

/**
 * Channel objects are process-wide: a test file that ran earlier in the same
 * Jest worker can hand this one the same objects. test/core/diagnostics.spec.ts
 * stubs `channel.publish` and "restores" it by assignment, which leaves an own
 * `publish` property holding the inactive channel's no-op: once subscribed,
 * such a channel still delivers nothing. Removes that leftover, so that these
 * tests see what the library publishes.
 */
export function removeLeftoverPublishStubs(): void {
  const core = [connectChannel, connectErrorChannel, resetChannel, closeChannel, acquireTimeoutChannel, leakChannel];
  const named = Object.values(CHANNELS).map((name) => diagnostics.channel(name));
  for (const channel of [...core, ...named]) {
    if (Object.hasOwn(channel, 'publish')) delete (channel as { publish?: unknown }).publish;
  }
}
