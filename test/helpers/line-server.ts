import type { Socket } from 'node:net';
import type { SocketHandler } from './server.js';

/**
 * A test server handler that splits what it reads into `\n`-terminated
 * lines and calls `onLine(line, socket)` for each, in order, whatever the
 * slicing of the stream.
 */
export function lineHandler(onLine: (line: string, socket: Socket) => void): SocketHandler {
  return (socket) => {
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let index: number;
      while ((index = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, index);
        pending = pending.slice(index + 1);
        if (!socket.destroyed) onLine(line, socket);
      }
    });
  };
}

/** Answers each line with the same line (a reply per request, in order). */
export const echoLines: SocketHandler = lineHandler((line, socket) => socket.write(`${line}\n`));

/** Collects every line a server receives, for assertions. */
export class LineLog {
  readonly lines: string[] = [];
  private waiting: { count: number; resolve: () => void }[] = [];

  push(line: string): void {
    this.lines.push(line);
    this.waiting = this.waiting.filter((w) => {
      if (this.lines.length < w.count) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once `count` lines in all have been received. */
  until(count: number): Promise<void> {
    if (this.lines.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push({ count, resolve }));
  }
}
