import { describe, expect, it, vi } from 'vitest';
import { Emitter } from '../../../src/events/emitter.js';

interface Events {
  tick: number;
  tock: string;
}

describe('Emitter', () => {
  it('calls the listeners of an event in the order they were added, with its payload', () => {
    const emitter = new Emitter<Events>();
    const calls: string[] = [];
    emitter.on('tick', (n) => calls.push(`a${n}`));
    emitter.on('tick', (n) => calls.push(`b${n}`));
    emitter.on('tock', (s) => calls.push(`c${s}`));
    emitter.emit('tick', 1);
    expect(calls).toEqual(['a1', 'b1']);
  });

  it('the remover removes that listener only, and a removed listener is not called by an emit in progress', () => {
    const emitter = new Emitter<Events>();
    const calls: string[] = [];
    let offB = () => {};
    emitter.on('tick', () => {
      calls.push('a');
      offB();
    });
    offB = emitter.on('tick', () => calls.push('b'));
    emitter.emit('tick', 1);
    emitter.emit('tick', 2);
    expect(calls).toEqual(['a', 'a']);
  });

  it('a listener added during an emit is not called by that emit, only by the next', () => {
    const emitter = new Emitter<Events>();
    const calls: string[] = [];
    emitter.on('tick', (n) => {
      calls.push(`a${n}`);
      if (n === 1) emitter.on('tick', (m) => calls.push(`b${m}`));
    });
    emitter.emit('tick', 1);
    emitter.emit('tick', 2);
    expect(calls).toEqual(['a1', 'a2', 'b2']);
  });

  it('the same function added twice is two subscriptions: it is called twice, and removing one leaves the other', () => {
    const emitter = new Emitter<Events>();
    const calls: number[] = [];
    const listener = (n: number) => calls.push(n);
    const offA = emitter.on('tick', listener);
    const offB = emitter.on('tick', listener);
    emitter.emit('tick', 1);
    offA();
    offA();
    emitter.emit('tick', 2);
    expect(calls).toEqual([1, 1, 2]);
    expect(emitter.has('tick')).toBe(true);
    offB();
    expect(emitter.has('tick')).toBe(false);
  });

  it('has() tells whether anything listens, and forgets an event whose last listener left', () => {
    const emitter = new Emitter<Events>();
    expect(emitter.has('tick')).toBe(false);
    const off = emitter.on('tick', () => {});
    expect(emitter.has('tick')).toBe(true);
    off();
    off();
    expect(emitter.has('tick')).toBe(false);
  });

  it('a listener that throws does not stop the others; its error is thrown again on a later turn', async () => {
    const emitter = new Emitter<Events>();
    const thrown = new Error('listener failed');
    const later: Array<() => void> = [];
    const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((callback) => void later.push(callback));
    const calls: number[] = [];
    emitter.on('tick', () => {
      throw thrown;
    });
    emitter.on('tick', (n) => calls.push(n));
    try {
      emitter.emit('tick', 7);
    } finally {
      spy.mockRestore();
    }
    expect(calls).toEqual([7]);
    expect(later).toHaveLength(1);
    expect(() => later[0]!()).toThrow(thrown);
  });

  it('clear() removes every listener', () => {
    const emitter = new Emitter<Events>();
    const calls: number[] = [];
    emitter.on('tick', (n) => calls.push(n));
    emitter.clear();
    emitter.emit('tick', 1);
    expect(calls).toEqual([]);
    expect(emitter.has('tick')).toBe(false);
  });

  it('removing the last listener of one event leaves the listeners of the other events', () => {
    const emitter = new Emitter<Events>();
    const calls: string[] = [];
    const offTick = emitter.on('tick', () => calls.push('tick'));
    emitter.on('tock', (s) => calls.push(s));
    offTick();
    emitter.emit('tock', 'still');
    expect(calls).toEqual(['still']);
    expect(emitter.has('tock')).toBe(true);
    expect(emitter.has('tick')).toBe(false);
  });

  it('a remover called again after its event was listened to anew does not remove the new listener', () => {
    const emitter = new Emitter<Events>();
    const calls: number[] = [];
    emitter.on('tock', () => {}); // keeps the emitter's listeners in use
    const off = emitter.on('tick', () => calls.push(0));
    off();
    emitter.on('tick', (n) => calls.push(n));
    off();
    emitter.emit('tick', 1);
    expect(calls).toEqual([1]);
  });

  it('a remover kept from before clear() does not remove the listeners added after it', () => {
    const emitter = new Emitter<Events>();
    const calls: number[] = [];
    const off = emitter.on('tick', () => calls.push(0));
    emitter.clear();
    emitter.on('tick', (n) => calls.push(n));
    off();
    emitter.emit('tick', 1);
    expect(calls).toEqual([1]);
    expect(emitter.has('tick')).toBe(true);
  });
});
