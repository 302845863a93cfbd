import type { PoolStats } from './core/connection-pool.js';
import type { HandlerMetadata } from './decorators/handler-metadata.js';

const decoratorName = { connect: '@OnConnect', data: '@OnData', reset: '@OnReset' } as const;

/** What a value is, never what it holds (options may carry secrets). */
export function describeKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'undefined':
      return 'undefined';
    case 'string':
      return 'a string';
    case 'object':
      return 'an object';
    default:
      return `a ${typeof value}`;
  }
}

/** One pool that could not open on bootstrap, as the lifecycle saw it. */
export interface OpenFailure {
  pool: string;
  /** The bound the pool waited for, in ms; undefined if the failure was not a timeout. */
  timeoutMillis: number | undefined;
  stats: PoolStats | undefined;
  error: string;
  /** The open() error's cause (the last connect error), if any. */
  lastError?: string | undefined;
}

function describeOpenFailure({ timeoutMillis, stats, error, lastError }: OpenFailure): string {
  if (timeoutMillis === undefined || stats === undefined) return error;
  const endpoints = stats.endpoints.map(
    (e) =>
      `${e.endpoint}: ${e.failures} failed connect attempt(s)` + (e.lastError ? `, last error: ${e.lastError}` : ''),
  );
  const told = stats.endpoints.some((e) => e.lastError !== undefined);
  return (
    `${stats.connected} of ${stats.min} connection(s) up within ${timeoutMillis} ms` +
    (endpoints.length > 0 ? `; ${endpoints.join('; ')}` : '') +
    (!told && lastError !== undefined ? `; last connect error: ${lastError}` : '')
  );
}

export const messages = {
  handlerFailed: (meta: HandlerMetadata, where: string, pool: string, error: string): string =>
    `${decoratorName[meta.event]} handler ${where} for pool '${pool}' failed: ${error}`,
  requestScoped: (className: string): string =>
    `${className} is request-scoped (or depends on a request-scoped provider); its @OnConnect/@OnData/@OnReset handlers are skipped. Make it a singleton to receive socket events.`,
  unknownHandlerPool: (where: string, pool: string, error: string): string =>
    `${where} handles pool '${pool}', which ConnmanModule does not register: ${error}`,

  // ---- module options -------------------------------------------------------
  notAnObject: (origin: string, value: unknown): string =>
    `${origin} needs an object of ConnmanModule options ({ pools?, defaults?, waitForConnections?, openTimeoutMillis?, shutdownTimeoutMillis?, logger? }), got ${describeKind(value)}.`,
  factoryNotAnObject: (origin: string, value: unknown): string =>
    `The factory of ${origin} returned ${describeKind(value)}; it must return an object of ConnmanModule options ({ pools?, defaults?, waitForConnections?, openTimeoutMillis?, shutdownTimeoutMillis?, logger? }).`,
  asyncPoolsMismatch: (declared: string[], given: string[]): string =>
    `ConnmanModule.forRootAsync() declared pools [${declared.join(', ')}] but the factory returned options for [${given.join(', ')}]; declare every pool name in 'pools' and return options for each.`,
  declaredPoolsInvalid: (): string =>
    `Invalid option 'pools' for ConnmanModule.forRootAsync(): expected an array of unique, non-empty pool names (the factory returns their options).`,
  isGlobalInvalid: (origin: string, value: unknown): string =>
    `Invalid option 'isGlobal' for ${origin}: expected true or false, got ${describeKind(value)}.`,
  rootTwice: (first: string, second: string): string =>
    `ConnmanModule is configured twice, by ${first} and by ${second}. Import forRoot() or forRootAsync() once (in the root module) and register the pools of feature modules with ConnmanModule.registerPool().`,
  defaultsKey: (origin: string, key: string): string =>
    `Invalid option 'defaults.${key}' for ${origin}: where a pool connects and who it is stay per pool (name, endpoints, host, port, path, tls, callbacks); give '${key}' in each pool's options instead.`,
  defaultsInvalid: (origin: string, error: string): string => `Invalid option 'defaults' for ${origin}: ${error}`,
  defaultsUnknown: (origin: string, key: string): string =>
    `Unknown option 'defaults.${key}' for ${origin}; defaults take the options of a pool, except name, endpoints, host, port, path, tls and callbacks.`,
  fromDefaults: (): string =>
    ` The pool's own options are valid alone: the value comes from ConnmanModule 'defaults', or from the two together.`,

  // ---- pool registration ----------------------------------------------------
  registrationName: (origin: string, value: unknown): string =>
    `Invalid option 'name' for ${origin}: expected a non-empty string naming the pool (it is needed at once, for @InjectPool), got ${describeKind(value)}.`,
  registrationOneSource: (origin: string): string =>
    `${origin} needs exactly one of useFactory, useClass or useExisting to make the pool's options.`,
  registrationNotAnObject: (origin: string, value: unknown): string =>
    `${origin} returned ${describeKind(value)}; it must return the pool's options (an object such as { host, port, min, max }).`,
  registrationNameMismatch: (origin: string, registered: string): string =>
    `${origin} returned options for another pool name (not '${registered}'); leave 'name' out of the returned options, or make it '${registered}'.`,
  noFactoryMethod: (origin: string): string =>
    `${origin}: the useClass / useExisting provider has no createPoolOptions() method; implement ConnmanPoolOptionsFactory.`,
  poolOptionsNotAnObject: (origin: string, value: unknown): string =>
    `${origin}: each pool's options must be an object with at least a name, got ${describeKind(value)}.`,
  duplicatePool: (name: string, first: string, second: string): string =>
    `Pool '${name}' is registered twice, by ${first} and by ${second}. Pool names are unique in an application: register each pool once (in the module that owns it) and export that module to share the pool.`,
  poolInvalid: (origin: string, error: string): string => `${origin}: ${error}`,

  // ---- lifecycle ------------------------------------------------------------
  bootstrapFailed: (failures: OpenFailure[]): string =>
    (failures.length === 1
      ? `Pool '${failures[0].pool}' could not open on application bootstrap: ${describeOpenFailure(failures[0])}. `
      : `${failures.length} pools could not open on application bootstrap. ${failures
          .map((f) => `Pool '${f.pool}': ${describeOpenFailure(f)}. `)
          .join('')}`) +
    `The application does not start, and its pools are closed. Check that the endpoint accepts connections, ` +
    `raise openTimeoutMillis, or set waitForConnections: false to start without waiting for connections.`,
  overridden: (pool: string): string =>
    `Pool '${pool}' is not opened: its injection token (getPoolToken('${pool}')) resolves to another object, as when a test overrides it.`,
  closed: (pool: string): string => `Pool '${pool}' closed.`,
  closeFailed: (pool: string, error: string): string => `Pool '${pool}' did not close cleanly: ${error}`,
  disconnectFailed: (error: string): string => `Closing the pools after shutdown failed: ${error}`,
};
