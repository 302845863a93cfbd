// The project's own tests use the public testing kit, as users do.
export {
  TestServer,
  echo,
  refusedPort,
  silent,
  type ConnectionHandler as SocketHandler,
  type TestServerOptions,
} from '../../lib/testing/index.js';
