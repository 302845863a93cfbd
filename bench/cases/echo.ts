import * as genericPool from 'generic-pool';
import Jackpot from 'jackpot';
import type { Socket } from 'node:net';
import * as net from 'node:net';
import { Pool as TarnPool } from 'tarn';
import { ConnectionPool, fixedLength } from '../../lib/index.js';
import { compare, cpuNote, result, type BenchFlags, type CaseResult, type Sample } from '../harness.js';
import { ExclusiveReader, HOST, PipelinedReader, connectSocket, echoServer } from '../net.js';

const CONNECTIONS = 16;
const CALLERS = 64;
const MESSAGE = Buffer.alloc(64, 'x');

/** 64 callers, each doing `perCaller` requests one after the other. */
function callers(perCaller: number, request: () => Promise<unknown>): () => Promise<void> {
  return async () => {
    await Promise.all(
      Array.from({ length: CALLERS }, async () => {
        for (let i = 0; i < perCaller; i++) await request();
      }),
    );
  };
}

function sizes(flags: BenchFlags) {
  const perCaller = flags.quick ? 150 : 1500;
  return {
    perCaller,
    total: CALLERS * perCaller,
    rounds: flags.quick ? 3 : 7,
    warmup: flags.quick ? 1 : 2,
  };
}

const CPU_NOTE =
  "CPU time per request (the process's, the in-process server's share included; steadier than requests/s on a busy machine)";

/**
 * Case 4: request/response of 64-byte messages against an in-process echo
 * server, 64 concurrent callers over 16 connections, a lease per request for
 * ours, generic-pool and tarn, against raw sockets with no pool (16 loops, one
 * request in flight per socket: the same concurrency on the wire).
 */
export async function echo(flags: BenchFlags): Promise<CaseResult> {
  const server = await echoServer();
  const { perCaller, total, rounds, warmup } = sizes(flags);

  const ours = new ConnectionPool({ name: 'echo', host: HOST, port: server.port, min: CONNECTIONS, max: CONNECTIONS });
  await ours.open();
  const generic = genericPool.createPool<Socket>(
    { create: () => connectSocket(server.port), destroy: async (s) => void s.destroy() },
    { min: CONNECTIONS, max: CONNECTIONS },
  );
  await generic.ready();
  const tarn = new TarnPool<Socket>({
    create: () => connectSocket(server.port),
    destroy: (s) => void s.destroy(),
    min: CONNECTIONS,
    max: CONNECTIONS,
  });
  const raw = await Promise.all(Array.from({ length: CONNECTIONS }, () => connectSocket(server.port)));

  const perSocket = total / CONNECTIONS;
  const cpu: Record<string, Sample> = {};
  const results = await compare(
    {
      'raw sockets': async () => {
        await Promise.all(
          raw.map(async (socket) => {
            for (let i = 0; i < perSocket; i++) await ExclusiveReader.roundTrip(socket, MESSAGE);
          }),
        );
      },
      ours: callers(perCaller, async () => {
        const lease = await ours.acquire();
        await ExclusiveReader.roundTrip(lease.socket as Socket, MESSAGE);
        lease.release();
      }),
      'generic-pool': callers(perCaller, async () => {
        const socket = await generic.acquire();
        await ExclusiveReader.roundTrip(socket, MESSAGE);
        void generic.release(socket);
      }),
      tarn: callers(perCaller, async () => {
        const socket = await tarn.acquire().promise;
        await ExclusiveReader.roundTrip(socket, MESSAGE);
        tarn.release(socket);
      }),
    },
    total,
    rounds,
    warmup,
    cpu,
  );
  const { ours: oursSample, ...peers } = results;

  await ours.close({ timeoutMillis: 0 });
  await generic.drain();
  await generic.clear();
  await tarn.destroy();
  for (const socket of raw) socket.destroy();
  await server.stop();
  return result(
    'echo',
    'requests/s',
    'higher',
    oursSample,
    peers,
    [
      `64-byte request/response, ${CALLERS} callers over ${CONNECTIONS} connections, a lease per request; the server runs in the same process`,
      `${CPU_NOTE}: ${cpuNote(cpu)}`,
    ],
    { 'raw sockets': 0.9, 'generic-pool': 1, tarn: 1 },
  );
}

