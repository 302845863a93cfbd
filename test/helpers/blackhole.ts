import { once } from 'node:events';
import * as net from 'node:net';
import { Worker } from 'node:worker_threads';

/**
 * A port whose connects are never answered (SYN-SENT forever): a worker
 * listens with backlog 1, then blocks its own event loop, and two filler
 * connections fill the accept queue. The fillers are "accepted but silent".
 */
export class Blackhole {
  private constructor(
    private readonly worker: Worker,
    private readonly flag: Int32Array,
    readonly port: number,
    readonly fillers: net.Socket[],
  ) {}

  static async start(): Promise<Blackhole> {
    const shared = new SharedArrayBuffer(4);
    const worker = new Worker(
      `
      const net = require('node:net');
      const { parentPort, workerData } = require('node:worker_threads');
      const flag = new Int32Array(workerData);
      const server = net.createServer();
      server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
        parentPort.postMessage(server.address().port);
        // Block this thread's event loop: nothing is accepted any more.
        Atomics.wait(flag, 0, 0);
        server.close();
        parentPort.close();
      });
      `,
      { eval: true, workerData: shared },
    );
    const [port] = (await once(worker, 'message')) as [number];
    const fillers: net.Socket[] = [];
    for (let i = 0; i < 2; i++) {
      const filler = net.connect({ port, host: '127.0.0.1' });
      filler.on('error', () => undefined);
      await once(filler, 'connect');
      fillers.push(filler);
    }
    return new Blackhole(worker, new Int32Array(shared), port, fillers);
  }

  get endpoint(): { host: string; port: number } {
    return { host: '127.0.0.1', port: this.port };
  }

  async close(): Promise<void> {
    for (const filler of this.fillers) filler.destroy();
    Atomics.store(this.flag, 0, 1);
    Atomics.notify(this.flag, 0);
    await Promise.all([
      once(this.worker, 'exit'),
      ...this.fillers.map((f) => (f.closed ? undefined : once(f, 'close'))),
    ]);
  }
}
