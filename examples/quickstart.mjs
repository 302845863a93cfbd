// A new user's first script: a pool to a local server, lease and release,
// survive the server's restart, close cleanly. Uses only the public entry.
// Run it after `npm run build`: node examples/quickstart.mjs
import { once } from 'node:events';
import net from 'node:net';
import { ConnectionPool } from 'nestjs-connman';

// A local echo server standing in for the real peer.
const accepted = new Set();
async function startServer(port = 0) {
  const server = net.createServer((socket) => {
    accepted.add(socket);
    socket.on('close', () => accepted.delete(socket));
    socket.pipe(socket);
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return server;
}
async function stopServer(server) {
  const closed = new Promise((resolve) => server.close(resolve));
  for (const socket of accepted) socket.destroy();
  await closed;
}
let server = await startServer();
const { port } = server.address();

const pool = new ConnectionPool({
  name: 'echo',
  host: '127.0.0.1',
  port,
  min: 2,
  max: 4,
  acquireTimeoutMillis: 5000,
  backoff: { initialDelayMillis: 50, maxDelayMillis: 1000 },
});
pool.on('reset', (error) => console.log(`reset: ${error.message}`));
pool.on('reconnect', () => console.log('reconnected'));
await pool.open();

/** One request/response on a leased socket; fails (never hangs) if the socket closes first. */
function roundTrip(text) {
  return pool.use(async (socket) => {
    const done = new AbortController();
    try {
      socket.write(text);
      const [reply] = await Promise.race([
        once(socket, 'data', { signal: done.signal }),
        once(socket, 'close', { signal: done.signal }).then(() => {
          throw new Error('connection closed before the reply');
        }),
      ]);
      return reply.toString();
    } finally {
      done.abort(); // removes the listener left by the loser of the race
    }
  });
}

console.log('reply:', await roundTrip('hello'));

// Restart the server on the same port: the pool sees the resets and reconnects by itself.
await stopServer(server);
while (pool.stats().connected > 0) await once(pool, 'reset');
server = await startServer(port);
while (pool.stats().connected < 2) await once(pool, 'reconnect');

console.log('reply after restart:', await roundTrip('hello again'));
console.log('stats:', JSON.stringify({ ...pool.stats(), endpoints: undefined }));

await pool.close();
await stopServer(server);
console.log('closed cleanly');
