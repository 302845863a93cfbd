import { CONNMAN_HANDLER_METADATA } from '../constants.js';

/** Which pool event a decorated method handles. */
export type ConnmanEvent = 'connect' | 'data' | 'reset';

/** One decoration of a method: the event, and the pool (all pools when undefined). */
export interface HandlerMetadata {
  event: ConnmanEvent;
  pool: string | undefined;
}

/** A method decorator that appends to the method's handler list, so decorators stack. */
export function handlerDecorator(event: ConnmanEvent, pool: string | undefined): MethodDecorator {
  return (_target, _key, descriptor) => {
    const method = descriptor.value as object;
    const existing: HandlerMetadata[] = Reflect.getMetadata(CONNMAN_HANDLER_METADATA, method) ?? [];
    Reflect.defineMetadata(CONNMAN_HANDLER_METADATA, [...existing, { event, pool }], method);
    return descriptor;
  };
}
