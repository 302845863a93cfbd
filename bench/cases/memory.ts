import * as genericPool from 'generic-pool';
import type { Socket } from 'node:net';
import { Pool as TarnPool } from 'tarn';
import { ConnectionPool, lines } from '../../lib/index.js';
import { result, sample, single, tick, type BenchFlags, type CaseResult } from '../harness.js';
import { HOST, connectSocket, echoServer } from '../net.js';

const BUDGET = 2048;

function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc (npm run bench does)');
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed;
}

/** Waits (bounded) until `done()` holds, checking every few milliseconds. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`memory: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Case 7: heap per idle pooled connection beyond the socket itself: heap with
 * N idle pooled connections minus heap with N plain connected sockets, per
 * connection (the server's side of each connection is the same in both);
 * then the same for a pool with `framing: lines()` (a decoder per connection).
 * Each figure is the median of a few rounds, the implementations in turn;
 * every round starts once the previous one's sockets are all closed, on both
 * sides (the server runs in the same process).
 */
export async function memory(flags: BenchFlags): Promise<CaseResult[]> {
  const n = flags.quick ? 500 : 1000;
  const rounds = 3;
  const server = await echoServer();

  const measure = async (open: () => Promise<() => Promise<void>>): Promise<number> => {
    await until(() => server.sockets.size === 0, 'the previous sockets to close');
    await tick();
    const before = heapAfterGc();
    const close = await open();
    await until(() => server.sockets.size === n, 'the server to accept every connection');
    await tick();
    const after = heapAfterGc();
    await close();
    return (after - before) / n;
  };

  const rawSockets = async () => {
    const sockets: Socket[] = [];
    for (let i = 0; i < n; i += 50)
      sockets.push(
        ...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => connectSocket(server.port)))),
      );
    return async () => {
      for (const s of sockets) s.destroy();
    };
  };
  const ourPool = (framed: boolean) => async () => {
    const pool = new ConnectionPool({
      name: 'mem',
      host: HOST,
      port: server.port,
      min: n,
      max: n,
      maxConcurrentCreates: 50,
      openTimeoutMillis: 60_000,
      ...(framed ? { framing: lines() } : {}),
    });
    await pool.open();
    return () => pool.close({ timeoutMillis: 0 });
  };
  const genericOpen = async () => {
    const pool = genericPool.createPool<Socket>(
      { create: () => connectSocket(server.port), destroy: async (s) => void s.destroy() },
      { min: n, max: n },
    );
    await pool.ready();
    return async () => {
      await pool.drain();
      await pool.clear();
    };
  };
  const tarnOpen = async () => {
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
  };
  const opens: Record<string, () => Promise<() => Promise<void>>> = {
    raw: rawSockets,
    ours: ourPool(false),
    'ours lines()': ourPool(true),
    'generic-pool': genericOpen,
    tarn: tarnOpen,
  };
  const names = Object.keys(opens);
  const values: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  await measure(rawSockets); // warm-up: lazily built state of net and of the heap itself
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + r) % names.length];
      values[name].push(await measure(opens[name]));
    }
  }
  await until(() => server.sockets.size === 0, 'the last sockets to close');
  await server.stop();
  const median = (name: string) => sample(values[name]).median;
  const rawPerSocket = median('raw');
  const ours = median('ours');
  const oursFramed = median('ours lines()');
  const generic = median('generic-pool');
  const tarn = median('tarn');
  const beyond = (v: number) => single(Math.max(0, v - rawPerSocket));
  // The 2 KiB budget as a peer, so that its ratio reads like the others (at least 1x: within budget).
  const peers = { 'generic-pool': beyond(generic), tarn: beyond(tarn), 'budget (2 KiB)': single(BUDGET) };
  const targets = { 'budget (2 KiB)': 1 };
  return [
    result(
      'memory',
      'heap bytes per idle connection beyond the socket',
      'lower',
      beyond(ours),
      peers,
      [
        `${n} connections, median of ${rounds} rounds; a plain connected socket costs ${Math.round(rawPerSocket)} bytes of heap here (subtracted; rounds: ${values.raw.map(Math.round).join(', ')}); ours per round: ${values.ours.map((v) => Math.round(v - rawPerSocket)).join(', ')}; target: under 2 KiB`,
      ],
      targets,
    ),
    result(
      'memory (framing: lines())',
      'heap bytes per idle connection beyond the socket',
      'lower',
      beyond(oursFramed),
      peers,
      [
        `the same pool with framing: lines(): each connection holds its own decoder (created when its socket connects); per round: ${values['ours lines()'].map((v) => Math.round(v - rawPerSocket)).join(', ')}; target: under 2 KiB`,
      ],
      targets,
    ),
  ];
}
