import { readFileSync } from 'node:fs';

const dir = new URL('../fixtures/', import.meta.url);

/** The committed self-signed certificate for localhost / 127.0.0.1, and its key. */
export const selfSigned = {
  cert: readFileSync(new URL('cert.pem', dir), 'utf8'),
  key: readFileSync(new URL('key.pem', dir), 'utf8'),
};
