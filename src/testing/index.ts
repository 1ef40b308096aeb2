export { SimulatedClock } from './simulated-clock.js';
export { createManualEnvironment, type ManualEnvironment } from './manual-environment.js';
export { liveSocketCount } from '../connection/runtime.js';
