import { Module, type DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Connman } from './core/connman.js';
import { ConnmanExplorer } from './connman.explorer.js';
import { ConnmanLifecycle } from './connman.lifecycle.js';
import { ASYNC_OPTIONS_TYPE, ConfigurableModuleClass, OPTIONS_TYPE } from './connman.module-definition.js';
import { createConnmanProvider, createPoolProviders } from './connman.providers.js';
import { getPoolToken } from './utils/get-pool-token.util.js';

/** `forRootAsync` options: the pool names come synchronously, so that their tokens exist. */
export type ConnmanModuleAsyncOptions = typeof ASYNC_OPTIONS_TYPE & {
  /**
   * Names of the pools the factory's options will define, so that
   * `@InjectPool(name)` tokens exist before the factory runs. Without it, pools
   * are reached through the injectable `Connman` only.
   */
  pools?: string[];
};

/**
 * Pools as providers: `forRoot({ pools })` or `forRootAsync({ pools: [names], useFactory, inject })`,
 * then `@InjectPool(name)`, `Connman`, and `@OnConnect` / `@OnData` / `@OnReset` handlers.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [ConnmanExplorer, ConnmanLifecycle],
})
export class ConnmanModule extends ConfigurableModuleClass {
  static override forRoot(options: typeof OPTIONS_TYPE): DynamicModule {
    const names = Array.isArray(options?.pools) ? options.pools.map((pool) => pool?.name) : [];
    return withPools(super.forRoot(options), names, undefined);
  }

  static override forRootAsync(options: ConnmanModuleAsyncOptions): DynamicModule {
    const { pools, ...rest } = options;
    return withPools(super.forRootAsync(rest), pools ?? [], pools);
  }
}

function withPools(base: DynamicModule, names: string[], declared: string[] | undefined): DynamicModule {
  const poolProviders = createPoolProviders(names);
  return {
    ...base,
    providers: [...(base.providers ?? []), createConnmanProvider(declared), ...poolProviders],
    exports: [...(base.exports ?? []), Connman, ...names.map(getPoolToken)],
  };
}
