import { describe, expect, it } from '@jest/globals';
import {
  ConnmanError,
  fixedLength,
  lengthPrefixed,
  lines,
  type FrameDecoder,
  type Framing,
  type LengthPrefixedOptions,
} from '../../lib/index.js';
import { useScope } from '../helpers/resources.js';

useScope();

const CR = 0x0d;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so that a failing random case can be replayed. */
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

/** The stream whole, as 1-byte chunks, and cut in two at every byte boundary (empty chunks included). */
function slicings(stream: Buffer): [string, Buffer[]][] {
  const out: [string, Buffer[]][] = [
    ['one chunk', [stream]],
    ['1-byte chunks', Array.from({ length: stream.length }, (_, i) => stream.subarray(i, i + 1))],
  ];
  for (let cut = 0; cut <= stream.length; cut++) {
    out.push([`cut at ${cut}`, [stream.subarray(0, cut), stream.subarray(cut)]]);
  }
  return out;
}

/** Cuts `stream` into chunks of random sizes (some empty, many tiny, some large), each a fresh buffer. */
function randomSlicing(stream: Buffer, random: () => number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let pos = 0; pos < stream.length;) {
    const r = random();
    const size =
      r < 0.05
        ? 0
        : r < 0.35
          ? 1
          : r < 0.65
            ? 1 + Math.floor(random() * 8)
            : r < 0.9
              ? 1 + Math.floor(random() * 200)
              : 1 + Math.floor(random() * 3000);
    chunks.push(Buffer.from(stream.subarray(pos, pos + size)));
    pos += size;
  }
  return chunks;
}

interface Outcome {
  frames: Buffer[];
  error: unknown;
}

/**
 * Feeds `chunks` to `decoder` and collects the frames. Each frame is copied
 * when it is handed out; at the end every frame is checked against its copy,
 * so a decoder that writes again into memory it handed out fails here.
 */
function run(decoder: FrameDecoder<Buffer>, chunks: Buffer[]): Outcome {
  const frames: Buffer[] = [];
  const copies: Buffer[] = [];
  let error: unknown;
  try {
    for (const chunk of chunks) {
      for (const frame of decoder.decode(chunk)) {
        frames.push(frame);
        copies.push(Buffer.from(frame));
      }
    }
  } catch (thrown) {
    error = thrown;
  }
  for (let i = 0; i < frames.length; i++) {
    if (!frames[i].equals(copies[i])) throw new Error(`frame ${i} changed after it was handed out`);
  }
  return { frames, error };
}

const text = (frames: Buffer[]): string[] => frames.map((f) => f.toString('latin1'));

/** `frames` each followed by `delimiter`. */
function joinLines(frames: string[], delimiter = '\n'): Buffer {
  return Buffer.from(frames.map((f) => f + delimiter).join(''), 'latin1');
}

/** `payloads` each behind a length field as `options` describe it. */
function encodeLengthPrefixed(payloads: Buffer[], options: LengthPrefixedOptions): Buffer {
  const h = options.lengthBytes;
  const parts: Buffer[] = [];
  for (const payload of payloads) {
    const header = Buffer.alloc(h);
    const value = payload.length + (options.lengthIncludesHeader ? h : 0);
    if (options.littleEndian) header.writeUIntLE(value, 0, h);
    else header.writeUIntBE(value, 0, h);
    parts.push(header, payload);
  }
  return Buffer.concat(parts);
}

/** Whole-stream reference for lines(): split with indexOf over everything, as a naive decoder would. */
function referenceLines(
  stream: Buffer,
  delimiter: Buffer,
  stripCR: boolean,
  maxFrameBytes: number,
): { frames: string[]; error: boolean } {
  const frames: string[] = [];
  let pos = 0;
  for (;;) {
    const at = stream.indexOf(delimiter, pos);
    if (at < 0) break;
    let end = at;
    if (stripCR && end > pos && stream[end - 1] === CR) end--;
    if (end - pos > maxFrameBytes) return { frames, error: true };
    frames.push(stream.toString('latin1', pos, end));
    pos = at + delimiter.length;
  }
  // What is left may still become a line within the limit only if it is not longer than this.
  const maxHeld = maxFrameBytes + delimiter.length - 1 + (stripCR ? 1 : 0);
  return { frames, error: stream.length - pos > maxHeld };
}

