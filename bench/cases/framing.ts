import { lengthPrefixed, lines, type Framing } from '../../lib/index.js';
import { compare, result, type BenchFlags, type CaseResult, type Sample } from '../harness.js';

const LF = 0x0a;
const CR = 0x0d;
const MIB = 1024 * 1024;
const BIG_CHUNK = 64 * 1024;

/** Keeps the decoded frames observable, so that no decoding loop can be optimised away. */
let sink = 0;

/** mulberry32: the same input on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** About `bytes` of text lines of 20 to 180 bytes, one in ten ending with \r\n, the others with \n. */
function lineStream(bytes: number): Buffer {
  const random = seeded(1);
  const stream = Buffer.alloc(bytes);
  let pos = 0;
  for (;;) {
    const length = 20 + Math.floor(random() * 161);
    const crlf = random() < 0.1;
    if (pos + length + 2 > bytes) break;
    stream.fill(0x61 + (pos % 26), pos, pos + length);
    pos += length;
    if (crlf) stream[pos++] = CR;
    stream[pos++] = LF;
  }
  return stream.subarray(0, pos);
}

/** About `bytes` of frames of 20 to 180 bytes behind a 4-byte big-endian length. */
function prefixedStream(bytes: number): Buffer {
  const random = seeded(2);
  const stream = Buffer.alloc(bytes);
  let pos = 0;
  for (;;) {
    const length = 20 + Math.floor(random() * 161);
    if (pos + 4 + length > bytes) break;
    stream.writeUInt32BE(length, pos);
    stream.fill(0x61 + (pos % 26), pos + 4, pos + 4 + length);
    pos += 4 + length;
  }
  return stream.subarray(0, pos);
}

/** The stream as chunks of `size` bytes (views), made before any timing. */
function sliced(stream: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let pos = 0; pos < stream.length; pos += size) chunks.push(stream.subarray(pos, pos + size));
  return chunks;
}

/**
 * The baseline for lines: what a careful hand-written splitter does. Each
 * chunk is searched with `Buffer.indexOf` from where the last line ended;
 * lines inside the chunk are `subarray` views; the unconsumed tail is kept as
 * a list of pieces and joined once (`Buffer.concat`) when its line completes,
 * so that no byte is copied twice and no search starts over. A \r before the
 * \n is removed. No length limit, no multi-byte delimiter.
 */
class IndexOfLines {
  private parts: Buffer[] = [];
  private held = 0;

  constructor(private readonly onLine: (line: Buffer) => void) {}

  push(chunk: Buffer): void {
    let pos = 0;
    let at = chunk.indexOf(LF);
    if (at >= 0 && this.held > 0) {
      this.parts.push(chunk.subarray(0, at));
      let line = Buffer.concat(this.parts, this.held + at);
      this.parts = [];
      this.held = 0;
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
      this.onLine(line);
      pos = at + 1;
      at = chunk.indexOf(LF, pos);
    }
    while (at >= 0) {
      const end = at > pos && chunk[at - 1] === CR ? at - 1 : at;
      this.onLine(chunk.subarray(pos, end));
      pos = at + 1;
      at = chunk.indexOf(LF, pos);
    }
    if (pos < chunk.length) {
      this.parts.push(pos === 0 ? chunk : chunk.subarray(pos));
      this.held += chunk.length - pos;
    }
  }
}

/**
 * The baseline for length-prefixed frames: a `readUInt32BE` + `subarray`
 * loop over the chunk. An incomplete frame is kept as a list of pieces until
 * the bytes it needs have arrived (the header first, then the whole frame),
 * then joined once. No length limit.
 */
class ReadUInt32Frames {
  private parts: Buffer[] = [];
  private held = 0;
  private need = 4;

  constructor(private readonly onFrame: (frame: Buffer) => void) {}

