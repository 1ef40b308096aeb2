import type { Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { seededRandom } from '../chaos/random.js';
import { Chooser, fuzzMessage, type FuzzKind } from './frames.js';
import { encodeFrame, Opcode, rawUpgrade } from './ws-frames.js';

export interface FuzzOptions {
  port: number;
  /** WebSocket messages to send in all. */
  frames: number;
  seed: number;
  /** Fuzzing connections open at once. @default 4 */
  concurrency?: number;
  /** The server's maxPayload, to send frames just over it. @default 65536 */
  maxPayload?: number;
  /** Pause between two publishes of the well-behaved neighbour. @default 10 */
  neighbourEveryMs?: number;
}

export interface FuzzFigures {
  seed: number;
  frames: number;
  bytes: number;
  sessions: number;
  upgradeRefusals: number;
  kinds: Partial<Record<FuzzKind, number>>;
  /** Close codes the server sent to fuzzing connections, and how often. */
  serverCloses: Record<string, number>;
  neighbour: { published: number; acked: number; delivered: number; inOrder: boolean };
  durationMs: number;
}

const NEIGHBOUR_CHANNEL = 'chat:neighbour';
/** Upgrades refused one after another past which the server is taken to be gone. */
const MAX_REFUSED_IN_A_ROW = 50;

function authenticated(port: number, userId: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.once('error', reject);
    ws.once('open', () => ws.send(JSON.stringify({ type: 'auth', token: userId })));
    ws.on('message', function onAuth(data) {
      if ((JSON.parse(data.toString()) as { type: string }).type !== 'auth_ok') return;
      ws.off('message', onAuth);
      resolve(ws);
    });
  });
}

/** Writes `bytes` in pieces of random sizes, sometimes a turn apart, so frames cross TCP segment boundaries anywhere. */
async function writeSplit(socket: Socket, bytes: Buffer, choose: Chooser): Promise<void> {
  let at = 0;
  while (at < bytes.length && !socket.destroyed) {
    const size = Math.min(bytes.length - at, choose.int(1, choose.pick([1, 7, 64, 1500, 65_536])));
    const flushed = socket.write(bytes.subarray(at, at + size));
    at += size;
    if (!flushed) await new Promise<void>((resolve) => (socket.once('drain', resolve), socket.once('close', resolve)));
    else if (choose.chance(0.2)) await nextTurn();
  }
}

/** A well-behaved pair next to the fuzzing: one publishes numbered, acknowledged messages, the other must receive every one, in order. */
async function neighbours(port: number, everyMs: number) {
  const reader = await authenticated(port, 'neighbour-reader');
  reader.on('error', () => undefined);
  const writer = await authenticated(port, 'neighbour-writer');
  writer.on('error', () => undefined);
  const delivered: number[] = [];
  let acked = 0;
  let published = 0;
  reader.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as { type: string; ch?: string; from?: string; data?: { n?: number } };
    if (frame.type === 'message' && frame.ch === NEIGHBOUR_CHANNEL && frame.from === 'neighbour-writer') delivered.push(frame.data!.n!);
  });
  writer.on('message', (data) => {
    if ((JSON.parse(data.toString()) as { type: string }).type === 'ack') acked += 1;
  });
  reader.send(JSON.stringify({ type: 'subscribe', ch: NEIGHBOUR_CHANNEL }));
  await new Promise<void>((resolve) => reader.on('message', (data) => (JSON.parse(data.toString()) as { type: string }).type === 'subscribed' && resolve()));
  const publish = () => {
    if (writer.readyState !== WebSocket.OPEN) return;
    published += 1;
    writer.send(JSON.stringify({ type: 'publish', ch: NEIGHBOUR_CHANNEL, id: `n${published}`, data: { n: published } }));
  };
  const timer = setInterval(publish, everyMs);
  return {
    async finish(): Promise<FuzzFigures['neighbour']> {
      clearInterval(timer);
      publish();
      const deadline = Date.now() + 10_000;
      while ((acked < published || delivered.length < published) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      const inOrder = delivered.every((n, i) => n === i + 1);
      reader.close();
      writer.close();
      return { published, acked, delivered: delivered.length, inOrder };
    },
  };
}

