import { ConfigurableModuleBuilder, Module } from '@nestjs/common';
import type { ConnmanModuleOptions } from './interfaces/connman-module-options.interface.js';

/**
 * forRoot / forRootAsync (useFactory, useClass, useExisting) and an isGlobal
 * extra, from Nest's builder. The module it builds only holds the options;
 * `ConnmanModule` wraps it (see connman.module.ts).
 */
export const {
  ConfigurableModuleClass,
  MODULE_OPTIONS_TOKEN: CONNMAN_MODULE_OPTIONS,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<ConnmanModuleOptions>()
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createConnmanOptions')
  .setExtras({ isGlobal: false }, (definition) => definition)
  .build();

/**
 * @internal Holds the module options of `forRoot` / `forRootAsync` and their
 * validated form. Always global, so that pools registered by feature modules
 * see the `defaults` and the lifecycle sees its settings.
 */
@Module({})
export class ConnmanOptionsModule extends ConfigurableModuleClass {}