  push(chunk: Buffer): void {
    let buffer = chunk;
    if (this.held > 0) {
      this.parts.push(chunk);
      this.held += chunk.length;
      if (this.held < this.need) return;
      buffer = Buffer.concat(this.parts, this.held);
      this.parts = [];
      this.held = 0;
    }
    let pos = 0;
    while (buffer.length - pos >= 4) {
      const size = buffer.readUInt32BE(pos);
      if (buffer.length - pos - 4 < size) break;
      this.onFrame(buffer.subarray(pos + 4, pos + 4 + size));
      pos += 4 + size;
    }
    if (pos < buffer.length) {
      this.parts.push(pos === 0 ? buffer : buffer.subarray(pos));
      this.held = buffer.length - pos;
      this.need = this.held >= 4 ? 4 + buffer.readUInt32BE(pos) : 4;
    }
  }
}

/** Decodes `chunks` with a fresh decoder from `framing`; returns frames and frame bytes. */
function ours(framing: Framing<Buffer>, chunks: Buffer[]): [number, number] {
  const decoder = framing();
  let frames = 0;
  let bytes = 0;
  for (const chunk of chunks) {
    for (const frame of decoder.decode(chunk)) {
      frames++;
      bytes += frame.length;
    }
  }
  sink += frames;
  return [frames, bytes];
}

/** Decodes `chunks` with a fresh baseline; returns frames and frame bytes. */
function baseline(
  make: (onFrame: (frame: Buffer) => void) => { push(chunk: Buffer): void },
  chunks: Buffer[],
): [number, number] {
  let frames = 0;
  let bytes = 0;
  const decoder = make((frame) => {
    frames++;
    bytes += frame.length;
  });
  for (const chunk of chunks) decoder.push(chunk);
  sink += frames;
  return [frames, bytes];
}

/** A rate in MiB/s turned into a cost in ns per byte (the slowest round becomes the largest cost). */
function nsPerByte(s: Sample): Sample {
  const ns = (mibPerSecond: number): number => 1e9 / (mibPerSecond * MIB);
  return { median: ns(s.median), min: ns(s.max), max: ns(s.min), rounds: s.rounds };
}

interface Codec {
  label: string;
  peer: string;
  framing: Framing<Buffer>;
  stream: (bytes: number) => Buffer;
  /** One frame of about `bytes`, framed. */
  oneFrame: (bytes: number) => Buffer;
  baseline: (onFrame: (frame: Buffer) => void) => { push(chunk: Buffer): void };
}

/**
 * Case `framing`: decoding throughput of the built-in decoders `lines()` and
 * `lengthPrefixed({ lengthBytes: 4 })`, on a stream cut into 1-byte chunks
 * and into 64 KiB chunks, each against a plain hand-written loop doing the
 * same work; then the cost per byte of one long stream against many short
 * ones (work linear in the bytes received).
 */
