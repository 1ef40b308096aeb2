export { FaultProxy, type FaultMode } from '../../src/testing/fault-proxy.js';
