import { ConnectionPool, lines } from '../../lib/index.js';
import { compare, cpuNote, result, type BenchFlags, type CaseResult, type Sample } from '../harness.js';
import { HOST, RawLineClient, connectSocket, lineEchoServer } from '../net.js';

const CONNECTIONS = 4;
const CALLERS = 64;
const LINE = Buffer.from(`${'k'.repeat(31)}\n`);

/**
 * Pipelined requests of a line protocol: `pool.request()` with `lines()`
 * framing, 64 callers over 4 connections to an in-process line-echo server,
 * against a hand-written pipelined client over 4 plain sockets to the same
 * server (see `RawLineClient`: a FIFO of callbacks per socket, a line
 * splitter, a write per request; sockets chosen round-robin).
 */
export async function pipeline(flags: BenchFlags): Promise<CaseResult> {
  const server = await lineEchoServer();
  const perCaller = flags.quick ? 300 : 3000;
  const total = CALLERS * perCaller;
  const rounds = flags.quick ? 3 : 7;
  const warmup = flags.quick ? 1 : 2;

  const pool = new ConnectionPool({
    name: 'pipeline',
    host: HOST,
    port: server.port,
    min: CONNECTIONS,
    max: CONNECTIONS,
    framing: lines(),
  });
  await pool.open();
  const clients = async (corkTicks: boolean): Promise<RawLineClient[]> =>
    (await Promise.all(Array.from({ length: CONNECTIONS }, () => connectSocket(server.port)))).map(
      (socket) => new RawLineClient(socket, corkTicks),
    );
  const raw = await clients(false);
  const corked = await clients(true);
  let next = 0;
  const rawRequest = (line: Buffer): Promise<Buffer> => raw[next++ % CONNECTIONS].request(line);
  // Like ours: the socket with the fewest unanswered requests, so that one tick's requests stay together.
  const corkedRequest = (line: Buffer): Promise<Buffer> => {
    let best = corked[0];
    for (let i = 1; i < CONNECTIONS; i++) if (corked[i].pending < best.pending) best = corked[i];
    return best.request(line);
  };

  // Both answer every request with its own line, in order (a broken client would not).
  for (const send of [(line: Buffer) => pool.request(line), rawRequest, corkedRequest]) {
    const sent = Array.from({ length: 512 }, (_, i) => `check-${i}`);
    const replies = await Promise.all(sent.map((s) => send(Buffer.from(`${s}\n`))));
    const wrong = replies.findIndex((reply, i) => reply.toString() !== sent[i]);
    if (wrong >= 0) throw new Error(`pipeline: reply ${wrong} does not match its request`);
  }

  const cpu: Record<string, Sample> = {};
  const samples = await compare(
    {
      ours: () =>
        Promise.all(
          Array.from({ length: CALLERS }, async () => {
            for (let i = 0; i < perCaller; i++) await pool.request(LINE);
          }),
        ).then(() => undefined),
      'raw pipelined client': () =>
        Promise.all(
          Array.from({ length: CALLERS }, async () => {
            for (let i = 0; i < perCaller; i++) await rawRequest(LINE);
          }),
        ).then(() => undefined),
      'raw, corked per tick': () =>
        Promise.all(
          Array.from({ length: CALLERS }, async () => {
            for (let i = 0; i < perCaller; i++) await corkedRequest(LINE);
          }),
        ).then(() => undefined),
    },
    total,
    rounds,
    warmup,
    cpu,
  );
  await pool.close({ timeoutMillis: 0 });
  for (const client of [...raw, ...corked]) client.socket.destroy();
  await server.stop();
  const { ours, ...peers } = samples;
  return result(
    'pipeline',
    'requests/s',
    'higher',
    ours,
    peers,
    [
      `${LINE.length}-byte lines, ${CALLERS} callers over ${CONNECTIONS} connections, each caller awaiting its reply before the next request; the line-echo server runs in the same process and answers each read with one write`,
      'ours: pool.request() with framing lines() (the connection with the fewest unanswered requests; its writes corked and sent together); requestTimeoutMillis default',
      'raw pipelined client: per socket a FIFO of resolve functions and a line splitter, one socket.write() per request, sockets round-robin; no timeouts, no abort, no reconnection, no pushes, no line-length limit',
      `CPU time per request (the process's, the in-process server's share included; steadier than requests/s on a busy machine): ${cpuNote(cpu)}`,
      'raw, corked per tick: the same client, its writes of one tick on a socket gathered into one system call, and the socket with the fewest unanswered requests, as ours does (no target: it shows what the protocol layer costs beyond the I/O)',
    ],
    { 'raw pipelined client': 0.9 },
  );
}
