import { describe, expect, it } from '@jest/globals';
import { inspect } from 'node:util';
import { Connman, ConnmanError, lines, type ConnectionContext } from '../../lib/index.js';
import { RecordingLogger, useScope } from '../helpers/resources.js';
import { TestServer } from '../helpers/server.js';
import { selfSigned } from '../helpers/tls.js';

const PASSPHRASE = 'passphrase-SECRET-1f9a';
const MARKER = 'SECRET';

/** Everything a user can print of `value`: inspect at any depth, and JSON where it applies. */
function outputs(value: unknown): string[] {
  const out = [inspect(value), inspect(value, { depth: Infinity }), String(value)];
  try {
    out.push(JSON.stringify(value) ?? '');
  } catch {
    // circular: not something users print
  }
  if (value instanceof Error) {
    out.push(value.message, value.stack ?? '');
    let cause: unknown = value.cause;
    while (cause !== undefined) {
      out.push(inspect(cause, { depth: Infinity }), String(cause));
      cause = cause instanceof Error ? cause.cause : undefined;
    }
  }
  return out;
}

describe('secrets never appear in output', () => {
  const scope = useScope();

  it('TLS keys, passphrases and socket options stay out of every object a user can reach, errors and logs included', async () => {
    const upstream = await TestServer.start({
      tls: { key: selfSigned.key, cert: selfSigned.cert },
      handler: (socket) => socket.on('data', (chunk) => socket.write(chunk)),
    });
    scope.defer(() => upstream.stop());
    const logger = new RecordingLogger();
    // The key itself is the secret: it contains "PRIVATE KEY"; the passphrase carries the marker.
    const tls = { ca: selfSigned.cert, key: selfSigned.key, passphrase: PASSPHRASE, servername: 'localhost' };
    const contexts: ConnectionContext[] = [];
    const connman = new Connman();
    scope.defer(() => connman.disconnectAll({ timeoutMillis: 0 }));
    const pool = connman.createPool('secret', {
      endpoints: [{ ...upstream.endpoint, tls }],
      socketOptions: { localAddress: '127.0.0.1', family: 4 },
      min: 1,
      max: 2,
      logger,
      framing: lines(),
      leakDetectionThresholdMillis: 1,
      handshake: (_socket, context) => void contexts.push(context),
      callbacks: {
        onConnect: (_socket, context) => {
          contexts.push(context);
          throw new Error('a failing handler');
        },
      },
    });
    await pool.open();
    const lease = await pool.acquire();
    // The leak warning (threshold 1 ms) and the failing handler's error are logged.
    while (logger.warnings.length === 0) await logger.nextMessage();
    expect(logger.errors.some((line) => line.includes('a failing handler'))).toBe(true);
    const conn = pool.connections[0];

    // A pool with the wrong CA fails its TLS handshake: its errors must be clean too.
    const failing = connman.createPool('failing', {
      endpoints: [{ ...upstream.endpoint, tls: { key: selfSigned.key, passphrase: PASSPHRASE } }],
      min: 1,
      logger,
      openTimeoutMillis: 200,
      backoff: { initialDelayMillis: 50, maxDelayMillis: 50 },
    });
    const createErrors: Error[] = [];
    failing.on('createError', (error) => void createErrors.push(error));
    const openError = await failing.open().catch((error: ConnmanError) => error);

    const reachable: unknown[] = [
      pool,
      pool.options,
      pool.options.endpoints,
      pool.stats(),
      conn,
      conn.endpoint,
      conn.options,
      lease,
      ...contexts,
      connman,
      failing.stats(),
      openError,
      ...createErrors,
    ];
    // The options themselves, printed the way console.dir and debuggers can: hidden properties, getters,
    // no custom inspect. (Not the pool or connection whole: their live TLS socket is Node's, and holds
    // Node's own copy of the options it was made with.)
    const options: unknown[] = [pool.options, pool.options.endpoints, conn.endpoint, conn.options, failing.options];
    const everything = { depth: Infinity, showHidden: true, getters: true, customInspect: false };
    const printed = [
      ...reachable.flatMap(outputs),
      ...options.map((value) => inspect(value, everything)),
      ...logger.errors,
      ...logger.warnings,
    ].join('\n');
    expect(printed).not.toContain(MARKER);
    expect(printed).not.toContain('PRIVATE KEY');
    expect(printed).not.toContain(selfSigned.key.slice(40, 80));
    expect(printed).not.toContain('localAddress');
    // What is printed still says where: enough to debug.
    expect(inspect(contexts[0])).toContain(`127.0.0.1:${upstream.port}`);
    expect(inspect(pool)).toContain('secret');
    // And the options still work when read by name.
    const readable = conn.endpoint.tls as { passphrase?: string; servername?: string };
    expect(readable.passphrase).toBe(PASSPHRASE);
    expect(readable.servername).toBe('localhost');
    expect('passphrase' in readable).toBe(true);
    lease.release();
  });
});
