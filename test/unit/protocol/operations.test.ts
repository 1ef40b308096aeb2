import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ErrorCode, SocketchartError } from '../../../src/protocol/errors.js';
import { Operations } from '../../../src/protocol/operations.js';
import { recordingSink as recorder } from '../../support/operation-sink.js';
import { track, type Settled } from '../../support/settled.js';

/** Operations over a stand-in connection: a link that is up or down, the socket it is on, and the frames written. */
function operations() {
  const write = (frame: unknown) => (host.ws === null ? false : (host.written.push(String(frame)), true));
  const host = { link: { connected: false }, ws: null as object | null, written: [] as string[], write, writeData: write, options: { maxMessageBytes: 100 } };
  const ops = new Operations(host, { start: (id, payload) => `start ${id} ${JSON.stringify(payload)}`, stop: (id) => `stop ${id}` });
  const up = () => {
    host.ws = {};
    host.link.connected = true;
    ops.resume();
  };
  const down = (stopped = false) => {
    host.ws = null;
    host.link.connected = false;
    ops.dropped(stopped);
  };
  return { host, ops, up, down };
}

/** Where a tracked promise stands, as one word (and the rejection's code or reason). */
const stateOf = ({ status, error }: Settled) => (status === 'rejected' ? `rejected ${error?.code ?? error}` : status);

