import * as net from 'node:net';

/**
 * One side of a connection under test: records what it reads (chunk by chunk,
 * with arrival times), how it ended, and lets a test wait for bytes or the end
 * by events, never by sleeping.
 */
export class Peer {
  readonly chunks: Buffer[] = [];
  /** `performance.now()` at each chunk's arrival. */
  readonly arrivals: number[] = [];
  error: NodeJS.ErrnoException | undefined;
  gotEnd = false;
  isClosed = false;
  private readonly closedPromise: Promise<void>;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.arrivals.push(performance.now());
    });
    socket.on('end', () => (this.gotEnd = true));
    socket.on('error', (error: NodeJS.ErrnoException) => (this.error = error));
    this.closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        resolve();
      }),
    );
  }

  /** Connects to `endpoint` and resolves once connected. */
  static connect(endpoint: { host: string; port: number }, options: Partial<net.NetConnectOpts> = {}): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ ...endpoint, ...options } as net.NetConnectOpts);
      const peer = new Peer(socket);
      socket.once('connect', () => resolve(peer));
      socket.once('error', reject);
    });
  }

  /** Everything read so far. */
  get data(): Buffer {
    return Buffer.concat(this.chunks);
  }

  get text(): string {
    return this.data.toString('latin1');
  }

  get length(): number {
    return this.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Resolves once `bytes` bytes were read in all; rejects if the socket closes first. */
  received(bytes: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (this.length >= bytes) {
          done();
          resolve();
          return true;
        }
        return false;
      };
      const onClose = (): void => {
        if (check()) return;
        done();
        reject(new Error(`closed after ${this.length} of ${bytes} bytes: ${JSON.stringify(this.text)}`));
      };
      const onData = (): void => void check();
      const done = (): void => {
        this.socket.off('data', onData);
        this.socket.off('close', onClose);
      };
      this.socket.on('data', onData);
      this.socket.once('close', onClose);
      if (this.isClosed) onClose();
      else check();
    });
  }

  /** Resolves once the socket is closed. */
  closed(): Promise<void> {
    return this.closedPromise;
  }

  destroy(): Promise<void> {
    this.socket.destroy();
    return this.closedPromise;
  }
}
