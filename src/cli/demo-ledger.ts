/** A fault the demo announced: when it began and, once over, whether it was seen to happen and what it did. */
export interface FaultRecord {
  readonly name: string;
  /** Epoch ms. */
  readonly at: number;
  outcome?: { happened: boolean; what: string };
}

/** The report's message figures. */
export interface Totals {
  /** Seqs the server confirmed (broadcast or ack) on a channel, from its first delivered seq on. */
  published: number;
  /** Deliveries, duplicates included. */
  received: number;
  /** Published, not delivered, and behind no gap. */
  lost: number;
  /** Published, not delivered, behind a gap the server announced. */
  announced: number;
  /** Deliveries of a seq after its first. */
  duplicated: number;
}

/** Reconnect times: nearest-rank percentiles, in ms. */
export interface Recoveries {
  count: number;
  p50: number | null;
  p99: number | null;
  /** 1 while the times are kept exact; past that, the width of a bucket, and the percentiles are its lower bound. */
  resolutionMs: number;
}

/** How many entries each part of the ledger holds. */
export interface Retained {
  seqs: number;
  dials: number;
  recoveries: number;
  drops: number;
  faults: number;
}

/** Faults listed in the report; earlier ones are only counted. */
const LISTED_FAULTS = 24;
/** Ranges a channel keeps; past them its lowest seqs are folded into counters. */
const CHANNEL_RUNS = 128;
/** Distinct recovery times kept; past them the buckets double in width. */
const RECOVERY_BUCKETS = 1_000;
const DIAL_WINDOW_MS = 100;

/** How the report sums up a fault. */
const faultVerdict = ({ outcome }: FaultRecord): string => (outcome ? (outcome.happened ? 'happened' : 'did not happen') : 'not seen to happen');

/** A set of integers as sorted, disjoint, non-adjacent inclusive ranges. */
class Runs {
  ranges: Array<[number, number]> = [];

  has(n: number): boolean {
    return this.indexOf(n) >= 0;
  }

  add(from: number, to = from): void {
    const r = this.ranges;
    let hi = r.length;
    while (hi > 0 && r[hi - 1]![0] > to + 1) hi--;
    let lo = hi;
    while (lo > 0 && r[lo - 1]![1] >= from - 1) lo--;
    if (lo < hi) r.splice(lo, hi - lo, [Math.min(from, r[lo]![0]), Math.max(to, r[hi - 1]![1])]);
    else r.splice(lo, 0, [from, to]);
  }

  delete(n: number): void {
    const i = this.indexOf(n);
    if (i < 0) return;
    const [from, to] = this.ranges[i]!;
    const rest: Array<[number, number]> = [];
    if (from < n) rest.push([from, n - 1]);
    if (n < to) rest.push([n + 1, to]);
    this.ranges.splice(i, 1, ...rest);
  }

  /** How many of the integers from `min` on are here (and in `other`, if given). */
  count(min: number, other?: Runs): number {
    let n = 0;
    let j = 0;
    for (const [a, to] of this.ranges) {
      const from = Math.max(a, min);
      if (from > to) continue;
      if (!other) n += to - from + 1;
      else {
        const others = other.ranges;
        while (j < others.length && others[j]![1] < from) j++;
        for (let k = j; k < others.length && others[k]![0] <= to; k++) n += Math.min(to, others[k]![1]) - Math.max(from, others[k]![0]) + 1;
      }
    }
    return n;
  }

  /** Removes the integers up to `max`, and returns them. */
  cut(max: number): Runs {
    const cut = new Runs();
    for (let first = this.ranges[0]; first && first[0] <= max; first = this.ranges[0]) {
      if (first[1] <= max) cut.ranges.push(this.ranges.shift()!);
      else {
        cut.ranges.push([first[0], max]);
        this.ranges[0] = [max + 1, first[1]];
      }
    }
    return cut;
  }

  private indexOf(n: number): number {
    for (let i = this.ranges.length - 1; i >= 0; i--) if (this.ranges[i]![0] <= n) return this.ranges[i]![1] >= n ? i : -1;
    return -1;
  }
}

/**
 * One channel's seqs: those published and delivered, only published, only delivered, and the announced gaps, as
 * ranges (an in-order stream is one range). Past {@link CHANNEL_RUNS} ranges the lowest are folded into counters,
 * and a seq below the fold counts as published and delivered.
 */
class ChannelTally {
  /** First delivered seq: what was published before it is not counted. */
  private first: number | undefined;
  private floor = -Infinity;
  private readonly settled = new Runs();
  private readonly undelivered = new Runs();
  private readonly unconfirmed = new Runs();
  private readonly gaps = new Runs();
  private published = 0;
  private lost = 0;
  private announced = 0;

