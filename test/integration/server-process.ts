import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Bound on a start (these servers are ready in milliseconds) and on a stop. */
const START_TIMEOUT_MILLIS = 10_000;
const STOP_TIMEOUT_MILLIS = 5_000;

/**
 * The server runs on a leash held by this process: a shell starts it, tells its pid, and waits
 * on a pipe from this process (its stdin) in the background. When the pipe closes, on `kill()`
 * or because this process died, however it died (an uncaught error, SIGKILL, a CI timeout), the
 * shell stops the server. The shell exits with the server.
 */
const LEASH = [
  'exec 3<&0',
  '"$@" 3<&- &',
  'server=$!',
  'echo "leash: server pid $server" >&2',
  '(read _ <&3; kill "$server") >/dev/null 2>&1 &',
  'exec 3<&-',
  'wait "$server"',
].join('\n');

/** Pids of the servers still running: killed when the test process exits normally too. */
const running = new Set<number>();
process.once('exit', () => {
  for (const pid of running) signal(pid, 'SIGKILL');
});

/** Sends `name` to `pid`, if it is still there. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

/** How to run one kind of server. */
interface ServerKind {
  /** For messages. */
  name: string;
  binary: string;
  /** Writes the config for `port` (-1: any free port, if the server can pick one) into `dir`; returns the arguments. */
  configure(dir: string, port: number): string[];
  /** Logged once the server accepts connections. */
  ready: RegExp;
  /** Where the log says the port is, when the server picked it. */
  listening?: RegExp;
}

/**
 * A server of the test's own (nats-server, mosquitto), as a child process on
 * a free loopback port, with a small config in a temporary directory.
 * `stop()` kills it and removes the directory; `restart()` starts it again on
 * the same port (its clients see a server restart). A server is never left
 * behind: it is stopped when the test process ends, however it ends (see LEASH).
 */
export class ServerProcess {
  private child: ChildProcess | undefined;
  /** The server's own pid (the child is the shell that holds its leash). */
  private pid: number | undefined;
  /** Settles once the child has exited and its pipe is closed. */
  private closed: Promise<void> = Promise.resolve();
  private log = '';

  private constructor(
    private readonly kind: ServerKind,
    private readonly dir: string,
    public port: number,
  ) {}

  /** Where clients connect. */
  get endpoint(): { host: string; port: number } {
    return { host: '127.0.0.1', port: this.port };
  }

  /** Kills the server (its clients see their connections closed) and waits until it has exited. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined) return;
    const pid = this.pid;
    if (pid !== undefined) signal(pid, 'SIGTERM');
    child.stdin!.end(); // the leash: the shell stops the server (if its pid was not known yet)
    const force = setTimeout(() => {
      if (pid !== undefined) signal(pid, 'SIGKILL');
      child.kill('SIGKILL');
    }, STOP_TIMEOUT_MILLIS);
    await this.closed;
    clearTimeout(force);
    if (pid !== undefined) running.delete(pid);
  }

  /** Starts it again on the same port. */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  /** Kills it and removes its directory. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** @internal */
  static async start(kind: ServerKind, port: number): Promise<ServerProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'connman-server-'));
    // Readable by a server that drops root privileges (mosquitto runs as its own user).
    chmodSync(dir, 0o755);
    const server = new ServerProcess(kind, dir, port);
    try {
      await server.launch();
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    return server;
  }

  private launch(): Promise<void> {
    const kind = this.kind;
    const args = kind.configure(this.dir, this.port);
    const child = spawn('/bin/sh', ['-c', LEASH, 'leash', kind.binary, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.pid = undefined;
    this.closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    // Once the shell is gone, release the leash's reader too.
    child.stdin!.on('error', () => undefined);
    child.once('exit', () => child.stdin!.end());
    this.log = '';
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      const fail = (why: string): void => {
        clearTimeout(timer);
        const log = this.log;
        void this.kill().then(() => reject(new Error(`${kind.name} did not start (${why}); its log:\n${log}`)));
      };
      const timer = setTimeout(() => fail(`not ready within ${START_TIMEOUT_MILLIS} ms`), START_TIMEOUT_MILLIS);
      child.once('error', (error) => fail(error.message));
      child.once('exit', (code, signal) => {
        if (!ready) fail(`exited with ${signal ?? code}`);
      });
      const read = (text: string): void => {
        // Keep a bounded tail for error messages; the streams must be read anyway.
        this.log = (this.log + text).slice(-8192);
        const leash = this.pid === undefined ? /leash: server pid (\d+)/.exec(this.log) : null;
        if (leash !== null && this.child === child) {
          this.pid = Number(leash[1]);
          running.add(this.pid);
        }
        if (ready) return;
        const listening = kind.listening?.exec(this.log);
        if (listening) this.port = Number(listening[1]);
        if (kind.ready.test(this.log)) {
          ready = true;
          clearTimeout(timer);
          resolve();
        }
      };
      for (const stream of [child.stdout!, child.stderr!]) {
        stream.setEncoding('utf8');
        stream.on('data', read);
      }
    });
  }
}

/** A nats-server (/usr/sbin/nats-server) with `config` (its config syntax; `listen` is set here). */
export function startNatsServer(config = ''): Promise<ServerProcess> {
  return ServerProcess.start(
    {
      name: 'nats-server',
      binary: process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server',
      configure(dir, port) {
        const file = join(dir, 'nats.conf');
        writeFileSync(file, `listen: "127.0.0.1:${port}"\n${config}\n`);
        return ['-c', file];
      },
      ready: /Server is ready/,
      listening: /Listening for client connections on 127\.0\.0\.1:(\d+)/,
    },
    -1,
  );
}

/**
 * A mosquitto broker (/usr/sbin/mosquitto) with `config` (its config syntax;
 * the listener and the log are set here), and `files` written beside it
 * (`{dir}` in the config is that directory).
 */
export async function startMosquitto(config = '', files: Record<string, string> = {}): Promise<ServerProcess> {
  return ServerProcess.start(
    {
      name: 'mosquitto',
      binary: process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto',
      configure(dir, port) {
        for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content, { mode: 0o644 });
        const file = join(dir, 'mosquitto.conf');
        const settings = `listener ${port} 127.0.0.1\nlog_dest stderr\npersistence false\n`;
        writeFileSync(file, settings + config.replaceAll('{dir}', dir) + '\n', { mode: 0o644 });
        return ['-c', file];
      },
      ready: /mosquitto version \S+ running/,
    },
    await freePort(),
  );
}

/** A loopback port nothing listens on right now (mosquitto cannot be told to pick one). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
