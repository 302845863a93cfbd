/**
 * Framing: TCP delivers chunks, protocols speak in messages. A decoder turns
 * the chunks of one connection into whole frames.
 *
 * The contract is tokio-util's `Decoder` and Netty's `ByteToMessageDecoder`:
 * a decoder keeps what it has not yet made into a frame, hands out every
 * complete frame, and never re-copies what it already holds.
 */

import { types } from 'node:util';
import { ConnmanError } from './errors.js';
import { FRAMING_BUILDERS, OptionReader, invalidOption } from './options.js';

/**
 * Turns the chunks of one connection into frames. One decoder per connection
 * (and per reconnection: a fresh one, or `reset()`).
 *
 * `decode` is called with each chunk in order and returns the frames the
 * chunk completes (often none, sometimes several). It throws when the stream
 * is broken (a frame over its size limit, a byte that cannot start a frame):
 * the connection then resets with `ERR_PROTOCOL`, and nothing of the broken
 * stream reaches a handler.
 */
export interface FrameDecoder<F = Buffer> {
  /** The frames `chunk` completes, in order (often none); throws when the stream is broken. */
  decode(chunk: Buffer): Iterable<F>;
  /** Drops any partial frame (called when the connection resets). */
  reset?(): void;
}

/** The `framing` option: a factory that gives each connection its own decoder. */
export type Framing<F = Buffer> = () => FrameDecoder<F>;

// ---------------------------------------------------------------------------
// Built-in decoders: lines(), lengthPrefixed(), fixedLength().
//
// Shared rules (Netty's cumulation, tokio-util's Decoder):
// - a frame that lies wholly inside one chunk is handed out as a view of that
//   chunk (`subarray`, no copy);
// - the bytes of a frame that spans chunks are copied once, into memory the
//   decoder owns from then on only to hand it out (lines() first gathers
//   runs under 1 KiB, such as a chunk's tail, into a block; a line that ends
//   up in the block alone is handed out from it, one that spans the block
//   and longer runs is copied once more);
// - memory handed out is never written again, and bytes already held are
//   never copied again to make room for new ones (no `Buffer.concat` of
//   everything on every chunk), so the work is linear in the bytes received
//   whatever the slicing;
// - a frame over its limit throws as soon as the limit is known to be
//   crossed, so the bytes held stay bounded by the limit plus one chunk.
// ---------------------------------------------------------------------------

/** The largest `maxFrameBytes` (and `fixedLength` size) accepted: the largest 4-byte length. */
const MAX_FRAME_BYTES = 2 ** 32 - 1;
/** `lines()` default `maxFrameBytes`: 1 MiB. */
const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;
/** `lengthPrefixed()` default `maxFrameBytes`: 16 MiB. */
const DEFAULT_MAX_LENGTH_PREFIXED_BYTES = 16 * 1024 * 1024;
const LF = 0x0a;
const CR = 0x0d;

/**
 * What `decode()` returns when a chunk completes no frame: one shared empty
 * array, so that such a chunk allocates nothing. Not frozen: V8 iterates a
 * frozen array several times slower, and that cost would fall on every
 * chunk. `noFrames()` empties it again should a caller have written to it.
 */
const EMPTY: Buffer[] = [];

/** The shared empty result, emptied first if needed. */
function noFrames(): readonly Buffer[] {
  if (EMPTY.length !== 0) EMPTY.length = 0;
  return EMPTY;
}

/** Options of {@link lines}. */
export interface LinesOptions {
  /**
   * What ends a line: a non-empty string (UTF-8), `Buffer` or `Uint8Array`,
   * of one byte or several. Default: `'\n'`, and then a `'\r'` just before it
   * is removed too, so that `\r\n` protocols work. A delimiter given
   * explicitly (even `'\n'`) is matched exactly, with no `'\r'` removed.
   */
  delimiter?: string | Buffer | Uint8Array | undefined;
  /**
   * The longest line accepted, in bytes, not counting the delimiter (nor the
   * removed `'\r'`). A longer line resets the connection with `ERR_PROTOCOL`
   * as soon as it is known to be too long, before it is buffered whole.
   * Default 1 MiB (1,048,576).
   */
  maxFrameBytes?: number | undefined;
}

