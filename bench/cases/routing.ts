import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import * as net from 'node:net';
import { once } from 'node:events';
import { ConnmanModule, OnData } from '../../lib/index.js';
import { performance } from 'node:perf_hooks';
import { result, sample, type BenchFlags, type CaseResult } from '../harness.js';
import { BenchServer, HOST } from '../net.js';

const CHUNK = Buffer.alloc(16 * 1024, 'd');

/** A feed server: on any byte from the client, it streams `n` chunks as fast as the socket drains. */
function feedServer(): Promise<BenchServer> {
  return new BenchServer((socket) => {
    socket.on('data', (request) => {
      let left = request.readUInt32BE(0);
      const pump = (): void => {
        while (left > 0) {
          left--;
          if (!socket.write(CHUNK)) {
            socket.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
  }).listen();
}

/** Bytes received per connection, counted where the data ends up. */
class Counter {
  bytes = 0;
  target = 0;
  done: (() => void) | undefined;
  add(length: number): void {
    this.bytes += length;
    if (this.bytes >= this.target && this.done) {
      const done = this.done;
      this.done = undefined;
      done();
    }
  }
  expect(bytes: number): Promise<void> {
    this.bytes = 0;
    this.target = bytes;
    return new Promise((resolve) => (this.done = resolve));
  }
}

const viaDecorator = new Counter();

@Injectable()
class FeedHandler {
  @OnData('feed')
  onData(chunk: Buffer): void {
    viaDecorator.add(chunk.length);
  }
}

/**
 * Case 5: a stream of 16 KiB chunks delivered through a Nest `@OnData`
 * handler (pool connection, explorer-bound handler) vs a direct 'data'
 * listener on a plain socket, from the same in-process feed server.
 */
export async function routing(flags: BenchFlags): Promise<CaseResult> {
  const server = await feedServer();
  const chunks = flags.quick ? 10_000 : 40_000;
  const rounds = flags.quick ? 5 : 15;
  const request = Buffer.alloc(4);
  request.writeUInt32BE(chunks);

  @Module({
    imports: [ConnmanModule.forRoot({ pools: [{ name: 'feed', host: HOST, port: server.port, min: 1, max: 1 }] })],
    providers: [FeedHandler],
  })
  class FeedModule {}
  const app = await NestFactory.createApplicationContext(FeedModule, { logger: false });
  const { Connman } = await import('../../lib/index.js');
  const feed = app.get(Connman).getPool('feed').connections[0].socket!;

  const direct = new Counter();
  const socket = net.connect({ port: server.port, host: HOST, noDelay: true });
  await once(socket, 'connect');
  socket.on('data', (chunk: Buffer) => direct.add(chunk.length));

  const bytes = chunks * CHUNK.length;
  const mb = bytes / (1024 * 1024);
  const streamTo = async (counter: Counter, target: net.Socket): Promise<number> => {
    const done = counter.expect(bytes);
    const start = performance.now();
    target.write(request);
    await done;
    return mb / ((performance.now() - start) / 1000);
  };
  // Warm both paths up, then alternate them round by round so that drift hits both alike.
  for (let i = 0; i < 2; i++) {
    await streamTo(direct, socket);
    await streamTo(viaDecorator, feed as net.Socket);
  }
  const directValues: number[] = [];
  const ourValues: number[] = [];
  for (let i = 0; i < rounds; i++) {
    directValues.push(await streamTo(direct, socket));
    ourValues.push(await streamTo(viaDecorator, feed as net.Socket));
  }
  const directSample = sample(directValues);
  const oursSample = sample(ourValues);
  // Dispatch cost alone: a 'data' event emitted straight on each socket, no I/O.
  const small = Buffer.alloc(64);
  const dispatch = (target: net.Socket, counter: Counter): number => {
    const n = 1_000_000;
    counter.target = Number.MAX_SAFE_INTEGER;
    for (let i = 0; i < 100_000; i++) target.emit('data', small);
    const start = performance.now();
    for (let i = 0; i < n; i++) target.emit('data', small);
    return ((performance.now() - start) * 1e6) / n;
  };
  const directNs = dispatch(socket, direct);
  const oursNs = dispatch(feed as net.Socket, viaDecorator);
  socket.destroy();
  await app.close();
  await server.stop();
  return result(
    'routing',
    'MiB/s',
    'higher',
    oursSample,
    { 'direct socket listener': directSample },
    [
      `${chunks} chunks of 16 KiB per round streamed over loopback; ours goes socket -> PersistentConnection -> @OnData method`,
      `dispatch alone (a 'data' event emitted on the socket, no I/O): ours ${oursNs.toFixed(0)} ns per chunk, direct listener ${directNs.toFixed(0)} ns`,
    ],
    { 'direct socket listener': 0.9 },
  );
}