/** Whole-stream reference for lengthPrefixed(). */
function referenceLengthPrefixed(
  stream: Buffer,
  options: Required<LengthPrefixedOptions>,
): { frames: string[]; error: boolean } {
  const h = options.lengthBytes;
  const frames: string[] = [];
  for (let pos = 0; pos + h <= stream.length;) {
    let size = options.littleEndian ? stream.readUIntLE(pos, h) : stream.readUIntBE(pos, h);
    if (options.lengthIncludesHeader) {
      if (size < h) return { frames, error: true };
      size -= h;
    }
    if (size > options.maxFrameBytes) return { frames, error: true };
    if (pos + h + size > stream.length) break;
    frames.push(stream.toString('latin1', pos + h, pos + h + size));
    pos += h + size;
  }
  return { frames, error: false };
}

function expectProtocolError(error: unknown, ...mentions: string[]): void {
  expect(error).toBeInstanceOf(ConnmanError);
  expect((error as ConnmanError).code).toBe('ERR_PROTOCOL');
  for (const mention of mentions) expect((error as ConnmanError).message).toContain(mention);
}

// ---------------------------------------------------------------------------
// Frames, whatever the slicing
// ---------------------------------------------------------------------------

interface StreamCase {
  name: string;
  framing: Framing<Buffer>;
  stream: Buffer;
  frames: string[];
}

const bytes = (...values: (number | string)[]): Buffer =>
  Buffer.concat(values.map((v) => (typeof v === 'number' ? Buffer.of(v) : Buffer.from(v, 'latin1'))));

const long = 'L'.repeat(1100); // longer than the runs the decoder copies into its blocks

const streamCases: StreamCase[] = [
  {
    name: 'lines(): \\n ends a line, a \\r before it is removed, a \\r elsewhere is kept, empty lines are frames',
    framing: lines(),
    stream: Buffer.from('a\nbb\n\nccc\r\n\r\nd\re\n\r\r\npartial', 'latin1'),
    frames: ['a', 'bb', '', 'ccc', '', 'd\re', '\r'],
  },
  {
    name: "lines({ delimiter: '\\n' }) given explicitly matches exactly and keeps the \\r",
    framing: lines({ delimiter: '\n' }),
    stream: Buffer.from('a\r\nb\n', 'latin1'),
    frames: ['a\r', 'b'],
  },
  {
    name: 'lines() with a one-byte custom delimiter (NUL)',
    framing: lines({ delimiter: Buffer.of(0) }),
    stream: bytes('one', 0, 0, 'two\n', 0, 'rest'),
    frames: ['one', '', 'two\n'],
  },
  {
    name: "lines({ delimiter: '\\r\\n' }): a lone \\r or \\n is part of the line",
    framing: lines({ delimiter: '\r\n' }),
    stream: Buffer.from('a\r\nb\rc\nd\r\n\r\n\r\r\n', 'latin1'),
    frames: ['a', 'b\rc\nd', '', '\r'],
  },
  {
    name: 'lines() with a self-overlapping delimiter (aab) split anywhere',
    framing: lines({ delimiter: 'aab' }),
    stream: Buffer.from('xaaabaabaaaabyaabaa', 'latin1'),
    frames: ['xa', '', 'aa', 'y'],
  },
  {
    name: 'lines() with a delimiter (aabc) whose start repeats inside a longer run (aaabc)',
    framing: lines({ delimiter: 'aabc' }),
    stream: Buffer.from('xaaabcyaabcaabaabcaaaaabc', 'latin1'),
    frames: ['xa', 'y', 'aab', 'aaa'],
  },
  {
    name: 'lines() with a periodic delimiter (abab) split anywhere',
    framing: lines({ delimiter: new Uint8Array(Buffer.from('abab')) }),
    stream: Buffer.from('abababxababaabababab', 'latin1'),
    frames: ['', 'abx', 'a', ''],
  },
  {
    name: 'lines() with lines longer than the short runs it gathers into blocks, split anywhere',
    framing: lines(),
    stream: joinLines([long, 'short', long + long, '', long], '\r\n'),
    frames: [long, 'short', long + long, '', long],
  },
  {
    name: 'lengthPrefixed({ lengthBytes: 1 })',
    framing: lengthPrefixed({ lengthBytes: 1 }),
    stream: bytes(3, 'abc', 0, 1, 'z', 255, 'x'.repeat(255), 2, 'p'),
    frames: ['abc', '', 'z', 'x'.repeat(255)],
  },
  {
    name: 'lengthPrefixed({ lengthBytes: 2 }) is big-endian by default',
    framing: lengthPrefixed({ lengthBytes: 2 }),
    stream: bytes(0, 3, 'abc', 0, 0, 1, 0, 'y'.repeat(256), 0),
    frames: ['abc', '', 'y'.repeat(256)],
  },
  {
    name: 'lengthPrefixed({ lengthBytes: 2, littleEndian: true })',
    framing: lengthPrefixed({ lengthBytes: 2, littleEndian: true }),
    stream: bytes(3, 0, 'abc', 0, 0, 0, 1, 'y'.repeat(256), 9, 0, 'abc'),
    frames: ['abc', '', 'y'.repeat(256)],
  },
  {
    name: 'lengthPrefixed({ lengthBytes: 4 }) is big-endian by default',
    framing: lengthPrefixed({ lengthBytes: 4 }),
    stream: bytes(0, 0, 0, 3, 'abc', 0, 0, 0, 0, 0, 0, 0x04, 0x4c, long, 0, 0),
    frames: ['abc', '', long],
  },
  {
    name: 'lengthPrefixed({ lengthBytes: 4, littleEndian: true })',
    framing: lengthPrefixed({ lengthBytes: 4, littleEndian: true }),
    stream: bytes(3, 0, 0, 0, 'abc', 0, 0, 0, 0, 0x4c, 0x04, 0, 0, long, 7),
    frames: ['abc', '', long],
  },
  {
    name: 'lengthPrefixed({ lengthIncludesHeader: true }) subtracts the length field',
    framing: lengthPrefixed({ lengthBytes: 2, lengthIncludesHeader: true }),
    stream: bytes(0, 5, 'abc', 0, 2, 0, 3, 'z', 0, 9, 'ab'),
    frames: ['abc', '', 'z'],
  },
  {
    name: 'lengthPrefixed({ lengthBytes: 4, littleEndian: true, lengthIncludesHeader: true })',
    framing: lengthPrefixed({ lengthBytes: 4, littleEndian: true, lengthIncludesHeader: true }),
    stream: bytes(7, 0, 0, 0, 'abc', 4, 0, 0, 0, 5, 0, 0, 0, 'z'),
    frames: ['abc', '', 'z'],
  },
  {
    name: 'fixedLength(3)',
    framing: fixedLength(3),
    stream: Buffer.from('abcdefghijk', 'latin1'),
    frames: ['abc', 'def', 'ghi'],
  },
  {
    name: 'fixedLength(1)',
    framing: fixedLength(1),
    stream: Buffer.from('xyz', 'latin1'),
    frames: ['x', 'y', 'z'],
  },
];

