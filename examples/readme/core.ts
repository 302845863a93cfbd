// examples/readme/core.ts
import { ConnectionPool, lines } from 'nestjs-connman';

// A pool for a line protocol (memcached's text protocol here): a request line, a reply line.
const pool = new ConnectionPool({
  name: 'memcached',
  host: '127.0.0.1',
  port: Number(process.env.MEMCACHED_PORT ?? 11211),
  min: 2, // opened by open(), kept and reconnected for good
  max: 10, // connections being created count too
  framing: lines(), // chunks become whole lines ("\r\n" or "\n" stripped)
  requestTimeoutMillis: 2000, // a reply that does not come rejects, it never hangs
});
pool.on('reset', (error) => console.warn(`connection lost: ${error.message}; reconnecting`));
await pool.open(); // resolves once `min` connections are ready

// Pipelined: both requests go out at once; each reply is matched to its request, in order.
const [version, flushed] = await Promise.all([pool.request('version\r\n'), pool.request('flush_all\r\n')]);
console.log(version.toString()); // VERSION 1.6.21
console.log(flushed.toString()); // OK

// Exclusive use: a lease is nobody else's until released (`await using` releases it).
{
  await using lease = await pool.acquire();
  console.log((await lease.request('version\r\n')).toString());
}

console.log(pool.stats()); // { size, connected, idle, leased, pending, waiting, pendingRequests, ... }
await pool.close(); // waiting callers get ERR_POOL_CLOSED; leases and requests get a grace period
