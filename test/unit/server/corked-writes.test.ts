import { expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { corkedBytes, writeCorked } from '../../../src/server/corked-writes.js';

const KIB = 1024;
/** A frame of `bytes` bytes, all `letter`. */
const text = (letter: string, bytes = 1) => Buffer.alloc(bytes, letter);
/** What a socket wrote: each frame's letter, or `binary` for a frame not sent as text. */
const written = (data: Buffer, options?: { binary?: boolean }) => (options?.binary === false ? String.fromCharCode(data[0]!) : 'binary');
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A socket whose writes, as a net.Socket's, go out only while it is not corked (corks nest). */
function corkableSocket() {
  const wire: string[] = [];
  const held: string[] = [];
  let corks = 0;
  const socket = {
    corkCalls: 0,
    cork() {
      corks += 1;
      socket.corkCalls += 1;
    },
    uncork() {
      if (corks > 0) corks -= 1;
      if (corks === 0) wire.push(...held.splice(0));
    },
  };
  const ws = {
    _socket: socket,
    send(data: Buffer, options?: { binary?: boolean }) {
      if (corks > 0) held.push(written(data, options));
      else wire.push(written(data, options));
    },
  };
  return { ws: ws as unknown as WebSocket, socket, wire };
}

it('holds the writes of one turn until the turn ends, corking the socket once, and sends them all then', async () => {
  const { ws, socket, wire } = corkableSocket();
  for (const letter of ['a', 'b', 'c']) writeCorked(ws, text(letter));
  expect([wire, socket.corkCalls]).toEqual([[], 1]);
  await nextTurn();
  expect(wire).toEqual(['a', 'b', 'c']);
});

it('counts the bytes it holds for a socket as corked, and none once the turn has ended', async () => {
  const { ws } = corkableSocket();
  writeCorked(ws, text('x', 100));
  writeCorked(ws, text('y', 50));
  expect(corkedBytes(ws)).toBe(150);
  await nextTurn();
  expect(corkedBytes(ws)).toBe(0);
});

it('sends what it holds as soon as 64 KiB are held, within the turn, and holds the next writes of the turn again', async () => {
  const { ws, wire } = corkableSocket();
  writeCorked(ws, text('a', 64 * KIB - 1));
  expect(wire).toEqual([]);
  writeCorked(ws, text('b'));
  expect([wire, corkedBytes(ws)]).toEqual([['a', 'b'], 0]);
  writeCorked(ws, text('c', 10));
  expect([wire, corkedBytes(ws)]).toEqual([['a', 'b'], 10]);
  await nextTurn();
  expect(wire).toEqual(['a', 'b', 'c']);
});

it('holds the writes of a later turn too, and sends them at its end', async () => {
  const { ws, wire } = corkableSocket();
  writeCorked(ws, text('a'));
  await nextTurn();
  writeCorked(ws, text('b'));
  expect([wire, corkedBytes(ws)]).toEqual([['a'], 1]);
  await nextTurn();
  expect(wire).toEqual(['a', 'b']);
});

it('writes at once to a socket it cannot cork, and counts nothing as corked', () => {
  const sent: string[] = [];
  const ws = { send: (data: Buffer, options?: { binary?: boolean }) => sent.push(written(data, options)) } as unknown as WebSocket;
  writeCorked(ws, text('a'));
  expect([sent, corkedBytes(ws)]).toEqual([['a'], 0]);
});
