import type { ConfigService } from '@nestjs/config';
import type { PoolOptions } from '../../lib/index.js';

/** Where the sample's Redis is: REDIS_URL (redis:// or rediss://), else the embedded server's port. */
export interface RedisTarget {
  endpoint: Pick<PoolOptions, 'host' | 'port' | 'tls'>;
  password: string | undefined;
  description: string;
}

export function redisTarget(config: ConfigService, embeddedPort: number | undefined): RedisTarget {
  const url = config.get<string>('REDIS_URL');
  if (!url) {
    return {
      endpoint: { host: '127.0.0.1', port: embeddedPort },
      password: undefined,
      description: `embedded RESP server on 127.0.0.1:${embeddedPort}`,
    };
  }
  const parsed = new URL(url);
  const tls = parsed.protocol === 'rediss:';
  const host = parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(parsed.port || 6379);
  return {
    endpoint: { host, port, tls: tls || undefined },
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    description: `Redis at ${tls ? 'rediss' : 'redis'}://${host}:${port}`,
  };
}
