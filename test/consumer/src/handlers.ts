import { Inject, Injectable } from '@nestjs/common';
import {
  ConnectionPool,
  InjectPool,
  OnConnect,
  OnData,
  OnReset,
  PersistentConnection,
  type ConnectionContext,
  type ConnmanSocket,
} from 'nestjs-connman';
import { Probe, UPSTREAM, type Upstream } from './probe.js';

/** Checks the context every handler gets, then records the event. */
function observe(probe: Probe, upstream: Upstream, name: string, event: string, context: ConnectionContext): void {
  const { pool, connection, endpoint } = context;
  if (pool !== name) throw new Error(`${event}: context.pool is ${String(pool)}, expected ${name}`);
  if (!(connection instanceof PersistentConnection))
    throw new Error(`${event}: context.connection is not a connection`);
  if (!('port' in endpoint) || endpoint.port !== upstream.port)
    throw new Error(`${event}: context.endpoint is ${JSON.stringify(endpoint)}`);
  probe.record(`${event}:${name}`);
}

/** Handlers of the pool registered with `ConnmanModule.forRoot`. */
@Injectable()
export class AlphaHandlers {
  constructor(
    @InjectPool('alpha') readonly pool: ConnectionPool,
    private readonly probe: Probe,
    @Inject(UPSTREAM) private readonly upstream: Upstream,
  ) {}

  @OnConnect('alpha')
  onConnect(_socket: ConnmanSocket, context: ConnectionContext): void {
    observe(this.probe, this.upstream, 'alpha', 'connect', context);
  }

  @OnData('alpha')
  onData(chunk: Buffer, context: ConnectionContext): void {
    if (!String(chunk).startsWith('hello')) throw new Error(`unexpected data: ${String(chunk)}`);
    observe(this.probe, this.upstream, 'alpha', 'data', context);
  }

  @OnReset('alpha')
  onReset(error: Error, context: ConnectionContext): () => void {
    if (!(error instanceof Error)) throw new Error('onReset without an error');
    observe(this.probe, this.upstream, 'alpha', 'reset', context);
    return () => this.probe.record('resume:alpha');
  }
}

/** Handlers of the pool registered with `ConnmanModule.forRootAsync`. */
@Injectable()
export class BetaHandlers {
  constructor(
    @InjectPool('beta') readonly pool: ConnectionPool,
    private readonly probe: Probe,
    @Inject(UPSTREAM) private readonly upstream: Upstream,
  ) {}

  @OnConnect('beta')
  onConnect(_socket: ConnmanSocket, context: ConnectionContext): void {
    observe(this.probe, this.upstream, 'beta', 'connect', context);
  }

  @OnData('beta')
  onData(chunk: Buffer, context: ConnectionContext): void {
    if (!String(chunk).startsWith('hello')) throw new Error(`unexpected data: ${String(chunk)}`);
    observe(this.probe, this.upstream, 'beta', 'data', context);
  }

  @OnReset('beta')
  onReset(error: Error, context: ConnectionContext): () => void {
    if (!(error instanceof Error)) throw new Error('onReset without an error');
    observe(this.probe, this.upstream, 'beta', 'reset', context);
    return () => this.probe.record('resume:beta');
  }
}