/** Options of {@link lengthPrefixed}. */
export interface LengthPrefixedOptions {
  /** Size of the length field that starts each frame: 1, 2 or 4 bytes (unsigned). Required. */
  lengthBytes: 1 | 2 | 4;
  /** Whether the length field is little-endian. Default `false` (big-endian, network order). */
  littleEndian?: boolean | undefined;
  /**
   * Whether the length counts the length field itself as well as the payload
   * (a length smaller than the field is then a protocol error). Default
   * `false`: the length is the payload's alone.
   */
  lengthIncludesHeader?: boolean | undefined;
  /**
   * The largest payload accepted, in bytes (the frame as handed out, without
   * the length field). A larger announced length resets the connection with
   * `ERR_PROTOCOL` as soon as the length field is read, before any of the
   * payload is buffered. Default 16 MiB (16,777,216).
   */
  maxFrameBytes?: number | undefined;
}

/**
 * Frames delimited by a byte sequence (a line protocol: Redis inline
 * commands, SMTP, memcached text, NMEA, ...). Each frame is the bytes between
 * two delimiters, without the delimiter; an empty line is an empty frame.
 *
 * The options are checked when `lines()` is called (a `ConnmanError` with
 * `ERR_INVALID_OPTIONS` naming the option); the returned factory gives each
 * connection its own decoder: `framing: lines()`.
 *
 * A frame that lies wholly inside one received chunk is a view of that chunk
 * (it shares its memory, no copy); a frame that spans chunks is gathered into
 * memory of its own, which it may share with other frames. Either way the
 * decoder never writes to a frame it has handed out. Copy a frame
 * (`Buffer.from(frame)`) to keep a small part of a large chunk for long
 * without keeping the whole chunk alive.
 *
 * A line longer than `maxFrameBytes` makes `decode()` throw a `ConnmanError`
 * with `ERR_PROTOCOL` (the connection resets; frames completed earlier in the
 * same chunk are dropped with the stream): at the latest once more than
 * `maxFrameBytes` plus the delimiter's length are held with no delimiter, so
 * the memory held stays bounded by `maxFrameBytes` plus one chunk.
 *
 * @example
 * ```ts
 * new ConnectionPool({ name: 'smtp', host, port, framing: lines() });
 * lines({ delimiter: '\0', maxFrameBytes: 64 * 1024 });
 * ```
 */
export function lines(options: LinesOptions = {}): Framing<Buffer> {
  const reader: OptionReader = readerOf('lines()', options);
  reader.onlyKeys(['delimiter', 'maxFrameBytes']);
  const given = reader.raw('delimiter');
  let delimiter: Buffer;
  if (given === undefined) delimiter = Buffer.of(LF);
  else if (typeof given === 'string' && given.length > 0) delimiter = Buffer.from(given, 'utf8');
  // A copy: the user may reuse their buffer, the decoders must not see it change.
  else if (types.isUint8Array(given) && given.length > 0) delimiter = Buffer.from(given);
  else reader.fail('delimiter', 'a non-empty string, Buffer or Uint8Array', given);
  const maxFrameBytes = reader.int('maxFrameBytes', DEFAULT_MAX_LINE_BYTES, 1, MAX_FRAME_BYTES);
  const shape: LineShape = {
    delimiter,
    stripCR: given === undefined,
    maxFrameBytes,
    fallback: delimiter.length > 1 ? prefixFunction(delimiter) : undefined,
  };
  return () => new LineDecoder(shape);
}

