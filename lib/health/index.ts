// Subpath export `nestjs-connman/health`: the only module that loads @nestjs/terminus.
export {
  ConnmanHealthIndicator,
  type ConnmanEndpointHealth,
  type ConnmanHealthOptions,
} from './connman.health-indicator.js';
