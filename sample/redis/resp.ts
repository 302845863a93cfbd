/**
 * RESP, Redis's wire protocol (the subset a client needs): commands out as
 * arrays of bulk strings, replies in through an incremental decoder that is
 * the pool's `framing`. Framework-free: the benchmark and the embedded server
 * use it too.
 */
import type { FrameDecoder, Framing } from '../../lib/index.js';

/**
 * A decoded RESP value: simple and bulk strings are strings (UTF-8), integers
 * numbers, nulls `null`, arrays arrays; an error reply is a {@link RespError}
 * and a RESP3 push frame a {@link RespPush}.
 */
export type RespValue = string | number | null | RespError | RespPush | RespValue[];

/** An error reply (`-ERR ...`): a value when decoded; the client rejects with it. */
export class RespError extends Error {
  override readonly name = 'RespError';
}

/**
 * A RESP3 push frame (`>`): data the server sends on its own (pub/sub
 * messages, client-side caching invalidations), never the reply to a command.
 */
export class RespPush {
  constructor(readonly data: RespValue[]) {}
}

/** Options of {@link resp}. */
export interface RespOptions {
  /**
   * The largest reply accepted, in bytes, everything nested in it included.
   * A longer one throws (the connection resets with ERR_PROTOCOL) as soon as
   * its announced or received size passes the limit, before it is buffered
   * whole. Default 64 MiB.
   */
  maxReplyBytes?: number;
}

/** Encodes a command as a RESP array of bulk strings (a string, written as UTF-8). */
export function encodeCommand(args: readonly string[]): string {
  let out = `*${args.length}\r\n`;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    out += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
  }
  return out;
}

/** Encodes one value as a reply, for the embedded server. */
export function encodeReply(value: RespValue): string {
  if (value === null) return '$-1\r\n';
  if (typeof value === 'number') return `:${value}\r\n`;
  if (typeof value === 'string') return `$${Buffer.byteLength(value)}\r\n${value}\r\n`;
  if (value instanceof RespError) return `-${value.message.replace(/[\r\n]+/g, ' ')}\r\n`;
  if (value instanceof RespPush) return `>${value.data.length}\r\n${value.data.map(encodeReply).join('')}`;
  return `*${value.length}\r\n${value.map(encodeReply).join('')}`;
}

/**
 * The `framing` of a Redis connection: each connection gets a {@link RespDecoder}.
 *
 * @example
 * ```ts
 * new ConnectionPool({ name: 'redis', host, port, framing: resp(), isReply: (f) => !(f instanceof RespPush) });
 * ```
 */
export function resp(options: RespOptions = {}): Framing<RespValue> {
  const max = options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
  if (!Number.isSafeInteger(max) || max < 3) {
    throw new RangeError(`resp(): maxReplyBytes must be an integer of at least 3, got ${String(max)}`);
  }
  return () => new RespDecoder(max);
}

const DEFAULT_MAX_REPLY_BYTES = 64 * 1024 * 1024;
const CR = 0x0d;
const LF = 0x0a;
/** Lines shorter than this are searched for their LF byte by byte (a native `indexOf` costs more). */
const SHORT_LINE = 32;
/** Arrays are first made at most this long (the count is the peer's word, not yet proven by bytes). */
const MAX_PREALLOCATED = 1024;
const NONE: RespValue[] = [];

/** An array (or push) being filled, its elements arriving one by one. */
class Aggregate {
  index = 0;
  readonly items: RespValue[];
  constructor(
    readonly count: number,
    readonly push: boolean,
  ) {
    this.items = count <= MAX_PREALLOCATED ? new Array<RespValue>(count) : [];
  }
}

/**
 * Incremental RESP decoder (RESP2, plus RESP3 `_` null and `>` push).
 *
 * Linear in the bytes received, whatever the slicing: a value is parsed
 * once, when its bytes are there, and never again; an array in progress
 * keeps the elements already parsed (a stack of open arrays); a header line
 * split across chunks is held as views and joined once; a bulk string split
 * across chunks is copied once into a buffer of its exact size. Bounded: a
 * reply over `maxReplyBytes` throws as soon as that is known. Malformed
 * input (an unknown type byte, a bad length, a missing CRLF) throws; the
 * connection then resets with ERR_PROTOCOL.
 */
