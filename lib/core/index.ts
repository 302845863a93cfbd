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
export {
  CHANNELS,
  type AcquireTimeoutMessage,
  type AcquireTraceContext,
  type ConnectErrorMessage,
  type ConnectMessage,
  type ConnectionMessage,
  type LeakMessage,
  type RequestTraceContext,
  type ResetMessage,
} from './diagnostics.js';
export { ConnmanError, isConnmanError, type ConnmanErrorCode, type ConnmanErrorDetails } from './errors.js';
export { describeEndpoint } from './options.js';
export { PersistentConnection, type ConnectionEvents, type ConnectionState } from './persistent-connection.js';
export type { PoolOptions, ResolvedPoolOptions, ValidateFunction } from './pool-options.js';
export type { ResolvedConnectionOptions, ResolvedHeartbeat } from './options.js';
export type {
  AnyFrame,
  BackoffOptions,
  HandshakeContext,
  HandshakeFunction,
  HeartbeatOptions,
  RequestOptions,
  RequestPayload,
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
export {
  fixedLength,
  lengthPrefixed,
  lines,
  type FrameDecoder,
  type Framing,
  type LengthPrefixedOptions,
  type LinesOptions,
} from './framing.js';
