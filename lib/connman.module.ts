import { Module, type ConfigurableModuleAsyncOptions, type DynamicModule } from '@nestjs/common';
import { ConnmanError } from './core/errors.js';
import { ConnmanCoreModule } from './connman-core.module.js';
import { messages } from './connman.messages.js';
import { ConnmanOptionsModule } from './connman.module-definition.js';
import {
  createRegisteredPoolAsyncProviders,
  createRegisteredPoolProvider,
  createRegistrationIdProvider,
  createRootPoolTokenProviders,
  createRootPoolsProvider,
  createSettingsProvider,
} from './connman.providers.js';
import { CONNMAN_SETTINGS } from './constants.js';
import type { ConnmanModuleOptions } from './interfaces/connman-module-options.interface.js';
import type { RegisterPoolAsyncOptions, RegisterPoolOptions } from './interfaces/register-pool-options.interface.js';
import { getPoolToken } from './utils/get-pool-token.util.js';

/** `forRoot` options: the module options, and `isGlobal` to make its pools injectable everywhere. */
export type ConnmanModuleRootOptions = ConnmanModuleOptions & {
  /** Export the pools' tokens to every module. Default false. */
  isGlobal?: boolean | undefined;
};

/**
 * `forRootAsync` options (`useFactory` + `inject`, `useClass` or `useExisting`
 * with `createConnmanOptions()`, `imports`): the pool names come
 * synchronously, so that their tokens exist.
 */
export type ConnmanModuleAsyncOptions = ConfigurableModuleAsyncOptions<ConnmanModuleOptions, 'createConnmanOptions'> & {
  /** Export the pools' tokens to every module. Default false. */
  isGlobal?: boolean | undefined;
  /**
   * Names of the pools the factory's options will define, so that
   * `@InjectPool(name)` tokens exist before the factory runs. Without it, pools
   * are reached through the injectable `Connman` only.
   */
  pools?: string[] | undefined;
};

/**
 * Pools as providers.
 *
 * - `forRoot({ pools, defaults, ... })` or `forRootAsync({ pools: [names], useFactory, inject })`
 *   in the root module: the module options (validated at startup), the pools
 *   they list and the `defaults` every pool of the application starts from.
 * - `registerPool(options)` or `registerPoolAsync({ name, useFactory, inject })` in a
 *   feature module: one pool, injectable in that module (and wherever it is
 *   exported to) with `@InjectPool(name)`; with or without `forRoot`.
 *
 * Whichever of them an application imports, it has one `Connman` registry
 * (injectable everywhere) holding every pool; `@OnConnect` / `@OnData` /
 * `@OnReset` handlers, the lifecycle (open on bootstrap, drain and close on
 * shutdown) and health treat every pool alike. Handlers stay bound until the
 * pools are closed: replies that arrive while shutdown drains leases in
 * flight still reach `@OnData`. A pool name registered twice
 * stops the app at startup with ERR_DUPLICATE_POOL naming both registrations;
 * importing the result of one `registerPool()` call in two modules is one
 * registration.
 */
@Module({})
export class ConnmanModule {
  /** The module options given directly; `isGlobal` exports the pools to every module. */
  static forRoot(options: ConnmanModuleRootOptions): DynamicModule {
    const origin = 'ConnmanModule.forRoot()';
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new ConnmanError('ERR_INVALID_OPTIONS', messages.notAnObject(origin, options));
    }
    const pools: unknown[] = Array.isArray(options.pools) ? options.pools : [];
    const names = pools
      .map((pool) => (pool !== null && typeof pool === 'object' ? (pool as { name?: unknown }).name : undefined))
      .filter((name): name is string => typeof name === 'string');
    return root(ConnmanOptionsModule.forRoot(options), origin, false, [...new Set(names)], undefined, options.isGlobal);
  }

  /** The module options from a factory (`useFactory` + `inject`, `useClass` or `useExisting`). */
  static forRootAsync(options: ConnmanModuleAsyncOptions): DynamicModule {
    const origin = 'ConnmanModule.forRootAsync()';
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new ConnmanError('ERR_INVALID_OPTIONS', messages.notAnObject(origin, options));
    }
    checkAsyncOptions(options, origin, FOR_ROOT_ASYNC_KEYS);
    const { pools, ...rest } = options;
    if (
      pools !== undefined &&
      (!Array.isArray(pools) ||
        pools.some((name) => typeof name !== 'string' || name.length === 0) ||
        new Set(pools).size !== pools.length)
    ) {
      throw new ConnmanError('ERR_INVALID_OPTIONS', messages.declaredPoolsInvalid());
    }
    return root(ConnmanOptionsModule.forRootAsync(rest), origin, true, pools ?? [], pools, options.isGlobal);
  }

  /**
   * Registers one pool from a feature module and exports it: `@InjectPool(name)`
   * works in that module and wherever it is exported to. The pool starts from
   * the `defaults` of `forRoot` / `forRootAsync`, if one is imported. Its
   * options are validated at startup (the error names this registration).
   */
  static registerPool(options: RegisterPoolOptions): DynamicModule {
    const name = registrationName(options, 'ConnmanModule.registerPool()');
    const origin = `ConnmanModule.registerPool('${name}')`;
    return {
      module: ConnmanModule,
      imports: [ConnmanCoreModule],
      providers: [createRegistrationIdProvider(), createRegisteredPoolProvider(name, options, origin)],
      exports: [getPoolToken(name)],
    };
  }

  /**
   * Registers one pool whose options come from a factory (`useFactory` +
   * `inject`, `useClass` or `useExisting`, with `imports`); the name is given
   * now, so `@InjectPool(name)` resolves. Otherwise as {@link registerPool}.
   */
  static registerPoolAsync(options: RegisterPoolAsyncOptions): DynamicModule {
    const name = registrationName(options, 'ConnmanModule.registerPoolAsync()');
    const origin = `ConnmanModule.registerPoolAsync('${name}')`;
    checkAsyncOptions(options, origin, REGISTER_POOL_ASYNC_KEYS, name);
    return {
      module: ConnmanModule,
      imports: [...(options.imports ?? []), ConnmanCoreModule],
      providers: [createRegistrationIdProvider(), ...createRegisteredPoolAsyncProviders(options, origin)],
      exports: [getPoolToken(name)],
    };
  }
}

