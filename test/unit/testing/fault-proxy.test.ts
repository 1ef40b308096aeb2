import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultProxy } from '../../../src/testing/fault-proxy.js';
import { until } from '../../support/until.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/**
 * A loopback TCP server that records what it receives and echoes it back, and how its sockets end (`end`,
 * `error <code>`). With `allowHalfOpen`, it answers a client's FIN with "bye" and its own FIN.
 */
async function echoServer({ allowHalfOpen = false } = {}) {
  const sockets = new Set<net.Socket>();
  const events: string[] = [];
  let received = '';
  let receivedAt = 0;
  const server = net.createServer({ allowHalfOpen }, (socket) => {
    sockets.add(socket);
    socket.on('data', (chunk) => {
      received += chunk.toString();
      receivedAt = Date.now();
      socket.write(chunk);
    });
    socket.on('end', () => {
      events.push('end');
      if (allowHalfOpen) socket.end('bye');
    });
    socket.on('error', (error: NodeJS.ErrnoException) => events.push(`error ${error.code}`)).on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return {
    port: (server.address() as net.AddressInfo).port,
    events,
    get received() {
      return received;
    },
    /** When the last chunk arrived (it is echoed at once). */
    get receivedAt() {
      return receivedAt;
    },
    get open() {
      return sockets.size;
    },
    /** Writes `text` on every connection and closes it gracefully (FIN after the bytes). */
    farewell(text: string) {
      for (const socket of sockets) socket.end(text);
    },
  };
}

/** A client connected through a proxy to an echo server; `allowHalfOpen` applies to the client and the server. */
async function proxied(options: ConstructorParameters<typeof FaultProxy>[1] = {}, { allowHalfOpen = false } = {}) {
  const target = await echoServer({ allowHalfOpen });
  const proxy = new FaultProxy({ host: '127.0.0.1', port: target.port }, options);
  await proxy.listen();
  cleanups.push(() => proxy.close());
  const client = net.connect({ port: proxy.port, host: '127.0.0.1', allowHalfOpen });
  let echoed = '';
  let echoedAt = 0;
  let closed = false;
  client.on('data', (chunk) => {
    echoed += chunk.toString();
    echoedAt = Date.now();
  });
  client.on('error', () => undefined).on('close', () => (closed = true));
  cleanups.push(() => void client.destroy());
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  await until(() => proxy.open === 1 && target.open === 1, 2_000, 'the proxied connection');
  return {
    target,
    proxy,
    client,
    get echoed() {
      return echoed;
    },
    get echoedAt() {
      return echoedAt;
    },
    get closed() {
      return closed;
    },
  };
}

/** Values handed out in order, then the last one forever. */
const sequence = (values: number[]) => {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)]!;
};

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('FaultProxy delay', () => {
  it('holds every chunk for delayMs in both directions, then delivers it', async () => {
    const link = await proxied();
    link.proxy.delayMs = 400;
    const sentAt = Date.now();
    link.client.write('ping');
    await until(() => link.proxy.delayed === 1, 1_000, 'the chunk to be held upstream');
    expect(link.target.received).toBe('');
    await until(() => link.target.received === 'ping', 1_000, 'the chunk upstream');
    await until(() => link.proxy.delayed === 1 || link.echoed !== '', 1_000, 'the echo to be held downstream');
    expect(link.echoed).toBe('');
    await until(() => link.echoed === 'ping', 1_000, 'the echo downstream');
    // timer callbacks may run up to a millisecond early by Date.now()
    expect(link.target.receivedAt - sentAt).toBeGreaterThanOrEqual(398);
    expect(link.echoedAt - link.target.receivedAt).toBeGreaterThanOrEqual(398);
    expect(link.proxy.delayed).toBe(0);
  });

  it('keeps byte order per direction when jitter gives later chunks shorter delays', async () => {
    let draws = 0;
    const descending = sequence([0.95, 0.7, 0.45, 0.2, 0]);
    const link = await proxied({ random: () => (draws++, descending()) });
    link.proxy.jitterMs = 200;
    const parts = ['a1', 'b2', 'c3', 'd4', 'e5'];
    const firstWrittenAt = Date.now();
    for (const [i, part] of parts.entries()) {
      link.client.write(part);
      // each write is read by the proxy as a chunk of its own, drawing its own (shorter) delay
      await until(() => link.proxy.delayed === i + 1 || link.target.received !== '', 1_000, `chunk ${part} held`);
    }
    expect(draws, 'one draw per chunk').toBeGreaterThanOrEqual(parts.length);
    await until(() => link.echoed.length === 10, 2_000, 'every echo');
    expect(link.target.received).toBe(parts.join(''));
    expect(link.echoed).toBe(parts.join(''));
    // nothing overtook the first chunk, which drew 0.95 × 200 ms
    expect(link.target.receivedAt - firstWrittenAt).toBeGreaterThanOrEqual(188);
  });

  it('lowering the delay does not let a new chunk overtake one still held', async () => {
    const link = await proxied();
    link.proxy.delayMs = 400;
    link.client.write('first;');
    await until(() => link.proxy.delayed === 1, 1_000, 'the first chunk held');
    link.proxy.delayMs = 0;
    link.client.write('second;');
    await until(() => link.echoed.length === 13, 2_000, 'both echoes');
    expect(link.target.received).toBe('first;second;');
    expect(link.echoed).toBe('first;second;');
  });

  it('a blackhole holds chunks already delayed until it lifts, then they arrive intact and in order', async () => {
    const link = await proxied();
    link.proxy.delayMs = 300;
    link.client.write('x');
    await until(() => link.proxy.delayed === 1, 1_000, 'the chunk held');
    link.proxy.mode = 'blackhole';
    link.client.write('y');
    await pause(500);
    expect(link.target.received).toBe('');
    link.proxy.mode = 'pass';
    link.proxy.delayMs = 0;
    await until(() => link.echoed === 'xy', 1_000, 'the echo after the blackhole');
    expect(link.target.received).toBe('xy');
  });

  it('reset drops held chunks and closes the connection on both sides', async () => {
    const link = await proxied();
    link.proxy.delayMs = 500;
    link.client.write('lost');
    await until(() => link.proxy.delayed === 1, 1_000, 'the chunk held');
    link.proxy.reset();
    expect(link.proxy.delayed).toBe(0);
    await until(() => link.closed && link.target.open === 0, 1_000, 'both sides closed');
    await pause(550);
    expect(link.target.received).toBe('');
    expect(link.proxy.open).toBe(0);
  });

  it('delivers the bytes the server wrote before closing, then closes the client', async () => {
    const link = await proxied();
    link.proxy.delayMs = 50;
    link.target.farewell('bye');
    await until(() => link.closed, 2_000, 'the client closed');
    expect(link.echoed).toBe('bye');
    await until(() => link.proxy.open === 0, 1_000, 'the pair released');
  });

  it('delivers the bytes the client wrote before closing, then closes the server side', async () => {
    const link = await proxied();
    link.proxy.delayMs = 50;
    link.client.end('last words');
    await until(() => link.target.open === 0, 2_000, 'the server side closed');
    expect(link.target.received).toBe('last words');
    await until(() => link.proxy.open === 0, 1_000, 'the pair released');
  });

  it('a close behind a blackhole waits with the bytes before it, and both arrive when it lifts', async () => {
    const link = await proxied();
    link.proxy.delayMs = 20;
    link.proxy.mode = 'blackhole';
    link.target.farewell('held');
    await pause(150);
    expect(link.echoed).toBe('');
    expect(link.closed).toBe(false);
    link.proxy.mode = 'pass';
    await until(() => link.closed, 2_000, 'the client closed');
    expect(link.echoed).toBe('held');
  });

  it('without a delay, chunks pass straight through', async () => {
    const link = await proxied();
    link.client.write('direct');
    await until(() => link.echoed === 'direct', 1_000, 'the echo');
    expect(link.proxy.delayed).toBe(0);
  });

  it('a delayMs that is not a number (NaN) adds no delay, as a timer takes it, rather than holding every chunk for ever', async () => {
    const link = await proxied();
    link.proxy.delayMs = Number.NaN;
    link.client.write('direct');
    await until(() => link.echoed === 'direct', 1_000, 'the echo');
    expect(link.proxy.delayed).toBe(0);
  });
});