/**
 * Case 4b: the same traffic pipelined on shared connections: ours `pick()`
 * and its socket, `pool.request()` and `pick().request()`, against jackpot
 * `pull()` and raw sockets with the callers spread over them.
 */
export async function echoShared(flags: BenchFlags): Promise<CaseResult[]> {
  const server = await echoServer();
  const { perCaller, total, rounds, warmup } = sizes(flags);

  const ours = new ConnectionPool({ name: 'echo', host: HOST, port: server.port, min: CONNECTIONS, max: CONNECTIONS });
  await ours.open();
  // The same pool with framing, for request(): a reply is one 64-byte frame.
  const framed = new ConnectionPool({
    name: 'echo-request',
    host: HOST,
    port: server.port,
    min: CONNECTIONS,
    max: CONNECTIONS,
    framing: fixedLength(MESSAGE.length),
  });
  await framed.open();
  const rawShared = await Promise.all(Array.from({ length: CONNECTIONS }, () => connectSocket(server.port)));
  const rawOne = await connectSocket(server.port);
  const jackpot = new Jackpot(CONNECTIONS, () => net.connect({ port: server.port, host: HOST, noDelay: true }));
  const pull = () => new Promise<Socket>((resolve, reject) => jackpot.pull((e, c) => (e ? reject(e) : resolve(c))));

  let next = 0;
  const cpu: Record<string, Sample> = {};
  const results = await compare(
    {
      'raw sockets': callers(perCaller, () => PipelinedReader.request(rawShared[next++ % CONNECTIONS], MESSAGE)),
      'raw, one socket': callers(perCaller, () => PipelinedReader.request(rawOne, MESSAGE)),
      pick: callers(perCaller, () => PipelinedReader.request(ours.pick().socket as Socket, MESSAGE)),
      request: callers(perCaller, () => framed.request(MESSAGE)),
      'pick + request': callers(perCaller, () => framed.pick().request(MESSAGE)),
      jackpot: callers(perCaller, async () => {
        const socket = await pull();
        await PipelinedReader.request(socket, MESSAGE);
      }),
    },
    total,
    rounds,
    warmup,
    cpu,
  );
  // Where jackpot's pull() sends the traffic, counted apart from the measured rounds.
  const jackpotUse = new Map<Socket, number>();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      for (let i = 0; i < 50; i++) {
        const socket = await pull();
        jackpotUse.set(socket, (jackpotUse.get(socket) ?? 0) + 1);
        await PipelinedReader.request(socket, MESSAGE);
      }
    }),
  );
  const busiest = Math.max(...jackpotUse.values());
  const jackpotNote = `jackpot pull() sent ${((busiest / (CALLERS * 50)) * 100).toFixed(0)}% of the requests to one socket of its ${jackpot.pool.length}: it hands out the last socket whose write queue is empty, and a loopback socket's queue is nearly always empty, so all traffic is pipelined on one socket (raw sockets with everything on one socket: ${Math.round(results['raw, one socket'].median).toLocaleString('en-US')}/s); it neither leases nor matches replies`;
  const peers = { 'raw sockets': results['raw sockets'], jackpot: results.jackpot };

  await ours.close({ timeoutMillis: 0 });
  await framed.close({ timeoutMillis: 0 });
  for (const socket of [...rawShared, rawOne, ...jackpot.pool]) socket.destroy();
  await server.stop();
  return [
    result('echo-shared', 'requests/s', 'higher', results.pick, peers, [
      `${MESSAGE.length}-byte request/response pipelined on ${CONNECTIONS} shared connections by ${CALLERS} callers: ours pick() (round-robin) and its socket, jackpot pull(), raw sockets chosen round-robin; replies counted per socket, in order`,
      jackpotNote,
      `${CPU_NOTE}: ${cpuNote(cpu)}`,
    ]),
    result(
      'echo-shared (request)',
      'requests/s',
      'higher',
      results.request,
      peers,
      [
        'ours pool.request() with framing fixedLength(64): the connection with the fewest unanswered requests, its writes corked and sent together, each reply matched to its request, a deadline per request',
      ],
      { jackpot: 1 },
    ),
    result(
      'echo-shared (pick + request)',
      'requests/s',
      'higher',
      results['pick + request'],
      peers,
      ['ours pick().request(): a connection round-robin, then its request() (replies matched, a deadline per request)'],
      { jackpot: 1 },
    ),
  ];
}
