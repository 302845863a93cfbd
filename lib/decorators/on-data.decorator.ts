import { handlerDecorator } from './handler-metadata.js';

/**
 * Routes every chunk read by the pool's connections to this method:
 * `(chunk, { pool, connection, endpoint })`. Without a name, every pool's.
 */
export const OnData = (pool?: string): MethodDecorator => handlerDecorator('data', pool);
