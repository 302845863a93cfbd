import { EventEmitter, once } from 'node:events';

/** What the handlers saw, in order; `waitFor` resolves on an event, never by polling. */
export class Probe extends EventEmitter {
  readonly seen: string[] = [];

  record(event: string): void {
    this.seen.push(event);
    console.log(`@@consumer ${JSON.stringify({ type: 'event', event })}`);
    this.emit('seen', event);
  }

  count(event: string): number {
    return this.seen.filter((e) => e === event).length;
  }

  /** Resolves once `event` was recorded `times` times (the harness's deadline bounds the wait). */
  async waitFor(event: string, times = 1): Promise<void> {
    while (this.count(event) < times) await once(this, 'seen');
  }
}

/** Resolved by POST /shutdown; the app then closes itself. */
export class ShutdownSignal {
  private resolveRequested!: () => void;
  readonly requested = new Promise<void>((resolve) => (this.resolveRequested = resolve));

  request(): void {
    this.resolveRequested();
  }
}

/** Where the harness's upstream server listens. */
export interface Upstream {
  host: string;
  port: number;
}

export const UPSTREAM = Symbol('UPSTREAM');
export const POOL_NAME = Symbol('POOL_NAME');

export function upstreamFromEnv(): Upstream {
  const port = Number(process.env.UPSTREAM_PORT);
  if (!Number.isInteger(port) || port <= 0) throw new Error('UPSTREAM_PORT is not set');
  return { host: '127.0.0.1', port };
}
