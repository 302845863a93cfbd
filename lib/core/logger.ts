import type { ConnmanLogger } from './types.js';

/** The default logger: warnings and errors to the console, prefixed. */
export const consoleLogger: ConnmanLogger = {
  error: (message: string, ...rest: unknown[]) => console.error(`[connman] ${message}`, ...rest),
  warn: (message: string, ...rest: unknown[]) => console.warn(`[connman] ${message}`, ...rest),
};
