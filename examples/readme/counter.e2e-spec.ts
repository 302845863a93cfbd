// examples/readme/counter.e2e-spec.ts
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { getPoolToken, type ConnectionPool } from 'nestjs-connman';
import { FaultProxy, TestServer, replyLines } from 'nestjs-connman/testing';
import { CounterModule, CounterService } from './redis.module.js';

describe('CounterService, against a scripted server behind a FaultProxy', () => {
  let server: TestServer;
  let proxy: FaultProxy;
  let app: INestApplication;

  beforeEach(async () => {
    // A loopback server that answers INCR as Redis does, and a FaultProxy in front of it.
    let count = 0;
    server = await TestServer.start({ handler: replyLines({ 'INCR visits': () => `:${++count}\r\n` }) });
    proxy = await FaultProxy.start(server.endpoint);
    process.env.REDIS_PORT = String(proxy.port); // the module's own configuration, pointed at the proxy
    const moduleRef = await Test.createTestingModule({ imports: [CounterModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init(); // opens the pool: its 2 connections are up
  });

  afterEach(async () => {
    await app.close(); // the app first, then what it connects to
    await proxy.close();
    await server.stop();
    delete process.env.REDIS_PORT;
  });

  it('reads a reply that TCP delivers one byte at a time', async () => {
    proxy.downstream.set({ sliced: true, sliceBytes: 1, sliceDelayMillis: 1 });
    expect(await app.get(CounterService).increment('visits')).toBe(1);
  });

  it('counts on after the server resets every connection', async () => {
    const pool = app.get<ConnectionPool>(getPoolToken('redis'));
    let resets = 0;
    const bothLost = new Promise<void>((resolve) =>
      pool.on('reset', () => {
        if (++resets === 2) resolve();
      }),
    );
    await proxy.waitForConnection(2); // both have reached the proxy (the pool may be up before it accepts)
    await proxy.resetPeers(); // an RST on each connection
    await bothLost; // wait for the pool to see it: events, never sleeps
    expect(await app.get(CounterService).increment('visits')).toBe(1); // waits for a reconnected connection
  });
});
