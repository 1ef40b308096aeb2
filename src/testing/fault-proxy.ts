import net from 'node:net';

export type FaultMode = 'pass' | 'blackhole' | 'stall-downstream' | 'refuse';

export interface FaultProxyOptions {
  /** Source of randomness in [0, 1) for `jitterMs` (inject a seeded one for repeatable runs). @default Math.random */
  random?: () => number;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  /** Client to server. */
  up: Lane;
  /** Server to client. */
  down: Lane;
}

/** Bytes one direction holds for their delay before it stops reading its source, as a link's window would. */
const MAX_HELD_BYTES = 1024 * 1024;

/**
 * One direction of one proxied connection: chunks leave in the order they arrived, each no earlier than
 * its own delay after it arrived, and none while the direction is stalled. Its source is read only while
 * the direction moves, its destination takes more, and it holds less than `MAX_HELD_BYTES`.
 */
class Lane {
  private readonly pending: Array<{ chunk: Buffer; at: number }> = [];
  private held = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastAt = 0;
  stalled = false;
  /** The sending side closed gracefully: end the receiving side once every held chunk is written. */
  finishing = false;

  constructor(
    private readonly from: net.Socket,
    private readonly to: net.Socket,
  ) {
    to.on('drain', () => this.pump());
  }

  get size(): number {
    return this.pending.length;
  }

  push(chunk: Buffer, delayMs: number): void {
    const now = Date.now();
    if (delayMs <= 0 && this.pending.length === 0 && !this.stalled && !this.to.writableNeedDrain) {
      this.write(chunk);
      this.flow();
      return;
    }
    const at = Math.max(now + Math.max(0, delayMs), this.lastAt);
    this.lastAt = at;
    this.pending.push({ chunk, at });
    this.held += chunk.length;
    this.pump();
  }

  /** Writes every chunk that is due, in order, while the destination takes more; then waits for the next one, or for 'drain'. */
  pump(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (!this.stalled) {
      const now = Date.now();
      while (this.pending.length > 0 && this.pending[0]!.at <= now && !this.to.writableNeedDrain) {
        const { chunk } = this.pending.shift()!;
        this.held -= chunk.length;
        this.write(chunk);
      }
      const head = this.pending[0];
      if (head) {
        if (head.at > now) this.timer = setTimeout(() => this.pump(), head.at - now);
      } else if (this.finishing) this.to.end();
    }
    this.flow();
  }

  /** Reads the source only while this direction can take more, so that a slow reader pushes back on the sender. */
  private flow(): void {
    if (this.stalled || this.to.writableNeedDrain || this.held >= MAX_HELD_BYTES) this.from.pause();
    else this.from.resume();
  }

  finish(): void {
    this.finishing = true;
    this.pump();
  }

  private write(chunk: Buffer): void {
    if (this.to.writable) this.to.write(chunk);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.length = 0;
    this.held = 0;
  }
}

/**
 * A TCP proxy on loopback that injects faults between a client and a server:
 * - `blackhole`: nothing moves in either direction, yet both sockets stay open (as when a NAT entry
 *   or a Wi-Fi link dies); like real TCP, nothing is lost inside the stream: traffic stalls and
 *   resumes intact if the path heals before either side gives up;
 * - `stall-downstream`: the same, from the server to the client only (a publish arrives, its ack does not);
 * - `reset()`: RST on every connection, to both sides; `refuse`: new connections are reset at once; a side
 *   that resets (or fails) is passed on to the other side as a reset, not a graceful close;
 * - `delayMs` (+ up to `jitterMs` more, drawn per chunk): every chunk is held that long in both
 *   directions; bytes keep their order within each direction, as on a slow link (a chunk never
 *   overtakes an earlier one, whatever its own delay, and lowering the delay does not reorder);
 *   a side that closes gracefully is closed on the other side after its last held bytes, not before, and
 *   the connection counts as `open` until both sides have closed (a peer that stays half-open keeps it, as
 *   on a real network; `reset()` and `close()` end it);
 * - backpressure passes through, as on a real network: a side that reads slowly is written no faster than it
 *   reads, and the other side is then not read, so that its own write buffer fills (`bufferedAmount`, a server's
 *   send-buffer bound); with a delay, each direction also holds at most about 1 MiB read ahead for its delay
 *   (a link's window) before it stops reading.
 */
