import type { HandlerMetadata } from './decorators/handler-metadata.js';

const decoratorName = { connect: '@OnConnect', data: '@OnData', reset: '@OnReset' } as const;

export const messages = {
  handlerFailed: (meta: HandlerMetadata, where: string, pool: string, error: string): string =>
    `${decoratorName[meta.event]} handler ${where} for pool '${pool}' failed: ${error}`,
  requestScoped: (className: string): string =>
    `${className} is request-scoped (or depends on a request-scoped provider); its @OnConnect/@OnData/@OnReset handlers are skipped. Make it a singleton to receive socket events.`,
  asyncPoolsMismatch: (declared: string[], given: string[]): string =>
    `ConnmanModule.forRootAsync() declared pools [${declared.join(', ')}] but the factory returned options for [${given.join(', ')}]; declare every pool name in 'pools' and return options for each.`,
  poolsNotArray: (): string =>
    `ConnmanModule options need 'pools': an array of pool options (each with a unique 'name').`,
  bootstrapFailed: (pool: string, error: string): string =>
    `Pool '${pool}' could not open on application bootstrap: ${error}`,
  closed: (pool: string): string => `Pool '${pool}' closed.`,
  closeFailed: (pool: string, error: string): string => `Pool '${pool}' did not close cleanly: ${error}`,
};
