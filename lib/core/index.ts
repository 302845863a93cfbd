export { Backoff } from './backoff.js';
export {
  ConnectionPool,
  Lease,
  type AcquireOptions,
  type CloseOptions,
  type EndpointStats,
  type OpenOptions,
  type PoolEvents,
  type PoolState,
  type PoolStats,
} from './connection-pool.js';
export { Connman, type DisconnectTarget } from './connman.js';
export { ConnmanError, isConnmanError, type ConnmanErrorCode, type ConnmanErrorDetails } from './errors.js';
export { describeEndpoint } from './options.js';
export { PersistentConnection, type ConnectionEvents, type ConnectionState } from './persistent-connection.js';
export type { PoolOptions, ValidateFunction } from './pool-options.js';
export type {
  BackoffOptions,
  ConnectionCallbacks,
  ConnectionContext,
  ConnectionOptions,
  ConnmanLogger,
  ConnmanSocket,
  Endpoint,
  EndpointTls,
  IpcEndpoint,
  ResumeFunction,
  SocketPassThroughOptions,
  TcpEndpoint,
} from './types.js';