describe('built-in decoders give the same frames whatever the slicing', () => {
  it.each(streamCases)('$name', ({ framing, stream, frames }) => {
    for (const [slicing, chunks] of slicings(stream)) {
      const outcome = run(framing(), chunks);
      expect({ slicing, error: outcome.error, frames: text(outcome.frames) }).toEqual({
        slicing,
        error: undefined,
        frames,
      });
    }
  });

  it('matches a whole-stream reference for random streams cut at random (seeded)', () => {
    const seed = 0x5eed1e55;
    const random = seeded(seed);
    const int = (below: number): number => Math.floor(random() * below);
    const delimiters: (string | undefined)[] = [
      undefined,
      '\n',
      '\r\n',
      'aab',
      'abab',
      '||',
      '\0',
      'abcab',
      'aabc',
      'abacabab',
    ];
    for (let iteration = 0; iteration < 600; iteration++) {
      const kind = iteration % 3;
      let framing: Framing<Buffer>;
      let stream: Buffer;
      let expected: { frames: string[]; error: boolean };
      if (kind === 0) {
        const given = delimiters[int(delimiters.length)];
        const delimiter = Buffer.from(given ?? '\n', 'latin1');
        const alphabet = Buffer.concat([delimiter, Buffer.from('ab\r\nx|', 'latin1')]);
        const maxFrameBytes = random() < 0.3 ? 1 + int(30) : 1 << 20;
        // Mostly short streams that hit delimiters often, sometimes long lines (several blocks).
        const size = random() < 0.05 ? 20_000 + int(40_000) : int(400);
        stream = Buffer.alloc(size);
        const runs = random() < 0.5;
        for (let i = 0; i < size; i++) stream[i] = runs && random() < 0.9 ? 0x78 : alphabet[int(alphabet.length)];
        framing = lines(given === undefined ? { maxFrameBytes } : { delimiter: given, maxFrameBytes });
        expected = referenceLines(stream, delimiter, given === undefined, maxFrameBytes);
      } else if (kind === 1) {
        const options: Required<LengthPrefixedOptions> = {
          lengthBytes: ([1, 2, 4] as const)[int(3)],
          littleEndian: random() < 0.5,
          lengthIncludesHeader: random() < 0.5,
          maxFrameBytes: random() < 0.3 ? 1 + int(60) : 16 << 20,
        };
        const largest = options.lengthBytes === 1 ? 255 - options.lengthBytes : 3000;
        const payloads = Array.from({ length: int(12) }, () =>
          Buffer.from(Array.from({ length: random() < 0.2 ? 0 : int(largest + 1) }, () => int(256))),
        );
        stream = encodeLengthPrefixed(payloads, options);
        // Sometimes a corrupt length field (too small with lengthIncludesHeader), sometimes a partial frame.
        if (random() < 0.2) stream = Buffer.concat([stream, Buffer.alloc(options.lengthBytes)]);
        if (random() < 0.3) stream = stream.subarray(0, int(stream.length + 1));
        framing = lengthPrefixed(options);
        expected = referenceLengthPrefixed(stream, options);
      } else {
        const size = 1 + int(12);
        stream = Buffer.from(Array.from({ length: int(500) }, () => int(256)));
        framing = fixedLength(size);
        const frames: string[] = [];
        for (let pos = 0; pos + size <= stream.length; pos += size)
          frames.push(stream.toString('latin1', pos, pos + size));
        expected = { frames, error: false };
      }
      const outcome = run(framing(), randomSlicing(stream, random));
      const frames = text(outcome.frames);
      // Frames before a failure are a prefix of the reference (those of the failing chunk are dropped).
      const context = { seed, iteration, kind };
      expect({ ...context, error: outcome.error !== undefined }).toEqual({ ...context, error: expected.error });
      if (outcome.error !== undefined) expectProtocolError(outcome.error);
      expect({ ...context, frames }).toEqual({
        ...context,
        frames: expected.error ? expected.frames.slice(0, frames.length) : expected.frames,
      });
    }
  });

  it('decodes a 1 MiB frame fed one byte at a time in linear time (a quadratic cumulation would time out)', () => {
    const size = 1 << 20;
    const payload = Buffer.alloc(size, 'q');
    const cases: [Framing<Buffer>, Buffer][] = [
      [lines({ maxFrameBytes: size }), Buffer.concat([payload, Buffer.from('\n')])],
      [lines({ delimiter: '\r\n', maxFrameBytes: size }), Buffer.concat([payload, Buffer.from('\r\n')])],
      [lengthPrefixed({ lengthBytes: 4 }), encodeLengthPrefixed([payload], { lengthBytes: 4 })],
      [fixedLength(size), payload],
    ];
    for (const [framing, stream] of cases) {
      const decoder = framing();
      const frames: Buffer[] = [];
      for (let i = 0; i < stream.length; i++) {
        for (const frame of decoder.decode(stream.subarray(i, i + 1))) frames.push(frame);
      }
      expect(frames).toHaveLength(1);
      expect(frames[0].equals(payload)).toBe(true);
    }
  });
});

