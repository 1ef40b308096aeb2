export { SimulatedClock } from './simulated-clock.js';
export { createManualEnvironment, type ManualEnvironment } from './manual-environment.js';
export { liveSocketCount } from '../connection/runtime.js';
export { MockServer, MockSocket, createMockServer, type MockServerOptions, type SentFrame } from './mock-server.js';
