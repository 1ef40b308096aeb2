import { it } from 'vitest';
import { MemoryBackend } from '../../../src/server/backend/memory.js';
import { LimitTable } from '../../../src/server/limit-table.js';
import { RetentionRules } from '../../../src/server/retention.js';
import { checkAgainstModel, presenceSeeds, type PresenceSystem } from '../../support/presence-model.js';

/** The memory backend's presence against the model of the rule in test/support/presence-model.ts. */
const RUNS = 200;
const STEPS = 40;

async function memoryPresence(): Promise<{ system: PresenceSystem; close: () => Promise<void> }> {
  const backend = new MemoryBackend({
    retention: new RetentionRules([], { size: 100, maxBytes: 100_000 }),
    historyMaxBytes: 1_000_000,
    historyTtlMs: 30_000,
    dedupWindowMs: 10_000,
    clock: Date,
    buckets: new LimitTable(Date, 100),
  });
  await backend.start({ message: () => undefined, channelSignal: () => undefined, globalSignal: () => undefined, recovered: () => undefined, status: () => undefined });
  const system: PresenceSystem = {
    apply(op) {
      if (op.kind === 'join') return backend.presenceJoin(op.ch, op.ref, op.member);
      if (op.kind === 'update') return backend.presenceUpdate(op.ch, op.ref, op.member);
      if (op.kind === 'leave') return backend.presenceLeave(op.ch, op.ref, op.userId);
      throw new Error('a memory backend has no other node to reap');
    },
    list: (ch) => backend.presenceList(ch),
  };
  return { system, close: () => backend.close() };
}

it('answers each presence join, update and leave, and lists the members of each channel, as the rule does: a user shown with the member of their connection joined or updated last of those present', async () => {
  for (const seed of presenceSeeds(RUNS, 20_261_206)) {
    const { system, close } = await memoryPresence();
    try {
      await checkAgainstModel(system, seed, STEPS);
    } finally {
      await close();
    }
  }
});
