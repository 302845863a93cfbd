import { handlerDecorator } from './handler-metadata.js';

/**
 * Routes the pool's resets (a connection was lost) to this method:
 * `(error, { pool, connection, endpoint })`. It may return a function (or a
 * promise of one), called once when that connection is back instead of the
 * `@OnConnect` handlers. Without a name, every pool's.
 */
export const OnReset = (pool?: string): MethodDecorator => handlerDecorator('reset', pool);
