import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Connman } from './core/connman.js';
import { ConnmanExplorer } from './connman.explorer.js';
import { ConnmanLifecycle } from './connman.lifecycle.js';
import { ConnmanPoolRegistrar } from './connman.registrar.js';

/**
 * @internal The part of ConnmanModule there is one of per application,
 * whichever of `forRoot`, `forRootAsync`, `registerPool` and
 * `registerPoolAsync` bring it in (a static module, so Nest instantiates it
 * once): the `Connman` registry every pool lands in, the explorer that binds
 * handlers, and the lifecycle that opens and closes the pools. Global, so
 * that `Connman` is injectable everywhere.
 */
@Global()
@Module({
  imports: [DiscoveryModule],
  providers: [
    { provide: Connman, useFactory: () => new Connman() },
    ConnmanPoolRegistrar,
    ConnmanExplorer,
    ConnmanLifecycle,
  ],
  exports: [Connman, ConnmanPoolRegistrar],
})
export class ConnmanCoreModule {}
