import WebSocket from 'ws';
import { setDefaultWebSocket, type WebSocketConstructor } from './transport/websocket-like.js';

setDefaultWebSocket(WebSocket as unknown as WebSocketConstructor);

export * from './index.js';
export { fileStore, type FileStore, type FileStoreOptions } from './storage/file-store.js';