export class FaultProxy {
  private server: net.Server | undefined;
  private readonly pairs = new Set<Pair>();
  private current: FaultMode = 'pass';
  private readonly random: () => number;
  /** The port the proxy listens on (after `listen()`). */
  port = 0;
  /** Latency added to every chunk, in both directions (0: none). */
  delayMs = 0;
  /** Extra latency drawn uniformly from [0, jitterMs) per chunk, on top of `delayMs`. */
  jitterMs = 0;
  /** Connections accepted so far (refused ones included). */
  connections = 0;

  constructor(
    private readonly target: { host: string; port: number },
    options: FaultProxyOptions = {},
  ) {
    this.random = options.random ?? Math.random;
  }

  get mode(): FaultMode {
    return this.current;
  }

  set mode(mode: FaultMode) {
    this.current = mode;
    for (const pair of this.pairs) this.apply(pair);
  }

  /** Chunks held for their delay (or by a stall) and not yet written, over every connection. */
  get delayed(): number {
    let held = 0;
    for (const { up, down } of this.pairs) held += up.size + down.size;
    return held;
  }

  private apply({ up, down }: Pair): void {
    up.stalled = this.current === 'blackhole';
    down.stalled = this.current === 'blackhole' || this.current === 'stall-downstream';
    up.pump();
    down.pump();
  }

  private chunkDelay(): number {
    // NaN counts as no delay, as a timer takes it
    const base = Math.max(0, this.delayMs) || 0;
    const jitter = Math.max(0, this.jitterMs);
    return jitter > 0 ? base + jitter * this.random() : base;
  }

  async listen(): Promise<number> {
    // half-open sockets: each side's FIN is passed on by its lane (`finishing`), not answered by Node at once
    this.server = net.createServer({ allowHalfOpen: true }, (client) => this.accept(client));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  private accept(client: net.Socket): void {
    this.connections++;
    if (this.current === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ port: this.target.port, host: this.target.host, allowHalfOpen: true });
    const pair: Pair = { client, upstream, up: new Lane(client, upstream), down: new Lane(upstream, client) };
    this.pairs.add(pair);
    client.on('data', (chunk: Buffer) => pair.up.push(chunk, this.chunkDelay()));
    upstream.on('data', (chunk: Buffer) => pair.down.push(chunk, this.chunkDelay()));
    this.apply(pair);
    /** A side failed (reset, or could not connect): the other side is reset, as the failure would reach it over a real network. */
    const abort = (failed: net.Socket, other: net.Socket) => () => {
      this.pairs.delete(pair);
      pair.up.dispose();
      pair.down.dispose();
      failed.destroy();
      other.resetAndDestroy();
    };
    const closed = (side: net.Socket, inbound: Lane, outbound: Lane, other: net.Socket) => () => {
      inbound.dispose();
      if (!outbound.finishing) other.destroy();
      if (side.destroyed && other.destroyed) this.pairs.delete(pair);
    };
    client.on('end', () => pair.up.finish());
    upstream.on('end', () => pair.down.finish());
    client.on('error', abort(client, upstream)).on('close', closed(client, pair.down, pair.up, upstream));
    upstream.on('error', abort(upstream, client)).on('close', closed(upstream, pair.up, pair.down, client));
  }

  /** Sends RST on every open connection; chunks held for a delay are dropped with it. */
  reset(): void {
    for (const { client, upstream, up, down } of this.pairs) {
      up.dispose();
      down.dispose();
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    this.pairs.clear();
  }

  get open(): number {
    return this.pairs.size;
  }

  async close(): Promise<void> {
    this.reset();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
