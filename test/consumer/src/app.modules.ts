import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { ConnmanModule } from 'nestjs-connman';
import { ConnmanHealthIndicator } from 'nestjs-connman/health';
import { AlphaHandlers, BetaHandlers } from './handlers.js';
import { HealthController } from './health.controller.js';
import { POOL_NAME, Probe, ShutdownSignal, UPSTREAM, upstreamFromEnv, type Upstream } from './probe.js';

/** Shared by both apps: the probe, the shutdown signal and the upstream's address. */
@Module({
  providers: [Probe, ShutdownSignal, { provide: UPSTREAM, useFactory: upstreamFromEnv }],
  exports: [Probe, ShutdownSignal, UPSTREAM],
})
export class SupportModule {}

/** A pool from `ConnmanModule.forRoot`. */
@Module({
  imports: [
    SupportModule,
    TerminusModule.forRoot({ logger: false }),
    ConnmanModule.forRoot({
      pools: [
        { name: 'alpha', ...upstreamFromEnv(), min: 1, backoff: { initialDelayMillis: 20, maxDelayMillis: 200 } },
      ],
    }),
  ],
  controllers: [HealthController],
  providers: [AlphaHandlers, ConnmanHealthIndicator, { provide: POOL_NAME, useValue: 'alpha' }],
})
export class RootApp {}

/** A pool from `ConnmanModule.forRootAsync`, its options built from an injected provider. */
@Module({
  imports: [
    SupportModule,
    TerminusModule.forRoot({ logger: false }),
    ConnmanModule.forRootAsync({
      pools: ['beta'],
      imports: [SupportModule],
      inject: [UPSTREAM],
      useFactory: (upstream: Upstream) => ({
        pools: [
          { name: 'beta', host: upstream.host, port: upstream.port, min: 1, backoff: { initialDelayMillis: 20 } },
        ],
      }),
    }),
  ],
  controllers: [HealthController],
  providers: [BetaHandlers, ConnmanHealthIndicator, { provide: POOL_NAME, useValue: 'beta' }],
})
export class AsyncApp {}