describe('memory of frames', () => {
  it('hands out a frame that lies wholly inside one chunk as a view of that chunk (no copy)', () => {
    const cases: [Framing<Buffer>, Buffer, number[]][] = [
      [lines(), Buffer.from('ab\ncd\r\n'), [0, 3]],
      [lines({ delimiter: '::' }), Buffer.from('ab::cd::'), [0, 4]],
      [lengthPrefixed({ lengthBytes: 2 }), bytes(0, 2, 'ab', 0, 2, 'cd'), [2, 6]],
      [fixedLength(2), Buffer.from('abcd'), [0, 2]],
    ];
    for (const [framing, chunk, offsets] of cases) {
      const frames = [...framing().decode(chunk)];
      expect(frames.map((f) => f.buffer === chunk.buffer)).toEqual(offsets.map(() => true));
      expect(frames.map((f) => f.byteOffset - chunk.byteOffset)).toEqual(offsets);
    }
  });

  it('never changes a frame it handed out, across later decode calls and reset()', () => {
    // Many short frames through the same internal block, fed 1 byte at a time, with resets in between.
    const cases: [Framing<Buffer>, (round: number) => Buffer][] = [
      [lines(), (round) => Buffer.from(`line ${round}\n`.repeat(40))],
      [lines({ delimiter: 'aab' }), (round) => Buffer.from(`line ${round}aab`.repeat(40))],
      [
        lengthPrefixed({ lengthBytes: 1 }),
        (round) => encodeLengthPrefixed([Buffer.from(`frame ${round}`), Buffer.alloc(0)], { lengthBytes: 1 }),
      ],
      [fixedLength(7), (round) => Buffer.from(`frame ${round % 10}`.repeat(40))],
    ];
    for (const [framing, streamOf] of cases) {
      const decoder = framing();
      const seen: [Buffer, Buffer][] = [];
      for (let round = 0; round < 50; round++) {
        const stream = streamOf(round);
        for (let i = 0; i < stream.length; i++) {
          for (const frame of decoder.decode(stream.subarray(i, i + 1))) seen.push([frame, Buffer.from(frame)]);
        }
        decoder.decode(Buffer.from('partial'));
        decoder.reset!();
      }
      expect(seen.length).toBeGreaterThan(50);
      expect(seen.filter(([frame, copy]) => !frame.equals(copy))).toEqual([]);
    }
  });

  it('returns one shared empty result for every chunk that completes no frame, empty even after a caller wrote to it', () => {
    const cases: [Framing<Buffer>, Buffer, Buffer][] = [
      [lines(), Buffer.from('abc'), Buffer.from('d')],
      [lines({ delimiter: '<>' }), Buffer.from('abc<'), Buffer.from('d')],
      [lengthPrefixed({ lengthBytes: 4 }), bytes(0, 0), bytes(0, 9, 'abc')],
      [fixedLength(8), Buffer.from('abc'), Buffer.from('d')],
    ];
    for (const [framing, first, second] of cases) {
      const decoder = framing();
      const a = decoder.decode(first);
      expect([...a]).toEqual([]);
      (a as Buffer[]).push(Buffer.from('written by a caller'));
      const b = decoder.decode(second);
      expect(b).toBe(a);
      expect([...b]).toEqual([]);
    }
  });

  it('gives every connection its own decoder: partial frames of one never reach another', () => {
    const cases: [Framing<Buffer>, Buffer, Buffer, string][] = [
      [lines(), Buffer.from('first half '), Buffer.from('other\n'), 'other'],
      [lengthPrefixed({ lengthBytes: 1 }), bytes(5, 'ab'), bytes(2, 'ok'), 'ok'],
      [fixedLength(4), Buffer.from('ab'), Buffer.from('okok'), 'okok'],
    ];
    for (const [framing, partial, whole, frame] of cases) {
      const a = framing();
      const b = framing();
      expect([...a.decode(partial)]).toEqual([]);
      expect(text([...b.decode(whole)])).toEqual([frame]);
    }
  });
});

