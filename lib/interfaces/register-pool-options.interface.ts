import type { FactoryProvider, ModuleMetadata, Type } from '@nestjs/common';
import type { PoolOptions } from '../core/pool-options.js';
import type { AnyFrame } from '../core/types.js';

/**
 * Options of `ConnmanModule.registerPool()`: one pool's options, its `name`
 * included. The pool starts from the module's `defaults`, if any.
 */
export type RegisterPoolOptions = PoolOptions<AnyFrame>;

/**
 * What a `registerPoolAsync()` factory returns: the pool's options. `name`
 * may be left out (it is the registration's); if given, it must be the same.
 */
export type RegisteredPoolOptions = Omit<PoolOptions<AnyFrame>, 'name'> & {
  /** May be left out: the name given to `registerPoolAsync` is used. */
  name?: string | undefined;
};

/** A class that makes a registered pool's options (`useClass` / `useExisting` of `registerPoolAsync`). */
export interface ConnmanPoolOptionsFactory {
  /** Returns the pool's options (or a promise of them). */
  createPoolOptions(): RegisteredPoolOptions | Promise<RegisteredPoolOptions>;
}

/**
 * Options of `ConnmanModule.registerPoolAsync()`: the pool's `name` now, its
 * options later from `useFactory`, `useClass` or `useExisting` (exactly one).
 */
export interface RegisterPoolAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** The pool's name, given now so that `@InjectPool(name)` resolves. */
  name: string;
  /** Returns the pool's options; its arguments are the `inject` tokens. */
  useFactory?: ((...args: never[]) => RegisteredPoolOptions | Promise<RegisteredPoolOptions>) | undefined;
  /** What `useFactory` receives. */
  inject?: FactoryProvider['inject'] | undefined;
  /** A class, instantiated in the registering module, whose `createPoolOptions()` gives the options. */
  useClass?: Type<ConnmanPoolOptionsFactory> | undefined;
  /** An existing provider (from `imports`) whose `createPoolOptions()` gives the options. */
  useExisting?: Type<ConnmanPoolOptionsFactory> | undefined;
}
