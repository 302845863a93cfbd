/** A reply of the RESP protocol (the subset the sample needs). */
export type RespReply = string | number | null | RespError | RespReply[];

/** An error reply (`-ERR ...`). */
export class RespError extends Error {
  override readonly name = 'RespError';
}

/** Encodes a command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly string[]): Buffer {
  let out = `*${args.length}\r\n`;
  for (const arg of args) out += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
  return Buffer.from(out);
}

/**
 * Incremental RESP parser: feed it chunks as they come (sliced anywhere),
 * take complete replies out in order.
 */
export class RespParser {
  private buffer: Buffer = Buffer.alloc(0);

  /** Appends a chunk and returns every reply it completes. */
  push(chunk: Buffer): RespReply[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const replies: RespReply[] = [];
    for (;;) {
      const parsed = parse(this.buffer, 0);
      if (parsed === undefined) break;
      replies.push(parsed.value);
      this.buffer = this.buffer.subarray(parsed.end);
    }
    return replies;
  }

  /** Drops a partial reply (after a reset). */
  reset(): void {
    this.buffer = Buffer.alloc(0);
  }
}

function parse(buf: Buffer, start: number): { value: RespReply; end: number } | undefined {
  const lineEnd = buf.indexOf('\r\n', start);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buf[start]);
  const line = buf.toString('utf8', start + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new RespError(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buf.length < next + length + 2) return undefined;
      return { value: buf.toString('utf8', next, next + length), end: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: RespReply[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parse(buf, at);
        if (item === undefined) return undefined;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new RespError(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}
