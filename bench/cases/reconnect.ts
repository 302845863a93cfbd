import connman from 'connman';
import { performance } from 'node:perf_hooks';
import { ConnectionPool } from '../../lib/index.js';
import { result, single, type BenchFlags, type CaseResult } from '../harness.js';
import { BenchServer, HOST } from '../net.js';

const CONNECTIONS = 4;

/**
 * Case 6: the peer is down for a while; connect attempts made meanwhile, and
 * time from the peer's return until every connection is up again. Ours with
 * its default backoff (floor 100 ms, factor 2, cap 10 s, full jitter) vs
 * connman 2.0.1 (10 ms doubling, no jitter, cap 128 s).
 */
export async function reconnect(flags: BenchFlags): Promise<CaseResult[]> {
  const downMillis = flags.quick ? 2000 : 10_000;
  const server = await new BenchServer(() => undefined).listen();

  // Ours.
  const pool = new ConnectionPool({
    name: 'reconnect',
    host: HOST,
    port: server.port,
    min: CONNECTIONS,
    max: CONNECTIONS,
  });
  await pool.open();
  let ourAttempts = 0;
  pool.on('createError', () => ourAttempts++);
  // connman: counts every close (each failed attempt closes the socket) and every reconnect.
  let connmanAttempts = 0;
  let connmanUp = CONNECTIONS;
  let onConnmanUp: (() => void) | undefined;
  const cmPool = connman.createPool(`bench-${process.pid}`, () => ({
    onConnect: () => undefined,
    onData: () => undefined,
    onReset: () => {
      connmanAttempts++;
      connmanUp = Math.max(0, connmanUp - 1);
    },
    onReconnect: () => {
      connmanUp++;
      if (connmanUp === CONNECTIONS) onConnmanUp?.();
    },
  }));
  for (let i = 0; i < CONNECTIONS; i++) cmPool.addConnection(server.port, HOST);
  while (server.sockets.size < CONNECTIONS * 2) await new Promise((resolve) => setTimeout(resolve, 10));

  await server.stop();
  const wentDown = performance.now();
  await new Promise((resolve) => setTimeout(resolve, downMillis));
  // Each lost connection counted one close that was not a failed attempt.
  const ourDuringDown = ourAttempts;
  const connmanDuringDown = Math.max(0, connmanAttempts - CONNECTIONS);
  const back = performance.now();
  await server.listen();
  const oursUp = new Promise<number>((resolve) => {
    const check = (): void => {
      if (pool.stats().connected === CONNECTIONS) resolve(performance.now() - back);
      else pool.once('reconnect', check);
    };
    check();
  });
  const connmanBack = new Promise<number>((resolve) => {
    onConnmanUp = () => resolve(performance.now() - back);
  });
  const [oursRecovery, connmanRecovery] = await Promise.all([oursUp, connmanBack]);
  await pool.close();
  cmPool.disconnect();
  await server.stop();

  const schedule = expectedAttempts(downMillis);
  return [
    result(
      `reconnect-attempts (peer down ${downMillis / 1000} s, ${CONNECTIONS} connections)`,
      'attempts while down',
      'lower',
      single(ourDuringDown),
      { 'connman 2.0.1': single(connmanDuringDown) },
      [
        `our schedule allows at most ${CONNECTIONS * Math.floor(downMillis / 100)} attempts (every delay at the 100 ms floor); with full jitter about ${CONNECTIONS * schedule} are expected (${schedule} per connection); measured over ${((back - wentDown) / 1000).toFixed(1)} s`,
      ],
    ),
    result(
      'reconnect-recovery',
      'ms until all connections are back',
      'lower',
      single(oursRecovery),
      { 'connman 2.0.1': single(connmanRecovery) },
      [
        'target: within the backoff cap (10 s) + 100 ms; the bound is the delay each connection is waiting out when the peer returns',
      ],
    ),
  ];
}

/** Attempts expected per connection in `millis` with the default schedule and mean jitter. */
function expectedAttempts(millis: number): number {
  let elapsed = 0;
  let n = 0;
  while (true) {
    const ceiling = Math.min(10_000, 100 * 2 ** (n + 1));
    elapsed += (100 + ceiling) / 2;
    if (elapsed > millis) return n;
    n++;
  }
}