/**
 * Sends `frames` random and mutated WebSocket messages (valid frames, wrong types, deep nesting, huge
 * arrays, garbage, binary, control and protocol-violating frames), each split at random TCP boundaries,
 * over raw connections that come and go, while a well-behaved neighbour publishes and receives. The same
 * seed sends the same messages on each connection.
 */
export async function fuzzServer(options: FuzzOptions): Promise<FuzzFigures> {
  const { port, frames, seed, concurrency = 4, maxPayload = 65_536, neighbourEveryMs = 10 } = options;
  const startedAt = Date.now();
  const figures: FuzzFigures = {
    seed,
    frames: 0,
    bytes: 0,
    sessions: 0,
    upgradeRefusals: 0,
    kinds: {},
    serverCloses: {},
    neighbour: { published: 0, acked: 0, delivered: 0, inOrder: true },
    durationMs: 0,
  };
  const neighbour = await neighbours(port, neighbourEveryMs);
  let nextSession = 0;
  let refusedInARow = 0;

  const session = async (index: number) => {
    const choose = new Chooser(seededRandom((seed * 1_000_003 + index) >>> 0));
    const userId = `f${index}`;
    let connection: Awaited<ReturnType<typeof rawUpgrade>>;
    try {
      connection = await rawUpgrade(port, choose.bytes(16));
      refusedInARow = 0;
    } catch {
      figures.upgradeRefusals += 1;
      refusedInARow += 1;
      return;
    }
    const { socket, reader } = connection;
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const send = async (bytes: Buffer) => {
      figures.bytes += bytes.length;
      await writeSplit(socket, bytes, choose);
    };
    if (choose.chance(0.75)) await send(encodeFrame({ opcode: Opcode.Text, payload: Buffer.from(JSON.stringify({ type: 'auth', token: userId })) }, choose.bytes(4)));
    const budget = choose.int(5, 300);
    for (let i = 0; i < budget && figures.frames < frames && !socket.destroyed && reader.closeCode === undefined; i++) {
      const message = fuzzMessage(choose, userId, maxPayload);
      figures.frames += 1;
      figures.kinds[message.kind] = (figures.kinds[message.kind] ?? 0) + 1;
      await send(Buffer.concat(message.frames.map((frame) => encodeFrame(frame, choose.bytes(4)))));
      if (message.kind === 'close') break;
    }
    if (choose.chance(0.5)) socket.destroy();
    else socket.end();
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 2000))]);
    socket.destroy();
    const code = reader.closeCode === undefined ? 'none' : String(reader.closeCode);
    figures.serverCloses[code] = (figures.serverCloses[code] ?? 0) + 1;
  };

  const worker = async () => {
    while (figures.frames < frames && refusedInARow < MAX_REFUSED_IN_A_ROW) {
      const index = nextSession++;
      figures.sessions += 1;
      await session(index);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  figures.neighbour = await neighbour.finish();
  figures.durationMs = Date.now() - startedAt;
  return figures;
}

/** One line of figures for a log. */
export function describeFigures(figures: FuzzFigures, crashes: number, internalErrors: number): string {
  const { neighbour } = figures;
  return (
    `[fuzz] seed ${figures.seed}: ${figures.frames} frames (${(figures.bytes / 1e6).toFixed(1)} MB) over ${figures.sessions} connections in ${(figures.durationMs / 1000).toFixed(1)} s; ` +
    `crashes ${crashes}, internal errors ${internalErrors}; neighbour deliveries ${neighbour.delivered}/${neighbour.published} (acks ${neighbour.acked}, in order: ${neighbour.inOrder}); ` +
    `server closes ${JSON.stringify(figures.serverCloses)}; kinds ${JSON.stringify(figures.kinds)}`
  );
}
