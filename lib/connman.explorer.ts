import { Inject, Injectable, Logger, Optional, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import { CONNMAN_HANDLER_METADATA, CONNMAN_LOGGER_CONTEXT, CONNMAN_SETTINGS } from './constants.js';
import type { ConnectionPool } from './core/connection-pool.js';
import { Connman } from './core/connman.js';
import { ConnmanError, describeError, isError } from './core/errors.js';
import type {
  ConnectionCallbacks,
  ConnectionContext,
  ConnmanLogger,
  ConnmanSocket,
  ResumeFunction,
} from './core/types.js';
import { messages } from './connman.messages.js';
import { getPoolToken } from './utils/get-pool-token.util.js';
import type { ConnmanSettings } from './connman.settings.js';
import type { HandlerMetadata } from './decorators/handler-metadata.js';

type Handler = (value: unknown, context: ConnectionContext) => unknown;

interface PoolHandlers {
  connect: Handler[];
  data: Handler[];
  reset: Handler[];
}

/**
 * Finds `@OnConnect` / `@OnData` / `@OnReset` methods on providers and
 * controllers and binds them to their pools in `onModuleInit`, before any
 * pool opens (pools open on application bootstrap), so no event is missed.
 * Every pool in the registry by then is bound, whichever module registered it.
 *
 * Handlers stay bound for the application's lifetime: the shutdown drain
 * (beforeApplicationShutdown) still delivers data to `@OnData`, e.g. replies
 * to a lease in flight. The lifecycle unbinds them (`unbind()`) in
 * onApplicationShutdown, once the pools are closed.
 */
@Injectable()
export class ConnmanExplorer implements OnModuleInit {
  private readonly logger: ConnmanLogger;
  private readonly removers: (() => void)[] = [];

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly connman: Connman,
    @Optional() @Inject(CONNMAN_SETTINGS) settings: ConnmanSettings | undefined,
  ) {
    this.logger = settings?.logger ?? new Logger(CONNMAN_LOGGER_CONTEXT);
  }

  onModuleInit(): void {
    const perPool = new Map<ConnectionPool, PoolHandlers>();
    const providers = this.discovery.getProviders();
    const tokens = new Set(providers.map((wrapper) => wrapper.token));
    for (const wrapper of [...providers, ...this.discovery.getControllers()]) {
      this.collect(wrapper, perPool, tokens);
    }
    for (const [pool, handlers] of perPool) this.removers.push(pool.addHandlers(toCallbacks(handlers)));
  }

  /** Removes every handler it bound (called once the pools are closed). */
  unbind(): void {
    for (const remove of this.removers.splice(0)) remove();
  }

  private collect(wrapper: InstanceWrapper, perPool: Map<ConnectionPool, PoolHandlers>, tokens: Set<unknown>): void {
    // Aliases (useExisting) point at an instance found on its own: binding it twice would double every event.
    if (wrapper.isAlias) return;
    const instance = wrapper.instance as Record<string, unknown> | undefined;
    const prototype = instance
      ? Object.getPrototypeOf(instance)
      : (wrapper.metatype as { prototype?: object } | undefined)?.prototype;
    if (!prototype || prototype === Object.prototype) return;
    const methods = this.scanner
      .getAllMethodNames(prototype)
      .map(
        (name) =>
          [
            name,
            Reflect.getMetadata(CONNMAN_HANDLER_METADATA, prototype[name]) as HandlerMetadata[] | undefined,
          ] as const,
      )
      .filter((entry): entry is readonly [string, HandlerMetadata[]] => entry[1] !== undefined);
    if (methods.length === 0) return;
    if (!wrapper.isDependencyTreeStatic() || !instance) {
      this.logger.warn(messages.requestScoped(wrapper.name ?? 'A provider'));
      return;
    }
    const className = instance.constructor?.name ?? String(wrapper.name);
    for (const [method, metas] of methods) {
      for (const meta of metas) {
        const where = `${className}.${method}()`;
        for (const pool of this.poolsFor(meta, where, tokens)) {
          const handlers = perPool.get(pool) ?? { connect: [], data: [], reset: [] };
          perPool.set(pool, handlers);
          handlers[meta.event].push(this.wrap(instance, method, meta, where));
        }
      }
    }
  }

  /** The pools `meta` binds to; `tokens` are the application's provider tokens. */
  private poolsFor(meta: HandlerMetadata, where: string, tokens: Set<unknown>): ConnectionPool[] {
    if (meta.pool === undefined) return this.connman.poolNames.map((name) => this.connman.getPool(name));
    try {
      return [this.connman.getPool(meta.pool)];
    } catch (error) {
      // Its token is provided, but by something else than ConnmanModule (a test's overrideProvider
      // replaced a registerPool pool): there is no pool of ours to bind to, and that is not a mistake.
      if (tokens.has(getPoolToken(meta.pool))) return [];
      throw new ConnmanError(
        'ERR_UNKNOWN_POOL',
        messages.unknownHandlerPool(where, meta.pool, isError(error) ? error.message : String(error)),
        { pool: meta.pool },
      );
    }
  }

  /** Calls the method; a throw or a rejection is logged, never fatal. */
  private wrap(instance: Record<string, unknown>, method: string, meta: HandlerMetadata, where: string): Handler {
    const fn = instance[method] as (value: unknown, context: ConnectionContext) => unknown;
    const report = (error: unknown, context: ConnectionContext): undefined => {
      this.logger.error(
        messages.handlerFailed(meta, where, context.pool ?? '?', describeError(error)),
        isError(error) ? error.stack : undefined,
      );
      return undefined;
    };
    // A resume function an @OnReset handler returns is user code too: its throw or rejection is logged.
    const guard =
      meta.event === 'reset'
        ? (resume: unknown): unknown => {
            if (typeof resume !== 'function') return resume;
            return (socket: ConnmanSocket, context: ConnectionContext): void => {
              try {
                const result: unknown = resume.call(instance, socket, context);
                if (isThenable(result)) Promise.resolve(result).catch((error: unknown) => report(error, context));
              } catch (error) {
                report(error, context);
              }
            };
          }
        : (value: unknown): unknown => value;
    return (value, context) => {
      try {
        const result = fn.call(instance, value, context);
        if (isThenable(result)) {
          return Promise.resolve(result).then(guard, (error: unknown) => report(error, context));
        }
        return guard(result);
      } catch (error) {
        return report(error, context);
      }
    };
  }
}

