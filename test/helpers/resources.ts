import { afterEach, beforeEach, expect } from '@jest/globals';
import { createHook, type AsyncHook } from 'node:async_hooks';
import type { ConnmanLogger } from '../../lib/index.js';

// The standard streams are created lazily on first access (stream.pipe() checks whether its
// destination is process.stdout); create them now so that no test is charged with them.
void process.stdout;
void process.stderr;

const TRACKED = new Set(['TCPWRAP', 'TCPSERVERWRAP', 'PIPEWRAP', 'PIPESERVERWRAP', 'Timeout']);
const FOREIGN = /node_modules[\\/](jest-|@jest[\\/]|expect|ts-jest)/;
/** Node's own process-wide caches: the HTTP Date header timer (unref'd, 1 s). */
const BENIGN = /\._storeHeader \(node:_http_outgoing/;

/** Resources (sockets, servers, timers) created from now on and still alive. */
class ResourceTracker {
  private readonly alive = new Map<number, { type: string; stack: string }>();
  private readonly hook: AsyncHook = createHook({
    init: (id, type) => {
      if (!TRACKED.has(type)) return;
      const raw = new Error().stack ?? '';
      if (BENIGN.test(raw)) return;
      const stack = raw
        .split('\n')
        .slice(1)
        .filter((line) => !line.includes('node:internal') && !line.includes('node:async_hooks'))
        .join('\n');
      if (FOREIGN.test(stack.split('\n').slice(0, 8).join('\n'))) return;
      this.alive.set(id, { type, stack });
    },
    destroy: (id) => {
      this.alive.delete(id);
    },
  });

  start(): void {
    this.alive.clear();
    this.hook.enable();
  }

  stop(): string[] {
    this.hook.disable();
    return [...this.alive.values()].map(
      ({ type, stack }) => `${type} created at\n${stack.split('\n').slice(0, 6).join('\n')}`,
    );
  }
}

/** Lets close callbacks that are already queued run (not a sleep: no timer involved). */
export async function flushIo(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** What a test registers to be torn down after it. */
export interface TestScope {
  /** Runs `fn` after the test (last deferred first), before the leak check. */
  defer(fn: () => unknown): void;
}

/**
 * Registers hooks that tear down what each test deferred, then fail the test
 * if it left a socket, server or timer behind or raised a process warning.
 */
export function useScope(): TestScope {
  const tracker = new ResourceTracker();
  let warnings: Error[] = [];
  const deferred: (() => unknown)[] = [];
  const onWarning = (warning: Error): void => {
    warnings.push(warning);
  };
  beforeEach(() => {
    tracker.start();
    warnings = [];
    process.on('warning', onWarning);
  });
  afterEach(async () => {
    for (const fn of deferred.splice(0).reverse()) await fn();
    process.off('warning', onWarning);
    await flushIo();
    expect(tracker.stop()).toEqual([]);
    expect(warnings.map((w) => w.message)).toEqual([]);
  });
  return { defer: (fn) => void deferred.push(fn) };
}

/** A logger that records what it is given, for assertions (and keeps test output clean). */
export class RecordingLogger implements ConnmanLogger {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  private waiting: ((message: string) => void)[] = [];
  error(message: string): void {
    this.errors.push(message);
    this.notify(message);
  }
  warn(message: string): void {
    this.warnings.push(message);
    this.notify(message);
  }
  /** The next message logged (error or warning). */
  nextMessage(): Promise<string> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  private notify(message: string): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve(message);
  }
}
