// The soak: `npm run soak [-- --seconds N] [--seed S] [--faults a,b] [--raw-on-framed]`.
//
// --seconds N       how long the load runs (default 60, 1 to 3600); the whole run adds a few seconds
//                   of warm-up and settling, never more than the deadlines allow.
// --seed S          the seed of every random choice (printed; pass it back to repeat a schedule).
// --faults a,b      the faults to draw from: reset, stall, slice, delay, truncate, down, restart, flap
//                   (default all).
// --raw-on-framed   also borrow from the framed pool and read raw bytes from its leases.
//
// For a bounded time (60 s by default, at most an hour), on loopback only, many
// borrowers and pipelined requesters work against an in-process line-echo peer
// behind a FaultProxy, while a seeded schedule resets, stalls, slices, delays,
// truncates and takes down the proxy, and restarts the peer. Every operation
// is tracked with its deadline; the run fails (exit code 1) on any operation
// hanging past its deadline, any error that is not a ConnmanError with a known
// code, any reply given to the wrong caller, a pool that does not end clean,
// a connect storm, or heap growth beyond the stated bound.
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import {
  ConnectionPool,
  ConnmanError,
  lines,
  type ConnmanErrorCode,
  type ConnmanSocket,
  type Lease,
  type PoolStats,
} from '../lib/core/index.js';
import { FaultProxy } from '../lib/testing/index.js';
import { EchoPeer } from './peer.js';
import { Counts, Durations, resourceSet, seeded } from './tally.js';

// ---- settings ---------------------------------------------------------------------------

const MAX_SECONDS = 3600;
/** Extra time an operation gets past its own deadline before it counts as hanging. */
const GRACE_MILLIS = 1000;
/**
 * Heap growth allowed between the start (after a warm-up) and the end (after
 * close and a forced GC): 16 MiB. The soak keeps bounded state (counters and
 * fixed-size latency samples), and the library's steady state is a few
 * connections, so what grows with the number of operations is a leak. A 60 s
 * run does millions of operations (2 to 4 million on this project's machine),
 * so a leak of 8 bytes per operation would cross the bound; a 20 s run, one
 * of about 25 bytes. Measured growth of 60 s runs: 1.3 to 1.5 MiB (V8's own
 * code and feedback, a heap not yet shrunk), well under it.
 */
const HEAP_BOUND_BYTES = 16 * 1024 * 1024;
/**
 * New connections accepted by the proxy in any one second: above this, the
 * pools are reconnecting in a storm instead of backing off. The pools have 10
 * connections in all and a backoff floor of 20 ms: at most 500 attempts per
 * second even if every connection failed at once, every time.
 */
const STORM_PER_SECOND = 500;

const KNOWN_CODES = [
  'ERR_ACQUIRE_TIMEOUT',
  'ERR_ACQUIRE_ABORTED',
  'ERR_POOL_CLOSED',
  'ERR_TOO_MANY_WAITERS',
  'ERR_NOT_LEASED',
  'ERR_NO_CONNECTION',
  'ERR_INVALID_OPTIONS',
  'ERR_UNKNOWN_POOL',
  'ERR_DUPLICATE_POOL',
  'ERR_CONNECT_TIMEOUT',
  'ERR_CONNECT_FAILED',
  'ERR_HANDSHAKE_FAILED',
  'ERR_CONNECTION_CLOSED',
  'ERR_READ_IDLE_TIMEOUT',
  'ERR_HEARTBEAT_TIMEOUT',
  'ERR_PROTOCOL',
  'ERR_VALIDATION_FAILED',
  'ERR_DISCONNECTED',
  'ERR_REQUEST_TIMEOUT',
  'ERR_REQUEST_ABORTED',
] as const satisfies readonly ConnmanErrorCode[];
// Every code of the library is listed (a new one fails the build until added here).
type Unlisted = Exclude<ConnmanErrorCode, (typeof KNOWN_CODES)[number]>;
const allListed: [Unlisted] extends [never] ? true : never = true;
void allListed;
/** Codes that would mean the soak itself misused the API. */
const MISUSE_CODES = new Set<string>([
  'ERR_INVALID_OPTIONS',
  'ERR_NOT_LEASED',
  'ERR_UNKNOWN_POOL',
  'ERR_DUPLICATE_POOL',
]);

