// examples/readme/framing.ts
import { ConnectionPool, lines, type FrameDecoder } from 'nestjs-connman';

interface Message {
  id: number;
  result?: unknown;
  event?: string;
}

/** Newline-delimited JSON: a decoder of your own, built on the `lines()` decoder. */
function jsonLines(): FrameDecoder<Message> {
  const split = lines({ maxFrameBytes: 64 * 1024 })();
  return {
    decode: (chunk) => [...split.decode(chunk)].map((line) => JSON.parse(line.toString()) as Message),
    reset: () => split.reset?.(),
  };
}

// Frames are parsed messages: request() resolves with one, onData receives the others.
const pool = new ConnectionPool<Message>({
  name: 'json-rpc',
  host: '127.0.0.1',
  port: Number(process.env.JSON_PORT ?? 7000),
  framing: jsonLines,
  isReply: (message) => message.event === undefined, // events are pushed, not replies
  callbacks: { onData: (message) => console.log(`event: ${message.event}`) },
});

const reply = await pool.request(JSON.stringify({ id: 1, method: 'sum', params: [2, 3] }) + '\n');
console.log(reply.result); // 5
await pool.close();