/**
 * The module `forRoot` / `forRootAsync` return: a global inner module holding
 * the options (so every registration sees the defaults), and the pools, whose
 * tokens are exported (to every module with `isGlobal`).
 */
function root(
  options: DynamicModule,
  origin: string,
  fromFactory: boolean,
  names: readonly string[],
  declared: readonly string[] | undefined,
  isGlobal: unknown,
): DynamicModule {
  if (isGlobal !== undefined && typeof isGlobal !== 'boolean') {
    throw new ConnmanError('ERR_INVALID_OPTIONS', messages.isGlobalInvalid(origin, isGlobal));
  }
  const optionsModule: DynamicModule = {
    ...options,
    global: true,
    imports: [...(options.imports ?? []), ConnmanCoreModule],
    providers: [
      ...(options.providers ?? []),
      createRegistrationIdProvider(),
      createSettingsProvider(origin, fromFactory, declared),
    ],
    exports: [CONNMAN_SETTINGS],
  };
  return {
    module: ConnmanModule,
    global: isGlobal === true,
    imports: [ConnmanCoreModule, optionsModule],
    providers: [createRegistrationIdProvider(), createRootPoolsProvider(), ...createRootPoolTokenProviders(names)],
    exports: names.map(getPoolToken),
  };
}

/** The name a registration gives synchronously (needed for its token). */
const ASYNC_SOURCE_KEYS = ['useFactory', 'inject', 'useClass', 'useExisting', 'imports'];
const FOR_ROOT_ASYNC_KEYS = [...ASYNC_SOURCE_KEYS, 'provideInjectionTokensFrom', 'isGlobal', 'pools'];
const REGISTER_POOL_ASYNC_KEYS = [...ASYNC_SOURCE_KEYS, 'name'];

/**
 * The shape of async options, checked when the module is declared: exactly one
 * of useFactory, useClass or useExisting, `inject` only with `useFactory`,
 * `imports` an array, and no other key (a misspelt `inejct` would otherwise
 * leave the factory without its arguments).
 */
function checkAsyncOptions(options: object, origin: string, allowed: readonly string[], pool?: string): void {
  const fail = (message: string): never => {
    throw new ConnmanError('ERR_INVALID_OPTIONS', message, { pool });
  };
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) fail(`Unknown option '${key}' for ${origin}; known options: ${allowed.join(', ')}.`);
  }
  const given = options as Record<string, unknown>;
  const sources = ['useFactory', 'useClass', 'useExisting'].filter((key) => given[key] !== undefined);
  if (sources.length !== 1) fail(messages.registrationOneSource(origin));
  const source = sources[0];
  if (typeof given[source] !== 'function')
    fail(`Invalid option '${source}' for ${origin}: expected a function or a class.`);
  if (given.inject !== undefined && (source !== 'useFactory' || !Array.isArray(given.inject))) {
    fail(`Invalid option 'inject' for ${origin}: expected an array of tokens, with useFactory.`);
  }
  if (given.imports !== undefined && !Array.isArray(given.imports)) {
    fail(`Invalid option 'imports' for ${origin}: expected an array of modules.`);
  }
}

function registrationName(options: unknown, origin: string): string {
  const name = options !== null && typeof options === 'object' ? (options as { name?: unknown }).name : undefined;
  if (typeof name !== 'string' || name.length === 0) {
    throw new ConnmanError('ERR_INVALID_OPTIONS', messages.registrationName(origin, name));
  }
  return name;
}