/**
 * Frames that start with their length: a 1-, 2- or 4-byte unsigned length
 * field (big-endian unless `littleEndian`), then that many bytes of payload
 * (fewer by the field's own size with `lengthIncludesHeader`). Each frame is
 * the payload without the length field; a length of 0 is an empty frame.
 *
 * The options are checked when `lengthPrefixed()` is called (a
 * `ConnmanError` with `ERR_INVALID_OPTIONS` naming the option); the returned
 * factory gives each connection its own decoder.
 *
 * A frame that lies wholly inside one received chunk is a view of that chunk
 * (it shares its memory, no copy); a frame that spans chunks is copied once
 * into a buffer of its exact size. The decoder never writes to a frame it has
 * handed out.
 *
 * A length over `maxFrameBytes`, or (with `lengthIncludesHeader`) smaller
 * than the length field, makes `decode()` throw a `ConnmanError` with
 * `ERR_PROTOCOL` as soon as the length field is read, before any of the
 * payload is buffered (the connection resets; frames completed earlier in
 * the same chunk are dropped with the stream).
 *
 * @example
 * ```ts
 * new ConnectionPool({ name: 'feed', host, port, framing: lengthPrefixed({ lengthBytes: 4 }) });
 * ```
 */
export function lengthPrefixed(options: LengthPrefixedOptions): Framing<Buffer> {
  const reader: OptionReader = readerOf('lengthPrefixed()', options);
  reader.onlyKeys(['lengthBytes', 'littleEndian', 'lengthIncludesHeader', 'maxFrameBytes']);
  const lengthBytes = reader.raw('lengthBytes');
  if (lengthBytes !== 1 && lengthBytes !== 2 && lengthBytes !== 4) {
    reader.fail('lengthBytes', '1, 2 or 4 (the size of the length field, in bytes)', lengthBytes);
  }
  const shape: LengthShape = {
    lengthBytes,
    littleEndian: reader.bool('littleEndian', false),
    lengthIncludesHeader: reader.bool('lengthIncludesHeader', false),
    maxFrameBytes: reader.int('maxFrameBytes', DEFAULT_MAX_LENGTH_PREFIXED_BYTES, 1, MAX_FRAME_BYTES),
  };
  return () => new LengthPrefixedDecoder(shape);
}

/**
 * Frames of exactly `bytes` bytes each (fixed-size records, e.g. a binary
 * feed of 64-byte ticks). `bytes` is checked when `fixedLength()` is called
 * (a `ConnmanError` with `ERR_INVALID_OPTIONS`); the returned factory gives
 * each connection its own decoder.
 *
 * A frame that lies wholly inside one received chunk is a view of that chunk
 * (it shares its memory, no copy); a frame that spans chunks is copied once.
 * The decoder never writes to a frame it has handed out.
 */
export function fixedLength(bytes: number): Framing<Buffer> {
  if (typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < 1 || bytes > MAX_FRAME_BYTES) {
    throw invalidOption('fixedLength()', 'bytes', `an integer from 1 to ${MAX_FRAME_BYTES}`, bytes);
  }
  return () => new FixedLengthDecoder(bytes);
}

/** An `OptionReader` over `options`, refusing anything but a plain object. */
function readerOf(scope: string, options: unknown): OptionReader {
  const source = options === undefined ? {} : options;
  if (source === null || typeof source !== 'object' || Array.isArray(source)) {
    throw invalidOption(scope, 'options', 'an options object', source);
  }
  return new OptionReader(scope, source);
}

/** Below this many bytes a plain loop beats a call into native code (`indexOf`, `copy`): tiny chunks. */
const SHORT = 16;

/** Copies `source[start, end)` to `target[at..]`; returns the number of bytes copied. */
function copyBytes(source: Buffer, start: number, end: number, target: Buffer, at: number): number {
  const n = end - start;
  if (n >= SHORT) return source.copy(target, at, start, end);
  for (let i = 0; i < n; i++) target[at + i] = source[start + i];
  return n;
}

/** The `ERR_PROTOCOL` error a decoder throws. */
function protocolError(message: string): ConnmanError {
  return new ConnmanError('ERR_PROTOCOL', message);
}

// ---------------------------------------------------------------------------
// lines()
// ---------------------------------------------------------------------------

