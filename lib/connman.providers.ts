import { Logger, type Provider } from '@nestjs/common';
import { CONNMAN_LOGGER_CONTEXT } from './constants.js';
import { Connman } from './core/connman.js';
import { ConnmanError } from './core/errors.js';
import { CONNMAN_MODULE_OPTIONS } from './connman.module-definition.js';
import { messages } from './connman.messages.js';
import type { ConnmanModuleOptions } from './interfaces/connman-module-options.interface.js';
import { getPoolToken } from './utils/get-pool-token.util.js';

/** The registry, built from the module options: every pool option is validated here, at startup. */
export function createConnmanProvider(declaredPools?: readonly string[]): Provider {
  return {
    provide: Connman,
    inject: [CONNMAN_MODULE_OPTIONS],
    useFactory: (options: ConnmanModuleOptions) => buildRegistry(options, declaredPools),
  };
}

/** One provider per pool name, so that `@InjectPool(name)` resolves. */
export function createPoolProviders(names: readonly string[]): Provider[] {
  return names.map((name) => ({
    provide: getPoolToken(name),
    inject: [Connman],
    useFactory: (connman: Connman) => connman.getPool(name),
  }));
}

function buildRegistry(options: ConnmanModuleOptions, declaredPools: readonly string[] | undefined): Connman {
  if (options === null || typeof options !== 'object' || !Array.isArray(options.pools)) {
    throw new ConnmanError('ERR_INVALID_OPTIONS', messages.poolsNotArray());
  }
  const given = options.pools.map((pool) => pool?.name);
  if (declaredPools !== undefined) {
    const same = given.length === declaredPools.length && declaredPools.every((name) => given.includes(name));
    if (!same)
      throw new ConnmanError('ERR_INVALID_OPTIONS', messages.asyncPoolsMismatch([...declaredPools], given.map(String)));
  }
  const logger = options.logger ?? new Logger(CONNMAN_LOGGER_CONTEXT);
  const connman = new Connman();
  for (const pool of options.pools) connman.createPool(pool.name, { logger, ...pool });
  return connman;
}
