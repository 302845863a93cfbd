import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppModule } from './app.module.js';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule);
  app.enableShutdownHooks();
  const config = app.get(ConfigService);
  const host = config.get<string>('HOST') ?? '127.0.0.1';
  const port = Number(config.get('PORT') ?? 3000);
  await app.listen(port, host);
  const bound = (app.getHttpServer() as Server).address() as AddressInfo;
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${bound.port}`;
  Logger.log(
    `sample listening on ${base} (try: curl ${base}/ping, curl -X POST ${base}/counter/visits, curl ${base}/health)`,
    'Sample',
  );
}

void bootstrap();
