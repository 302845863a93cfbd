// The public surface, chosen by hand. The framework-free core is also served
// alone at `nestjs-connman/core`; the Terminus indicator at `nestjs-connman/health`.
export * from './core/index.js';
export { ConnmanModule, type ConnmanModuleAsyncOptions, type ConnmanModuleRootOptions } from './connman.module.js';
export type { ConnmanModuleOptions, ConnmanPoolDefaults } from './interfaces/connman-module-options.interface.js';
export type {
  ConnmanPoolOptionsFactory,
  RegisterPoolAsyncOptions,
  RegisterPoolOptions,
  RegisteredPoolOptions,
} from './interfaces/register-pool-options.interface.js';
export { InjectPool } from './decorators/inject-pool.decorator.js';
export { OnConnect } from './decorators/on-connect.decorator.js';
export { OnData } from './decorators/on-data.decorator.js';
export { OnReset } from './decorators/on-reset.decorator.js';
export { getPoolToken } from './utils/get-pool-token.util.js';
