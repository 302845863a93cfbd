import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { Logger, Module, type INestApplication, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { once } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connman } from '../lib/index.js';
import { ConnmanHealthIndicator } from '../lib/health/index.js';
import { replyLines } from '../lib/testing/index.js';
import { until } from './helpers/events.js';
import { httpRequest } from './helpers/http.js';
import { useScope } from './helpers/resources.js';
import { TestServer } from './helpers/server.js';
// The README's test example registers its own tests here: they run as written, under the leak check below.
import '../examples/readme/counter.e2e-spec.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Captures Nest's log lines (the examples log through Nest's Logger). */
function recordingLogger(lines: string[]): LoggerService {
  return {
    log: (m: string) => void lines.push(m),
    warn: (m: string) => void lines.push(m),
    error: (m: string) => void lines.push(m),
  };
}

// At the top level, so that the tests of the imported example are checked for leftovers too.
const scope = useScope();

describe('README', () => {
  const env = { ...process.env };
  afterEach(() => {
    process.env = { ...env };
    jest.restoreAllMocks();
  });

  async function server(handler: Parameters<typeof TestServer.start>[0]): Promise<TestServer> {
    const s = await TestServer.start(handler);
    scope.defer(() => s.stop());
    return s;
  }
  function captureConsole(): unknown[] {
    const logged: unknown[] = [];
    jest.spyOn(console, 'log').mockImplementation((value: unknown) => void logged.push(value));
    return logged;
  }

  it('shows exactly the example files, which the typecheck compiles', () => {
    const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
    const files = readdirSync(resolve(root, 'examples/readme')).filter((f) => f.endsWith('.ts'));
    const shown = new Set<string>();
    for (const block of blocks) {
      const file = /^\/\/ (examples\/readme\/[\w.-]+\.ts)\n/.exec(block)?.[1];
      expect(file).toBeDefined();
      expect(block).toBe(readFileSync(resolve(root, file!), 'utf8'));
      shown.add(file!);
    }
    expect([...shown].sort()).toEqual(files.map((f) => `examples/readme/${f}`).sort());
  });

  it('runs the core example as written: pipelined requests, a lease, stats', async () => {
    const memcached = await server({
      handler: replyLines({ version: 'VERSION 1.6.21\r\n', flush_all: 'OK\r\n' }),
    });
    process.env.MEMCACHED_PORT = String(memcached.port);
    const logged = captureConsole();
    await import('../examples/readme/core.js');
    expect(logged.slice(0, 3)).toEqual(['VERSION 1.6.21', 'OK', 'VERSION 1.6.21']);
    expect(logged[3]).toMatchObject({ name: 'memcached', size: 2, connected: 2, leased: 0, pendingRequests: 0 });
    expect(memcached.accepted).toBe(2);
  });

  it('runs the handshake example as written: INFO, CONNECT, PONG, a server PING answered from onData', async () => {
    const received: string[] = [];
    const nats = await server({
      handler: (socket, count) => {
        replyLines((line) => {
          received.push(line);
          // After CONNECT, the handshake's PONG and at once a server PING (read with it).
          const pings = received.filter((l) => l === 'PING').length;
          if (line === 'PING') return pings === 1 ? 'PONG\r\nPING\r\n' : 'PONG\r\n';
          return undefined;
        })(socket, count);
        socket.write('INFO {"server_id":"test","max_payload":1048576}\r\n');
      },
    });
    process.env.NATS_PORT = String(nats.port);
    const logged = captureConsole();
    await import('../examples/readme/handshake.js');
    expect(logged).toEqual(['PONG']);
    expect(received[0]).toBe('CONNECT {"verbose":false,"pedantic":false}');
    expect(received).toContain('PONG'); // the server's PING, answered from onData
  });

  it('runs the framing example as written: a decoder of its own, pushes to onData, replies to request()', async () => {
    const rpc = await server({
      handler: replyLines((line) => {
        const call = JSON.parse(line) as { id: number; params: number[] };
        return `{"event":"tick"}\n{"id":${call.id},"result":${call.params[0] + call.params[1]}}\n`;
      }),
    });
    process.env.JSON_PORT = String(rpc.port);
    const logged = captureConsole();
    await import('../examples/readme/framing.js');
    expect(logged).toEqual(['event: tick', 5]);
  });

  it('runs the Nest example as written: requests, a reset with its resume line, a health check', async () => {
    const counters = new Map<string, number>();
    const redis = await server({
      handler: replyLines((line) => {
        const [command, key] = line.split(' ');
        if (command === 'PING') return '+PONG\r\n';
        if (command === 'INCR') {
          counters.set(key, (counters.get(key) ?? 0) + 1);
          return `:${counters.get(key)}\r\n`;
        }
        return '-ERR unknown command\r\n';
      }),
    });
    process.env.REDIS_PORT = String(redis.port);
    const { CounterModule, CounterService } = await import('../examples/readme/redis.module.js');
    const { HealthController } = await import('../examples/readme/health.controller.js');
    @Module({
      imports: [CounterModule, TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController],
      providers: [ConnmanHealthIndicator],
    })
    class AppModule {}
    const lines: string[] = [];
    const logger = recordingLogger(lines);
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
      .setLogger(logger)
      .compile();
    const app = moduleRef.createNestApplication({ logger });
    scope.defer(() => app.close());
    await app.listen(0, '127.0.0.1');

    const counter = app.get(CounterService);
    expect(await counter.increment('visits')).toBe(1);
    expect(await counter.increment('visits')).toBe(2);
    expect(lines.filter((l) => l.startsWith('connected to 127.0.0.1:'))).toHaveLength(2);

    const pool = app.get(Connman).getPool('redis');
    await redis.resetAll();
    await until(
      pool,
      'reconnect',
      () => lines.filter((l) => /redis connection back after \d+ ms/.test(l)).length === 2,
    );
    expect(lines.some((l) => l.startsWith('redis connection lost'))).toBe(true);
    expect(await counter.increment('visits')).toBe(3);

    const health = await httpRequest((app.getHttpServer().address() as AddressInfo).port, '/health');
    expect(health.json().info.redis).toMatchObject({ status: 'up', connected: 2 });
  });

  it('runs the feature-module example as written: registerPool with defaults from forRoot', async () => {
    const memcached = await server({ handler: replyLines({ version: 'VERSION 1.6.21\r\n' }) });
    process.env.MEMCACHED_PORT = String(memcached.port);
    const { AppModule, CacheService } = await import('../examples/readme/feature.module.js');
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
      .setLogger(recordingLogger([]))
      .compile();
    const app = moduleRef.createNestApplication({ logger: false });
    scope.defer(() => app.close());
    await app.init();
    expect(await app.get(CacheService).version()).toBe('VERSION 1.6.21');
    expect(app.get(Connman).getPool('cache').options.connection.connectTimeoutMillis).toBe(2000);
  });

  /** A server that answers PING and INCR as Redis does (inline commands, one line each way). */
  function redisLike(): Parameters<typeof TestServer.start>[0] {
    const counters = new Map<string, number>();
    return {
      handler: replyLines((line) => {
        const [command, key] = line.split(' ');
        if (command === 'PING') return '+PONG\r\n';
        if (command === 'INCR') {
          counters.set(key, (counters.get(key) ?? 0) + 1);
          return `:${counters.get(key)}\r\n`;
        }
        return '-ERR unknown command\r\n';
      }),
    };
  }

  it('runs the app module example as written: POST /counter/:key counts, GET /health is up', async () => {
    const redis = await server(redisLike());
    process.env.REDIS_PORT = String(redis.port);
    const { AppModule } = await import('../examples/readme/app.module.js');
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
      .setLogger(recordingLogger([]))
      .compile();
    const app = moduleRef.createNestApplication({ logger: false });
    scope.defer(() => app.close());
    await app.listen(0, '127.0.0.1');
    const port = (app.getHttpServer().address() as AddressInfo).port;

    expect((await httpRequest(port, '/counter/visits', 'POST')).json()).toEqual({ key: 'visits', value: 1 });
    expect((await httpRequest(port, '/counter/visits', 'POST')).json()).toEqual({ key: 'visits', value: 2 });
    const health = await httpRequest(port, '/health');
    expect(health.status).toBe(200);
    expect(health.json().info.redis).toMatchObject({ status: 'up', state: 'open', connected: 2, min: 2 });
  });

  it('runs main.ts as written: listens on PORT on loopback, hooks SIGINT and SIGTERM, and close() unhooks them', async () => {
    const redis = await server(redisLike());
    process.env.REDIS_PORT = String(redis.port);
    process.env.PORT = '0';
    Logger.overrideLogger(false); // main.ts logs with Nest's default logger
    const hooked = { SIGINT: process.listenerCount('SIGINT'), SIGTERM: process.listenerCount('SIGTERM') };
    const create = jest.spyOn(NestFactory, 'create'); // calls through; gives the test the app main.ts made
    await import('../examples/readme/main.js');
    expect(create).toHaveBeenCalledTimes(1);
    const app = (await create.mock.results[0].value) as INestApplication;
    let closed = false;
    scope.defer(() => closed || app.close());
    const http = app.getHttpServer() as Server;
    if (!http.listening) await once(http, 'listening');
    const address = http.address() as AddressInfo;
    expect(address.address).toBe('127.0.0.1');

    expect((await httpRequest(address.port, '/counter/visits', 'POST')).json()).toEqual({ key: 'visits', value: 1 });
    expect(process.listenerCount('SIGINT')).toBe(hooked.SIGINT + 1);
    expect(process.listenerCount('SIGTERM')).toBe(hooked.SIGTERM + 1);
    const pool = app.get(Connman).getPool('redis');
    await app.close(); // what the SIGINT hook does before the process exits
    closed = true;
    expect(pool.state).toBe('closed');
    expect(process.listenerCount('SIGINT')).toBe(hooked.SIGINT);
    expect(process.listenerCount('SIGTERM')).toBe(hooked.SIGTERM);
  });
});
