import { expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { corkedBytes, writeCorked } from '../../../src/server/corked-writes.js';

const KIB = 1024;
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
    send(text: string) {
      if (corks > 0) held.push(text);
      else wire.push(text);
    },
  };
  return { ws: ws as unknown as WebSocket, socket, wire };
}

it('holds the writes of one turn until the turn ends, corking the socket once, and sends them all then', async () => {
  const { ws, socket, wire } = corkableSocket();
  for (const text of ['a', 'b', 'c']) writeCorked(ws, text, 1);
  expect([wire, socket.corkCalls]).toEqual([[], 1]);
  await nextTurn();
  expect(wire).toEqual(['a', 'b', 'c']);
});

it('counts the bytes it holds for a socket as corked, and none once the turn has ended', async () => {
  const { ws } = corkableSocket();
  writeCorked(ws, 'x'.repeat(100), 100);
  writeCorked(ws, 'y'.repeat(50), 50);
  expect(corkedBytes(ws)).toBe(150);
  await nextTurn();
  expect(corkedBytes(ws)).toBe(0);
});

it('sends what it holds as soon as 64 KiB are held, within the turn, and holds the next writes of the turn again', async () => {
  const { ws, wire } = corkableSocket();
  writeCorked(ws, 'a', 64 * KIB - 1);
  expect(wire).toEqual([]);
  writeCorked(ws, 'b', 1);
  expect([wire, corkedBytes(ws)]).toEqual([['a', 'b'], 0]);
  writeCorked(ws, 'c', 10);
  expect([wire, corkedBytes(ws)]).toEqual([['a', 'b'], 10]);
  await nextTurn();
  expect(wire).toEqual(['a', 'b', 'c']);
});

it('holds the writes of a later turn too, and sends them at its end', async () => {
  const { ws, wire } = corkableSocket();
  writeCorked(ws, 'a', 1);
  await nextTurn();
  writeCorked(ws, 'b', 1);
  expect([wire, corkedBytes(ws)]).toEqual([['a'], 1]);
  await nextTurn();
  expect(wire).toEqual(['a', 'b']);
});

it('writes at once to a socket it cannot cork, and counts nothing as corked', () => {
  const sent: string[] = [];
  const ws = { send: (text: string) => sent.push(text) } as unknown as WebSocket;
  writeCorked(ws, 'a', 1);
  expect([sent, corkedBytes(ws)]).toEqual([['a'], 0]);
});
