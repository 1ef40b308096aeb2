import { isDeepStrictEqual } from 'node:util';
import { expect } from 'vitest';
import type { PresenceMember } from '../../src/protocol/wire.js';
import type { ChannelSignal, PresenceLeave } from '../../src/server/backend/types.js';
import { seededRandom } from './chaos/random.js';

/**
 * Presence on the reference server as its rule states it, kept apart from either backend to check both against:
 * each connection (ref) keeps the member it joined with; a user is shown with the member of their connection joined
 * (or updated) last of those still present. A join is announced for a user's first connection, or another one
 * joining with other meta than shown; an update, when it changes the member shown; a leave says the user left (their
 * last connection), the member shown now (it changed) or nothing; reaping a node's connections announces, once per
 * channel and user, a leave or the member shown now (when it changed).
 */

export const CHANNELS = ['chat:a', 'chat:b'] as const;
export const USERS = ['alice', 'bob', 'carol'] as const;
export const NODES = ['a', 'b'] as const;
/** Cloned for each operation, so equal metas are never the same object. */
const METAS: (Record<string, unknown> | undefined)[] = [undefined, {}, { device: 'phone' }, { device: 'laptop' }, { device: 'laptop', v: 2 }];
/** Refs are `<node>:<user>:<n>`: one connection of one user on one node. */
const REFS_PER_USER_AND_NODE = 2;

export const nodeOf = (ref: string): string => ref.slice(0, ref.indexOf(':'));

export type PresenceOp =
  | { kind: 'join' | 'update'; ch: string; ref: string; member: PresenceMember }
  | { kind: 'leave'; ch: string; ref: string; userId: string }
  | { kind: 'reap'; node: string };

/** What one channel announced: its joins and leaves in user order. */
export interface ChannelChanges {
  ch: string;
  joins: PresenceMember[];
  leaves: PresenceMember[];
}

/** A join or update: whether to announce it; a leave: its outcome; a reap: what each channel announced, in channel order. */
export type Outcome = boolean | PresenceLeave | ChannelChanges[];

/** The presence of one backend (or of several nodes sharing one), driven an operation at a time. */
export interface PresenceSystem {
  apply(op: PresenceOp): Promise<Outcome>;
  list(ch: string): Promise<PresenceMember[]>;
}

const byUser = (a: PresenceMember, b: PresenceMember) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0);
export const sortedByUser = (members: readonly PresenceMember[]): PresenceMember[] => [...members].sort(byUser);

/** The presence signals heard, as what each channel announced, in channel order (a channel announcing twice stays twice). */
export function announced(heard: readonly { ch: string; signal: ChannelSignal }[]): ChannelChanges[] {
  const changes: ChannelChanges[] = [];
  for (const { ch, signal } of heard) {
    if (signal.kind === 'presence') changes.push({ ch, joins: sortedByUser(signal.joins), leaves: sortedByUser(signal.leaves) });
  }
  return changes.sort((a, b) => (a.ch < b.ch ? -1 : a.ch > b.ch ? 1 : 0));
}

/** `runs` seeds from `base`, or only the one in PRESENCE_SEED to replay a failure. */
export function presenceSeeds(runs: number, base: number): number[] {
  const replay = process.env.PRESENCE_SEED;
  return replay ? [Number(replay)] : Array.from({ length: runs }, (_, run) => base + run);
}

/** Operations over a few channels, users and refs: joins of refs present and leaves of refs absent included; reaps of a node's refs with `reaps`. */
export function presenceOps(seed: number, steps: number, { reaps = false } = {}): PresenceOp[] {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const ops: PresenceOp[] = [];
  for (let step = 0; step < steps; step++) {
    const roll = random();
    if (reaps && roll < 0.1) {
      ops.push({ kind: 'reap', node: pick(NODES) });
      continue;
    }
    const ch = pick(CHANNELS);
    const userId = pick(USERS);
    const ref = `${pick(NODES)}:${userId}:${1 + Math.floor(random() * REFS_PER_USER_AND_NODE)}`;
    const meta = pick(METAS);
    const member = meta === undefined ? { userId } : { userId, meta: structuredClone(meta) };
    if (roll < 0.5) ops.push({ kind: 'join', ch, ref, member });
    else if (roll < 0.7) ops.push({ kind: 'update', ch, ref, member });
    else ops.push({ kind: 'leave', ch, ref, userId });
  }
  return ops;
}

export function describeOp(op: PresenceOp): string {
  if (op.kind === 'reap') return `reap node ${op.node}`;
  if (op.kind === 'leave') return `leave ${op.ch} ${op.ref} ${op.userId}`;
  return `${op.kind} ${op.ch} ${op.ref} ${JSON.stringify(op.member)}`;
}

interface Present {
  ref: string;
  member: PresenceMember;
}

