import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Logger, type INestApplication, type LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FaultProxy } from 'nestjs-connman/testing';
import { Connman } from '../../lib/index.js';
import { AppModule } from '../../sample/app.module.js';
import { RedisService } from '../../sample/redis/redis.service.js';
import { EmbeddedRedis } from '../../sample/upstream/embedded-redis.js';
import { until } from '../helpers/events.js';
import { httpRequest } from '../helpers/http.js';
import { useScope } from '../helpers/resources.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

describe('the sample app', () => {
  const scope = useScope();
  const savedUrl = process.env.REDIS_URL;
  beforeAll(() => {
    delete process.env.REDIS_URL; // the embedded upstream, whatever the developer's shell says
    Logger.overrideLogger(false); // quiet, like the apps below (an upstream started by a test logs too)
  });
  afterAll(() => {
    if (savedUrl !== undefined) process.env.REDIS_URL = savedUrl;
  });

  /** What the app logged, one string per line: `[context] message`. */
  function captureLogs(): { lines: string[]; logger: LoggerService } {
    const lines: string[] = [];
    const record = (message: unknown, context?: unknown): void =>
      void lines.push(`[${String(context)}] ${String(message)}`);
    return { lines, logger: { log: record, warn: record, error: record, debug: record, verbose: record } };
  }

  async function startApp(logger: LoggerService | false = false): Promise<{ app: INestApplication; port: number }> {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication({ logger });
    scope.defer(() => app.close());
    if (logger !== false) scope.defer(() => Logger.overrideLogger(false));
    await app.listen(0, '127.0.0.1');
    return { app, port: (app.getHttpServer().address() as AddressInfo).port };
  }

  it('serves Redis commands over HTTP against the embedded upstream, with /health up', async () => {
    const { port } = await startApp();
    expect((await httpRequest(port, '/ping')).json()).toEqual({ reply: 'PONG' });
    expect((await httpRequest(port, '/counter/e2e', 'POST')).json()).toEqual({ name: 'e2e', value: 1 });
    expect((await httpRequest(port, '/counter/e2e', 'POST')).json()).toEqual({ name: 'e2e', value: 2 });
    expect((await httpRequest(port, '/counter/e2e')).json()).toEqual({ name: 'e2e', value: 2 });
    const health = await httpRequest(port, '/health');
    expect(health.status).toBe(200);
    expect(health.json().info.redis).toMatchObject({ status: 'up', connected: 2 });
  });

  it('survives its upstream going away and coming back, with no restart of the app (a FaultProxy in between)', async () => {
    // As a user tests their own app: the upstream on one side, a FaultProxy in front of it, the app pointed
    // at the proxy through its usual configuration, and the faults switched on while the app runs.
    const upstream = await EmbeddedRedis.start('127.0.0.1', 0);
    scope.defer(() => upstream.stop());
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: upstream.port });
    scope.defer(() => proxy.close());
    process.env.REDIS_URL = `redis://${proxy.host}:${proxy.port}`;
    scope.defer(() => delete process.env.REDIS_URL);
    const logs = captureLogs();
    const { app, port } = await startApp(logs.logger);
    const pool = app.get(Connman).getPool('redis');
    await proxy.waitForConnection(2); // the pool's min connections go through the proxy
    const where = `${proxy.host}:${proxy.port}`;
    expect((await httpRequest(port, '/counter/outage', 'POST')).json().value).toBe(1);

    // Every connection reset by the peer (RST): the pool reconnects at once, through the proxy.
    await proxy.resetPeers();
    await proxy.waitForConnection(4);
    await until(pool, 'reconnect', () => pool.stats().connected === 2);
    expect((await httpRequest(port, '/counter/outage', 'POST')).json().value).toBe(2);

    // The upstream unreachable: calls fail fast with a clear status, health is down.
    await proxy.down();
    await until(pool, 'reset', () => pool.stats().connected === 0);
    const during = await httpRequest(port, '/ping');
    expect(during.status).toBe(503);
    expect(during.json().message).toContain('ERR_NO_CONNECTION');
    expect((await httpRequest(port, '/health')).status).toBe(503);
    const lost = logs.lines.filter((line) => line.startsWith(`[Redis] lost ${where} (`));
    expect(lost).toHaveLength(4); // two connections, twice
    expect(lost[3]).toContain('its unanswered commands failed with ERR_CONNECTION_CLOSED; reconnecting');

    // Back on the same address: the pool reconnects by itself, and the data is still there.
    await proxy.up();
    await until(pool, 'reconnect', () => pool.stats().connected === 2);
    expect((await httpRequest(port, '/ping')).json()).toEqual({ reply: 'PONG' });
    expect((await httpRequest(port, '/counter/outage', 'POST')).json().value).toBe(3);
    expect((await httpRequest(port, '/health')).status).toBe(200);
    expect((await httpRequest(port, '/stats')).json()).toMatchObject({ connected: 2, resetsSeen: 4 });
    // Each reset's resume function ran once its connection was back (handshake done), instead of @OnConnect.
    const back = logs.lines.filter((line) => line.startsWith('[Redis] back on'));
    expect(back).toHaveLength(4);
    for (const line of back) expect(line).toMatch(new RegExp(`^\\[Redis\\] back on ${where} after \\d+ ms$`));
    expect(logs.lines.filter((line) => line.startsWith(`[Redis] connected to ${where}`))).toHaveLength(2);
  });

  it('answers 502 for a Redis error reply and 504 when Redis does not answer within REDIS_COMMAND_TIMEOUT_MS, then recovers', async () => {
    const upstream = await EmbeddedRedis.start('127.0.0.1', 0);
    scope.defer(() => upstream.stop());
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: upstream.port });
    scope.defer(() => proxy.close());
    process.env.REDIS_URL = `redis://${proxy.host}:${proxy.port}`;
    process.env.REDIS_COMMAND_TIMEOUT_MS = '200';
    scope.defer(() => {
      delete process.env.REDIS_URL;
      delete process.env.REDIS_COMMAND_TIMEOUT_MS;
    });
    const { app, port } = await startApp();
    const pool = app.get(Connman).getPool('redis');

    // An error reply: the command reached Redis, which refused it.
    expect(await app.get(RedisService).command('SET', 'sample:counter:text', 'not a number')).toBe('OK');
    const refused = await httpRequest(port, '/counter/text', 'POST');
    expect(refused.status).toBe(502);
    expect(refused.json().message).toBe('Redis answered: ERR value is not an integer or out of range');

    // No answer: the proxy stops forwarding. The command times out, and its connection is reset (its
    // later replies could no longer be matched to commands); the other one keeps serving.
    proxy.stalled = true;
    const timedOut = await httpRequest(port, '/ping');
    expect(timedOut.status).toBe(504);
    expect(timedOut.json().message).toContain('ERR_REQUEST_TIMEOUT');
    proxy.stalled = false;
    await until(pool, 'reconnect', () => pool.stats().connected === 2);
    expect((await httpRequest(port, '/ping')).json()).toEqual({ reply: 'PONG' });
    expect((await httpRequest(port, '/stats')).json()).toMatchObject({ connected: 2, resetsSeen: 1 });
  });

  it('as a process: starts, answers, and on SIGTERM closes its pools and exits', async () => {
    const outDir = resolve(root, '.test-build/sample-app');
    await promisify(execFile)(
      process.execPath,
      [resolve(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.sample.json', '--outDir', outDir],
      {
        cwd: root,
      },
    );
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', NO_COLOR: '1' };
    delete env.REDIS_URL;
    delete env.NODE_OPTIONS;
    const child = spawn(process.execPath, [resolve(outDir, 'sample/main.js')], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    scope.defer(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = once(child, 'exit');
    while (!/sample listening on http:\/\/127\.0\.0\.1:(\d+)/.test(output)) await once(child.stdout, 'data');
    const port = Number(/sample listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)![1]);
    expect((await httpRequest(port, '/ping')).json()).toEqual({ reply: 'PONG' });
    child.kill('SIGTERM');
    const [code, signal] = await exited;
    // Nest runs the shutdown hooks, then re-raises the signal.
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
    expect(output).toContain("Pool 'redis' closed.");
    expect(output).toContain('embedded RESP server stopped');
  }, 60_000);
});