// ---------------------------------------------------------------------------
// Limits and broken streams
// ---------------------------------------------------------------------------

describe('maxFrameBytes', () => {
  const atLimit: [string, Framing<Buffer>, Buffer, string][] = [
    ['lines() (\\n)', lines({ maxFrameBytes: 5 }), Buffer.from('12345\n'), '12345'],
    ['lines() (\\r\\n: the \\r is not counted)', lines({ maxFrameBytes: 5 }), Buffer.from('12345\r\n'), '12345'],
    ['lines() with a 2-byte delimiter', lines({ delimiter: '<>', maxFrameBytes: 5 }), Buffer.from('12345<>'), '12345'],
    ['lengthPrefixed()', lengthPrefixed({ lengthBytes: 2, maxFrameBytes: 5 }), bytes(0, 5, '12345'), '12345'],
    [
      'lengthPrefixed({ lengthIncludesHeader: true }) (the length field is not counted)',
      lengthPrefixed({ lengthBytes: 2, lengthIncludesHeader: true, maxFrameBytes: 5 }),
      bytes(0, 7, '12345'),
      '12345',
    ],
  ];

  it.each(atLimit)('%s accepts a frame of exactly maxFrameBytes at every slicing', (_, framing, stream, frame) => {
    for (const [slicing, chunks] of slicings(stream)) {
      const outcome = run(framing(), chunks);
      expect({ slicing, error: outcome.error, frames: text(outcome.frames) }).toEqual({
        slicing,
        error: undefined,
        frames: [frame],
      });
    }
  });

  const overLimit: [string, Framing<Buffer>, Buffer][] = [
    ['lines() (\\n)', lines({ maxFrameBytes: 5 }), Buffer.from('123456\n')],
    ['lines() (\\r\\n)', lines({ maxFrameBytes: 5 }), Buffer.from('123456\r\n')],
    ['lines() with a 2-byte delimiter', lines({ delimiter: '<>', maxFrameBytes: 5 }), Buffer.from('123456<>')],
    ['lengthPrefixed()', lengthPrefixed({ lengthBytes: 2, maxFrameBytes: 5 }), bytes(0, 6, '123456')],
    [
      'lengthPrefixed({ lengthIncludesHeader: true })',
      lengthPrefixed({ lengthBytes: 2, lengthIncludesHeader: true, maxFrameBytes: 5 }),
      bytes(0, 8, '123456'),
    ],
  ];

  it.each(overLimit)(
    '%s throws ERR_PROTOCOL naming maxFrameBytes and the limit for a frame one byte over, at every slicing',
    (_, framing, stream) => {
      for (const [slicing, chunks] of slicings(stream)) {
        const outcome = run(framing(), chunks);
        expect({ slicing, frames: text(outcome.frames) }).toEqual({ slicing, frames: [] });
        expectProtocolError(outcome.error, 'maxFrameBytes (5)', 'Raise maxFrameBytes');
      }
    },
  );

  it('lines() throws on the first 64 KiB chunk that crosses the limit when 10 MiB arrive without a delimiter', () => {
    const decoder = lines({ maxFrameBytes: 1024 })();
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let thrownAt = -1;
    let error: unknown;
    for (let i = 0; i < 160; i++) {
      try {
        decoder.decode(chunk);
      } catch (thrown) {
        thrownAt = i;
        error = thrown;
        break;
      }
    }
    expect(thrownAt).toBe(0);
    expectProtocolError(error, 'maxFrameBytes (1024)', 'without a delimiter');
  });

  it.each([
    ['\\n (a \\r may still come before it)', lines({ maxFrameBytes: 100 }), 102],
    ['a 3-byte delimiter (2 of its bytes may be held)', lines({ delimiter: '<=>', maxFrameBytes: 100 }), 103],
  ])(
    'lines() with %s throws once more bytes are held than a line within the limit could need',
    (_, framing, throwsOnByte) => {
      const decoder = framing();
      let count = 0;
      expect(() => {
        for (count = 1; count <= 1000; count++) decoder.decode(Buffer.from('x'));
      }).toThrow(ConnmanError);
      expect(count).toBe(throwsOnByte);
    },
  );

  it('lengthPrefixed() throws on the length field alone, before any of the payload arrives', () => {
    const decoder = lengthPrefixed({ lengthBytes: 4, maxFrameBytes: 1000 })();
    expect([...decoder.decode(bytes(0, 0, 3, 0xe8))]).toEqual([]);
    expect(text([...decoder.decode(Buffer.alloc(1000, 'p'))])).toEqual(['p'.repeat(1000)]);
    let error: unknown;
    try {
      decoder.decode(bytes(0, 0, 3, 0xe9));
    } catch (thrown) {
      error = thrown;
    }
    expectProtocolError(error, 'a frame of 1001 bytes', 'maxFrameBytes (1000)', 'Raise maxFrameBytes');
  });

  it('applies the defaults: 1 MiB for lines(), 16 MiB for lengthPrefixed()', () => {
    const line = Buffer.alloc(1 << 20, 'l');
    expect([...lines()().decode(Buffer.concat([line, Buffer.from('\n')]))][0].length).toBe(1 << 20);
    expect(() => lines()().decode(Buffer.concat([line, Buffer.from('x\n')]))).toThrow('maxFrameBytes (1048576)');
    expect([...lengthPrefixed({ lengthBytes: 4 })().decode(bytes(1, 0, 0, 0))]).toEqual([]);
    expect(() => lengthPrefixed({ lengthBytes: 4 })().decode(bytes(1, 0, 0, 1))).toThrow('maxFrameBytes (16777216)');
  });
});