describe('Operations', () => {
  it('a one-shot that has its result ignores a second result: it is stopped on the server and its sink hears nothing more', () => {
    const { host, ops, up } = operations();
    up();
    const { seen, sink } = recorder();
    ops.start({ q: 1 }, sink, { id: 'a', once: true });
    ops.next('a', 1);
    ops.next('a', 2);
    expect(seen).toEqual(['next 1']);
    expect(host.written).toEqual(['start a {"q":1}', 'stop a']);
    expect(ops.has('a')).toBe(false);
  });

  it('a one-shot that has its result ends quietly on the server\'s complete; one without a result ends with an error', () => {
    const { ops, up } = operations();
    up();
    const answered = recorder();
    ops.start({}, answered.sink, { id: 'a', once: true });
    ops.next('a', 'result');
    expect(ops.end('a')).toBe(true);
    expect(answered.seen).toEqual(['next "result"']);
    const unanswered = recorder();
    ops.start({}, unanswered.sink, { id: 'b', once: true });
    ops.end('b');
    expect(unanswered.seen).toEqual([`error ${ErrorCode.INVALID_MESSAGE_FORMAT}`]);
  });

  it('a one-shot whose result came before it was written is never written', () => {
    const { host, ops, up } = operations();
    const { seen, sink } = recorder();
    ops.start({ q: 1 }, sink, { id: 'a', once: true });
    ops.next('a', 1);
    up();
    expect(host.written).toEqual([]);
    expect(seen).toEqual(['next 1']);
  });

  it('on a drop, a one-shot that has its result is forgotten, a live operation waits to be written again, and one that must not run twice ends', () => {
    const { host, ops, up, down } = operations();
    up();
    const once = recorder();
    const live = recorder();
    const mutation = recorder();
    ops.start({}, once.sink, { id: 'once', once: true });
    ops.next('once', 1);
    ops.start({}, live.sink, { id: 'live' });
    ops.start({}, mutation.sink, { id: 'mutation', restart: false });
    down();
    expect([ops.has('once'), ops.has('live'), ops.has('mutation')]).toEqual([false, true, false]);
    expect(mutation.seen).toEqual([`error ${ErrorCode.NETWORK_ERROR}`]);
    host.written.length = 0;
    up();
    expect(host.written).toEqual(['start live {}']);
    expect(once.seen).toEqual(['next 1']);
  });

  it('an operation that must not run twice but was never written survives a drop and goes on the next link', () => {
    const { host, ops, up, down } = operations();
    const { seen, sink } = recorder();
    ops.start({}, sink, { id: 'mutation', restart: false });
    down();
    expect(ops.has('mutation')).toBe(true);
    up();
    expect(host.written).toEqual(['start mutation {}']);
    expect(seen).toEqual([]);
  });

  it('stopped by the app, an operation written on another socket is not stopped on this one', () => {
    const { host, ops, up, down } = operations();
    up();
    const { stop } = ops.start({}, recorder().sink, { id: 'a' });
    down();
    host.ws = {};
    host.link.connected = true; // a new socket, before the operation is written on it
    stop();
    expect(host.written).toEqual(['start a {}']);
  });

  it('is written once per socket: resuming on the socket it is on writes nothing', () => {
    const { host, ops, up } = operations();
    ops.start({}, recorder().sink, { id: 'a' });
    up();
    ops.resume();
    expect(host.written).toEqual(['start a {}']);
  });

  it('an operation a sink starts while the link goes down waits for the next socket, even while the old one still looks open', () => {
    const { host, ops, up } = operations();
    up();
    ops.start({}, { next: () => {}, error: () => void ops.start({}, recorder().sink, { id: 'again' }) }, { id: 'mutation', restart: false });
    ops.dropped();
    expect(host.written).toEqual(['start mutation {}']);
    up();
    expect(host.written).toEqual(['start mutation {}', 'start again {}']);
  });

  it('a payload the codec cannot encode is refused with INVALID_MESSAGE_FORMAT (its cause kept), or with the codec\'s own typed error; nothing is written or kept', () => {
    const write = (frame: unknown) => (host.written.push(frame), true);
    const host = { link: { connected: true }, ws: {}, written: [] as unknown[], write, writeData: write, options: { maxMessageBytes: 100 } };
    const refusal = new SocketchartError(ErrorCode.MESSAGE_TOO_LARGE, { message: 'too large' });
    const ops = new Operations(host, {
      start: (_id, payload) => {
        if (payload === 'typed') throw refusal;
        if (payload === 'cyclic') throw new TypeError('Converting circular structure to JSON');
        return 'start';
      },
      stop: () => undefined,
    });
    let thrown: unknown;
    try {
      ops.start('cyclic', recorder().sink, { id: 'a' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT, messageId: 'a', cause: expect.any(TypeError) });
    expect(() => ops.start('typed', recorder().sink, { id: 'b' })).toThrow(refusal);
    expect({ written: host.written, live: ops.size }).toEqual({ written: [], live: 0 });
  });

  it('an operation that must not run twice ends on a drop with a final error naming it: NETWORK_ERROR, or CLOSED when the app stopped the connection', () => {
    for (const stopped of [false, true]) {
      const { ops, up, down } = operations();
      up();
      const errors: SocketchartError[] = [];
      ops.start({}, { next: () => undefined, error: (error) => errors.push(error) }, { id: 'mutation-1', restart: false });
      down(stopped);
      expect(errors.map(({ code, message, recovery }) => ({ code, message, recovery })), `stopped: ${stopped}`).toEqual([
        stopped
          ? { code: ErrorCode.CLOSED, message: 'The connection is closed', recovery: 'fail' }
          : { code: ErrorCode.NETWORK_ERROR, message: 'The link dropped while operation mutation-1 ran; it is not started again', recovery: 'fail' },
      ]);
    }
  });

  it('refuses an id that is not a non-empty string, and a restart that is not a boolean, before writing anything', () => {
    const { host, ops, up } = operations();
    up();
    for (const id of [5, '']) expect(() => ops.start({}, undefined, { id: id as string }), String(id)).toThrow(expect.objectContaining({ option: 'id', expectation: 'a non-empty string' }));
    expect(() => ops.start({}, undefined, { restart: 'no' as unknown as boolean })).toThrow(expect.objectContaining({ option: 'restart', expectation: 'a boolean' }));
    expect({ written: host.written, live: ops.size }).toEqual({ written: [], live: 0 });
  });

  it('a payload the codec cannot encode is refused as final, saying so', () => {
    const { ops, up } = operations();
    up();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => ops.start(cyclic, undefined, { id: 'a' })).toThrow(expect.objectContaining({ message: 'The operation cannot be encoded', recovery: 'fail' }));
  });

  it('a fresh id skips ids the app took', () => {
    const { ops } = operations();
    ops.start({}, recorder().sink, { id: 'op-1' });
    expect(ops.start({}, recorder().sink).id).toBe('op-2');
  });

  it('a frame over maxMessageBytes is refused with MESSAGE_TOO_LARGE, final; nothing is written or kept', () => {
    const { host, ops, up } = operations();
    up();
    expect(() => ops.start('x'.repeat(100), undefined, { id: 'a' })).toThrow(expect.objectContaining({ code: ErrorCode.MESSAGE_TOO_LARGE, recovery: 'fail', messageId: 'a' }));
    expect([host.written, ops.has('a')]).toEqual([[], false]);
  });

  it('a frame of exactly maxMessageBytes is written (the limit is inclusive)', () => {
    const { host, ops, up } = operations();
    up();
    const payload = 'x'.repeat(90); // start a "xxx…": 8 + 92 = 100 bytes
    ops.start(payload, undefined, { id: 'a' });
    expect(host.written).toEqual([`start a "${payload}"`]);
    expect(host.written[0]).toHaveLength(100);
  });

  it('a close for a frame too large fails the largest operation written and not answered, and only it', () => {
    const { host, ops, up } = operations();
    const small = recorder();
    const large = recorder();
    const unwritten = recorder();
    ops.start('y'.repeat(60), unwritten.sink, { id: 'c' });
    host.link.connected = true;
    host.ws = {};
    ops.start('s', small.sink, { id: 'a' });
    ops.start('x'.repeat(40), large.sink, { id: 'b' });
    ops.refusedTooLarge(ops);
    expect([small.seen, large.seen, unwritten.seen]).toEqual([[], [`error ${ErrorCode.MESSAGE_TOO_LARGE}`], []]);
    expect([ops.has('a'), ops.has('b'), ops.has('c')]).toEqual([true, false, true]);
    void up;
  });

  it('a close for a frame too large fails the operation largest in UTF-8 bytes, not in characters', () => {
    const { ops, up } = operations();
    up();
    const accented = recorder();
    const ascii = recorder();
    ops.start('é'.repeat(30), accented.sink, { id: 'a' }); // 40 characters, 70 bytes
    ops.start('x'.repeat(45), ascii.sink, { id: 'b' }); // 55 characters, 55 bytes
    ops.refusedTooLarge(ops);
    expect([accented.seen, ascii.seen]).toEqual([[`error ${ErrorCode.MESSAGE_TOO_LARGE}`], []]);
  });

  it('a close for a frame too large spares a larger one-shot that has its result: the server took that one', () => {
    const { ops, up } = operations();
    up();
    const answered = recorder();
    const running = recorder();
    ops.start('x'.repeat(40), answered.sink, { id: 'a', once: true });
    ops.next('a', 'result');
    ops.start('s', running.sink, { id: 'b' });
    ops.refusedTooLarge(ops);
    expect([answered.seen, running.seen]).toEqual([['next "result"'], [`error ${ErrorCode.MESSAGE_TOO_LARGE}`]]);
    expect(ops.has('b')).toBe(false);
  });

  describe('startBound() (send to a channel that names an operation)', () => {
    it('resolves when first written; rejects when the operation ends before it is written', async () => {
      const { ops, up } = operations();
      const released = track(ops.startBound('released', 'start released'));
      ops.release('released');
      const ended = track(ops.startBound('ended', 'start ended'));
      ops.endAll(new SocketchartError(ErrorCode.AUTHORIZATION_FAILED, { message: 'refused' }));
      const written = track(ops.startBound('written', 'start written'));
      up();
      await Promise.resolve();
      expect({ released: stateOf(released), ended: stateOf(ended), written: stateOf(written) }).toEqual({
        released: `rejected ${ErrorCode.CLOSED}`,
        ended: `rejected ${ErrorCode.AUTHORIZATION_FAILED}`,
        written: 'resolved',
      });
    });

    it('an abort before the write rejects with the reason and nothing is written; an abort after it changes nothing', async () => {
      const { host, ops, up } = operations();
      const early = new AbortController();
      const late = new AbortController();
      const aborted = track(ops.startBound('a', 'start a', early.signal));
      const sent = track(ops.startBound('b', 'start b', late.signal));
      early.abort('changed my mind');
      up();
      late.abort('too late');
      await Promise.resolve();
      expect({ aborted: stateOf(aborted), sent: stateOf(sent) }).toEqual({ aborted: 'rejected changed my mind', sent: 'resolved' });
      expect(host.written).toEqual(['start b']);
      expect([ops.has('a'), ops.has('b')]).toEqual([false, true]);
    });

    it('leaves no listener on the signal once settled', async () => {
      const { ops, up } = operations();
      const signal = new AbortController().signal;
      const written = ops.startBound('a', 'start a', signal);
      expect(getEventListeners(signal, 'abort')).toHaveLength(1);
      up();
      await written;
      expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    });

    it('an operation a sink starts while every operation is being ended fails with the same error', async () => {
      const { ops, up } = operations();
      up();
      const closed = new SocketchartError(ErrorCode.CLOSED, { message: 'the connection closed' });
      let startedMeanwhile: Promise<void> | undefined;
      ops.start({}, { next: () => {}, error: () => (startedMeanwhile = ops.startBound('late', 'start late')) }, { id: 'a' });
      ops.endAll(closed);
      await expect(startedMeanwhile).rejects.toBe(closed);
      expect(ops.has('late')).toBe(false);
    });
  });
});
