import {
  BadGatewayException,
  Controller,
  Get,
  GatewayTimeoutException,
  HttpCode,
  Param,
  Post,
  ServiceUnavailableException,
} from '@nestjs/common';
import { isConnmanError } from '../../lib/index.js';
import { RespError, type RespValue } from './resp.js';
import { RedisService } from './redis.service.js';

/** HTTP in front of the Redis client: every call either answers or fails with a clear status, never hangs. */
@Controller()
export class RedisController {
  constructor(private readonly redis: RedisService) {}

  @Get('ping')
  async ping(): Promise<{ reply: RespValue }> {
    return { reply: await this.call('PING') };
  }

  @Post('counter/:name')
  @HttpCode(200)
  async increment(@Param('name') name: string): Promise<{ name: string; value: RespValue }> {
    return { name, value: await this.call('INCR', `sample:counter:${name}`) };
  }

  @Get('counter/:name')
  async read(@Param('name') name: string): Promise<{ name: string; value: number }> {
    return { name, value: Number((await this.call('GET', `sample:counter:${name}`)) ?? 0) };
  }

  @Get('stats')
  stats(): object {
    return { ...this.redis.pool.stats(), resetsSeen: this.redis.resets };
  }

  /** 502 for an error reply, 504 when Redis did not answer in time, 503 while it cannot be reached. */
  private async call(...args: string[]): Promise<RespValue> {
    try {
      return await this.redis.command(...args);
    } catch (error) {
      if (error instanceof RespError) throw new BadGatewayException(`Redis answered: ${error.message}`);
      if (isConnmanError(error) && error.code === 'ERR_REQUEST_TIMEOUT')
        throw new GatewayTimeoutException(`Redis did not answer in time (${error.code}).`);
      if (isConnmanError(error))
        throw new ServiceUnavailableException(
          `Redis is unreachable right now (${error.code}); the pool is reconnecting.`,
        );
      throw error;
    }
  }
}