interface Flags {
  seconds: number;
  seed: number;
  rawOnFramed: boolean;
  /** The faults to draw from (all by default). */
  faults: string[];
}

function parseFlags(argv: string[]): Flags {
  const flags: Flags = {
    seconds: 60,
    seed: Math.floor(Math.random() * 2 ** 31),
    rawOnFramed: false,
    faults: Object.keys(FAULTS),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): number => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n)) throw new Error(`${arg} needs an integer`);
      return n;
    };
    if (arg === '--seconds') flags.seconds = value();
    else if (arg === '--seed') flags.seed = value();
    else if (arg === '--raw-on-framed') flags.rawOnFramed = true;
    else if (arg === '--faults') {
      flags.faults = (argv[++i] ?? '').split(',').filter(Boolean);
      const unknown = flags.faults.filter((name) => !(name in FAULTS));
      if (unknown.length !== 0 || flags.faults.length === 0) {
        throw new Error(`--faults takes a comma-separated list of: ${Object.keys(FAULTS).join(', ')}`);
      }
    } else {
      throw new Error(
        `unknown flag ${arg}; flags: --seconds N (1..${MAX_SECONDS}), --seed S, --faults a,b,c, --raw-on-framed`,
      );
    }
  }
  if (flags.seconds < 1 || flags.seconds > MAX_SECONDS) throw new Error(`--seconds must be 1..${MAX_SECONDS}`);
  return flags;
}

// ---- bookkeeping ------------------------------------------------------------------------

interface Operation {
  kind: string;
  id: string;
  started: number;
  deadline: number;
  /** Already reported as hanging. */
  reported: boolean;
}

class Soak {
  readonly random: () => number;
  readonly failures: string[] = [];
  readonly inFlight = new Set<Operation>();
  readonly done = new Counts();
  readonly errors = new Counts();
  readonly socketErrors = new Counts();
  readonly faults = new Counts();
  readonly acquireWaits: Durations;
  readonly requestTimes: Durations;
  resets = 0;
  crossed = 0;
  maxAcceptsPerSecond = 0;
  /** The faults in force during the current second, and during the busiest second of connects. */
  currentFault: string | undefined = undefined;
  faultsThisSecond = new Set<string>();
  stormFaults = 'none';
  private sequence = 0;

  constructor(readonly flags: Flags) {
    this.random = seeded(flags.seed);
    this.acquireWaits = new Durations(seeded(flags.seed + 1));
    this.requestTimes = new Durations(seeded(flags.seed + 2));
  }

  fail(message: string): void {
    if (this.failures.length < 50) this.failures.push(message);
    else if (this.failures.length === 50) this.failures.push('(more failures not shown)');
  }

  /** A unique id, carried by a request and expected back in its reply. */
  nextId(prefix: string): string {
    return `${prefix}-${++this.sequence}-${Math.floor(this.random() * 1e9).toString(36)}`;
  }

  between(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  /** Tracks `promise` as an operation that must settle by `timeoutMillis` (plus the grace). */
  async track<T>(kind: string, id: string, timeoutMillis: number, promise: Promise<T>): Promise<T> {
    const started = performance.now();
    const op: Operation = { kind, id, started, deadline: started + timeoutMillis, reported: false };
    this.inFlight.add(op);
    try {
      return await promise;
    } finally {
      this.inFlight.delete(op);
      const overdue = performance.now() - op.deadline;
      if (overdue > GRACE_MILLIS && !op.reported) {
        this.fail(`${kind} ${id} settled ${overdue.toFixed(0)} ms past its deadline`);
      }
    }
  }

  /** Classifies an operation's error: a ConnmanError with a known code, or a failure of the run. */
  classify(kind: string, error: unknown): string {
    if (error instanceof ConnmanError && (KNOWN_CODES as readonly string[]).includes(error.code)) {
      this.errors.add(`${kind}:${error.code}`);
      if (MISUSE_CODES.has(error.code)) this.fail(`${kind} failed with ${error.code}: ${error.message}`);
      return error.code;
    }
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    this.errors.add(`${kind}:UNTYPED`);
    this.fail(`${kind} failed with an untyped error: ${text}`);
    return 'UNTYPED';
  }

  /** Fails the run for every operation past its deadline and grace (`final`: for every one still in flight). */
  checkHangs(final = false): void {
    const now = performance.now();
    for (const op of this.inFlight) {
      if (op.reported || (!final && now - op.deadline <= GRACE_MILLIS)) continue;
      op.reported = true;
      this.fail(
        `${op.kind} ${op.id} is hanging: ${(now - op.started).toFixed(0)} ms in flight, its deadline was ${(op.deadline - op.started).toFixed(0)} ms`,
      );
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `promise`'s outcome, or `fallback` after `ms`; the timer is cleared either way. */
async function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<T>((resolve) => (timer = setTimeout(resolve, ms, fallback)))]);
  } finally {
    clearTimeout(timer);
  }
}

