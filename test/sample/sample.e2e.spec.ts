import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Connman } from '../../lib/index.js';
import { AppModule } from '../../sample/app.module.js';
import { until } from '../helpers/events.js';
import { httpRequest } from '../helpers/http.js';
import { useScope } from '../helpers/resources.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

describe('the sample app', () => {
  const scope = useScope();
  const savedUrl = process.env.REDIS_URL;
  beforeAll(() => {
    delete process.env.REDIS_URL; // the embedded upstream, whatever the developer's shell says
  });
  afterAll(() => {
    if (savedUrl !== undefined) process.env.REDIS_URL = savedUrl;
  });

  async function startApp(): Promise<{ app: INestApplication; port: number }> {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    scope.defer(() => app.close());
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

  it('survives the upstream going away and coming back, with no restart of the app', async () => {
    const { app, port } = await startApp();
    const pool = app.get(Connman).getPool('redis');
    expect((await httpRequest(port, '/counter/outage', 'POST')).json().value).toBe(1);

    expect((await httpRequest(port, '/upstream/stop', 'POST')).status).toBe(200);
    await until(pool, 'reset', () => pool.stats().connected === 0);
    const during = await httpRequest(port, '/ping');
    expect(during.status).toBe(503);
    expect(during.json().message).toContain('ERR_NO_CONNECTION');
    expect((await httpRequest(port, '/health')).status).toBe(503);

    expect((await httpRequest(port, '/upstream/start', 'POST')).status).toBe(200);
    await until(pool, 'reconnect', () => pool.stats().connected === 2);
    expect((await httpRequest(port, '/ping')).json()).toEqual({ reply: 'PONG' });
    expect((await httpRequest(port, '/counter/outage', 'POST')).json().value).toBe(2);
    expect((await httpRequest(port, '/health')).status).toBe(200);
    expect((await httpRequest(port, '/stats')).json()).toMatchObject({ connected: 2, resetsSeen: 2 });
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