/** What a `lines()` factory fixed once for all its decoders. */
interface LineShape {
  readonly delimiter: Buffer;
  /** Remove a `'\r'` before the delimiter (the default `'\n'` only). */
  readonly stripCR: boolean;
  readonly maxFrameBytes: number;
  /** Knuth-Morris-Pratt prefix function of a multi-byte delimiter (to find one split across chunks). */
  readonly fallback: Int32Array | undefined;
}

/** `pi[i]`: length of the longest proper prefix of `pattern[0..i]` that is also its suffix. */
function prefixFunction(pattern: Buffer): Int32Array {
  const pi = new Int32Array(pattern.length);
  for (let i = 1, k = 0; i < pattern.length; i++) {
    while (k > 0 && pattern[i] !== pattern[k]) k = pi[k - 1];
    if (pattern[i] === pattern[k]) k++;
    pi[i] = k;
  }
  return pi;
}

/**
 * The most frames a result array is first made for. Arrays made at their
 * final size (from the last chunk's count) spare the copies of growing one
 * frame at a time; this bounds what a chunk that completes few frames after
 * one that completed many allocates for nothing.
 */
const MAX_EXPECTED = 4096;

/** Runs shorter than this are copied into a block rather than kept as views of their chunk. */
const COPY_BELOW = 1024;
/** Size of the blocks that gather short runs. */
const BLOCK_BYTES = 16 * 1024;
const NO_BLOCK = Buffer.alloc(0);

/**
 * The bytes of a line not yet complete, held without re-copying: runs of
 * `COPY_BELOW` bytes or more stay views of their chunk (copied once, when the
 * line completes); shorter runs (a chunk's tail, tiny chunks) are copied into
 * a block, so that a line gathered from many tiny chunks costs neither an
 * object per chunk nor a second copy when it fits in one block (it is then
 * handed out as a view of the block, and the block is only ever written past
 * what was handed out).
 */
class Cumulation {
  /** Bytes held: `pieces` in order, then the open run `block[runStart, runEnd)`. */
  length = 0;
  private readonly pieces: Buffer[] = [];
  private block: Buffer = NO_BLOCK;
  private runStart = 0;
  private runEnd = 0;

  /** Holds `source[start, end)` after what is already held. */
  append(source: Buffer, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) return;
    this.length += n;
    if (n >= COPY_BELOW) {
      this.closeRun();
      this.pieces.push(source.subarray(start, end));
      return;
    }
    if (this.block.length - this.runEnd < n) {
      this.closeRun();
      this.block = Buffer.allocUnsafeSlow(BLOCK_BYTES);
      this.runStart = this.runEnd = 0;
    }
    this.runEnd += copyBytes(source, start, end, this.block, this.runEnd);
  }

  /** The last byte held (there must be one). */
  lastByte(): number {
    if (this.runEnd > this.runStart) return this.block[this.runEnd - 1];
    const last = this.pieces[this.pieces.length - 1];
    return last[last.length - 1];
  }

  /** Copies the last `n` bytes held (n <= length) to `target[0, n)`. */
  copyLast(target: Buffer, n: number): void {
    let at = n;
    const run = Math.min(this.runEnd - this.runStart, at);
    if (run > 0) {
      this.block.copy(target, at - run, this.runEnd - run, this.runEnd);
      at -= run;
    }
    for (let i = this.pieces.length - 1; at > 0; i--) {
      const piece = this.pieces[i];
      const k = Math.min(piece.length, at);
      piece.copy(target, at - k, piece.length - k);
      at -= k;
    }
  }

  /** The first `n` bytes held (n <= length), as one buffer; everything held is dropped. */
  take(n: number): Buffer {
    const pieces = this.pieces;
    let frame: Buffer;
    if (pieces.length === 0) {
      frame = this.block.subarray(this.runStart, this.runStart + n);
    } else if (n <= pieces[0].length) {
      frame = pieces[0].subarray(0, n);
    } else {
      frame = Buffer.allocUnsafe(n);
      let at = 0;
      for (let i = 0; i < pieces.length && at < n; i++) {
        at += pieces[i].copy(frame, at, 0, Math.min(pieces[i].length, n - at));
      }
      if (at < n) this.block.copy(frame, at, this.runStart, this.runStart + (n - at));
    }
    this.clear();
    return frame;
  }

  /** Drops everything held (the block stays, written only past what it handed out). */
  clear(): void {
    this.pieces.length = 0;
    this.runStart = this.runEnd;
    this.length = 0;
  }

  /** Drops everything held and the block too. */
  release(): void {
    this.clear();
    this.block = NO_BLOCK;
    this.runStart = this.runEnd = 0;
  }

  private closeRun(): void {
    if (this.runEnd > this.runStart) {
      this.pieces.push(this.block.subarray(this.runStart, this.runEnd));
      this.runStart = this.runEnd;
    }
  }
}

