import { POOL_TOKEN_PREFIX } from '../constants.js';

/** The injection token of the pool named `name` (what `@InjectPool(name)` injects). */
export function getPoolToken(name: string): string {
  return `${POOL_TOKEN_PREFIX}${name}`;
}
