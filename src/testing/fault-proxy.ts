import net from 'node:net';

export type FaultMode = 'pass' | 'blackhole' | 'stall-downstream' | 'refuse';

/**
 * A TCP proxy on loopback that injects faults between a client and a server:
 * - `blackhole`: nothing moves in either direction, yet both sockets stay open (as when a NAT entry
 *   or a Wi-Fi link dies); like real TCP, nothing is lost inside the stream: traffic stalls and
 *   resumes intact if the path heals before either side gives up;
 * - `stall-downstream`: the same, from the server to the client only (a publish arrives, its ack does not);
 * - `reset()`: RST on every connection; `refuse`: new connections are reset at once;
 * - `delayMs`: every chunk is held that long.
 */
export class FaultProxy {
  private server: net.Server | undefined;
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  private current: FaultMode = 'pass';
  /** The port the proxy listens on (after `listen()`). */
  port = 0;
  delayMs = 0;
  connections = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  get mode(): FaultMode {
    return this.current;
  }

  set mode(mode: FaultMode) {
    this.current = mode;
    for (const pair of this.pairs) this.apply(pair);
  }

  private apply({ client, upstream }: { client: net.Socket; upstream: net.Socket }): void {
    if (this.current === 'blackhole') client.pause();
    else client.resume();
    if (this.current === 'blackhole' || this.current === 'stall-downstream') upstream.pause();
    else upstream.resume();
  }

  async listen(): Promise<number> {
    this.server = net.createServer((client) => this.accept(client));
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
    const upstream = net.connect(this.target.port, this.target.host);
    const pair = { client, upstream };
    this.pairs.add(pair);
    const forward = (from: net.Socket, to: net.Socket) =>
      from.on('data', (chunk) => {
        if (this.delayMs > 0) setTimeout(() => to.writable && to.write(chunk), this.delayMs);
        else if (to.writable) to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    this.apply(pair);
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  }

  /** Sends RST on every open connection. */
  reset(): void {
    for (const { client, upstream } of this.pairs) {
      client.resetAndDestroy();
      upstream.destroy();
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