describe('FaultProxy backpressure', () => {
  /**
   * A server that writes `bytes` at once to a client that reads nothing through a proxy (with `delayMs`): once
   * nothing moves any more, how much the server still holds in its own write buffer; then what the client
   * reads when it does.
   */
  async function slowReader(delayMs: number, bytes: number, { readsAfterSettling = true } = {}) {
    let serverSide: net.Socket | undefined;
    const server = net.createServer((socket) => (serverSide = socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new FaultProxy({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
    await proxy.listen();
    proxy.delayMs = delayMs;
    const client = net.connect({ port: proxy.port, host: '127.0.0.1' });
    cleanups.push(
      () => proxy.close(),
      () => new Promise<void>((resolve) => server.close(() => resolve())),
      () => void serverSide?.destroy(),
      () => void client.destroy(),
    );
    await until(() => serverSide !== undefined, 2_000, 'the proxied connection');
    const sender = serverSide!;
    const chunk = Buffer.alloc(64 * 1024, 7);
    for (let written = 0; written < bytes; written += chunk.length) sender.write(chunk);
    let last = -1;
    let unchanged = 0;
    await until(
      () => {
        unchanged = sender.writableLength === last ? unchanged + 1 : 0;
        last = sender.writableLength;
        return last === 0 || unchanged >= 40;
      },
      10_000,
      'the sender\'s buffer to settle',
    );
    const heldBySender = sender.writableLength;
    const chunksHeld = proxy.delayed;
    if (!readsAfterSettling) return { heldBySender, chunksHeld, drained: undefined };
    let received = 0;
    client.on('data', (chunk: Buffer) => (received += chunk.length));
    await until(() => received === bytes, 10_000, 'every byte to reach the client once it reads');
    return { heldBySender, chunksHeld, drained: sender.writableLength };
  }

  it('with no delay, stops reading the server as soon as the client\'s side takes no more: it holds a chunk or two, not a window', async () => {
    const { chunksHeld } = await slowReader(0, 16 * 1024 * 1024);
    expect(chunksHeld).toBeLessThanOrEqual(2);
  });

  it.each([0, 20])('with delayMs %i, a client that does not read pushes back on the server, as over a real network: its write buffer stays full until the client reads', async (delayMs) => {
    const bytes = 64 * 1024 * 1024;
    const { heldBySender, drained } = await slowReader(delayMs, bytes);
    expect(heldBySender, 'bytes the server still holds while the client reads nothing').toBeGreaterThan(bytes / 2);
    expect(drained).toBe(0);
  });

  it('with a long delay, holds about a link\'s window for it, not all the sender writes: the rest waits in the sender\'s buffer', async () => {
    const bytes = 64 * 1024 * 1024;
    const { heldBySender } = await slowReader(60_000, bytes, { readsAfterSettling: false });
    expect(heldBySender, 'bytes the server still holds while the proxy holds the first ones for their delay').toBeGreaterThan(bytes - 8 * 1024 * 1024);
  });
});

describe('FaultProxy resets', () => {
  it('reset() resets the server side too: the server sees ECONNRESET, not a graceful end', async () => {
    const link = await proxied();
    link.proxy.reset();
    await until(() => link.closed && link.target.open === 0, 2_000, 'both sides closed');
    expect(link.target.events).toEqual(['error ECONNRESET']);
  });

  it('a client that resets its connection is seen by the server as a reset, not a graceful end', async () => {
    const link = await proxied();
    link.client.resetAndDestroy();
    await until(() => link.target.open === 0, 2_000, 'the server side closed');
    expect(link.target.events).toEqual(['error ECONNRESET']);
    await until(() => link.proxy.open === 0, 1_000, 'the pair released');
  });
});

describe('FaultProxy half-close', () => {
  it.each([0, 30])('with delayMs %i, a client that half-closes still receives what the server writes afterwards', async (delayMs) => {
    const link = await proxied({}, { allowHalfOpen: true });
    link.proxy.delayMs = delayMs;
    link.client.end('hello');
    await until(() => link.closed, 2_000, 'the exchange to end');
    expect(link.target.received).toBe('hello');
    expect(link.echoed).toBe('hellobye');
    expect(link.target.events).toEqual(['end']);
    await until(() => link.proxy.open === 0, 1_000, 'the pair released');
  });
});
