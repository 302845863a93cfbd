// examples/readme/core.ts
import { once } from 'node:events';
import { ConnectionPool, type ConnmanSocket } from 'nestjs-connman';

const pool = new ConnectionPool({
  name: 'memcached',
  host: '127.0.0.1',
  port: Number(process.env.MEMCACHED_PORT ?? 11211),
  min: 2, // opened by open(), kept and reconnected for good
  max: 10, // connections being created count too
  acquireTimeoutMillis: 2000, // a waiting acquire() rejects after this, peer down or not
});
pool.on('reset', (error) => console.warn(`connection lost: ${error.message}; reconnecting`));
await pool.open(); // resolves once min connections are up

/** One request, one reply line; rejects (never hangs) if the socket closes first. */
async function request(socket: ConnmanSocket, line: string): Promise<string> {
  const done = new AbortController();
  try {
    socket.write(line);
    const [reply] = await Promise.race([
      once(socket, 'data', { signal: done.signal }),
      once(socket, 'close', { signal: done.signal }).then(() => Promise.reject(new Error('connection closed'))),
    ]);
    return String(reply).trim();
  } finally {
    done.abort();
  }
}

// Exclusive use: use() acquires, runs, releases (and destroys the connection if it throws).
console.log(await pool.use((socket) => request(socket, 'version\r\n')));

// Or hold a lease yourself: `await using` releases it at the end of the block.
{
  await using lease = await pool.acquire();
  console.log(await request(lease.socket, 'stats\r\n'));
}

console.log(pool.stats()); // { size, connected, idle, leased, pending, waiting, endpoints, ... }
await pool.close(); // waiters get ERR_POOL_CLOSED, leases get a grace period, then nothing is left
