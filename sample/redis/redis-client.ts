/**
 * The sample's Redis client, framework-free: the protocol options that make a
 * pool speak Redis, and a thin client over `pool.request()`. The Nest service
 * (redis.service.ts) and the benchmark (bench/cases/redis.ts) both use it.
 */
import type { AnyFrame, ConnectionPool, HandshakeContext, PoolOptions } from '../../lib/index.js';
import { RespError, RespPush, encodeCommand, resp, type RespValue } from './resp.js';

/** Options of {@link redisProtocol}. */
export interface RedisProtocolOptions {
  /** Sent with `AUTH` in the handshake of every connection, when given. Never logged. */
  password?: string;
  /** The ACL user for `AUTH` (Redis 6 and later); default: Redis's default user. */
  username?: string;
  /** Set with `CLIENT SETNAME` in the handshake, so that `CLIENT LIST` shows who is who. */
  clientName?: string;
  /** The largest reply accepted, in bytes (see `resp()`). Default 64 MiB. */
  maxReplyBytes?: number;
}

/**
 * The pool options that make a pool speak Redis: RESP `framing`, a
 * `handshake` that authenticates and names each connection before it is
 * used (and again after every reconnect), and `isReply`, which sends RESP3
 * push frames to `onData` / `@OnData` instead of to a waiting command.
 *
 * Typed for any frame type, so that they fit pool options typed for Buffer
 * frames (the module options are).
 */
export function redisProtocol(
  options: RedisProtocolOptions = {},
): Required<Pick<PoolOptions<AnyFrame>, 'framing' | 'isReply'>> & Pick<PoolOptions<AnyFrame>, 'handshake'> {
  const { password, username, clientName } = options;
  const greeting: string[][] = [];
  if (password !== undefined) greeting.push(username === undefined ? ['AUTH', password] : ['AUTH', username, password]);
  if (clientName !== undefined) greeting.push(['CLIENT', 'SETNAME', clientName]);
  return {
    framing: resp({ maxReplyBytes: options.maxReplyBytes }),
    isReply,
    handshake:
      greeting.length === 0
        ? undefined
        : async (_socket, context: HandshakeContext<RespValue>) => {
            // A rejection fails the attempt with ERR_HANDSHAKE_FAILED (cause: Redis's error reply).
            for (const command of greeting) await reply(context.request(encodeCommand(command)));
          },
  };
}

/** Every frame is a reply, except RESP3 pushes. */
function isReply(frame: RespValue): boolean {
  return !(frame instanceof RespPush);
}

/** Turns an error reply into a rejection. */
function unwrap(value: RespValue): RespValue {
  if (value instanceof RespError) throw value;
  return value;
}

function reply(pending: Promise<RespValue>): Promise<RespValue> {
  return pending.then(unwrap);
}

/**
 * Commands over a pool made with {@link redisProtocol}: each goes out on a
 * ready connection with the fewest unanswered commands (pipelined) and
 * resolves with its reply. Rejects with the error reply (a `RespError`), or a
 * `ConnmanError`: ERR_REQUEST_TIMEOUT past the pool's `requestTimeoutMillis`,
 * ERR_CONNECTION_CLOSED when its connection was lost before the reply.
 */
export class RedisClient {
  constructor(readonly pool: ConnectionPool<RespValue>) {}

  /** Sends `args` (the command's name first) and resolves with the reply. */
  command(...args: string[]): Promise<RespValue> {
    return this.pool.request(encodeCommand(args)).then(unwrap);
  }
}
