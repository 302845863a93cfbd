import type { INestApplication, LoggerService, ModuleMetadata } from '@nestjs/common';
import { Test, type TestingModuleOptions } from '@nestjs/testing';
import type { TestScope } from '../helpers/resources.js';

/** Captures what Nest (and the library, through Nest's Logger) logs. */
export class RecordingNestLogger implements LoggerService {
  readonly lines: { level: string; message: string; context?: string }[] = [];
  log(message: string, context?: string): void {
    this.lines.push({ level: 'log', message, context });
  }
  error(message: string, _stack?: string, context?: string): void {
    this.lines.push({ level: 'error', message, context });
  }
  warn(message: string, context?: string): void {
    this.lines.push({ level: 'warn', message, context });
  }
  debug(): void {}
  verbose(): void {}
  messages(level: string): string[] {
    return this.lines.filter((l) => l.level === level).map((l) => l.message);
  }
}

/** Builds and initialises an app from `metadata`; closed after the test. */
export async function startApp(
  scope: TestScope,
  metadata: ModuleMetadata,
  options?: TestingModuleOptions,
): Promise<{ app: INestApplication; logger: RecordingNestLogger }> {
  const logger = new RecordingNestLogger();
  const moduleRef = await Test.createTestingModule(metadata, options).setLogger(logger).compile();
  const app = moduleRef.createNestApplication({ logger });
  scope.defer(() => app.close());
  await app.init();
  return { app, logger };
}

/** The error that compiling `metadata` fails with (the test fails if it compiles). */
export async function compileError(
  metadata: ModuleMetadata,
  options?: TestingModuleOptions,
): Promise<Error & { code?: string; pool?: string }> {
  const moduleRef = await Test.createTestingModule(metadata, options)
    .setLogger(new RecordingNestLogger())
    .compile()
    .then(
      async (compiled) => {
        await compiled.close();
        return undefined;
      },
      (error: unknown) => error as Error,
    );
  if (moduleRef === undefined) throw new Error('expected the module not to compile');
  return moduleRef;
}
