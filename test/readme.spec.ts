import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { Module, type LoggerService } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connman } from '../lib/index.js';
import { ConnmanHealthIndicator } from '../lib/health/index.js';
import { until } from './helpers/events.js';
import { httpRequest } from './helpers/http.js';
import { useScope } from './helpers/resources.js';
import { TestServer } from './helpers/server.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

describe('README', () => {
  const scope = useScope();
  const env = { ...process.env };
  afterEach(() => {
    process.env = { ...env };
    jest.restoreAllMocks();
  });

  it('shows exactly the example files, which the typecheck compiles', () => {
    const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(blocks.length).toBe(3);
    for (const block of blocks) {
      const file = /^\/\/ (examples\/readme\/[\w.-]+\.ts)\n/.exec(block)?.[1];
      expect(file).toBeDefined();
      expect(block).toBe(readFileSync(resolve(root, file!), 'utf8'));
    }
  });

  it('runs the core example as written against a memcached-like server', async () => {
    const server = await TestServer.start({
      handler: (socket) =>
        socket.on('data', (line) =>
          socket.write(String(line).startsWith('version') ? 'VERSION 1.6.21\r\n' : 'STAT pid 1\r\nEND\r\n'),
        ),
    });
    scope.defer(() => server.stop());
    process.env.MEMCACHED_PORT = String(server.port);
    const logged: unknown[] = [];
    jest.spyOn(console, 'log').mockImplementation((value: unknown) => void logged.push(value));
    await import('../examples/readme/core.js');
    expect(logged[0]).toBe('VERSION 1.6.21');
    expect(logged[1]).toBe('STAT pid 1\r\nEND');
    expect(logged[2]).toMatchObject({ name: 'memcached', size: 2, connected: 2, leased: 0 });
    expect(server.accepted).toBe(2);
  });

  it('runs the Nest example as written: sends frames, routes replies and resets, reports health', async () => {
    const frames: Buffer[] = [];
    const server = await TestServer.start({
      handler: (socket) =>
        socket.on('data', (chunk) => {
          frames.push(chunk);
          socket.write(Buffer.from([8, 7])); // an error frame back, as APNs does
        }),
    });
    scope.defer(() => server.stop());
    process.env.PUSH_PORT = String(server.port);
    const { PushGateway, PushModule } = await import('../examples/readme/push.module.js');
    const { HealthController } = await import('../examples/readme/health.controller.js');
    @Module({
      imports: [PushModule, TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController],
      providers: [ConnmanHealthIndicator],
    })
    class AppModule {}
    const lines: string[] = [];
    const logger: LoggerService = {
      log: (m: string) => lines.push(m),
      warn: (m: string) => lines.push(m),
      error: (m: string) => lines.push(m),
    };
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
      .setLogger(logger)
      .compile();
    const app = moduleRef.createNestApplication({ logger });
    scope.defer(() => app.close());
    await app.listen(0, '127.0.0.1');

    await app.get(PushGateway).send(Buffer.from('frame-1'));
    const pool = app.get(Connman).getPool('push');
    const answered = (): boolean => lines.some((l) => l.includes('answered 2 byte(s)'));
    await Promise.race(pool.connections.map((connection) => until(connection, 'data', answered)));
    expect(Buffer.concat(frames).toString()).toBe('frame-1');

    server.resetAll();
    await until(pool, 'reconnect', () => lines.some((l) => /push connection back after \d+ ms/.test(l)));
    expect(lines.some((l) => l.startsWith('push connection lost'))).toBe(true);

    const health = await httpRequest((app.getHttpServer().address() as AddressInfo).port, '/health');
    expect(health.json().info.push).toMatchObject({ status: 'up' });
  });
});
