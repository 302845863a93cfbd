import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import {
  ConnectionPool,
  Connman,
  ConnmanModule,
  isConnmanError,
  type AnyFrame,
  type PersistentConnection,
  type PoolOptions,
  type TcpEndpoint,
} from '../../lib/index.js';
import { next, until } from '../helpers/events.js';
import { useScope, type TestScope } from '../helpers/resources.js';
import { startNatsServer, type ServerProcess } from './server-process.js';
import { startApp, uniqueName } from './nest-app.js';
import {
  NATS_POOL,
  NatsClient,
  NatsModule,
  natsHandshake,
  natsPoolOptions,
  natsServerInfo,
  type NatsFrame,
} from './recipes/nats.js';

const NATS: TcpEndpoint = { host: process.env.NATS_HOST ?? '127.0.0.1', port: Number(process.env.NATS_PORT ?? 4222) };
const quick = { backoff: { initialDelayMillis: 20, maxDelayMillis: 200 } };
/** The test's own server pings every 250 ms and drops a client after 2 unanswered pings. */
const FAST_PINGS = 'ping_interval: "250ms"\nping_max: 2';

async function ownServer(scope: TestScope, config: string): Promise<ServerProcess> {
  const server = await startNatsServer(config);
  scope.defer(() => server.stop());
  return server;
}

/** A Nest app with the recipe's module (or, `withClient` false, its pool alone: nothing answers PINGs). */
async function natsApp(
  scope: TestScope,
  endpoint: TcpEndpoint,
  options: Partial<PoolOptions<NatsFrame>>,
  withClient = true,
) {
  const imports = withClient
    ? [NatsModule.register(endpoint, options)]
    : [ConnmanModule.forRoot({ pools: [natsPoolOptions(endpoint, options) as PoolOptions<AnyFrame>] })];
  const { app, logger } = await startApp(scope, { imports });
  const pool = app.get(Connman).getPool<NatsFrame>(NATS_POOL);
  return { app, logger, pool, client: withClient ? app.get(NatsClient) : undefined };
}

/** Resolves with the next `count` messages delivered to a new subscription on `subject`. */
async function collect(client: NatsClient, subject: string, count: number) {
  const received: { subject: string; payload: string }[] = [];
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const unsubscribe = await client.subscribe(subject, (payload, to) => {
    received.push({ subject: to, payload: payload.toString() });
    if (received.length === count) done();
  });
  return { received, all, unsubscribe };
}

describe('NATS: the recipe against a nats-server of the test (ping_interval 250ms, ping_max 2)', () => {
  const scope = useScope();

  it('answers every server PING with PONG from @OnData and keeps the connection across 8 ping intervals', async () => {
    const server = await ownServer(scope, FAST_PINGS);
    const { pool, client } = await natsApp(scope, server.endpoint, quick);
    const resets: Error[] = [];
    pool.on('reset', (error) => resets.push(error));
    const connection = pool.connections[0];
    const info = natsServerInfo(connection.socket)!;
    expect(info.server_id).toEqual(expect.any(String));

    // Unanswered, the server would drop the connection after its third ping (about 750 ms).
    await until(connection, 'frame', () => client!.pingsAnswered >= 8);

    expect(resets).toEqual([]);
    expect(pool.stats()).toMatchObject({ connected: 1, size: 1 });
    expect(connection.attempts).toBe(1);
    expect(natsServerInfo(connection.socket)).toBe(info);
    expect((await pool.request('PING\r\n')).op).toBe('PONG');
  });

  it('is dropped by the server (-ERR Stale Connection) when nothing answers its PINGs: the test above can fail', async () => {
    const server = await ownServer(scope, FAST_PINGS);
    const { pool } = await natsApp(scope, server.endpoint, quick, false);
    const connection = pool.connections[0];
    const frames: NatsFrame[] = [];
    connection.on('frame', (frame) => frames.push(frame));

    const [error] = await next<[Error, PersistentConnection<NatsFrame>]>(pool, 'reset');

    expect(frames.filter((frame) => frame.op === 'PING').length).toBeGreaterThanOrEqual(2);
    expect(frames.at(-1)).toEqual({ op: '-ERR', args: "'Stale Connection'" });
    expect(error).toBeInstanceOf(Error);
  });

  it('fails the handshake with ERR_HANDSHAKE_FAILED on -ERR (no token), and connects with the token, which no error shows', async () => {
    const token = `s3cret-${randomUUID()}`;
    const server = await ownServer(scope, `authorization { token: "${token}" }`);
    const refused = new ConnectionPool(natsPoolOptions(server.endpoint, { name: 'nats-no-token', ...quick }));
    scope.defer(() => refused.close());
    void refused.open({ wait: false });
    const [error] = await next<[Error]>(refused, 'createError');
    expect(isConnmanError(error, 'ERR_HANDSHAKE_FAILED')).toBe(true);
    expect(error.message).toContain('Authorization Violation');
    expect(refused.stats()).toMatchObject({ connected: 0 });

    const handshake = natsHandshake({ auth_token: token });
    const { pool } = await natsApp(scope, server.endpoint, { handshake, ...quick });
    expect(pool.stats()).toMatchObject({ connected: 1 });
    expect((await pool.request('PING\r\n')).op).toBe('PONG');
    expect(`${error.message} ${String(error.cause)}`).not.toContain(token);
  });

  it('reconnects after a server restart: the handshake runs again, subscriptions come back, requests work', async () => {
    const server = await ownServer(scope, FAST_PINGS);
    const { pool, client } = await natsApp(scope, server.endpoint, quick);
    const subject = uniqueName('connman.restart');
    const messages = await collect(client!, subject, 1);
    const before = natsServerInfo(pool.connections[0].socket)!;

    const reset = next<[Error]>(pool, 'reset');
    await server.restart();
    await reset;
    await until(pool, 'reconnect', () => pool.stats().connected === 1);

    // A new handshake with the new server: its INFO is not the old one.
    const after = natsServerInfo(pool.connections[0].socket)!;
    expect(after.server_id).not.toBe(before.server_id);
    expect((await pool.request('PING\r\n')).op).toBe('PONG');
    // The subscription was sent again on the new connection (@OnConnect).
    await client!.publish(subject, 'after the restart');
    await messages.all;
    expect(messages.received).toEqual([{ subject, payload: 'after the restart' }]);
    await messages.unsubscribe();
    // The server's pings are still answered on the new connection.
    const answered = client!.pingsAnswered;
    await until(pool.connections[0], 'frame', () => client!.pingsAnswered >= answered + 3);
    expect(pool.stats()).toMatchObject({ connected: 1 });
  });
});

