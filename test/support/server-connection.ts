import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import type { WebSocket } from 'ws';
import { ServerConnection, type HandshakeAuth } from '../../src/server/connection.js';
import { createNodeParts } from '../../src/server/node-parts.js';
import { resolveOptions, type ServerOptions } from '../../src/server/options.js';

export type SentFrame = Record<string, unknown> & { type: string };

/**
 * Stands in for the server side of a `ws` socket: frames arrive when the spec says, in one turn if it
 * likes, so what happens at the 1,000th does not depend on how TCP cut the stream.
 */
export class SocketStandIn extends EventEmitter {
  readyState: number = 1;
  bufferedAmount = 0;
  readonly sent: SentFrame[] = [];
  /** How many frames had been sent at each `pause()` and each `resume()`. */
  readonly pausedAt: number[] = [];
  readonly resumedAt: number[] = [];
  closedWith: { code: number; reason: string } | undefined;
  private paused = false;

  get isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    this.paused = true;
    this.pausedAt.push(this.sent.length);
  }

  resume(): void {
    this.paused = false;
    this.resumedAt.push(this.sent.length);
  }

  send(text: string): void {
    this.sent.push(JSON.parse(text) as SentFrame);
  }

  ping(): void {}

  close(code: number, reason: string): void {
    this.end(code, reason);
  }

  terminate(): void {
    this.end(1006, '');
  }

  /** A text frame from the client: an object is sent as its JSON. */
  receive(frame: Record<string, unknown> | string): void {
    this.emit('message', Buffer.from(typeof frame === 'string' ? frame : JSON.stringify(frame)), false);
  }

  ofType(type: string): SentFrame[] {
    return this.sent.filter((frame) => frame.type === type);
  }

  private end(code: number, reason: string): void {
    if (this.readyState >= 2) return;
    this.readyState = 2;
    this.closedWith = { code, reason };
    setImmediate(() => {
      this.readyState = 3;
      this.emit('close', code, Buffer.from(reason));
    });
  }
}

/** A settable clock for a node's time: its rate limits, and its connections' idle, heartbeat and backlog times. */
export interface ManualClock {
  time: number;
  now(): number;
}

/**
 * A node built as the server builds it (in-memory backend, real hub, limits and metrics) whose connections
 * run on socket stand-ins; its rate limits and its connections' idle, heartbeat and backlog times follow `clock`.
 */
export async function testNode(overrides: Partial<ServerOptions> = {}) {
  const clock: ManualClock = { time: 1_000_000, now: () => clock.time };
  const options = resolveOptions({
    port: 0,
    logger: pino({ level: 'silent' }),
    channels: [{ pattern: '*:*', subscribe: true, publish: true, presence: true }],
    ...overrides,
    auth: { verify: async (token) => ({ userId: token }), ...overrides.auth },
  });
  const parts = createNodeParts(options, clock);
  await parts.backend.start(parts.hub);
  /** The connections the node holds: each leaves it once closed. */
  const connections = new Set<ServerConnection>();
  /** A connection opened after the handshake's own token check, if any, came to `handshake`. */
  const open = (handshake: HandshakeAuth) => {
    const socket = new SocketStandIn();
    const connection = new ServerConnection(socket as unknown as WebSocket, { ...parts, options, onClosed: (closed) => connections.delete(closed) }, 'node', '127.0.0.1');
    connections.add(connection);
    connection.start(handshake);
    return { socket, connection };
  };
  /** A connection already authenticated as `userId`, holding `roles`. */
  const connect = (userId: string, roles: readonly string[] = []) => open({ kind: 'ok', identity: { userId, roles, permissions: [], claims: {} }, mode: 'subprotocol' });
  /** A connection whose token is still to come, in an `auth` frame. */
  const connectPending = () => open({ kind: 'none' });
  const stop = async () => {
    const opened = [...connections];
    for (const connection of opened) connection.closeWith(1000, 'done');
    await Promise.all(opened.map((connection) => connection.closed));
    await parts.backend.close();
  };
  return { clock, parts, connections, open, connect, connectPending, stop };
}

/** One authenticated connection on a node of its own (see `testNode`). */
export async function authenticatedConnection(overrides: Partial<ServerOptions> = {}, userId = 'alice') {
  const node = await testNode(overrides);
  return { ...node.connect(userId), clock: node.clock, parts: node.parts, stop: node.stop };
}