/** The decoder behind {@link lines}. */
class LineDecoder implements FrameDecoder<Buffer> {
  private readonly held = new Cumulation();
  /** The most bytes that may be held while no delimiter is complete and still make a line within the limit. */
  private readonly maxHeld: number;
  /** The last bytes held, to look for a multi-byte delimiter split across chunks. */
  private readonly tail: Buffer | undefined;
  /** What `indexOf` looks for: the delimiter's byte when it has one, else the delimiter. */
  private readonly needle: number | Buffer;
  private failure: ConnmanError | undefined;
  /** Where `completeHeld()` left the chunk. */
  private resumeAt = 0;
  /** Frames expected from the next chunk (as many as the last one gave): the result array's first size. */
  private expected = 1;

  constructor(private readonly shape: LineShape) {
    const d = shape.delimiter.length;
    this.maxHeld = shape.maxFrameBytes + (d - 1) + (shape.stripCR ? 1 : 0);
    this.tail = d > 1 ? Buffer.allocUnsafe(d - 1) : undefined;
    this.needle = d > 1 ? shape.delimiter : shape.delimiter[0];
  }

  decode(chunk: Buffer): readonly Buffer[] {
    if (this.failure) throw this.failure;
    // Two paths, so that what tiny chunks teach the JIT does not slow big ones down.
    return chunk.length < SHORT ? this.decodeShort(chunk) : this.decodeLong(chunk);
  }

  reset(): void {
    this.held.release();
    this.failure = undefined;
  }

  /** `decode()` of a chunk of `SHORT` bytes or more: `indexOf` finds each line. */
  private decodeLong(chunk: Buffer): readonly Buffer[] {
    let frames: Buffer[] | undefined;
    let count = 0;
    let pos = 0;
    if (this.held.length > 0) {
      const first = this.completeHeld(chunk);
      if (first === undefined) return noFrames();
      frames = new Array<Buffer>(this.expected);
      frames[count++] = first;
      pos = this.resumeAt;
    }
    // Lines wholly inside this chunk: views, no copy.
    const { stripCR, maxFrameBytes } = this.shape;
    const needle = this.needle;
    const d = this.shape.delimiter.length;
    const length = chunk.length;
    // When the rest of the chunk is within the limit, so is every line in it.
    const limit = length - pos > maxFrameBytes ? maxFrameBytes : length;
    for (;;) {
      const at = chunk.indexOf(needle, pos);
      if (at < 0) break;
      let end = at;
      if (stripCR && end > pos && chunk[end - 1] === CR) end--;
      if (end - pos > limit) throw this.fail(tooLong(end - pos, maxFrameBytes));
      frames ??= new Array<Buffer>(this.expected);
      frames[count++] = chunk.subarray(pos, end);
      pos = at + d;
    }
    if (pos < length) this.hold(chunk, pos);
    if (frames === undefined) return noFrames();
    frames.length = count;
    this.expected = count < MAX_EXPECTED ? count + 1 : MAX_EXPECTED;
    return frames;
  }

