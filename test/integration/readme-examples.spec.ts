import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { Test } from '@nestjs/testing';
import { randomUUID } from 'node:crypto';
import { ConnectionPool, lines } from '../../lib/index.js';
import { useScope } from '../helpers/resources.js';

// The README's examples, run as written against the machine's real servers.
describe("the README's examples against real servers", () => {
  const scope = useScope();
  const env = { ...process.env };
  afterEach(() => {
    process.env = { ...env };
    jest.restoreAllMocks();
  });

  it('the handshake example completes its NATS handshake (INFO, CONNECT, PONG) and gets a PONG for a PING', async () => {
    process.env.NATS_PORT = process.env.NATS_PORT ?? '4222';
    const logged: unknown[] = [];
    jest.spyOn(console, 'log').mockImplementation((value: unknown) => void logged.push(value));
    await import('../../examples/readme/handshake.js');
    expect(logged).toEqual(['PONG']);
  });

  it('the Nest example counts with INCR on the real Redis', async () => {
    process.env.REDIS_PORT = process.env.REDIS_PORT ?? '6379';
    const { CounterModule, CounterService } = await import('../../examples/readme/redis.module.js');
    const moduleRef = await Test.createTestingModule({ imports: [CounterModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    scope.defer(() => app.close());
    await app.init();
    const key = `connman:readme:${randomUUID()}`;
    const cleanup = new ConnectionPool({
      name: 'cleanup',
      host: '127.0.0.1',
      port: Number(process.env.REDIS_PORT),
      framing: lines(),
    });
    scope.defer(async () => {
      await cleanup.request(`DEL ${key}\r\n`);
      await cleanup.close();
    });
    const counter = app.get(CounterService);
    const results = await Promise.all(Array.from({ length: 50 }, () => counter.increment(key)));
    expect(results.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });
});