describe(`NATS: the recipe against the machine's server (${NATS.host}:${NATS.port})`, () => {
  const scope = useScope();

  it('delivers a published message to @OnData with its payload line (SUB, PUB, MSG), and nothing after UNSUB', async () => {
    const { pool, client } = await natsApp(scope, NATS, quick);
    const subject = uniqueName('connman.pubsub');
    const payload = `hello ${randomUUID()}`;
    const messages = await collect(client!, subject, 1);

    await client!.publish(subject, payload);
    await messages.all;
    expect(messages.received).toEqual([{ subject, payload }]);

    await messages.unsubscribe();
    await client!.publish(subject, 'after UNSUB');
    // The server answers in order: a MSG for the publish would come before this PONG.
    expect((await pool.request('PING\r\n')).op).toBe('PONG');
    expect(messages.received).toHaveLength(1);
  });

  it('resets the connection with ERR_PROTOCOL on a payload with a line break (the recipe takes one line), then works again', async () => {
    const { pool, client } = await natsApp(scope, NATS, quick);
    const subject = uniqueName('connman.multiline');
    const messages = await collect(client!, subject, 1);
    const reset = next<[Error]>(pool, 'reset');

    // Its MSG comes before the PONG that would answer the request: the reset fails the request.
    await expect(client!.publish(subject, 'two\nlines')).rejects.toMatchObject({ code: 'ERR_CONNECTION_CLOSED' });
    const [error] = await reset;
    expect(isConnmanError(error, 'ERR_PROTOCOL')).toBe(true);
    expect(messages.received).toEqual([]);

    await until(pool, 'reconnect', () => pool.stats().connected === 1);
    await client!.publish(subject, 'one line');
    await messages.all;
    expect(messages.received).toEqual([{ subject, payload: 'one line' }]);
    await messages.unsubscribe();
  });

  it('answers pool.request(PING) with PONG, while MSGs arriving meanwhile (even a payload "PONG") go to @OnData', async () => {
    const { pool, client } = await natsApp(scope, NATS, quick);
    const subject = uniqueName('connman.requests');
    const payloads = [...Array.from({ length: 20 }, (_, i) => `message ${i}`), 'PONG', '+OK', '-ERR'];
    const messages = await collect(client!, subject, payloads.length);

    // Each PUB's MSG comes back before the PONG that answers the request: isReply sends it to @OnData.
    const replies = await Promise.all([
      ...payloads.map((payload) => client!.publish(subject, payload)),
      ...Array.from({ length: 20 }, () => pool.request('PING\r\n')),
    ]);
    await messages.all;

    expect(replies.slice(payloads.length).every((frame) => frame?.op === 'PONG')).toBe(true);
    expect(messages.received.map((m) => m.payload).sort()).toEqual([...payloads].sort());
    expect(pool.stats()).toMatchObject({ pendingRequests: 0, connected: 1 });
    await messages.unsubscribe();
  });
});