  /** `decode()` of a chunk under `SHORT` bytes (a slow peer, a slicing proxy): plain loops, no native calls. */
  private decodeShort(chunk: Buffer): readonly Buffer[] {
    let frames: Buffer[] | undefined;
    let pos = 0;
    if (this.held.length > 0 && chunk.length > 0) {
      const first = this.completeHeld(chunk);
      if (first === undefined) return noFrames();
      frames = [first];
      pos = this.resumeAt;
    }
    const { stripCR, maxFrameBytes } = this.shape;
    const d = this.shape.delimiter.length;
    for (;;) {
      const at = this.find(chunk, pos);
      if (at < 0) break;
      let end = at;
      if (stripCR && end > pos && chunk[end - 1] === CR) end--;
      if (end - pos > maxFrameBytes) throw this.fail(tooLong(end - pos, maxFrameBytes));
      if (frames === undefined) frames = [chunk.subarray(pos, end)];
      else frames.push(chunk.subarray(pos, end));
      pos = at + d;
    }
    if (pos < chunk.length) this.hold(chunk, pos);
    return frames ?? noFrames();
  }

  /**
   * The line in progress completed by the start of `chunk`, with
   * `resumeAt` set to where the chunk's next line starts; or `undefined`
   * when `chunk` completes no line (it is then held whole).
   */
  private completeHeld(chunk: Buffer): Buffer | undefined {
    const { delimiter, stripCR, maxFrameBytes } = this.shape;
    const d = delimiter.length;
    const held = this.held;
    const split = d > 1 ? this.splitDelimiter(chunk) : 0;
    if (split > 0) {
      this.resumeAt = split;
      return held.take(held.length - (d - split));
    }
    const at = this.find(chunk, 0);
    if (at < 0) {
      this.hold(chunk, 0);
      return undefined;
    }
    let n = held.length + at;
    if (stripCR && (at > 0 ? chunk[at - 1] : held.lastByte()) === CR) n--;
    if (n > maxFrameBytes) throw this.fail(tooLong(n, maxFrameBytes));
    held.append(chunk, 0, n - held.length);
    this.resumeAt = at + d;
    return held.take(n);
  }

  /** Where the next delimiter wholly inside `chunk` starts, from `from` on; -1 if none. */
  private find(chunk: Buffer, from: number): number {
    const needle = this.needle;
    const length = chunk.length;
    if (typeof needle !== 'number' || length - from >= SHORT) return chunk.indexOf(needle, from);
    for (let i = from; i < length; i++) if (chunk[i] === needle) return i;
    return -1;
  }

  /** Holds `chunk[from..]`, failing fast when no line within the limit can hold it. */
  private hold(chunk: Buffer, from: number): void {
    if (this.held.length + (chunk.length - from) > this.maxHeld) {
      const { maxFrameBytes } = this.shape;
      throw this.fail(
        `lines(): more than maxFrameBytes (${maxFrameBytes}) bytes arrived without a delimiter. ` +
          'Raise maxFrameBytes if lines may be that long, or check the delimiter and that the peer speaks this protocol.',
      );
    }
    this.held.append(chunk, from, chunk.length);
  }

  /**
   * When the bytes held end with the start of a multi-byte delimiter that
   * `chunk` completes, the number of bytes of `chunk` that complete it;
   * otherwise 0. Knuth-Morris-Pratt over the last `d - 1` bytes held and the
   * first `d - 1` of the chunk: O(d) per chunk, whatever the bytes.
   */
  private splitDelimiter(chunk: Buffer): number {
    const { delimiter } = this.shape;
    const pi = this.shape.fallback!;
    const tail = this.tail!;
    const d = delimiter.length;
    const t = Math.min(d - 1, this.held.length);
    this.held.copyLast(tail, t);
    let q = 0;
    for (let i = 0; i < t; i++) {
      const byte = tail[i];
      while (q > 0 && delimiter[q] !== byte) q = pi[q - 1];
      if (delimiter[q] === byte) q++;
    }
    // Any delimiter ending within the chunk's first d - 1 bytes began in the bytes held.
    const limit = Math.min(d - 1, chunk.length);
    for (let j = 0; j < limit && q > 0; j++) {
      const byte = chunk[j];
      while (q > 0 && delimiter[q] !== byte) q = pi[q - 1];
      if (delimiter[q] === byte) q++;
      if (q === d) return j + 1;
    }
    return 0;
  }