function gcFunction(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

function heapAfterGc(gc: () => void): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

// ---- the workers ------------------------------------------------------------------------

const ACQUIRE_TIMEOUT = 1000;
const REQUEST_TIMEOUT = 1000;
const READ_TIMEOUT = 1000;
/** Bound on each worker loop's iterations (besides the clock). */
const MAX_ITERATIONS = 50_000_000;

/** Reads one line from a leased socket, within `timeoutMillis`; rejects on close, error or timeout. */
function readLine(socket: ConnmanSocket, timeoutMillis: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const finish = (error: Error | undefined, line?: string): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      if (error) reject(error);
      else resolve(line!);
    };
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('latin1');
      const end = buffered.indexOf('\n');
      if (end < 0) return;
      if (end !== buffered.length - 1) {
        finish(undefined, `${buffered.slice(0, end)} (+ ${buffered.length - end - 1} more bytes)`);
      } else {
        finish(undefined, buffered.slice(0, end));
      }
    };
    const onClose = (): void => finish(Object.assign(new Error('closed'), { code: 'CLOSED' }));
    const onError = (error: Error): void => finish(error);
    const timer = setTimeout(
      () => finish(Object.assign(new Error('read timeout'), { code: 'READ_TIMEOUT' })),
      timeoutMillis,
    );
    if (socket.destroyed) return finish(Object.assign(new Error('closed'), { code: 'CLOSED' }));
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.on('error', onError);
  });
}

/** Acquire, write an id, read the same id back from the raw socket, hold, release (destroy on any doubt). */
async function borrower(soak: Soak, pool: ConnectionPool<Buffer>, name: string, running: () => boolean): Promise<void> {
  for (let i = 0; i < MAX_ITERATIONS && running(); i++) {
    const id = soak.nextId(name);
    const asked = performance.now();
    let lease: Lease<Buffer>;
    try {
      lease = await soak.track('acquire', id, ACQUIRE_TIMEOUT, pool.acquire({ timeoutMillis: ACQUIRE_TIMEOUT }));
      soak.acquireWaits.add(performance.now() - asked);
    } catch (error) {
      soak.classify('acquire', error);
      await sleep(soak.between(1, 20));
      continue;
    }
    let trusted = false;
    try {
      const socket = lease.socket;
      const reading = readLine(socket, READ_TIMEOUT);
      socket.write(`${id}\n`);
      const line = await soak.track('read', id, READ_TIMEOUT, reading);
      if (line !== id) {
        soak.crossed++;
        soak.fail(`borrower ${name} wrote ${id} and read back '${line}': bytes of another caller`);
      } else {
        trusted = true;
        soak.done.add('borrow');
      }
      await sleep(soak.between(0, 15)); // hold it a while
    } catch (error) {
      soak.socketErrors.add(String((error as NodeJS.ErrnoException).code ?? 'error'));
    }
    try {
      if (trusted) lease.release();
      else lease.destroy(); // the stream can no longer be trusted
    } catch (error) {
      soak.classify(trusted ? 'release' : 'destroy', error);
    }
  }
}

