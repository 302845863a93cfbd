import type { LoggerService, ModuleMetadata } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import type { TestScope } from '../helpers/resources.js';

/** Keeps what Nest and the library log, for assertions, and the test output clean. */
export class RecordingNestLogger implements LoggerService {
  readonly lines: { level: string; message: string }[] = [];
  log(message: string): void {
    this.lines.push({ level: 'log', message });
  }
  error(message: string): void {
    this.lines.push({ level: 'error', message });
  }
  warn(message: string): void {
    this.lines.push({ level: 'warn', message });
  }
  debug(): void {}
  verbose(): void {}
  /** The messages logged at `level`. */
  messages(level: 'log' | 'error' | 'warn'): string[] {
    return this.lines.filter((line) => line.level === level).map((line) => line.message);
  }
}

/**
 * Compiles `metadata` and initialises it as an application context (pools
 * open on bootstrap, handlers bound); closed after the test.
 */
export async function startApp(
  scope: TestScope,
  metadata: ModuleMetadata,
): Promise<{ app: TestingModule; logger: RecordingNestLogger }> {
  const logger = new RecordingNestLogger();
  const app = await Test.createTestingModule(metadata).setLogger(logger).compile();
  scope.defer(() => app.close());
  await app.init();
  return { app, logger };
}

/** A name no other test (nor another run on this machine) uses: for subjects, topics, client ids. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
