import { Controller, HttpCode, Inject, NotFoundException, Post } from '@nestjs/common';
import { EMBEDDED_REDIS, type ManagedEmbeddedRedis } from './upstream.module.js';

/** Stops and starts the embedded upstream, to watch the pool lose it and recover. */
@Controller('upstream')
export class UpstreamController {
  constructor(@Inject(EMBEDDED_REDIS) private readonly embedded: ManagedEmbeddedRedis | null) {}

  @Post('stop')
  @HttpCode(200)
  async stop(): Promise<{ running: boolean }> {
    await this.server().stop();
    return { running: false };
  }

  @Post('start')
  @HttpCode(200)
  async start(): Promise<{ running: boolean }> {
    await this.server().start();
    return { running: true };
  }

  private server() {
    if (this.embedded === null)
      throw new NotFoundException('REDIS_URL is set: the upstream is a real Redis, not controlled by the sample.');
    return this.embedded.server;
  }
}
