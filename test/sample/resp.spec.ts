import { afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { ConnectionPool, isConnmanError } from '../../lib/index.js';
import { RedisClient, redisProtocol } from '../../sample/redis/redis-client.js';
import { RespDecoder, RespError, RespPush, encodeCommand, resp, type RespValue } from '../../sample/redis/resp.js';
import { EmbeddedRedis } from '../../sample/upstream/embedded-redis.js';
import { next } from '../helpers/events.js';
import { TestServer } from '../helpers/server.js';
import { useScope } from '../helpers/resources.js';

/** Every reply type the decoder knows, with what it decodes to. */
const REPLIES: [string, RespValue][] = [
  ['+OK\r\n', 'OK'],
  ['+\r\n', ''],
  ['-ERR unknown command\r\n', new RespError('ERR unknown command')],
  [':0\r\n', 0],
  [':-42\r\n', -42],
  [':9007199254740992\r\n', 2 ** 53],
  ['$5\r\nhello\r\n', 'hello'],
  ['$0\r\n\r\n', ''],
  ['$-1\r\n', null],
  ['$6\r\nr\u00e9sum\r\n', 'r\u00e9sum'],
  ['$4\r\na\r\nb\r\n', 'a\r\nb'],
  ['*-1\r\n', null],
  ['*0\r\n', []],
  ['*3\r\n$3\r\nfoo\r\n:1\r\n$-1\r\n', ['foo', 1, null]],
  ['*2\r\n*2\r\n:1\r\n:2\r\n*1\r\n+x\r\n', [[1, 2], ['x']]],
  ['*2\r\n*0\r\n-ERR inner\r\n', [[], new RespError('ERR inner')]],
  ['>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n', new RespPush(['message', 'ch', 'hi'])],
  ['_\r\n', null],
];
const STREAM = Buffer.from(REPLIES.map(([wire]) => wire).join(''));
const EXPECTED = REPLIES.map(([, value]) => value);

function decodeAll(decoder: RespDecoder, chunks: Buffer[]): RespValue[] {
  const out: RespValue[] = [];
  for (const chunk of chunks) out.push(...decoder.decode(chunk));
  return out;
}

function sliced(stream: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < stream.length; at += size) chunks.push(stream.subarray(at, at + size));
  return chunks;
}

describe('the sample RESP decoder', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('decodes every reply type, in order, from one chunk', () => {
    expect(decodeAll(new RespDecoder(1024), [STREAM])).toEqual(EXPECTED);
  });

  it('gives the same replies however the stream is split: at every byte, in 1-byte chunks, in chunks of 2 to 9', () => {
    for (let at = 0; at <= STREAM.length; at++) {
      const decoder = new RespDecoder(1024);
      expect(decodeAll(decoder, [STREAM.subarray(0, at), STREAM.subarray(at)])).toEqual(EXPECTED);
    }
    for (let size = 1; size < 10; size++)
      expect(decodeAll(new RespDecoder(1024), sliced(STREAM, size))).toEqual(EXPECTED);
  });

  it('is linear in the bytes received: each byte is copied at most once and each value decoded once, whatever the slicing', () => {
    // 2,000 elements in an array, and a 64 KiB bulk string, fed in chunks of 1 to 7 bytes.
    const elements = Array.from({ length: 2000 }, (_, i) => `value-${i}`);
    const big = 'x'.repeat(64 * 1024);
    const stream = Buffer.from(encodeCommand(elements) + `$${big.length}\r\n${big}\r\n`);
    const chunks: Buffer[] = [];
    for (let at = 0, size = 1; at < stream.length; at += size, size = (size % 7) + 1)
      chunks.push(stream.subarray(at, at + size));
    let copied = 0;
    let decoded = 0;
    const copy = Buffer.prototype.copy;
    const concat = Buffer.concat;
    const toString = Buffer.prototype.toString;
    jest.spyOn(Buffer.prototype, 'copy').mockImplementation(function (this: Buffer, ...args) {
      const n = copy.apply(this, args);
      copied += n;
      return n;
    });
    jest.spyOn(Buffer, 'concat').mockImplementation((list, length) => {
      const joined = concat(list, length);
      copied += joined.length;
      return joined;
    });
    jest.spyOn(Buffer.prototype, 'toString').mockImplementation(function (this: Buffer, ...args) {
      decoded++;
      return toString.apply(this, args as Parameters<Buffer['toString']>);
    });
    const replies = decodeAll(new RespDecoder(1024 * 1024), chunks);
    jest.restoreAllMocks();
    expect(replies).toEqual([elements, big]);
    expect(copied).toBeLessThanOrEqual(stream.length);
    expect(decoded).toBe(elements.length + 1);
  });

  it.each([
    ['an unknown type byte', 'PING\r\n'],
    ['a line without CR', '+OK\n'],
    ['a bulk string longer than its length', '$2\r\nabc\r\n'],
    ['a bulk string longer than its length, split', '$2\r\na|bc\r\n'],
    ['a negative length', '$-2\r\n'],
    ['a length that is not a number', '*x\r\n'],
    ['an empty integer', ':\r\n'],
    ['a push of length -1', '>-1\r\n'],
    ['a type byte alone', '\r\n'],
  ])('throws on a malformed stream: %s', (_what, wire) => {
    const decoder = new RespDecoder(1024);
    expect(() =>
      decodeAll(
        decoder,
        wire.split('|').map((part) => Buffer.from(part)),
      ),
    ).toThrow(/^RESP: /);
  });

  it('throws as soon as a reply is known to be over maxReplyBytes, before buffering it', () => {
    const allocations = jest.spyOn(Buffer, 'allocUnsafe');
    // An announced bulk string: refused at its header.
    expect(() => new RespDecoder(100).decode(Buffer.from('$200\r\nab'))).toThrow(/over maxReplyBytes \(100\)/);
    expect(allocations).not.toHaveBeenCalled();
    // An array whose announced count no reply within the limit could hold.
    expect(() => new RespDecoder(100).decode(Buffer.from('*40\r\n'))).toThrow(/over maxReplyBytes/);
    // Elements that add up past the limit.
    const decoder = new RespDecoder(100);
    decoder.decode(Buffer.from('*10\r\n'));
    expect(() => {
      for (let i = 0; i < 10; i++) decoder.decode(Buffer.from('$10\r\n0123456789\r\n'));
    }).toThrow(/over maxReplyBytes/);
    // A line that never ends: held up to the limit, then refused.
    const endless = new RespDecoder(100);
    expect(() => {
      for (let i = 0; i < 20; i++) endless.decode(Buffer.from('+aaaaaaaaa'));
    }).toThrow(/over maxReplyBytes/);
    // The limit is per reply: many replies within it pass.
    const many = Buffer.from('$50\r\n' + 'y'.repeat(50) + '\r\n');
    expect(
      decodeAll(
        new RespDecoder(100),
        Array.from({ length: 10 }, () => many),
      ),
    ).toHaveLength(10);
    expect(() => resp({ maxReplyBytes: 0 })).toThrow(/maxReplyBytes/);
  });

  it('reset() drops a reply in progress', () => {
    const decoder = new RespDecoder(1024);
    expect(decoder.decode(Buffer.from('*2\r\n$5\r\nhel'))).toEqual([]);
    decoder.reset();
    expect(decoder.decode(Buffer.from('+OK\r\n'))).toEqual(['OK']);
  });
});

