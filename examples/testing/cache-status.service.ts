// examples/testing/cache-status.service.ts
import { Injectable } from '@nestjs/common';
import { InjectPool, isConnmanError, type ConnectionPool, type ConnmanSocket } from 'nestjs-connman';

/** How long a reply may take once the request is written. */
export const REPLY_TIMEOUT_MILLIS = 500;

export type CacheHealth = { status: 'up'; version: string } | { status: 'down'; reason: string };

/** Asks a memcached server for its version, through the 'memcached' pool. */
@Injectable()
export class CacheStatus {
  constructor(@InjectPool('memcached') private readonly pool: ConnectionPool) {}

  /** The server's version, e.g. '1.6.21'. */
  async version(): Promise<string> {
    const reply = await this.pool.use((socket) => askLine(socket, 'version\r\n', REPLY_TIMEOUT_MILLIS));
    const version = /^VERSION (\S+)$/.exec(reply)?.[1];
    if (version === undefined) throw new Error(`unexpected reply to 'version': ${JSON.stringify(reply)}`);
    return version;
  }

  /** 'up' with the version, or 'down' with the reason: never throws, never hangs. */
  async status(): Promise<CacheHealth> {
    try {
      return { status: 'up', version: await this.version() };
    } catch (error) {
      return { status: 'down', reason: isConnmanError(error) ? error.code : (error as Error).message };
    }
  }
}

/**
 * Writes `line` and resolves with the reply line (without its \r\n), however
 * TCP splits it; rejects if the socket closes or `timeoutMillis` passes first.
 */
export function askLine(socket: ConnmanSocket, line: string, timeoutMillis: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('latin1');
      const end = buffered.indexOf('\r\n');
      if (end >= 0) settle(() => resolve(buffered.slice(0, end)));
    };
    const onClose = (): void => settle(() => reject(new Error('connection closed before the reply')));
    const timer = setTimeout(
      () => settle(() => reject(new Error(`no reply within ${timeoutMillis} ms`))),
      timeoutMillis,
    );
    const settle = (done: () => void): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      done();
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(line);
  });
}