  get retained(): number {
    return this.settled.ranges.length + this.undelivered.ranges.length + this.unconfirmed.ranges.length + this.gaps.ranges.length;
  }

  /** True if the seq was delivered before. */
  receive(seq: number): boolean {
    this.first ??= seq;
    if (seq < this.floor || this.settled.has(seq) || this.unconfirmed.has(seq)) return true;
    if (this.undelivered.has(seq)) this.settle(seq, this.undelivered);
    else this.unconfirmed.add(seq);
    this.bound();
    return false;
  }

  publish(seq: number): void {
    if (seq < this.floor || this.settled.has(seq) || this.undelivered.has(seq)) return;
    if (this.unconfirmed.has(seq)) this.settle(seq, this.unconfirmed);
    else this.undelivered.add(seq);
    this.bound();
  }

  gap(from: number, to: number): void {
    from = Math.max(from, this.floor);
    if (from > to) return;
    this.gaps.add(from, to);
    this.bound();
  }

  totals(): Pick<Totals, 'published' | 'lost' | 'announced'> {
    const missing = this.missing(this.undelivered);
    return { published: this.published + missing.all, lost: this.lost + missing.all - missing.announced, announced: this.announced + missing.announced };
  }

  private missing(undelivered: Runs): { all: number; announced: number } {
    const min = this.first ?? Infinity;
    return { all: undelivered.count(min), announced: undelivered.count(min, this.gaps) };
  }

  private settle(seq: number, from: Runs): void {
    from.delete(seq);
    this.settled.add(seq);
    if (seq >= (this.first ?? Infinity)) this.published++;
  }

  private bound(): void {
    const all = [this.settled, this.undelivered, this.unconfirmed, this.gaps];
    while (this.retained > CHANNEL_RUNS) {
      const max = Math.min(...all.map((runs) => runs.ranges[0]?.[1] ?? Infinity));
      const missing = this.missing(this.undelivered.cut(max));
      this.published += missing.all;
      this.lost += missing.all - missing.announced;
      this.announced += missing.announced;
      for (const runs of all) runs.cut(max);
      this.floor = max + 1;
    }
  }
}

/** Counts per value, at most {@link RECOVERY_BUCKETS} of them: exact until then, then in buckets twice as wide each time. */
class Histogram {
  private counts = new Map<number, number>();
  count = 0;
  resolution = 1;

  get buckets(): number {
    return this.counts.size;
  }

  record(value: number): void {
    const key = Math.floor(value / this.resolution) * this.resolution;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.count++;
    while (this.counts.size > RECOVERY_BUCKETS) {
      this.resolution *= 2;
      const counts = new Map<number, number>();
      for (const [old, n] of this.counts) {
        const key = Math.floor(old / this.resolution) * this.resolution;
        counts.set(key, (counts.get(key) ?? 0) + n);
      }
      this.counts = counts;
    }
  }

  /** Nearest-rank percentile `p` (0–100), the lower bound of its bucket; null if empty. */
  percentile(p: number): number | null {
    const rank = Math.min(this.count, Math.max(1, Math.ceil((p / 100) * this.count)));
    let seen = 0;
    for (const key of [...this.counts.keys()].sort((a, b) => a - b)) if ((seen += this.counts.get(key)!) >= rank) return key;
    return null;
  }
}

/**
 * What the demo counts while it runs, in memory that does not grow with the run: exact, but for a seq first seen
 * below a channel's fold and recovery times past {@link RECOVERY_BUCKETS} distinct values (see {@link Recoveries}).
 */
export class Ledger {
  private readonly channels = new Map<string, ChannelTally>();
  private readonly recentDials: number[] = [];
  private readonly recoveryTimes = new Histogram();
  private readonly droppedAt = new Map<string, number>();
  private drops: Array<{ at: number; closeCode: number | undefined }> = [];
  private readonly listed: FaultRecord[] = [];
  private received = 0;
  private duplicated = 0;
  private dialCount = 0;
  private dialPeak = 0;
  /** Faults no longer listed, counted by `<name>: <verdict>` (see {@link faultVerdict}). */
  readonly earlierFaults = new Map<string, number>();
  /** Faults no longer listed that did not happen, or were not seen to. */
  private earlierFaultsNotHappened = 0;
  /** Client publishes sent with `ack: true`. */
  sent = 0;
  /** Client publishes the server acked. */
  acked = 0;
  /** Client publishes that failed. */
  unacked = 0;
  /** Server broadcasts the demo made. */
  broadcasts = 0;
  /** Server broadcasts the server could not publish. */
  failedBroadcasts = 0;
  circuitTrips = 0;
  /** Tokens issued, for dials and in-band refreshes. */
  tokens = 0;
  /** Sessions the server ended on token expiry. */
  expiries = 0;

