import * as http from 'node:http';

/** A GET on loopback with no keep-alive (so no client socket outlives the call). */
export function httpRequest(
  port: number,
  path: string,
  method = 'GET',
): Promise<{ status: number; body: string; json: () => any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method, agent: false, headers: { connection: 'close' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, json: () => JSON.parse(body) }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
