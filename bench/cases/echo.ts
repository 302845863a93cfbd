import * as genericPool from 'generic-pool';
import Jackpot from 'jackpot';
import type { Socket } from 'node:net';
import * as net from 'node:net';
import { Pool as TarnPool } from 'tarn';
import { ConnectionPool } from '../../lib/index.js';
import { compare, result, type BenchFlags, type CaseResult } from '../harness.js';
import { ExclusiveReader, HOST, PipelinedReader, connectSocket, echoServer } from '../net.js';

const CONNECTIONS = 16;
const CALLERS = 64;
const MESSAGE = Buffer.alloc(64, 'x');

/**
 * Case 4: request/response of 64-byte messages against an in-process echo
 * server, 64 concurrent callers over 16 connections. Exclusive use (a lease
 * per request) for ours, generic-pool and tarn, against raw sockets with no
 * pool (16 loops, one request in flight per socket: the same concurrency on
 * the wire). Shared, pipelined use (ours `pick()`, jackpot `pull()`) against
 * raw sockets with the callers spread over them.
 */
export async function echo(flags: BenchFlags): Promise<CaseResult[]> {
  const server = await echoServer();
  const perCaller = flags.quick ? 150 : 1500;
  const total = CALLERS * perCaller;
  const rounds = flags.quick ? 3 : 7;
  const warmup = flags.quick ? 1 : 2;

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
  const rawShared = await Promise.all(Array.from({ length: CONNECTIONS }, () => connectSocket(server.port)));
  const jackpot = new Jackpot(CONNECTIONS, () => net.connect({ port: server.port, host: HOST, noDelay: true }));

  const callers = (request: () => Promise<void>) => async () => {
    await Promise.all(
      Array.from({ length: CALLERS }, async () => {
        for (let i = 0; i < perCaller; i++) await request();
      }),
    );
  };

  const perSocket = total / CONNECTIONS;
  const exclusiveResults = await compare(
    {
      'raw sockets': async () => {
        await Promise.all(
          raw.map(async (socket) => {
            for (let i = 0; i < perSocket; i++) await ExclusiveReader.roundTrip(socket, MESSAGE);
          }),
        );
      },
      ours: callers(async () => {
        const lease = await ours.acquire();
        await ExclusiveReader.roundTrip(lease.socket as Socket, MESSAGE);
        lease.release();
      }),
      'generic-pool': callers(async () => {
        const socket = await generic.acquire();
        await ExclusiveReader.roundTrip(socket, MESSAGE);
        void generic.release(socket);
      }),
      tarn: callers(async () => {
        const socket = await tarn.acquire().promise;
        await ExclusiveReader.roundTrip(socket, MESSAGE);
        tarn.release(socket);
      }),
    },
    total,
    rounds,
    warmup,
  );
  let next = 0;
  const sharedResults = await compare(
    {
      'raw sockets': callers(() => PipelinedReader.request(rawShared[next++ % CONNECTIONS], MESSAGE)),
      ours: callers(() => PipelinedReader.request(ours.pick().socket as Socket, MESSAGE)),
      jackpot: callers(async () => {
        const socket = await new Promise<Socket>((resolve, reject) =>
          jackpot.pull((e, c) => (e ? reject(e) : resolve(c))),
        );
        await PipelinedReader.request(socket, MESSAGE);
      }),
    },
    total,
    rounds,
    warmup,
  );
  const { ours: oursExclusive, ...exclusive } = exclusiveResults;
  const { ours: oursShared, ...shared } = sharedResults;

  await ours.close({ timeoutMillis: 0 });
  await generic.drain();
  await generic.clear();
  await tarn.destroy();
  for (const socket of [...raw, ...rawShared, ...jackpot.pool]) socket.destroy();
  await server.stop();
  return [
    result('echo', 'requests/s', 'higher', oursExclusive, exclusive, [
      `64-byte request/response, ${CALLERS} callers over ${CONNECTIONS} connections, a lease per request; the server runs in the same process`,
    ]),
    result('echo-shared', 'requests/s', 'higher', oursShared, shared, [
      `the same traffic pipelined on shared connections: ours pick(), jackpot pull(), raw sockets chosen round-robin`,
    ]),
  ];
}