describe('broken streams and reset()', () => {
  it.each([
    ['length 0 with a 1-byte field', lengthPrefixed({ lengthBytes: 1, lengthIncludesHeader: true }), bytes(0)],
    ['length 1 with a 2-byte field', lengthPrefixed({ lengthBytes: 2, lengthIncludesHeader: true }), bytes(0, 1)],
    [
      'length 3 with a 4-byte field',
      lengthPrefixed({ lengthBytes: 4, lengthIncludesHeader: true, littleEndian: true }),
      bytes(3, 0, 0, 0),
    ],
  ])('lengthPrefixed() throws ERR_PROTOCOL for a length smaller than the header (%s)', (_, framing, stream) => {
    for (const [slicing, chunks] of slicings(stream)) {
      const outcome = run(framing(), chunks);
      expect({ slicing, frames: outcome.frames }).toEqual({ slicing, frames: [] });
      expectProtocolError(outcome.error, 'smaller than', 'lengthIncludesHeader');
    }
  });

  it('keeps refusing to decode after a failure until reset(), then decodes a fresh stream', () => {
    const cases: [Framing<Buffer>, Buffer, Buffer, string][] = [
      [lines({ maxFrameBytes: 3 }), Buffer.from('abcdef\n'), Buffer.from('ok\n'), 'ok'],
      [lengthPrefixed({ lengthBytes: 1, maxFrameBytes: 3 }), bytes(9, 'ab'), bytes(2, 'ok'), 'ok'],
    ];
    for (const [framing, broken, fresh, frame] of cases) {
      const decoder = framing();
      let first: unknown;
      try {
        decoder.decode(broken);
      } catch (thrown) {
        first = thrown;
      }
      expectProtocolError(first);
      expect(() => decoder.decode(fresh)).toThrow(first as Error);
      decoder.reset!();
      expect(text([...decoder.decode(fresh)])).toEqual([frame]);
    }
  });

  it.each([
    ['lines(): a partial line', lines(), [Buffer.from('dropped')], Buffer.from('kept\n'), ['kept']],
    [
      'lines(): a multi-byte delimiter begun before reset() is not completed after it',
      lines({ delimiter: '<>' }),
      [Buffer.from('dropped<')],
      Buffer.from('>kept<>'),
      ['>kept'],
    ],
    [
      'lines(): a \\r held before reset() is not removed after it',
      lines(),
      [Buffer.from('dropped\r')],
      Buffer.from('\nkept\n'),
      ['', 'kept'],
    ],
    [
      'lengthPrefixed(): a partial length field',
      lengthPrefixed({ lengthBytes: 4 }),
      [bytes(0, 0)],
      bytes(0, 0, 0, 2, 'ok'),
      ['ok'],
    ],
    [
      'lengthPrefixed(): a partial payload',
      lengthPrefixed({ lengthBytes: 2 }),
      [bytes(0, 9), bytes('abc')],
      bytes(0, 2, 'ok'),
      ['ok'],
    ],
    ['fixedLength(): a partial frame', fixedLength(4), [Buffer.from('abc')], Buffer.from('okok'), ['okok']],
  ])('reset() drops %s', (_, framing, before, after, frames) => {
    const decoder = framing();
    for (const chunk of before) expect([...decoder.decode(chunk)]).toEqual([]);
    decoder.reset!();
    expect(text([...decoder.decode(after)])).toEqual(frames);
  });
});