  /** Dials so far. */
  get dials(): number {
    return this.dialCount;
  }

  /** Most dials within any 100 ms. */
  get peakDials(): number {
    return this.dialPeak;
  }

  /** The latest faults, oldest first. */
  get faults(): readonly FaultRecord[] {
    return this.listed;
  }

  /** The server confirmed `seq` on `ch` (broadcast or ack); again is a no-op. */
  publish(ch: string, seq: number): void {
    this.channel(ch).publish(seq);
  }

  /** `seq` was delivered on `ch`. */
  receive(ch: string, seq: number): void {
    this.received++;
    if (this.channel(ch).receive(seq)) this.duplicated++;
  }

  /** The server announced it no longer has `from`–`to` on `ch`. */
  gap(ch: string, from: number, to: number): void {
    this.channel(ch).gap(from, to);
  }

  totals(): Totals {
    const totals = { published: 0, received: this.received, lost: 0, announced: 0, duplicated: this.duplicated };
    for (const channel of this.channels.values()) {
      const { published, lost, announced } = channel.totals();
      totals.published += published;
      totals.lost += lost;
      totals.announced += announced;
    }
    return totals;
  }

  /** A feed dialled at `at` (epoch ms, not before the previous dial). */
  dial(at: number): void {
    const recent = this.recentDials;
    at = Math.max(at, recent.at(-1) ?? at);
    recent.push(at);
    while (at - recent[0]! >= DIAL_WINDOW_MS) recent.shift();
    this.dialCount++;
    this.dialPeak = Math.max(this.dialPeak, recent.length);
  }

  /** Feed `name` left `connected` at `at`, its socket closed with `closeCode`. */
  dropped(name: string, at: number, closeCode: number | undefined): void {
    this.droppedAt.set(name, at);
    const since = Math.min(at, ...this.listed.filter((fault) => !fault.outcome).map((fault) => fault.at));
    if (this.drops[0] && this.drops[0].at < since) this.drops = this.drops.filter((drop) => drop.at >= since);
    this.drops.push({ at, closeCode });
  }

  /** Feed `name` is connected at `at`: a recovery if it had dropped. */
  connected(name: string, at: number): void {
    const since = this.droppedAt.get(name);
    if (since === undefined) return;
    this.recoveryTimes.record(at - since);
    this.droppedAt.delete(name);
  }

  recoveries(): Recoveries {
    const { count, resolution } = this.recoveryTimes;
    return { count, p50: this.recoveryTimes.percentile(50), p99: this.recoveryTimes.percentile(99), resolutionMs: resolution };
  }

  /** Drops from `at` on (with `closeCode`, if given), for `at` a fault still being judged. */
  dropsSince(at: number, closeCode?: number): number {
    return this.drops.filter((drop) => drop.at >= at && (closeCode === undefined || drop.closeCode === closeCode)).length;
  }

  /** Records a fault begun at `at`; the caller sets its outcome once it is over. */
  announce(name: string, at: number): FaultRecord {
    const fault: FaultRecord = { name, at };
    this.listed.push(fault);
    for (const old of this.listed.splice(0, this.listed.length - LISTED_FAULTS)) {
      const key = `${old.name}: ${faultVerdict(old)}`;
      this.earlierFaults.set(key, (this.earlierFaults.get(key) ?? 0) + 1);
      if (!old.outcome?.happened) this.earlierFaultsNotHappened++;
    }
    return fault;
  }

  /**
   * What makes the run a failure, one `<what>: <count>` each: faults that did not happen, messages lost silently,
   * failed client publishes and server broadcasts. Once `interrupted`, what was still under way (faults not over,
   * messages undelivered) is not held against it.
   */
  failures(interrupted: boolean): string[] {
    const faults = this.earlierFaultsNotHappened + this.listed.filter(({ outcome }) => (outcome ? !outcome.happened : !interrupted)).length;
    const counts: Array<[string, number]> = [
      ['faults that did not happen', faults],
      ['messages lost silently', interrupted ? 0 : this.totals().lost],
      ['client publishes failed', this.unacked],
      ['server broadcasts failed', this.failedBroadcasts],
    ];
    return counts.filter(([, n]) => n > 0).map(([what, n]) => `${what}: ${n}`);
  }

  retained(): Retained {
    let seqs = 0;
    for (const channel of this.channels.values()) seqs += channel.retained;
    return { seqs, dials: this.recentDials.length, recoveries: this.recoveryTimes.buckets, drops: this.drops.length, faults: this.listed.length };
  }

  private channel(ch: string): ChannelTally {
    let channel = this.channels.get(ch);
    if (!channel) this.channels.set(ch, (channel = new ChannelTally()));
    return channel;
  }
}
