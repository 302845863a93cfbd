import { handlerDecorator } from './handler-metadata.js';

/**
 * Routes the pool's connect events (first connections, and reconnections
 * without a resume function) to this method: `(socket, { pool, connection, endpoint })`.
 * Without a name, every pool's.
 */
export const OnConnect = (pool?: string): MethodDecorator => handlerDecorator('connect', pool);
