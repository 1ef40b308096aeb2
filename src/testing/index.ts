export { SimulatedClock } from './simulated-clock.js';
export { createManualEnvironment, type ManualEnvironment } from './manual-environment.js';
export { liveSocketCount } from '../transport/socket-actor.js';
export { MockServer, MockSocket, createMockServer, type MockServerOptions, type SentFrame } from './mock-server.js';
export { Coverage, createModel, activeStateIds, isDelayedEvent, nextTimer, stateNodesOf, transitionId, transitionsOf, type CoverageFigures, type MachineCoverage, type MachineModel, type ModelConfig, type ModelPath, type ModelState, type ModelStateOf, type ModelStep, type ModelTimer, type PathOptions, type ReplayOptions, type ReplayStep, type Stimulus } from './model.js';