export class PresenceModel {
  /** Per channel and user, the connections present in the order they joined or were updated: the last one is shown. */
  private readonly channels = new Map<string, Map<string, Present[]>>();

  apply(op: PresenceOp): Outcome {
    switch (op.kind) {
      case 'join':
        return this.join(op.ch, op.ref, op.member);
      case 'update':
        return this.update(op.ch, op.ref, op.member);
      case 'leave':
        return this.leave(op.ch, op.ref, op.userId);
      case 'reap':
        return this.reap(op.node);
    }
  }

  /** The members shown on `ch`, in user order. */
  list(ch: string): PresenceMember[] {
    const users = this.channels.get(ch) ?? new Map<string, Present[]>();
    return sortedByUser([...users.values()].map((present) => present.at(-1)!.member));
  }

  private present(ch: string, userId: string): Present[] {
    let users = this.channels.get(ch);
    if (!users) this.channels.set(ch, (users = new Map()));
    let present = users.get(userId);
    if (!present) users.set(userId, (present = []));
    return present;
  }

  private shown(ch: string, userId: string): PresenceMember | undefined {
    return this.channels.get(ch)?.get(userId)?.at(-1)?.member;
  }

  private forgetIfGone(ch: string, userId: string): void {
    const users = this.channels.get(ch);
    if (users?.get(userId)?.length === 0) users.delete(userId);
    if (users?.size === 0) this.channels.delete(ch);
  }

  private join(ch: string, ref: string, member: PresenceMember): boolean {
    const before = this.shown(ch, member.userId);
    const present = this.present(ch, member.userId);
    if (present.some((connection) => connection.ref === ref)) return false;
    present.push({ ref, member });
    return before === undefined || !isDeepStrictEqual(before, member);
  }

  private update(ch: string, ref: string, member: PresenceMember): boolean {
    const before = this.shown(ch, member.userId);
    const present = this.present(ch, member.userId);
    const index = present.findIndex((connection) => connection.ref === ref);
    if (index < 0) {
      this.forgetIfGone(ch, member.userId);
      return false;
    }
    present.splice(index, 1);
    present.push({ ref, member });
    return !isDeepStrictEqual(before, member);
  }

  private leave(ch: string, ref: string, userId: string): PresenceLeave {
    const before = this.shown(ch, userId);
    const present = this.present(ch, userId);
    const index = present.findIndex((connection) => connection.ref === ref);
    if (index >= 0) present.splice(index, 1);
    this.forgetIfGone(ch, userId);
    if (index < 0) return { outcome: 'none' };
    const after = this.shown(ch, userId);
    if (!after) return { outcome: 'left' };
    return isDeepStrictEqual(before, after) ? { outcome: 'none' } : { outcome: 'shown', member: after };
  }

  private reap(node: string): ChannelChanges[] {
    const changes: ChannelChanges[] = [];
    for (const ch of [...this.channels.keys()].sort()) {
      const channel: ChannelChanges = { ch, joins: [], leaves: [] };
      for (const userId of [...this.channels.get(ch)!.keys()].sort()) {
        const before = this.shown(ch, userId);
        const present = this.present(ch, userId);
        const kept = present.filter((connection) => nodeOf(connection.ref) !== node);
        if (kept.length === present.length) continue;
        present.splice(0, present.length, ...kept);
        this.forgetIfGone(ch, userId);
        const after = this.shown(ch, userId);
        if (!after) channel.leaves.push({ userId });
        else if (!isDeepStrictEqual(before, after)) channel.joins.push(after);
      }
      if (channel.joins.length + channel.leaves.length > 0) changes.push(channel);
    }
    return changes;
  }
}

function expectSame(actual: unknown, expected: unknown, message: () => string): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual, message()).toEqual(expected);
}

/**
 * Runs the operations of `seed` on `system` and on the model: after each, the system's answer must be the model's,
 * and its members on every channel the model's. A failure names the seed (replay it with PRESENCE_SEED) and the steps.
 */
export async function checkAgainstModel(system: PresenceSystem, seed: number, steps: number, options: { reaps?: boolean } = {}): Promise<void> {
  const ops = presenceOps(seed, steps, options);
  const model = new PresenceModel();
  for (const [step, op] of ops.entries()) {
    const failure = (what: string) => () =>
      `seed ${seed} (replay: PRESENCE_SEED=${seed}), ${what} after step ${step + 1} of:\n${ops
        .slice(0, step + 1)
        .map((done, index) => `  ${index + 1}. ${describeOp(done)}`)
        .join('\n')}\n`;
    expectSame(await system.apply(op), model.apply(op), failure('the answer'));
    for (const ch of CHANNELS) expectSame(sortedByUser(await system.list(ch)), model.list(ch), failure(`the members of ${ch}`));
  }
}