// ---------------------------------------------------------------------------
// Options, checked when the factory is called
// ---------------------------------------------------------------------------

describe('options', () => {
  const SECRET = 'hunter2-secret';
  const invalid: [string, () => unknown, string][] = [
    ['lines() refuses an unknown key', () => lines({ maxFrameByte: 10 } as never), 'maxFrameByte'],
    ['lines() refuses options that are not an object', () => lines(SECRET as never), 'options'],
    ['lines() refuses null options', () => lines(null as never), 'options'],
    ['lines() refuses an empty string delimiter', () => lines({ delimiter: '' }), 'delimiter'],
    ['lines() refuses an empty Buffer delimiter', () => lines({ delimiter: Buffer.alloc(0) }), 'delimiter'],
    ['lines() refuses a number as delimiter', () => lines({ delimiter: 10 as never }), 'delimiter'],
    ['lines() refuses an array as delimiter', () => lines({ delimiter: [10] as never }), 'delimiter'],
    ['lines() refuses maxFrameBytes 0', () => lines({ maxFrameBytes: 0 }), 'maxFrameBytes'],
    ['lines() refuses a negative maxFrameBytes', () => lines({ maxFrameBytes: -1 }), 'maxFrameBytes'],
    ['lines() refuses a fractional maxFrameBytes', () => lines({ maxFrameBytes: 1.5 }), 'maxFrameBytes'],
    ['lines() refuses NaN as maxFrameBytes', () => lines({ maxFrameBytes: NaN }), 'maxFrameBytes'],
    ['lines() refuses maxFrameBytes over 2^32 - 1', () => lines({ maxFrameBytes: 2 ** 32 }), 'maxFrameBytes'],
    ['lines() refuses a string maxFrameBytes', () => lines({ maxFrameBytes: SECRET as never }), 'maxFrameBytes'],
    ['lengthPrefixed() requires lengthBytes', () => lengthPrefixed({} as never), 'lengthBytes'],
    ['lengthPrefixed() requires options', () => lengthPrefixed(undefined as never), 'lengthBytes'],
    ['lengthPrefixed() refuses lengthBytes 3', () => lengthPrefixed({ lengthBytes: 3 as never }), 'lengthBytes'],
    ['lengthPrefixed() refuses lengthBytes 8', () => lengthPrefixed({ lengthBytes: 8 as never }), 'lengthBytes'],
    [
      'lengthPrefixed() refuses a string lengthBytes',
      () => lengthPrefixed({ lengthBytes: '4' as never }),
      'lengthBytes',
    ],
    [
      'lengthPrefixed() refuses a non-boolean littleEndian',
      () => lengthPrefixed({ lengthBytes: 4, littleEndian: SECRET as never }),
      'littleEndian',
    ],
    [
      'lengthPrefixed() refuses a non-boolean lengthIncludesHeader',
      () => lengthPrefixed({ lengthBytes: 4, lengthIncludesHeader: 1 as never }),
      'lengthIncludesHeader',
    ],
    [
      'lengthPrefixed() refuses maxFrameBytes 0',
      () => lengthPrefixed({ lengthBytes: 4, maxFrameBytes: 0 }),
      'maxFrameBytes',
    ],
    [
      'lengthPrefixed() refuses an unknown key',
      () => lengthPrefixed({ lengthBytes: 4, endian: SECRET } as never),
      'endian',
    ],
    ['lengthPrefixed() refuses options that are not an object', () => lengthPrefixed(4 as never), 'options'],
    ['fixedLength() refuses 0', () => fixedLength(0), 'bytes'],
    ['fixedLength() refuses a negative size', () => fixedLength(-4), 'bytes'],
    ['fixedLength() refuses a fractional size', () => fixedLength(2.5), 'bytes'],
    ['fixedLength() refuses a size over 2^32 - 1', () => fixedLength(2 ** 32), 'bytes'],
    ['fixedLength() refuses a string', () => fixedLength(SECRET as never), 'bytes'],
    ['fixedLength() refuses a missing size', () => (fixedLength as (b?: number) => unknown)(), 'bytes'],
  ];

  it.each(invalid)(
    '%s with ERR_INVALID_OPTIONS naming the option, when the factory is called, without echoing the value',
    (_, call, option) => {
      let error: unknown;
      try {
        call();
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(ConnmanError);
      expect((error as ConnmanError).code).toBe('ERR_INVALID_OPTIONS');
      expect((error as ConnmanError).message).toContain(`'${option}'`);
      expect((error as ConnmanError).message).not.toContain(SECRET);
    },
  );

  it('says what to give in the message', () => {
    expect(() => lengthPrefixed({ lengthBytes: 3 as never })).toThrow(/expected 1, 2 or 4/);
    expect(() => lines({ delimiter: '' })).toThrow(/expected a non-empty string, Buffer or Uint8Array/);
    expect(() => fixedLength(0)).toThrow(/expected an integer from 1 to 4294967295/);
    expect(() => lines({ maxFrameByte: 1 } as never)).toThrow(/known options: delimiter, maxFrameBytes/);
  });

  it('accepts every documented option, and copies a delimiter buffer so that changing it later has no effect', () => {
    const delimiter = Buffer.from('##');
    const framing = lines({ delimiter, maxFrameBytes: 10 });
    delimiter.write('!!');
    expect(text([...framing().decode(Buffer.from('a##b!!c##'))])).toEqual(['a', 'b!!c']);
    for (const lengthBytes of [1, 2, 4] as const) {
      expect(() =>
        lengthPrefixed({ lengthBytes, littleEndian: true, lengthIncludesHeader: false, maxFrameBytes: 1 }),
      ).not.toThrow();
    }
    expect(() => lines({ delimiter: new Uint8Array([0]), maxFrameBytes: 2 ** 32 - 1 })).not.toThrow();
    expect(() => fixedLength(2 ** 32 - 1)).not.toThrow();
  });
});
