// `nestjs-connman/testing`: a kit for testing code that talks over TCP, with any test runner.
// Framework-free: Node built-ins only, no Nest and no test-runner import.
export {
  FaultProxy,
  type FaultDirectionStats,
  type FaultProxyEvents,
  type FaultProxyOptions,
  type FaultProxyStats,
  type FaultProxyTarget,
  type WaitForConnectionOptions,
} from './fault-proxy.js';
export { DEFAULT_TOXICS, FaultDirection, type FaultDirectionName, type ToxicSettings } from './toxics.js';
export {
  TestServer,
  echo,
  refusedPort,
  replyLines,
  silent,
  type ConnectionHandler,
  type LineReply,
  type LineScript,
  type ReplyLinesOptions,
  type TestServerEvents,
  type TestServerOptions,
  type TestServerWaitOptions,
} from './test-server.js';
