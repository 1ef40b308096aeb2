import { randomBytes, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import { createPool, type EndpointOptions, type Pool } from '../index.node.js';
import { createServer, type ServerOptions, type SocketchartServer } from '../server/index.js';
import { FaultProxy } from '../testing/fault-proxy.js';
import { parseDemoArgs, usage, UsageError, type DemoArgs } from './demo-args.js';
import { explained } from './explained.js';
import { redisAddress } from './flags.js';
import { seedFeeds } from './seed-feeds.js';
import { planFaults, type FaultPlan, type HeartbeatTiming } from './demo-faults.js';
import { Ledger, type FaultRecord } from './demo-ledger.js';
import { connectInspector, type SocketchartInspector } from '../inspection/client.js';
import { startInspectorProcess, type InspectorProcess } from './inspector-process.js';


const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** Calls `first` on the first SIGINT or SIGTERM and exits with `exitCode()` on the next (npm forwards the Ctrl-C the demo also got); returns the remover. */
function onInterrupt(first: () => void, exitCode: () => number): () => void {
  let signals = 0;
  const handler = () => (signals++ === 0 ? first() : process.exit(exitCode()));
  const names = ['SIGINT', 'SIGTERM'] as const;
  for (const name of names) process.on(name, handler);
  return () => {
    for (const name of names) process.off(name, handler);
  };
}

class Demo {
  private readonly secret = randomBytes(32);
  private readonly servers: SocketchartServer[] = [];
  private readonly proxies: FaultProxy[] = [];
  private readonly ports: number[] = [];
  private pool!: Pool;
  private readonly ledger = new Ledger();
  private readonly started = Date.now();
  private readonly tty = process.stdout.isTTY === true;
  private progressTimer: NodeJS.Timeout | undefined;
  private inspector: { server: InspectorProcess; client: SocketchartInspector } | undefined;
  private readonly plan: FaultPlan;
  private interrupted = false;
  private wakeOnInterrupt: () => void = () => undefined;
  private reported = false;
  /** What the report held against the run (see {@link Ledger.failures}): the exit code is 1 unless empty. */
  private failures: string[] = [];
  /** A fault could not be carried out: the run ends with this cycle. */
  private abandoned = false;
  /** More than the seed feeds: start them all within about a second, with a dial budget sized to them (a storm after the restart). */
  private get many(): boolean {
    return this.args.connections > seedFeeds.length;
  }
  private get budget(): { ratePerSec: number; burst: number } {
    const n = this.args.connections;
    return this.many ? { ratePerSec: Math.max(100, n), burst: Math.max(10, Math.ceil(n / 20)) } : { ratePerSec: 100, burst: 10 };
  }
  /** One process runs the server, the proxy and every client: with many connections, a 1 s pong deadline would read its own load as dead sockets. */
  private get heartbeat(): HeartbeatTiming {
    return this.many ? { intervalMs: 5_000, timeoutMs: 3_000 } : { intervalMs: 1_000, timeoutMs: 1_000 };
  }
  private publisher: NodeJS.Timeout | undefined;
  /** The faults announced in the current cycle. */
  private cycleFaults: FaultRecord[] = [];

  constructor(private readonly args: DemoArgs) {
    this.plan = planFaults(args.durationSec, args.connections, this.heartbeat);
  }

  private at(): string {
    return `${((Date.now() - this.started) / 1000).toFixed(2).padStart(6)}s`;
  }

  private line(text: string): void {
    if (this.reported) return;
    if (this.tty) process.stdout.write('\r\x1b[2K');
    console.log(`${this.at()}  ${text}`);
  }

  private serverOptions(port: number): ServerOptions {
    return {
      port,
      host: '127.0.0.1',
      auth: { jwtSecret: this.secret },
      channels: [{ pattern: 'feed:*', subscribe: true, publish: true }],
      logger: pino({ level: 'silent' }),
      shutdownTimeoutMs: 300,
      heartbeatIntervalMs: 2_000,
      ...(this.args.redis ? { redis: this.args.redis } : {}),
    };
  }

  private async startServer(index: number, port = 0): Promise<void> {
    const server = await createServer(this.serverOptions(port));
    this.servers[index] = server;
    this.ports[index] = server.address()!.port;
  }

  /** The feed whose identity provider is down, if one is. */
  private identityProviderDown: string | undefined;

  private async token(name: string): Promise<string> {
    if (this.identityProviderDown === name) throw new Error('identity provider unavailable');
    this.ledger.tokens++;
    return new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(`demo-${name}`)
      .setExpirationTime((Date.now() + this.plan.tokenTtlMs) / 1000)
      .sign(this.secret);
  }

  private endpoints(): EndpointOptions[] {
    const feeds = Array.from({ length: this.args.connections }, (_, i): readonly [string, number] => seedFeeds[i] ?? [`feed-${i + 1}`, 3]);
    return feeds.map(([name, priority], i) => {
      const proxy = this.proxies[i % this.proxies.length]!;
      return {
        name,
        priority,
        url: `ws://127.0.0.1:${proxy.port}/`,
        auth: { token: () => this.token(name), refreshLeadMs: this.plan.refreshLeadMs },
      };
    });
  }

  /** Runs the demo, prints its report and resolves with the exit code; rejects if it cannot start, once what it started is closed. */
  async run(): Promise<number> {
    process.stdout.on('error', () => this.outputClosed());
    try {
      await this.start();
    } catch (error) {
      await this.close();
      await this.closeInspector();
      throw error;
    }
    const stopWatchingSignals = onInterrupt(() => this.interrupt(), () => this.exitCode());
    try {
      do {
        await this.cycle();
      } while (this.args.forever && !this.interrupted && !this.abandoned);
    } finally {
      await this.finish();
      stopWatchingSignals();
    }
    return this.exitCode();
  }

  private exitCode(): number {
    return this.failures.length > 0 ? 1 : 0;
  }

  private async start(): Promise<void> {
    const nodes = this.args.redis ? 2 : 1;
    for (let i = 0; i < nodes; i++) await this.startServer(i);
    for (let i = 0; i < nodes; i++) {
      const proxy = new FaultProxy({ host: '127.0.0.1', port: this.ports[i]! });
      await proxy.listen();
      this.proxies.push(proxy);
    }
    if (this.args.inspect !== false) {
      const server = await startInspectorProcess(this.args.inspect, { portFlag: '--inspect=<port> (--inspect=0: any free port)' });
      this.inspector = { server, client: connectInspector({ url: server.wsUrl }) };
      console.log(`inspector: ${server.url}  (open it in a browser; apps can send to ${server.wsUrl})`);
    }
    console.log(`socketchart demo: ${nodes} server node${nodes > 1 ? 's' : ''}${this.args.redis ? ` on ${redisAddress(this.args.redis)}` : ' in process'}, ${this.args.connections} connections, ${this.cycleLength()}${this.args.forever ? ' per cycle, until Ctrl-C' : ''}`);

    this.pool = createPool({
      endpoints: this.endpoints(),
      defaults: {
        heartbeat: this.heartbeat,
        reconnect: { baseMs: 250, capMs: 2_000, minUptimeMs: 2_000, restartWindowMs: 500 },
        circuit: { failureThreshold: 8, recoveryMs: 2_000 },
        connectTimeoutMs: this.many ? 5_000 : 1_500,
        authTimeoutMs: this.many ? 5_000 : 1_500,
      },
      staggerMs: this.many ? Math.max(1, Math.floor(800 / this.args.connections)) : 100,
      dialBudget: this.budget,
      ...(this.inspector ? { inspect: this.inspector.client } : {}),
    });
    this.watch();
    this.pool.start();
    this.startPublishing();
    this.progressTimer = setInterval(() => this.progress(), this.tty ? 250 : 2_000);
  }

  private cycleLength(): string {
    const { durationSec } = this.args;
    const cycleSec = Math.ceil(this.plan.cycleMs / 1000);
    return cycleSec > durationSec ? `${cycleSec} s (the faults need more than ${durationSec} s with this many connections)` : `${durationSec} s`;
  }

  /** The first Ctrl-C (or SIGTERM): the report at once, from what has been counted so far; then the demo winds down. */
  private interrupt(): void {
    this.interrupted = true;
    this.report();
    this.wakeOnInterrupt();
  }

  /** Standard output was closed (piped into `head`): nothing more can be shown, the demo winds down as on Ctrl-C. */
  private outputClosed(): void {
    this.interrupted = true;
    this.wakeOnInterrupt();
  }

  /** Polls `condition` every 50 ms; false if interrupted first. */
  private async waitFor(condition: () => boolean): Promise<boolean> {
    while (!condition()) {
      if (this.interrupted) return false;
      await sleep(50);
    }
    return !this.interrupted;
  }

  private watch(): void {
    const pool = this.pool;
    pool.on('state', ({ name, status, previous }) => {
      const now = Date.now();
      if (status === 'connecting' || status === 'halfOpen') this.ledger.dial(now);
      if (status === 'circuitOpen') this.ledger.circuitTrips++;
      if (previous === 'connected') this.ledger.dropped(name, now, pool.connection(name)?.lastError?.closeCode);
      if (status === 'connected') this.ledger.connected(name, now);
      const error = status === 'reconnecting' || status === 'failed' ? pool.connection(name)?.lastError : undefined;
      if (!this.many || seedFeeds.some(([feed]) => feed === name)) this.line(`${name.padEnd(18)} ${previous} → ${status}${error ? `  (${error.code}: ${error.message})` : ''}`);
    });
    pool.on('health', ({ health }) => this.line(`pool               ${health}`));
    for (const connection of pool.connections) {
      const ch = `feed:${connection.name}`;
      connection.on('error', (error) => {
        if (error.closeCode === undefined && error.code === 'AUTHENTICATION_FAILED') this.line(`${connection.name.padEnd(18)} ${error.message}`);
      });
      connection.subscribe(ch, (_data, message) => {
        if (typeof message.seq === 'number') this.ledger.receive(ch, message.seq);
      });
      connection.on('control', ({ type, frame }) => {
        if (type === 'ack' && typeof frame.seq === 'number') this.ledger.publish(ch, frame.seq);
        if (type === 'gap' && typeof frame.from === 'number' && typeof frame.to === 'number') this.ledger.gap(ch, frame.from, frame.to);
      });
    }
  }

  private startPublishing(): void {
    let tick = 0;
    this.publisher = setInterval(() => {
      tick++;
      const connections = this.pool.connections;
      for (const [i, connection] of connections.entries()) {
        const ch = `feed:${connection.name}`;
        const server = this.servers[i % this.servers.length];
        if (server) {
          this.ledger.broadcasts++;
          server.broadcast(ch, { tick, at: Date.now() }).then(
            ({ seq }) => this.ledger.publish(ch, seq),
            () => this.ledger.failedBroadcasts++,
          );
        }
        if (tick % 10 === i % 10) {
          this.ledger.sent++;
          connection.send({ from: connection.name, tick }, { channel: ch, id: randomUUID(), ack: true }).then(
            () => this.ledger.acked++,
            () => this.ledger.unacked++,
          );
        }
      }
    }, 100);
  }

  private async cycle(): Promise<void> {
    const { plan } = this;
    const start = Date.now();
    this.cycleFaults = [];
    const steps: Array<[number, () => Promise<void>]> = [
      [plan.restartAtMs, () => this.restartServer()],
      [plan.blackholeAtMs, () => this.blackhole(start + plan.healAtMs)],
      [plan.tokenExpiryAtMs, () => this.expireToken(plan.tokenTarget)],
      [plan.cycleMs, () => this.faultsOver(this.cycleFaults)],
    ];
    for (const [atMs, act] of steps) {
      if (!(await this.waitFor(() => Date.now() >= start + atMs))) return;
      try {
        await act();
      } catch (error) {
        this.abandon(error);
        return;
      }
    }
    this.line('end of the scripted cycle');
  }

  /** The fault announced last could not be carried out: it did not happen, and the run ends. */
  private abandon(error: unknown): void {
    this.abandoned = true;
    const fault = this.cycleFaults.at(-1);
    if (fault && !fault.outcome) fault.outcome = { happened: false, what: explained(error) };
    this.line(`fault failed: ${explained(error)}; the run ends`);
  }

  /** Prints `fault: <name>: <what>` and records the fault, for the report to tell what it did. */
  private announce(name: string, description: string): FaultRecord {
    const fault = this.ledger.announce(name, Date.now());
    this.cycleFaults.push(fault);
    this.line(`fault: ${name}: ${description}`);
    return fault;
  }

  /** Waits, at most a token lifetime and 5 s more, until each of `faults` is over. */
  private async faultsOver(faults: readonly FaultRecord[]): Promise<void> {
    const deadline = Date.now() + this.plan.tokenTtlMs + 5_000;
    await this.waitFor(() => faults.every((fault) => fault.outcome) || Date.now() > deadline);
  }

  private async restartServer(): Promise<void> {
    const fault = this.announce('server restart', 'close with 1012, listen again on the same port');
    const port = this.ports[0]!;
    const server = this.servers[0]!;
    delete this.servers[0];
    await server.close();
    await sleep(300);
    await this.startServer(0, port);
    this.line(`server node 1 listening again on ${port}`);
    const told = this.ledger.dropsSince(fault.at, 1012);
    fault.outcome = { happened: true, what: `node 1 closed ${told} feed socket${told === 1 ? '' : 's'} with 1012 and listened again on port ${port} ${seconds(Date.now() - fault.at)} later` };
  }

  /** Stalls every proxy until `healAt` (epoch ms); it happened if a feed found its socket dead. */
  private async blackhole(healAt: number): Promise<void> {
    const fault = this.announce('blackhole', 'between clients and server (packets stall, sockets stay open)');
    for (const proxy of this.proxies) proxy.mode = 'blackhole';
    await this.waitFor(() => Date.now() >= healAt);
    for (const proxy of this.proxies) proxy.mode = 'pass';
    this.line('fault healed: blackhole removed');
    const dead = this.ledger.dropsSince(fault.at);
    fault.outcome = { happened: dead > 0, what: `packets stalled for ${seconds(Date.now() - fault.at)}; ${dead} of ${this.args.connections} feeds found their socket dead (heartbeat) and reconnected` };
  }

  /** Once `name` is connected, its provider refuses tokens until the server ends the expired session (4001); then it is back. */
  private async expireToken(name: string): Promise<void> {
    const fault = this.announce('token expiry', `${name}'s identity provider is down, its refresh fails and its token runs out`);
    const connection = this.pool.connection(name)!;
    if (!(await this.waitFor(() => connection.status === 'connected'))) return;
    this.identityProviderDown = name;
    const off = connection.on('state', () => {
      if (connection.lastError?.closeCode !== 4001) return;
      off();
      this.ledger.expiries++;
      this.identityProviderDown = undefined;
      this.line(`${name.padEnd(18)} token expired (4001): the identity provider is back, one fresh token, then reconnect`);
      fault.outcome = { happened: true, what: `${name}'s refresh failed, the server ended its session with 4001 ${seconds(Date.now() - fault.at)} later; one fresh token, then reconnect` };
    });
  }

  private progress(): void {
    if (this.reported) return;
    const status = this.pool.status();
    const connected = Object.values(status.connections).filter((s) => s === 'connected').length;
    const { published, received } = this.ledger.totals();
    const text = `health ${status.health.padEnd(8)} connected ${connected}/${this.args.connections}  published ${published}  received ${received}  sent ${this.ledger.sent} acked ${this.ledger.acked}  dials ${this.ledger.dials}`;
    if (this.tty) process.stdout.write(`\r\x1b[2K${this.at()}  ${text}`);
    else console.log(`${this.at()}  ${text}`);
  }

  /** Waits (at most 10 s) until every feed is connected again and nothing more arrives, so replays are counted. */
  private async settleDeliveries(): Promise<void> {
    const deadline = Date.now() + 10_000;
    let last = -1;
    while (Date.now() < deadline) {
      await sleep(500);
      const received = this.ledger.totals().received;
      if (this.pool.status().health === 'up' && received === last) return;
      last = received;
    }
  }

  private async finish(): Promise<void> {
    clearInterval(this.publisher);
    clearInterval(this.progressTimer);
    if (!this.interrupted && !this.abandoned) await this.settleDeliveries();
    this.report();
    await this.close();
    await this.keepInspectorOpen();
  }

  /** Stops whatever of the pool, the proxies and the servers was started. */
  private async close(): Promise<void> {
    if (this.pool) {
      this.pool.stop();
      await sleep(300);
      this.pool.dispose();
    }
    for (const proxy of this.proxies) await proxy.close();
    for (const server of this.servers) await server?.close();
  }

  /** Prints the report once, from what has been counted so far. */
  private report(): void {
    if (this.reported) return;
    this.reported = true;
    const metrics = this.pool.metrics();
    const { published, received, lost, announced, duplicated } = this.ledger.totals();
    const { count, p50, p99, resolutionMs } = this.ledger.recoveries();
    if (this.tty) process.stdout.write('\r\x1b[2K');
    console.log(`\nreport${this.interrupted ? ' (interrupted)' : ''}`);
    const rows: Array<[string, string]> = [
      ['connections', `${this.args.connections} (connects ${metrics.totals.connects}, reconnects ${metrics.totals.reconnects})`],
      ['reconnect time p50 / p99', `${p50 ?? '-'} ms / ${p99 ?? '-'} ms (${count} recoveries${resolutionMs > 1 ? `; rounded down to ${resolutionMs} ms` : ''})`],
      ['peak dials per 100 ms', `${this.ledger.peakDials} (budget: ${this.budget.burst} burst + ${this.budget.ratePerSec}/s, so at most ${this.budget.burst + this.budget.ratePerSec / 10})`],
      ['messages published / received', `${published} confirmed by the server / ${received} delivered`],
      this.interrupted
        ? ['messages undelivered / duplicated', `${lost} / ${duplicated} (interrupted: in flight or lost)`]
        : ['messages lost silently / duplicated', `${lost} / ${duplicated}`],
      ['messages behind an explicit gap', `${announced}${announced > 0 ? ' (history the restarted node no longer had; subscribers were told)' : ''}`],
      ['client publishes sent / acked / failed', `${this.ledger.sent} / ${this.ledger.acked} / ${this.ledger.unacked} (ack: true; resent after reconnects, stored once)`],
      ['server broadcasts sent / failed', `${this.ledger.broadcasts} / ${this.ledger.failedBroadcasts}`],
      ['circuit trips', String(this.ledger.circuitTrips)],
      ['tokens issued (dials and in-band refreshes)', String(this.ledger.tokens)],
      ['sessions ended by token expiry', String(this.ledger.expiries)],
    ];
    const width = Math.max(...rows.map(([label]) => label.length)) + 1;
    for (const [label, value] of rows) console.log(`  ${label.padEnd(width)} ${value}`);
    console.log('  faults');
    if (this.ledger.faults.length === 0) console.log('    none announced yet');
    const earlier = [...this.ledger.earlierFaults].map(([fault, times]) => `${times} × ${fault}`);
    if (earlier.length > 0) console.log(`    earlier, not listed: ${earlier.join(', ')}`);
    for (const fault of this.ledger.faults) console.log(`    ${this.faultLine(fault)}`);
    this.failures = this.ledger.failures(this.interrupted);
    if (this.failures.length > 0) console.log(`\nfailed (exit code 1): ${this.failures.join(', ')}`);
  }

  private faultLine({ name, at, outcome }: FaultRecord): string {
    const when = `at ${seconds(at - this.started)}`;
    if (outcome) return `${name.padEnd(16)} ${outcome.happened ? `happened ${when}` : `did not happen (announced ${when})`}: ${outcome.what}`;
    return `${name.padEnd(16)} ${this.interrupted ? 'still under way when interrupted' : 'not seen to happen'} (announced ${when})`;
  }

  /** With `--inspect`: the recording stays browsable after the report, until Ctrl-C. */
  private async keepInspectorOpen(): Promise<void> {
    const inspector = this.inspector;
    if (!inspector) return;
    inspector.client.close();
    if (!this.interrupted) {
      console.log(`\ninspector still open at ${inspector.server.url} (the recording is kept): Ctrl-C to quit`);
      await new Promise<void>((resolve) => (this.wakeOnInterrupt = resolve));
    }
    await this.closeInspector();
  }

  private async closeInspector(): Promise<void> {
    this.inspector?.client.close();
    await this.inspector?.server.close();
  }
}

/** Runs the demo with its command-line flags; resolves with the exit code. */
export async function demoMain(argv: readonly string[]): Promise<number> {
  let args: DemoArgs | 'help';
  try {
    args = parseDemoArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n\n${usage}`);
      return 2;
    }
    throw error;
  }
  if (args === 'help') {
    console.log(usage);
    return 0;
  }
  try {
    return await new Demo(args).run();
  } catch (error) {
    console.error(explained(error));
    return 1;
  }
}