describe('the sample Redis client on a pool', () => {
  const scope = useScope();
  beforeAll(() => Logger.overrideLogger(false)); // the embedded server logs through Nest's Logger

  function createPool(port: number, extra: object = {}): ConnectionPool<RespValue> {
    const pool = new ConnectionPool<RespValue>({
      name: 'redis',
      host: '127.0.0.1',
      port,
      min: 1,
      max: 1,
      logger: { error: () => undefined, warn: () => undefined },
      backoff: { initialDelayMillis: 10, maxDelayMillis: 20 },
      ...redisProtocol({ clientName: 'resp-spec' }),
      ...extra,
    });
    scope.defer(() => pool.close({ timeoutMillis: 0 }));
    return pool;
  }

  async function openPool(port: number, extra: object = {}): Promise<ConnectionPool<RespValue>> {
    const pool = createPool(port, extra);
    await pool.open();
    return pool;
  }

  it('pipelines commands and matches each reply to its command, error replies rejecting with RespError', async () => {
    const upstream = await EmbeddedRedis.start('127.0.0.1', 0);
    scope.defer(() => upstream.stop());
    const client = new RedisClient(await openPool(upstream.port));
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => client.command('ECHO', `m${i}`)));
    expect(replies).toEqual(Array.from({ length: 200 }, (_, i) => `m${i}`));
    await client.command('SET', 'k', 'text');
    await expect(client.command('INCR', 'k')).rejects.toThrow(RespError);
    expect(await client.command('GET', 'k')).toBe('text');
  });

  it('sends RESP3 pushes to onData, never to a waiting command', async () => {
    const server = await TestServer.start({
      handler: (socket) =>
        socket.on('data', () => socket.write('>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n+PONG\r\n')),
    });
    scope.defer(() => server.stop());
    const pool = await openPool(server.port, { handshake: undefined });
    const pushed = next<[RespValue]>(pool.connections[0], 'frame');
    expect(await new RedisClient(pool).command('PING')).toBe('PONG');
    expect((await pushed)[0]).toEqual(new RespPush(['invalidate', ['k']]));
  });

  it('resets the connection with ERR_PROTOCOL on a malformed reply, failing the unanswered commands with ERR_CONNECTION_CLOSED', async () => {
    const server = await TestServer.start({
      handler: (socket) => socket.once('data', () => socket.write('?what\r\n')),
    });
    scope.defer(() => server.stop());
    const pool = await openPool(server.port, { handshake: undefined });
    const reset = next<[Error]>(pool, 'reset');
    const failure = await new RedisClient(pool).command('PING').catch((error: unknown) => error);
    expect(isConnmanError(failure) && failure.code).toBe('ERR_CONNECTION_CLOSED');
    const [error] = await reset;
    expect(isConnmanError(error) && error.code).toBe('ERR_PROTOCOL');
    expect((error.cause as Error).message).toMatch(/^RESP: unexpected type byte 0x3f/);
  });

  it('authenticates in the handshake: a refused AUTH fails the attempt with ERR_HANDSHAKE_FAILED, the password in no message', async () => {
    const upstream = await EmbeddedRedis.start('127.0.0.1', 0); // knows no AUTH: refuses it
    scope.defer(() => upstream.stop());
    const pool = createPool(upstream.port, redisProtocol({ password: 'hunter2-secret' }));
    const failed = next<[Error]>(pool, 'createError');
    void pool.open({ wait: false });
    const [error] = await failed;
    expect(isConnmanError(error) && error.code).toBe('ERR_HANDSHAKE_FAILED');
    expect(error.cause).toBeInstanceOf(RespError);
    expect((error.cause as Error).message).toMatch(/^ERR unknown command 'AUTH'/);
    expect(pool.stats().connected).toBe(0);
    expect(`${error.message} ${(error.cause as Error).message}`).not.toContain('hunter2');
  });
});
