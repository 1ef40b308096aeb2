export { connectInspector, type InspectorOptions, type InspectorStatus, type SocketchartInspector } from './client.js';
export { InspectionEncoder, type EncoderOptions, type MessageCapture } from './encoder.js';
export {
  INSPECTION_FORMAT_VERSION,
  DEFAULT_INSPECTOR_PORT,
  isInspectionRecord,
  type InspectionRecord,
  type ActorCreated,
  type EventSent,
  type SnapshotChanged,
  type TakenTransition,
  type MetricsSampled,
  type MessageReceived,
  type ConnectionSample,
  type PoolSample,
} from './protocol.js';