/**
 * One callback set per pool, so connman's rule holds across handlers: if any
 * `@OnReset` handler returns a resume function, the resume functions run when
 * the connection is back, instead of the `@OnConnect` handlers.
 */
function toCallbacks({ connect, data, reset }: PoolHandlers): ConnectionCallbacks {
  const callbacks: ConnectionCallbacks = {};
  if (connect.length > 0) callbacks.onConnect = (socket, context) => void runAll(connect, socket, context);
  if (data.length === 1) {
    const only = data[0];
    callbacks.onData = (chunk, context) => void only(chunk, context);
  } else if (data.length > 1) {
    callbacks.onData = (chunk, context) => void runAll(data, chunk, context);
  }
  if (reset.length > 0) {
    callbacks.onReset = (error, context) => {
      const results = reset.map((handler) => handler(error, context));
      return results.some(isThenable) ? Promise.all(results).then(combineResumes) : combineResumes(results);
    };
  }
  return callbacks;
}

function runAll(handlers: Handler[], value: unknown, context: ConnectionContext): void {
  for (const handler of handlers) handler(value, context);
}

function combineResumes(results: unknown[]): ResumeFunction | undefined {
  const resumes = results.filter((r): r is ResumeFunction => typeof r === 'function');
  if (resumes.length === 0) return undefined;
  if (resumes.length === 1) return resumes[0];
  return (socket: ConnmanSocket, context: ConnectionContext) => {
    for (const resume of resumes) resume(socket, context);
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function';
}