export class RespDecoder implements FrameDecoder<RespValue> {
  /** Open arrays, innermost last. */
  private readonly stack: Aggregate[] = [];
  /** Bytes of the reply in progress consumed so far (its nested values included). */
  private replyBytes = 0;
  /** A header line not yet complete: views of the chunks that hold it. */
  private readonly held: Buffer[] = [];
  private heldBytes = 0;
  /** A bulk string (plus its CRLF) not yet complete, or undefined. */
  private bulk: Buffer | undefined;
  private bulkFilled = 0;
  /** Replies completed by the chunk being decoded. */
  private out: RespValue[] | undefined;

  constructor(private readonly maxReplyBytes: number) {}

  decode(chunk: Buffer): RespValue[] {
    this.out = undefined;
    const length = chunk.length;
    let pos = 0;
    if (this.bulk !== undefined) {
      pos = this.continueBulk(chunk);
      if (pos < 0) return NONE;
    } else if (this.heldBytes !== 0) {
      pos = this.continueLine(chunk);
      if (pos < 0) return NONE;
    }
    while (pos < length) {
      // The header line: from its type byte to CRLF.
      let lf = -1;
      const scanEnd = pos + SHORT_LINE < length ? pos + SHORT_LINE : length;
      for (let i = pos + 1; i < scanEnd; i++) {
        if (chunk[i] === LF) {
          lf = i;
          break;
        }
      }
      if (lf < 0 && scanEnd < length) lf = chunk.indexOf(LF, scanEnd);
      if (lf < 0) {
        this.hold(chunk, pos);
        break;
      }
      if (chunk[lf - 1] !== CR || lf - 1 === pos) throw malformed('a line does not end with CRLF');
      const size = this.line(chunk, pos, lf - 1);
      pos = lf + 1;
      if (size < 0) continue;
      // A bulk string of `size` bytes, then CRLF.
      if (length - pos >= size + 2) {
        if (chunk[pos + size] !== CR || chunk[pos + size + 1] !== LF)
          throw malformed('a bulk string overruns its length');
        this.value(chunk.toString('utf8', pos, pos + size));
        pos += size + 2;
      } else {
        this.bulk = Buffer.allocUnsafe(size + 2);
        this.bulkFilled = chunk.copy(this.bulk, 0, pos);
        break;
      }
    }
    return this.out ?? NONE;
  }

  /** Forgets everything in progress (the connection was reset). */
  reset(): void {
    this.stack.length = 0;
    this.replyBytes = 0;
    this.held.length = 0;
    this.heldBytes = 0;
    this.bulk = undefined;
    this.bulkFilled = 0;
    this.out = undefined;
  }

  /**
   * Handles the header line `buf[start, end)` (its type byte first, CRLF
   * excluded). Returns the size of the bulk string that follows, or -1 when
   * the line is the whole value.
   */
  private line(buf: Buffer, start: number, end: number): number {
    this.count(end - start + 2);
    switch (buf[start]) {
      case 0x2b: // '+' simple string
        this.value(buf.toString('utf8', start + 1, end));
        return -1;
      case 0x24: {
        // '$' bulk string
        const size = integer(buf, start + 1, end);
        if (size === -1) {
          this.value(null);
          return -1;
        }
        if (size < 0) throw malformed(`a bulk string length of ${size}`);
        this.count(size + 2);
        return size;
      }
      case 0x3a: // ':' integer
        this.value(integer(buf, start + 1, end));
        return -1;
      case 0x2a: // '*' array
      case 0x3e: {
        // '>' RESP3 push
        const count = integer(buf, start + 1, end);
        const push = buf[start] === 0x3e;
        if (count === -1 && !push) this.value(null);
        else if (count < 0) throw malformed(`an array length of ${count}`);
        else if (count === 0) this.value(push ? new RespPush([]) : []);
        else {
          // Each element takes 3 bytes at least: refuse a count no reply within the limit can hold.
          if (count > (this.maxReplyBytes - this.replyBytes) / 3) throw tooLong(this.maxReplyBytes);
          this.stack.push(new Aggregate(count, push));
        }
        return -1;
      }
      case 0x2d: // '-' error
        this.value(new RespError(buf.toString('utf8', start + 1, end)));
        return -1;
      case 0x5f: // '_' RESP3 null
        if (end !== start + 1) throw malformed('a null with a payload');
        this.value(null);
        return -1;
      default:
        throw malformed(`unexpected type byte 0x${buf[start].toString(16).padStart(2, '0')}`);
    }
  }

