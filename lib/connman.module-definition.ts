import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { ConnmanModuleOptions } from './interfaces/connman-module-options.interface.js';

/** forRoot / forRootAsync (useFactory, useClass, useExisting) and an isGlobal extra, from Nest's builder. */
export const {
  ConfigurableModuleClass,
  MODULE_OPTIONS_TOKEN: CONNMAN_MODULE_OPTIONS,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<ConnmanModuleOptions>()
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createConnmanOptions')
  .setExtras({ isGlobal: false }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