  private fail(message: string): ConnmanError {
    this.held.release();
    this.failure = protocolError(message);
    return this.failure;
  }
}

function tooLong(bytes: number, maxFrameBytes: number): string {
  return (
    `lines(): a line of ${bytes} bytes is over maxFrameBytes (${maxFrameBytes}). ` +
    'Raise maxFrameBytes if lines may be that long, or check the delimiter and that the peer speaks this protocol.'
  );
}

// ---------------------------------------------------------------------------
// lengthPrefixed() and fixedLength()
// ---------------------------------------------------------------------------

/** What a `lengthPrefixed()` factory fixed once for all its decoders. */
interface LengthShape {
  readonly lengthBytes: 1 | 2 | 4;
  readonly littleEndian: boolean;
  readonly lengthIncludesHeader: boolean;
  readonly maxFrameBytes: number;
}

/**
 * A frame of known size that spans chunks: allocated at its exact size when
 * its first bytes arrive, filled once, then handed out and forgotten.
 */
class Assembly {
  /** The payload's size, or -1 when no payload is in progress. */
  size = -1;
  /** Where `continue()` stopped reading when it returned a frame. */
  readTo = 0;
  private buffer: Buffer | undefined;
  private filled = 0;

  /** Expects a payload of `size` bytes, none of which has arrived yet. */
  expect(size: number): void {
    this.size = size;
    this.filled = 0;
    this.buffer = undefined;
  }

  /** Starts a payload of `size` bytes with what `chunk[from..]` holds of it (less than all). */
  begin(size: number, chunk: Buffer, from: number): void {
    this.expect(size);
    this.fill(chunk, from, chunk.length);
  }

  /**
   * Continues the payload in progress from `chunk[from..]`: returns the
   * frame once complete (and how far it read, in `this.readTo`), or
   * `undefined` when the chunk ran out first.
   */
  continue(chunk: Buffer, from: number): Buffer | undefined {
    const missing = this.size - this.filled;
    const available = chunk.length - from;
    if (this.buffer === undefined && available >= missing) {
      // None of it arrived before: the payload lies wholly in this chunk.
      this.readTo = from + missing;
      this.size = -1;
      return chunk.subarray(from, from + missing);
    }
    if (available < missing) {
      this.fill(chunk, from, chunk.length);
      return undefined;
    }
    this.fill(chunk, from, from + missing);
    const frame = this.buffer!;
    this.readTo = from + missing;
    this.clear();
    return frame;
  }

  /** Forgets the payload in progress. */
  clear(): void {
    this.size = -1;
    this.buffer = undefined;
    this.filled = 0;
  }

  private fill(chunk: Buffer, start: number, end: number): void {
    if (end <= start) return;
    this.buffer ??= Buffer.allocUnsafe(this.size);
    this.filled += copyBytes(chunk, start, end, this.buffer, this.filled);
  }
}

/** The decoder behind {@link lengthPrefixed}. */
class LengthPrefixedDecoder implements FrameDecoder<Buffer> {
  /** A length field split across chunks, gathered here (never handed out). */
  private readonly header: Buffer;
  private headerFilled = 0;
  private readonly payload = new Assembly();
  private failure: ConnmanError | undefined;

  constructor(private readonly shape: LengthShape) {
    this.header = Buffer.alloc(shape.lengthBytes);
  }

