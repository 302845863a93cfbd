// examples/readme/main.ts
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule);
  // Ctrl-C (SIGINT) and SIGTERM run Nest's shutdown hooks: the pools stop lending, leases get
  // shutdownTimeoutMillis to come back, every socket closes, and the process exits.
  app.enableShutdownHooks();
  // Opens the pools before it listens (by default, waiting until each has its `min` connections).
  await app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
}

void bootstrap();
