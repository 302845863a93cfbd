// Minimal typings for the peers that ship none (jackpot, connman), limited to what the bench uses.
declare module 'jackpot' {
  import type { Socket } from 'node:net';
  class Manager {
    constructor(limit: number, builder: () => Socket, options?: { retries?: number; min?: string; max?: string });
    pull(fn: (error: Error | undefined, connection: Socket) => void): this;
    pool: Socket[];
    end?(): void;
  }
  export = Manager;
}

declare module 'connman' {
  import type { Socket } from 'node:net';
  interface Handler {
    onConnect(socket: Socket): void;
    onData(buffer: Buffer): void;
    onReset(): void;
    onReconnect(): void;
  }
  interface Pool {
    addConnection(port: number, host: string, options?: object): void;
    getConnections(): { sock: Socket & { disconnect(): void } }[];
    disconnect(): void;
  }
  const connman: {
    createPool(name: string, factory: () => Handler): Pool;
    getPool(name: string): Pool;
  };
  export = connman;
}
