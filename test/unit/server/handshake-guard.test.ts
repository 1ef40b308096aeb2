import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { HandshakeGuard } from '../../../src/server/handshake-guard.js';

/** A TCP connection stand-in: `destroyed` once destroy() was called, and it emits close then. */
function tcp() {
  const socket = Object.assign(new EventEmitter(), {
    destroyed: false,
    destroy() {
      socket.destroyed = true;
      socket.emit('close');
    },
  });
  return socket as typeof socket & Socket;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

it('destroys a connection that has neither upgraded nor sent a request within the timeout, and forgets it', () => {
  const guard = new HandshakeGuard(1_000);
  const socket = tcp();
  guard.opened(socket, true);
  expect(guard.size).toBe(1);
  vi.advanceTimersByTime(999);
  expect(socket.destroyed).toBe(false);
  vi.advanceTimersByTime(1);
  expect(socket.destroyed).toBe(true);
  expect(guard.size).toBe(0);
});

it('leaves a settled connection alone, and one that closed on its own is forgotten', () => {
  const guard = new HandshakeGuard(1_000);
  const upgraded = tcp();
  const gone = tcp();
  guard.opened(upgraded, true);
  guard.opened(gone, true);
  guard.settled(upgraded);
  gone.emit('close');
  expect(guard.size).toBe(0);
  vi.advanceTimersByTime(5_000);
  expect(upgraded.destroyed).toBe(false);
  expect(vi.getTimerCount()).toBe(0);
});

it('destroys a connection it does not admit at once, without tracking it', () => {
  const guard = new HandshakeGuard(1_000);
  const socket = tcp();
  guard.opened(socket, false);
  expect(socket.destroyed).toBe(true);
  expect(guard.size).toBe(0);
  expect(vi.getTimerCount()).toBe(0);
});

it('close() stops every timer and forgets every connection, destroying none', () => {
  const guard = new HandshakeGuard(1_000);
  const sockets = [tcp(), tcp()];
  for (const socket of sockets) guard.opened(socket, true);
  guard.close();
  expect(guard.size).toBe(0);
  expect(vi.getTimerCount()).toBe(0);
  vi.advanceTimersByTime(5_000);
  expect(sockets.map((socket) => socket.destroyed)).toEqual([false, false]);
});

it('watches a kept-alive connection again once its request was answered, with a full timeout, and not after close()', () => {
  const guard = new HandshakeGuard(1_000);
  const socket = tcp();
  const late = tcp();
  guard.opened(socket, true);
  guard.opened(late, true);
  vi.advanceTimersByTime(600);
  guard.settled(socket);
  guard.watch(socket);
  vi.advanceTimersByTime(999);
  expect(socket.destroyed).toBe(false);
  vi.advanceTimersByTime(1);
  expect(socket.destroyed).toBe(true);
  expect(guard.size).toBe(0);
  guard.close();
  guard.watch(tcp());
  expect(guard.size).toBe(0);
  expect(vi.getTimerCount()).toBe(0);
});

it('starts the full timeout again when a watched connection makes a plain request', () => {
  const guard = new HandshakeGuard(1_000);
  const socket = tcp();
  guard.opened(socket, true);
  vi.advanceTimersByTime(600);
  guard.watch(socket);
  vi.advanceTimersByTime(999);
  expect(socket.destroyed).toBe(false);
  expect(vi.getTimerCount()).toBe(1);
  vi.advanceTimersByTime(1);
  expect(socket.destroyed).toBe(true);
});

it('does not watch a connection already destroyed, which will never close again to be forgotten', () => {
  const guard = new HandshakeGuard(1_000);
  const socket = tcp();
  guard.opened(socket, true);
  socket.destroy();
  guard.watch(socket);
  expect(guard.size).toBe(0);
  expect(vi.getTimerCount()).toBe(0);
});

it('does not keep the process alive for a connection it watches', () => {
  const timers = vi.spyOn(globalThis, 'setTimeout');
  const guard = new HandshakeGuard(1_000);
  guard.opened(tcp(), true);
  expect(timers).toHaveBeenCalledTimes(1);
  expect((timers.mock.results[0]!.value as NodeJS.Timeout).hasRef()).toBe(false);
  timers.mockRestore();
});
