export { startInspectorServer, type InspectorServer, type InspectorServerOptions, type InspectorServerStats } from './server.js';
export { InspectorPageMissingError, defaultPageDir } from './page-files.js';
export type { RecordingOptions } from './recording.js';
export * from './index.js';