  /** A value is complete: into its array, or out as a reply. */
  private value(value: RespValue): void {
    const stack = this.stack;
    for (;;) {
      const top = stack.length === 0 ? undefined : stack[stack.length - 1];
      if (top === undefined) {
        this.replyBytes = 0;
        if (this.out === undefined) this.out = [value];
        else this.out.push(value);
        return;
      }
      top.items[top.index++] = value;
      if (top.index < top.count) return;
      stack.pop();
      value = top.push ? new RespPush(top.items) : top.items;
    }
  }

  /** Counts `bytes` toward the reply in progress, throwing past the limit. */
  private count(bytes: number): void {
    this.replyBytes += bytes;
    if (this.replyBytes > this.maxReplyBytes) throw tooLong(this.maxReplyBytes);
  }

  /** Keeps `chunk[from..]`, the start of a header line, as a view. */
  private hold(chunk: Buffer, from: number): void {
    this.heldBytes += chunk.length - from;
    if (this.replyBytes + this.heldBytes > this.maxReplyBytes) throw tooLong(this.maxReplyBytes);
    this.held.push(from === 0 ? chunk : chunk.subarray(from));
  }

  /** Completes a held header line with the start of `chunk`; returns where the chunk's rest starts, or -1. */
  private continueLine(chunk: Buffer): number {
    const lf = chunk.indexOf(LF);
    if (lf < 0) {
      this.hold(chunk, 0);
      return -1;
    }
    this.held.push(chunk.subarray(0, lf + 1));
    const line = Buffer.concat(this.held, this.heldBytes + lf + 1);
    this.held.length = 0;
    this.heldBytes = 0;
    const end = line.length - 2;
    if (line[end] !== CR || end === 0) throw malformed('a line does not end with CRLF');
    const size = this.line(line, 0, end);
    const pos = lf + 1;
    if (size < 0) return pos;
    this.bulk = Buffer.allocUnsafe(size + 2);
    this.bulkFilled = 0;
    return this.continueBulk(chunk, pos);
  }

  /** Fills the bulk string in progress from `chunk[from..]`; returns where the chunk's rest starts, or -1. */
  private continueBulk(chunk: Buffer, from = 0): number {
    const bulk = this.bulk!;
    const missing = bulk.length - this.bulkFilled;
    const available = chunk.length - from;
    if (available < missing) {
      this.bulkFilled += chunk.copy(bulk, this.bulkFilled, from);
      return -1;
    }
    chunk.copy(bulk, this.bulkFilled, from, from + missing);
    this.bulk = undefined;
    this.bulkFilled = 0;
    const size = bulk.length - 2;
    if (bulk[size] !== CR || bulk[size + 1] !== LF) throw malformed('a bulk string overruns its length');
    this.value(bulk.toString('utf8', 0, size));
    return from + missing;
  }
}

/** The integer `buf[start, end)`: an optional '-' and decimal digits. */
function integer(buf: Buffer, start: number, end: number): number {
  let i = start;
  const negative = buf[i] === 0x2d;
  if (negative) i++;
  if (i === end || end - i > 19) throw malformed('a bad integer');
  let n = 0;
  for (; i < end; i++) {
    const digit = buf[i] - 0x30;
    if (digit < 0 || digit > 9) throw malformed('a bad integer');
    n = n * 10 + digit;
  }
  // Past 2^53 the sum above rounds; read those (rare) through a string.
  if (n > Number.MAX_SAFE_INTEGER) n = Number(buf.toString('latin1', negative ? start + 1 : start, end));
  return negative ? -n : n;
}

function malformed(what: string): Error {
  return new Error(`RESP: ${what}; the stream is not valid RESP`);
}

function tooLong(max: number): Error {
  return new Error(`RESP: a reply is over maxReplyBytes (${max}); raise maxReplyBytes if replies may be that large`);
}
