// The project's own tests use the public testing kit, as users do.
export { FaultProxy } from '../../lib/testing/index.js';
