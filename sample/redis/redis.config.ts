import type { ConfigService } from '@nestjs/config';
import type { PoolOptions } from '../../lib/index.js';
import type { RedisProtocolOptions } from './redis-client.js';

/**
 * Where the sample's Redis is: REDIS_URL (`redis://[user:password@]host:port`,
 * or `rediss://` for TLS), else the embedded server's port.
 */
export interface RedisTarget {
  endpoint: Pick<PoolOptions, 'host' | 'port' | 'tls'>;
  /** For AUTH in the handshake: empty when the URL has no password. */
  auth: Pick<RedisProtocolOptions, 'username' | 'password'>;
  description: string;
}

export function redisTarget(config: ConfigService, embeddedPort: number | undefined): RedisTarget {
  const url = config.get<string>('REDIS_URL');
  if (!url) {
    return {
      endpoint: { host: '127.0.0.1', port: embeddedPort },
      auth: {},
      description: `embedded RESP server on 127.0.0.1:${embeddedPort}`,
    };
  }
  const parsed = new URL(url);
  const tls = parsed.protocol === 'rediss:';
  const host = parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(parsed.port || 6379);
  const password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
  const username = password && parsed.username ? decodeURIComponent(parsed.username) : undefined;
  return {
    endpoint: { host, port, tls: tls || undefined },
    auth: { password, username },
    description: `Redis at ${tls ? 'rediss' : 'redis'}://${host}:${port}`,
  };
}
