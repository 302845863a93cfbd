import type { FactoryProvider, OptionalFactoryDependency, Provider } from '@nestjs/common';
import {
  CONNMAN_REGISTERED_POOL_OPTIONS,
  CONNMAN_REGISTRATION_ID,
  CONNMAN_ROOT_POOLS,
  CONNMAN_SETTINGS,
} from './constants.js';
import type { ConnectionPool } from './core/connection-pool.js';
import { ConnmanError } from './core/errors.js';
import { CONNMAN_MODULE_OPTIONS } from './connman.module-definition.js';
import { messages } from './connman.messages.js';
import { ConnmanPoolRegistrar } from './connman.registrar.js';
import { resolveSettings, type ConnmanSettings } from './connman.settings.js';
import type {
  ConnmanPoolOptionsFactory,
  RegisterPoolAsyncOptions,
} from './interfaces/register-pool-options.interface.js';
import { getPoolToken } from './utils/get-pool-token.util.js';

const optionalSettings: OptionalFactoryDependency = { token: CONNMAN_SETTINGS, optional: true };

let registrations = 0;

/** A provider that makes this registration a module of its own (see CONNMAN_REGISTRATION_ID). */
export function createRegistrationIdProvider(): Provider {
  return { provide: CONNMAN_REGISTRATION_ID, useValue: ++registrations };
}

/**
 * The validated module options. Validated here, at startup, so that a bad
 * value stops the app before anything connects; claims the application's one
 * forRoot at the same time.
 */
export function createSettingsProvider(
  origin: string,
  fromFactory: boolean,
  declaredPools: readonly string[] | undefined,
): Provider {
  return {
    provide: CONNMAN_SETTINGS,
    inject: [CONNMAN_MODULE_OPTIONS, ConnmanPoolRegistrar],
    useFactory: (options: unknown, registrar: ConnmanPoolRegistrar): ConnmanSettings => {
      const settings = resolveSettings(options, origin, fromFactory, declaredPools);
      registrar.claimRoot(origin);
      return settings;
    },
  };
}

/** Creates the pools of `forRoot` / `forRootAsync` in the registry, by name. */
export function createRootPoolsProvider(): Provider {
  return {
    provide: CONNMAN_ROOT_POOLS,
    inject: [CONNMAN_SETTINGS, ConnmanPoolRegistrar],
    useFactory: (settings: ConnmanSettings, registrar: ConnmanPoolRegistrar): Map<string, ConnectionPool> => {
      const pools = new Map<string, ConnectionPool>();
      for (const options of settings.pools) {
        const pool = registrar.register(options, settings.origin, settings);
        pools.set(pool.name, pool);
      }
      return pools;
    },
  };
}

/** One provider per pool name of `forRoot` / `forRootAsync`, so that `@InjectPool(name)` resolves. */
export function createRootPoolTokenProviders(names: readonly string[]): Provider[] {
  return names.map((name) => ({
    provide: getPoolToken(name),
    inject: [CONNMAN_ROOT_POOLS],
    useFactory: (pools: Map<string, ConnectionPool>) => pools.get(name),
  }));
}

/** `registerPool(options)`: the pool's provider, created on top of the module's defaults. */
export function createRegisteredPoolProvider(name: string, options: unknown, origin: string): Provider {
  return {
    provide: getPoolToken(name),
    inject: [ConnmanPoolRegistrar, optionalSettings],
    useFactory: (registrar: ConnmanPoolRegistrar, settings: ConnmanSettings | undefined) =>
      registrar.register(options, origin, settings),
  };
}

/** `registerPoolAsync(...)`: the options' provider (and the factory class's), then the pool's. */
export function createRegisteredPoolAsyncProviders(options: RegisterPoolAsyncOptions, origin: string): Provider[] {
  const { name } = options;
  const providers: Provider[] = [];
  if (options.useFactory !== undefined) {
    providers.push({
      provide: CONNMAN_REGISTERED_POOL_OPTIONS,
      inject: options.inject ?? [],
      useFactory: options.useFactory as FactoryProvider['useFactory'],
    });
  } else {
    const factoryClass = (options.useClass ?? options.useExisting)!;
    if (options.useClass !== undefined) providers.push({ provide: factoryClass, useClass: factoryClass });
    providers.push({
      provide: CONNMAN_REGISTERED_POOL_OPTIONS,
      inject: [factoryClass],
      useFactory: (factory: ConnmanPoolOptionsFactory) => {
        if (typeof factory?.createPoolOptions !== 'function') {
          throw new ConnmanError('ERR_INVALID_OPTIONS', messages.noFactoryMethod(origin), { pool: name });
        }
        return factory.createPoolOptions();
      },
    });
  }
  providers.push({
    provide: getPoolToken(name),
    inject: [ConnmanPoolRegistrar, CONNMAN_REGISTERED_POOL_OPTIONS, optionalSettings],
    useFactory: (registrar: ConnmanPoolRegistrar, given: unknown, settings: ConnmanSettings | undefined) =>
      registrar.register(withName(given, name, origin), origin, settings),
  });
  return providers;
}

/** A factory's result with the registration's name (given or left out; any other is refused). */
function withName(given: unknown, name: string, origin: string): object {
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new ConnmanError('ERR_INVALID_OPTIONS', messages.registrationNotAnObject(`The factory of ${origin}`, given), {
      pool: name,
    });
  }
  const own = (given as { name?: unknown }).name;
  if (own !== undefined && own !== name) {
    throw new ConnmanError('ERR_INVALID_OPTIONS', messages.registrationNameMismatch(`The factory of ${origin}`, name), {
      pool: name,
    });
  }
  return { ...given, name };
}
