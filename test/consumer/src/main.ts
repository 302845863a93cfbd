// Boots the two apps against the harness's upstream, lets the harness check /health, closes
// them when asked, and then checks that nothing is left: the process must exit by itself.
import 'reflect-metadata';
import type { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { AlphaHandlers, BetaHandlers } from './handlers.js';
import { AsyncApp, RootApp } from './app.modules.js';
import { Probe, ShutdownSignal } from './probe.js';

function report(message: Record<string, unknown>): void {
  console.log(`@@consumer ${JSON.stringify(message)}`);
}

async function run(name: string, module: Type<unknown>, handlers: Type<AlphaHandlers | BetaHandlers>): Promise<void> {
  const app: INestApplication = await NestFactory.create(module, { logger: ['error', 'warn'] });
  await app.listen(0, '127.0.0.1'); // pools open on bootstrap: min connections are up now
  const probe = app.get(Probe);
  await probe.waitFor(`connect:${name}`);
  await probe.waitFor(`data:${name}`); // the upstream's greeting, routed by @OnData

  // Ask the upstream to drop the connection: @OnReset runs, then its resume function once the
  // connection is back (instead of @OnConnect), and the new greeting reaches @OnData.
  const { pool } = app.get(handlers);
  await pool.use((socket) => {
    socket.write('bye\n');
  });
  await probe.waitFor(`reset:${name}`);
  await probe.waitFor(`resume:${name}`);
  await probe.waitFor(`data:${name}`, 2);
  if (probe.count(`connect:${name}`) !== 1)
    throw new Error(`@OnConnect ran again although a resume function was returned`);

  const { port } = app.getHttpServer().address() as AddressInfo;
  report({ type: 'ready', app: name, port });
  await app.get(ShutdownSignal).requested;
  await app.close();
  report({ type: 'closed', app: name });
}

/** Lets close callbacks already queued run (setImmediate rounds, no timer). */
async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

async function main(): Promise<void> {
  await Promise.all([run('alpha', RootApp, AlphaHandlers), run('beta', AsyncApp, BetaHandlers)]);
  await settle();
  const resources = process.getActiveResourcesInfo();
  report({ type: 'resources', resources });
  // Sockets, servers and timers keep a process alive; none may be left after app.close().
  const left = resources.filter((type) => /TCP|Timeout|Immediate|Pipe(Server|Connect)Wrap|UDP/.test(type));
  if (left.length > 0) {
    console.error(`left after app.close(): ${left.join(', ')}`);
    process.exit(1); // they would keep the process alive: fail now rather than at the harness's deadline
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