export async function framing(flags: BenchFlags): Promise<CaseResult[]> {
  // 1-byte chunks are made before timing, one Buffer object each (about 110 bytes of heap per
  // byte of input): that, more than time, bounds their input.
  const tinyBytes = flags.quick ? MIB / 2 : MIB;
  // Big enough that one timed run lasts well over a scheduler time slice.
  const bigBytes = flags.quick ? 16 * MIB : 32 * MIB;
  const longBytes = flags.quick ? 16 * MIB : 64 * MIB;
  const rounds = flags.quick ? 11 : 21;
  const warmup = flags.quick ? 2 : 3;

  const codecs: Codec[] = [
    {
      label: 'lines()',
      peer: 'Buffer.indexOf loop',
      framing: lines(),
      stream: lineStream,
      oneFrame: (bytes) => Buffer.concat([Buffer.alloc(bytes - 1, 'l'), Buffer.of(LF)]),
      baseline: (onFrame) => new IndexOfLines(onFrame),
    },
    {
      label: 'lengthPrefixed({ lengthBytes: 4 })',
      peer: 'readUInt32BE loop',
      framing: lengthPrefixed({ lengthBytes: 4 }),
      stream: prefixedStream,
      oneFrame: (bytes) => {
        const frame = Buffer.alloc(bytes, 'p');
        frame.writeUInt32BE(bytes - 4, 0);
        return frame;
      },
      baseline: (onFrame) => new ReadUInt32Frames(onFrame),
    },
  ];

  const results: CaseResult[] = [];
  /** ns per byte of each codec's 1-byte row. */
  const tinyCost = new Map<Codec, number>();
  for (const codec of codecs) {
    for (const [slicing, size, bytes] of [
      ['1-byte chunks', 1, tinyBytes],
      ['64 KiB chunks', BIG_CHUNK, bigBytes],
    ] as const) {
      const stream = codec.stream(bytes);
      const chunks = sliced(stream, size);
      // Both must see the same frames, or the comparison means nothing.
      const expected = baseline(codec.baseline, chunks);
      const got = ours(codec.framing, chunks);
      if (got[0] !== expected[0] || got[1] !== expected[1]) {
        throw new Error(`framing bench: ${codec.label} decoded ${got} (frames, bytes), the baseline ${expected}`);
      }
      const samples = await compare(
        {
          ours: () => void ours(codec.framing, chunks),
          [codec.peer]: () => void baseline(codec.baseline, chunks),
        },
        stream.length / MIB,
        rounds,
        warmup,
      );
      if (size === 1) tinyCost.set(codec, nsPerByte(samples.ours).median);
      results.push(
        result(`framing (${codec.label}, ${slicing})`, 'MiB/s', 'higher', samples.ours, {
          [codec.peer]: samples[codec.peer],
        }),
      );
    }
  }

  // Linearity: the same decoder over one long stream and over 1 MiB streams, in 64 KiB chunks;
  // and one frame as long as the whole 1-byte input, fed 1 byte at a time.
  for (const codec of codecs) {
    const oneFrame = codec.oneFrame(tinyBytes);
    const oneFrameChunks = sliced(oneFrame, 1);
    const oneFrameSample = (
      await compare({ one: () => void ours(codec.framing, oneFrameChunks) }, oneFrame.length / MIB, rounds, warmup)
    ).one;
    const long = sliced(codec.stream(longBytes), BIG_CHUNK);
    const short = sliced(codec.stream(MIB), BIG_CHUNK);
    const repeats = Math.round(longBytes / MIB);
    const longLength = long.reduce((n, c) => n + c.length, 0);
    const samples = await compare(
      {
        long: () => void ours(codec.framing, long),
        short: () => {
          for (let i = 0; i < repeats; i++) ours(codec.framing, short);
        },
      },
      longLength / MIB,
      rounds,
      warmup,
    );
    results.push(
      result(
        `framing (linearity, ${codec.label})`,
        'ns/byte',
        'lower',
        nsPerByte(samples.long),
        { [`${repeats} streams of 1 MiB`]: nsPerByte(samples.short) },
        [
          `ours: one stream of ${longBytes / MIB} MiB; peer: the same decoder on ${repeats} streams of 1 MiB, a fresh decoder each; both in 64 KiB chunks; a ratio near 1 means the cost per byte does not grow with the input`,
          `one frame of ${tinyBytes / MIB} MiB fed in 1-byte chunks: ${nsPerByte(oneFrameSample).median.toFixed(1)} ns/byte (frames of 20-180 bytes in 1-byte chunks: ${tinyCost.get(codec)!.toFixed(1)} ns/byte): a frame's bytes are not copied again as it grows`,
        ],
      ),
    );
  }

  results[0].notes = [
    `inputs: text lines of 20-180 bytes (one in ten ending \\r\\n) and frames of 20-180 bytes behind a 4-byte length; ${tinyBytes / MIB} MiB cut into 1-byte chunks, ${bigBytes / MIB} MiB into 64 KiB chunks, ${longBytes / MIB} MiB for linearity; 1-byte chunks are made before timing, a Buffer object each (about 110 bytes of heap per byte of input), which bounds that input; these sizes keep the full run of this case well under a minute`,
    "chunks are made (as views) before timing; each round decodes the whole input with a fresh decoder; frames are counted and their bytes summed by both sides; ours returns each chunk's frames as an array (the FrameDecoder contract), the baselines hand each frame to a callback",
    'baselines: Buffer.indexOf from where the last line ended, lines inside a chunk as subarray views, the unconsumed tail kept as a list of pieces and joined once when its line completes (linear, no byte copied twice), \\r removed; readUInt32BE + subarray over the chunk, an incomplete frame kept as pieces and joined once its bytes are there; neither checks a size limit nor supports multi-byte delimiters',
  ];
  if (sink < 0) throw new Error('unreachable');
  return results;
}