  decode(chunk: Buffer): readonly Buffer[] {
    if (this.failure) throw this.failure;
    const h = this.shape.lengthBytes;
    const length = chunk.length;
    const payload = this.payload;
    let frames: Buffer[] | undefined;
    let pos = 0;

    // The frame in progress: its length field, then its payload.
    if (this.headerFilled > 0) {
      pos = Math.min(h - this.headerFilled, length);
      copyBytes(chunk, 0, pos, this.header, this.headerFilled);
      this.headerFilled += pos;
      if (this.headerFilled < h) return noFrames();
      this.headerFilled = 0;
      payload.expect(this.payloadSize(this.header, 0));
    }
    if (payload.size >= 0) {
      const frame = payload.continue(chunk, pos);
      if (frame === undefined) return noFrames();
      frames = [frame];
      pos = payload.readTo;
    }

    // Frames wholly inside this chunk: views, no copy.
    while (length - pos >= h) {
      const size = this.payloadSize(chunk, pos);
      pos += h;
      if (length - pos < size) {
        payload.begin(size, chunk, pos);
        return frames ?? noFrames();
      }
      if (frames === undefined) frames = [chunk.subarray(pos, pos + size)];
      else frames.push(chunk.subarray(pos, pos + size));
      pos += size;
    }
    if (pos < length) this.headerFilled = copyBytes(chunk, pos, length, this.header, 0);
    return frames ?? noFrames();
  }

  reset(): void {
    this.headerFilled = 0;
    this.payload.clear();
    this.failure = undefined;
  }

  /** Reads the length field at `buffer[at]` and checks it: the payload's size. */
  private payloadSize(buffer: Buffer, at: number): number {
    const { lengthBytes, littleEndian, lengthIncludesHeader, maxFrameBytes } = this.shape;
    let size =
      lengthBytes === 1
        ? buffer[at]
        : lengthBytes === 2
          ? littleEndian
            ? buffer[at] | (buffer[at + 1] << 8)
            : (buffer[at] << 8) | buffer[at + 1]
          : littleEndian
            ? buffer.readUInt32LE(at)
            : buffer.readUInt32BE(at);
    if (lengthIncludesHeader) {
      if (size < lengthBytes) {
        throw this.fail(
          `lengthPrefixed(): a length of ${size} is smaller than the ${lengthBytes}-byte length field it must ` +
            'include (lengthIncludesHeader). Check lengthIncludesHeader, lengthBytes and littleEndian against the protocol.',
        );
      }
      size -= lengthBytes;
    }
    if (size > maxFrameBytes) {
      throw this.fail(
        `lengthPrefixed(): a frame of ${size} bytes was announced, over maxFrameBytes (${maxFrameBytes}). ` +
          'Raise maxFrameBytes if frames may be that large, or check lengthBytes, littleEndian and ' +
          'lengthIncludesHeader against the protocol.',
      );
    }
    return size;
  }

  private fail(message: string): ConnmanError {
    this.headerFilled = 0;
    this.payload.clear();
    this.failure = protocolError(message);
    return this.failure;
  }
}

/** The decoder behind {@link fixedLength}. */
class FixedLengthDecoder implements FrameDecoder<Buffer> {
  private readonly payload = new Assembly();

  constructor(private readonly size: number) {}

  decode(chunk: Buffer): readonly Buffer[] {
    const size = this.size;
    const length = chunk.length;
    const payload = this.payload;
    let frames: Buffer[] | undefined;
    let pos = 0;
    if (payload.size >= 0) {
      const frame = payload.continue(chunk, 0);
      if (frame === undefined) return noFrames();
      frames = [frame];
      pos = payload.readTo;
    }
    while (length - pos >= size) {
      if (frames === undefined) frames = [chunk.subarray(pos, pos + size)];
      else frames.push(chunk.subarray(pos, pos + size));
      pos += size;
    }
    if (pos < length) payload.begin(size, chunk, pos);
    return frames ?? noFrames();
  }

  reset(): void {
    this.payload.clear();
  }
}

// Given as `framing: lines` (not called), a builder would make every connection fail: refused up front.
FRAMING_BUILDERS.add(lines).add(lengthPrefixed).add(fixedLength);
