// test/observability/examples/channels.ts
import diagnostics from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { CHANNELS, type AcquireTraceContext, type ResetMessage } from 'nestjs-connman';

/** Logs every connection reset and how long each acquire() took; returns the unsubscriber. */
export function watchPools(log: (line: string) => void = console.log): () => void {
  const onReset = (message: unknown): void => {
    const { pool, endpoint, error } = message as ResetMessage;
    log(`pool ${pool}: connection to ${endpoint} lost (${error.message})`);
  };
  const startedAt = new WeakMap<object, number>();
  const acquire = diagnostics.tracingChannel<object, AcquireTraceContext>(CHANNELS.acquire);
  const handlers = {
    start: (context: AcquireTraceContext) => void startedAt.set(context, performance.now()),
    end: () => undefined,
    asyncStart: () => undefined,
    asyncEnd: (context: AcquireTraceContext) => {
      const millis = performance.now() - (startedAt.get(context) ?? performance.now());
      log(`pool ${context.pool}: acquire() ${context.error ? 'failed' : 'got a lease'} after ${millis.toFixed(2)} ms`);
    },
    error: () => undefined,
  };
  diagnostics.subscribe(CHANNELS.reset, onReset);
  acquire.subscribe(handlers);
  return () => {
    diagnostics.unsubscribe(CHANNELS.reset, onReset);
    acquire.unsubscribe(handlers);
  };
}
