import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { CONNMAN_LOGGER_CONTEXT } from './constants.js';
import { Connman } from './core/connman.js';
import { describeError } from './core/errors.js';
import { CONNMAN_MODULE_OPTIONS } from './connman.module-definition.js';
import { messages } from './connman.messages.js';
import type { ConnmanModuleOptions } from './interfaces/connman-module-options.interface.js';

/**
 * Opens the pools on application bootstrap (handlers were bound in
 * onModuleInit), drains them before shutdown and closes what is left on
 * shutdown. Shutdown code logs and goes on; it never throws.
 */
@Injectable()
export class ConnmanLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(CONNMAN_LOGGER_CONTEXT);

  constructor(
    @Inject(CONNMAN_MODULE_OPTIONS) private readonly options: ConnmanModuleOptions,
    private readonly connman: Connman,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const wait = this.options.waitForConnections ?? true;
    const pools = this.connman.poolNames.map((name) => this.connman.getPool(name));
    const results = await Promise.allSettled(pools.map((pool) => pool.open({ wait })));
    const failures = results.flatMap((result, i) =>
      result.status === 'rejected' ? [[pools[i].name, result.reason] as const] : [],
    );
    if (failures.length === 0) return;
    for (const [pool, error] of failures) this.logger.error(messages.bootstrapFailed(pool, describeError(error)));
    // The app will not start: leave no socket or timer behind, so the process can exit.
    await this.connman.disconnectAll({ timeoutMillis: 0 });
    throw failures[0][1];
  }

  async beforeApplicationShutdown(): Promise<void> {
    const timeoutMillis = this.options.shutdownTimeoutMillis ?? 10_000;
    await Promise.all(
      this.connman.poolNames.map((name) =>
        this.connman
          .getPool(name)
          .close({ timeoutMillis })
          .then(
            () => this.logger.log(messages.closed(name)),
            (error: unknown) => this.logger.error(messages.closeFailed(name, describeError(error))),
          ),
      ),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.connman
      .disconnectAll({ timeoutMillis: 0 })
      .catch((error: unknown) => this.logger.error(describeError(error)));
  }
}