/** Keeps `depth` requests in flight on the pool; each reply must carry its request's id. */
async function requester(
  soak: Soak,
  pool: ConnectionPool<Buffer>,
  name: string,
  depth: number,
  running: () => boolean,
): Promise<void> {
  const lane = async (): Promise<void> => {
    for (let i = 0; i < MAX_ITERATIONS && running(); i++) {
      const id = soak.nextId(name);
      const started = performance.now();
      try {
        const reply = await soak.track('request', id, REQUEST_TIMEOUT, pool.request(`${id}\n`));
        soak.requestTimes.add(performance.now() - started);
        if (reply.toString('latin1') !== id) {
          soak.crossed++;
          soak.fail(`request ${id} was answered with '${reply.toString('latin1')}': another caller's reply`);
        } else {
          soak.done.add('request');
        }
      } catch (error) {
        soak.classify('request', error);
        await sleep(soak.between(1, 20));
      }
    }
  };
  await Promise.all(Array.from({ length: depth }, lane));
}

/** Acquire, send 1-3 requests on the lease (matched in order), release. */
async function leaseRequester(
  soak: Soak,
  pool: ConnectionPool<Buffer>,
  name: string,
  running: () => boolean,
): Promise<void> {
  for (let i = 0; i < MAX_ITERATIONS && running(); i++) {
    const asked = performance.now();
    let lease: Lease<Buffer>;
    try {
      lease = await soak.track('acquire', name, ACQUIRE_TIMEOUT, pool.acquire({ timeoutMillis: ACQUIRE_TIMEOUT }));
      soak.acquireWaits.add(performance.now() - asked);
    } catch (error) {
      soak.classify('acquire', error);
      await sleep(soak.between(1, 20));
      continue;
    }
    let healthy = true;
    const count = soak.between(1, 3);
    const ids = Array.from({ length: count }, () => soak.nextId(`${name}L`));
    const results = await Promise.allSettled(
      ids.map((id) => soak.track('lease.request', id, REQUEST_TIMEOUT, lease.request(`${id}\n`))),
    );
    results.forEach((result, k) => {
      if (result.status === 'fulfilled') {
        if (result.value.toString('latin1') !== ids[k]) {
          soak.crossed++;
          soak.fail(`lease request ${ids[k]} was answered with '${result.value.toString('latin1')}'`);
        } else {
          soak.done.add('lease.request');
        }
      } else {
        healthy = false;
        soak.classify('lease.request', result.reason);
      }
    });
    try {
      if (healthy) lease.release();
      else lease.destroy();
    } catch (error) {
      soak.classify(healthy ? 'release' : 'destroy', error);
    }
  }
}

// ---- the faults -------------------------------------------------------------------------

type Fault = (soak: Soak, proxy: FaultProxy, peer: EchoPeer) => Promise<void>;

const FAULTS: Record<string, Fault> = {
  async reset(_soak, proxy) {
    await proxy.resetPeers();
  },
  async stall(soak, proxy) {
    // Heartbeats (250 ms + 500 ms), request deadlines and read deadlines must notice.
    proxy.stalled = true;
    await sleep(soak.between(300, 1500));
  },
  async slice(soak, proxy) {
    proxy.set({ sliced: true, sliceBytes: soak.between(1, 7) });
    await sleep(soak.between(500, 2500));
  },
  async delay(soak, proxy) {
    proxy.set({ latencyMillis: soak.between(5, 60), jitterMillis: soak.between(0, 20) });
    await sleep(soak.between(500, 2500));
  },
  async truncate(soak, proxy) {
    proxy.downstream.limitBytes = soak.between(1, 400);
    await sleep(soak.between(200, 1000));
  },
  async down(soak, proxy) {
    await proxy.down();
    await sleep(soak.between(200, 1500));
    await proxy.up();
  },
  async restart(soak, _proxy, peer) {
    await peer.restart(soak.between(0, 800));
  },
  async flap(soak, proxy) {
    proxy.resetting = true;
    await sleep(soak.between(200, 800));
  },
};

async function faultLoop(soak: Soak, proxy: FaultProxy, peer: EchoPeer, running: () => boolean): Promise<void> {
  const names = soak.flags.faults;
  for (let i = 0; i < MAX_ITERATIONS && running(); i++) {
    await sleep(soak.between(200, 1200));
    if (!running()) break;
    const name = names[Math.floor(soak.random() * names.length)];
    soak.faults.add(name);
    soak.currentFault = name;
    soak.faultsThisSecond.add(name);
    await FAULTS[name](soak, proxy, peer);
    proxy.heal();
    await proxy.up();
    await peer.listen();
    soak.currentFault = undefined;
  }
}

