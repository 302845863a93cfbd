import * as genericPool from 'generic-pool';
import type { Socket } from 'node:net';
import { Pool as TarnPool } from 'tarn';
import { ConnectionPool } from '../../lib/index.js';
import { result, single, tick, type BenchFlags, type CaseResult } from '../harness.js';
import { HOST, connectSocket, echoServer } from '../net.js';

function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc (npm run bench does)');
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed;
}

/**
 * Case 7: heap per idle pooled connection beyond the socket itself: heap with
 * N idle pooled connections minus heap with N plain connected sockets, per
 * connection (the server's side of each connection is the same in both).
 */
export async function memory(flags: BenchFlags): Promise<CaseResult> {
  const n = flags.quick ? 200 : 1000;
  const server = await echoServer();

  const measure = async (open: () => Promise<() => Promise<void>>): Promise<number> => {
    await tick();
    const before = heapAfterGc();
    const close = await open();
    await tick();
    const after = heapAfterGc();
    await close();
    await tick();
    return (after - before) / n;
  };

  const rawPerSocket = await measure(async () => {
    const sockets: Socket[] = [];
    for (let i = 0; i < n; i += 50)
      sockets.push(
        ...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => connectSocket(server.port)))),
      );
    return async () => {
      for (const s of sockets) s.destroy();
    };
  });
  const ours = await measure(async () => {
    const pool = new ConnectionPool({
      name: 'mem',
      host: HOST,
      port: server.port,
      min: n,
      max: n,
      maxConcurrentCreates: 50,
      openTimeoutMillis: 60_000,
    });
    await pool.open();
    return () => pool.close({ timeoutMillis: 0 });
  });
  const generic = await measure(async () => {
    const pool = genericPool.createPool<Socket>(
      { create: () => connectSocket(server.port), destroy: async (s) => void s.destroy() },
      { min: n, max: n },
    );
    await pool.ready();
    return async () => {
      await pool.drain();
      await pool.clear();
    };
  });
  const tarn = await measure(async () => {
    const pool = new TarnPool<Socket>({
      create: () => connectSocket(server.port),
      destroy: (s) => void s.destroy(),
      min: 0,
      max: n,
      createTimeoutMillis: 60_000,
    });
    const held = await Promise.all(Array.from({ length: n }, () => pool.acquire().promise));
    for (const s of held) pool.release(s);
    return async () => void (await pool.destroy());
  });
  await server.stop();
  const beyond = (v: number) => single(Math.max(0, v - rawPerSocket));
  return result(
    'memory',
    'heap bytes per idle connection beyond the socket',
    'lower',
    beyond(ours),
    { 'generic-pool': beyond(generic), tarn: beyond(tarn) },
    [
      `${n} connections; a plain connected socket costs ${Math.round(rawPerSocket)} bytes of heap here (subtracted); target: under 2 KiB`,
    ],
  );
}