// ---- the run ----------------------------------------------------------------------------

function checkClean(soak: Soak, stats: PoolStats): void {
  const expected = { state: 'closed', size: 0, connected: 0, idle: 0, leased: 0, pending: 0, waiting: 0 };
  for (const [key, value] of Object.entries(expected)) {
    if (stats[key as keyof PoolStats] !== value) {
      soak.fail(
        `pool '${stats.name}' did not end clean: ${key} is ${String(stats[key as keyof PoolStats])}, not ${String(value)}`,
      );
    }
  }
  if (stats.pendingRequests !== 0 || stats.waitingRequests !== 0) {
    soak.fail(
      `pool '${stats.name}' ended with ${stats.pendingRequests} pending and ${stats.waitingRequests} waiting requests`,
    );
  }
}

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2));
  const soak = new Soak(flags);
  const gc = gcFunction();
  // The standard streams are created on first use: create them now, so that they belong to the starting set.
  void process.stdout;
  void process.stderr;
  await new Promise((resolve) => setImmediate(resolve));
  const startingResources = resourceSet();
  console.log(
    `soak: ${flags.seconds} s, seed ${flags.seed}, faults ${flags.faults.join(',')}${flags.rawOnFramed ? ', raw reads on the framed pool' : ''} (repeat with --seed ${flags.seed})`,
  );

  const peer = new EchoPeer();
  await peer.listen();
  const proxy = await FaultProxy.start(peer.endpoint, { random: seeded(flags.seed + 3) });
  const common = {
    ...proxy.endpoint,
    connectTimeoutMillis: 500,
    acquireTimeoutMillis: ACQUIRE_TIMEOUT,
    maxWaitingClients: 1000,
    backoff: { initialDelayMillis: 20, maxDelayMillis: 300 },
  };
  // Borrowers read raw bytes: no framing on their pool.
  const rawPool = new ConnectionPool({ ...common, name: 'raw', min: 2, max: 6 });
  // Requesters and lease requesters share a framed pool, with heartbeats to notice stalls.
  const framedPool = new ConnectionPool({
    ...common,
    name: 'framed',
    min: 2,
    max: 4,
    framing: lines(),
    requestTimeoutMillis: REQUEST_TIMEOUT,
    heartbeat: { intervalMillis: 250, payload: 'PING\n', timeoutMillis: 500 },
  });
  for (const pool of [rawPool, framedPool]) {
    pool.on('reset', () => soak.resets++);
    pool.on('error', (error) => soak.fail(`a callback failed in pool '${pool.name}': ${error.message}`));
  }
  await Promise.all([rawPool.open(), framedPool.open()]);

  // Warm up for a second without faults, then take the heap baseline.
  let warming = true;
  const warm = Promise.all([
    borrower(soak, rawPool, 'warm', () => warming),
    requester(soak, framedPool, 'warmR', 8, () => warming),
  ]);
  await sleep(1000);
  warming = false;
  await warm;
  const heapBefore = heapAfterGc(gc);

  let running = true;
  const isRunning = () => running;
  const started = performance.now();
  const watchdog = setInterval(() => soak.checkHangs(), 500);
  let lastAccepted = proxy.accepted;
  const stormWatch = setInterval(() => {
    const perSecond = proxy.accepted - lastAccepted;
    lastAccepted = proxy.accepted;
    if (perSecond > soak.maxAcceptsPerSecond) {
      soak.maxAcceptsPerSecond = perSecond;
      soak.stormFaults = soak.faultsThisSecond.size === 0 ? 'none' : [...soak.faultsThisSecond].join(', ');
    }
    soak.faultsThisSecond.clear();
    if (soak.currentFault !== undefined) soak.faultsThisSecond.add(soak.currentFault);
  }, 1000);
  const progress = setInterval(() => {
    const elapsed = ((performance.now() - started) / 1000).toFixed(0);
    console.log(
      `  ${elapsed} s: ${soak.done.total} ops, ${soak.errors.total} typed errors, ${soak.resets} resets, faults ${soak.faults.total}`,
    );
  }, 10_000);

  const workers: Promise<void>[] = [];
  for (let i = 0; i < 16; i++) workers.push(borrower(soak, rawPool, `B${i}`, isRunning));
  for (let i = 0; i < 8; i++) workers.push(requester(soak, framedPool, `R${i}`, 16, isRunning));
  for (let i = 0; i < 4; i++) workers.push(leaseRequester(soak, framedPool, `L${i}`, isRunning));
  if (flags.rawOnFramed) for (let i = 0; i < 4; i++) workers.push(borrower(soak, framedPool, `F${i}`, isRunning));
  const faults = faultLoop(soak, proxy, peer, isRunning);

  await sleep(flags.seconds * 1000);
  running = false;
  clearInterval(progress);
  // Let every operation settle: each has a deadline, so this is bounded.
  await faults;
  proxy.heal();
  await proxy.up();
  await peer.listen();
  const settleBy =
    performance.now() + Math.max(ACQUIRE_TIMEOUT, REQUEST_TIMEOUT, READ_TIMEOUT) + 500 + 2 * GRACE_MILLIS;
  const allSettled = Promise.all(workers).then(() => true);
  while (performance.now() < settleBy && !(await within(allSettled, 100, false)));
  soak.checkHangs(true);
  clearInterval(watchdog);
  clearInterval(stormWatch);
  if (soak.maxAcceptsPerSecond > STORM_PER_SECOND) {
    soak.fail(
      `connect storm: the proxy accepted ${soak.maxAcceptsPerSecond} connections in one second (bound ${STORM_PER_SECOND})`,
    );
  }

  // Close, bounded: a close that does not resolve is a hang too.
  for (const pool of [rawPool, framedPool]) {
    const closed = await within(
      pool.close({ timeoutMillis: 2000 }).then(() => true),
      5000,
      false,
    );
    if (!closed) soak.fail(`pool '${pool.name}' close() did not resolve within 5 s`);
    checkClean(soak, pool.stats());
  }
  const proxyStats = proxy.stats();
  await proxy.close();
  await peer.stop();

  // Nothing of ours is left: the resources Node reports are the starting set again.
  let resources = resourceSet();
  for (let i = 0; i < 50 && resources !== startingResources; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    if (i > 10) await sleep(20);
    resources = resourceSet();
  }
  if (resources !== startingResources)
    soak.fail(`resources left after close: [${resources}], started with [${startingResources}]`);
  const heapAfter = heapAfterGc(gc);
  if (heapAfter - heapBefore > HEAP_BOUND_BYTES) {
    soak.fail(`heap grew by ${mib(heapAfter - heapBefore)} (bound ${mib(HEAP_BOUND_BYTES)})`);
  }

  const seconds = (performance.now() - started) / 1000;
  console.log(`\nsoak done in ${seconds.toFixed(1)} s (seed ${flags.seed})`);
  console.log(
    `operations ok: ${soak.done.describe()} (${soak.done.total} in all, ${(soak.done.total / seconds).toFixed(0)}/s)`,
  );
  console.log(`faults injected: ${soak.faults.describe()}; peer restarts ${peer.restarts}`);
  console.log(
    `resets seen: ${soak.resets}; connections accepted by the proxy: ${proxyStats.accepted} (max ${soak.maxAcceptsPerSecond} in one second, faults in that second: ${soak.stormFaults})`,
  );
  console.log(`typed errors by code: ${soak.errors.describe()}`);
  console.log(`socket errors seen by raw borrowers: ${soak.socketErrors.describe()}`);
  console.log(`acquire waits: ${soak.acquireWaits.describe()}`);
  console.log(`request times: ${soak.requestTimes.describe()}`);
  console.log(
    `heap: ${mib(heapBefore)} before, ${mib(heapAfter)} after close (forced GC), growth ${mib(heapAfter - heapBefore)}, bound ${mib(HEAP_BOUND_BYTES)}`,
  );
  console.log(`replies to the wrong caller: ${soak.crossed}`);
  if (soak.failures.length === 0) {
    console.log('result: PASS (nothing hung, every error typed, no reply crossed, pools ended clean)');
    return 0;
  }
  console.log(`result: FAIL (${soak.failures.length} problem(s))`);
  for (const failure of soak.failures) console.log(`  - ${failure}`);
  return 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 2;
  },
);
