import { describe, expect, it } from 'vitest';
import { INSPECTION_FORMAT_VERSION } from '../../../src/inspection/protocol.js';
import { Recording } from '../../../src/inspection/recording.js';

const v = INSPECTION_FORMAT_VERSION;
const filler = 'x'.repeat(10_000);
/** A machine made per instance (`upload-${n}`, its own context): each definition text differs. */
const uploadDefinition = (n: number) => JSON.stringify({ id: `upload-${n}`, initial: 'sending', context: { file: `${n}-${filler}` }, states: { sending: {}, done: { type: 'final' } } });
const created = (n: number) => ({ type: '@xstate.actor', sessionId: `x:${n}`, name: `upload-${n}`, definition: uploadDefinition(n), snapshot: { status: 'active', value: 'sending' }, createdAt: String(n), id: null, _version: v });
const stopped = (n: number) => ({ type: '@xstate.snapshot', sessionId: `x:${n}`, event: { type: 'xstate.stop' }, snapshot: { status: 'stopped', value: 'sending' }, createdAt: String(n), id: null, _version: v });
const heldDefinitions = (recording: Recording) => [...recording.definitionTexts.values()].reduce((sum, text) => sum + text.length, 0);

describe('the inspector server’s recording', () => {
  it('keeps definitions of stopped actors within the history bound (maxBytes)', () => {
    const maxBytes = 1024 * 1024;
    const recording = new Recording({ maxBytes });
    for (let n = 0; n < 1_000; n++) {
      recording.add(created(n));
      recording.add(stopped(n));
    }
    expect(recording.liveActors).toBe(0);
    expect(recording.replay().reduce((sum, r) => sum + r.text.length, 0)).toBeLessThanOrEqual(maxBytes);
    expect(heldDefinitions(recording)).toBeLessThanOrEqual(maxBytes);
  });

  it('keeps live actors within maxBytes: the oldest lose their snapshot, stay in the tree, and a page opened later is told how many', () => {
    const maxBytes = 1024 * 1024;
    const recording = new Recording({ maxBytes });
    const context = { blob: 'x'.repeat(100_000) };
    for (let n = 0; n < 100; n++) {
      recording.add({ ...created(n), definition: uploadDefinition(0) }, 'a1:', 1);
      recording.add({ ...stopped(n), event: { type: 'grow' }, snapshot: { status: 'active', value: 'sending', context } }, 'a1:', 1);
    }
    const replay = recording.replay();
    const replayed = replay.map((r) => JSON.parse(r.text) as { type: string; sessionId?: string; count?: number; snapshot?: { context?: unknown } });
    const actors = replayed.filter((r) => r.type === '@xstate.actor');
    const withSnapshot = actors.filter((r) => r.snapshot?.context);
    expect(replay.reduce((sum, r) => sum + r.text.length, 0) + heldDefinitions(recording)).toBeLessThanOrEqual(maxBytes);
    expect(actors.map((r) => r.sessionId)).toEqual(Array.from({ length: 100 }, (_, n) => `a1:x:${n}`));
    expect(withSnapshot.at(-1)?.sessionId).toBe('a1:x:99');
    expect(replayed[0]).toEqual({ type: '@socketchart.dropped', count: 100 - withSnapshot.length });
    expect(recording.endSource(1)).toHaveLength(100);
  });

  it('forgets the oldest live actors once even their places in the tree exceed maxBytes (an app that leaks actors), and says how many', () => {
    const maxBytes = 100_000;
    const recording = new Recording({ maxBytes });
    const leaked = 5_000;
    for (let n = 0; n < leaked; n++) recording.add({ ...created(n), name: `upload-${n}-${'n'.repeat(1_000)}`, definition: uploadDefinition(0) }, 'a1:', 1);
    const replay = recording.replay();
    const replayed = replay.map((r) => JSON.parse(r.text) as { type: string; count?: number });
    expect(replay.reduce((sum, r) => sum + r.text.length, 0) + heldDefinitions(recording)).toBeLessThanOrEqual(maxBytes);
    expect(recording.liveActors).toBeLessThan(100);
    expect(replayed[0]).toEqual({ type: '@socketchart.dropped', count: leaked - 1 });
  });

  it('keeps the definition of a live actor whose creation left the history', () => {
    const recording = new Recording({ maxEvents: 10 });
    recording.add(created(0));
    for (let n = 1; n <= 50; n++) {
      recording.add(created(n));
      recording.add(stopped(n));
    }
    const first = recording.replay()[0]!;
    expect(JSON.parse(first.text).sessionId).toBe('x:0');
    expect(JSON.parse(recording.definitionRecord(first.def!)).definition).toBe(uploadDefinition(0));
  });

  it('keeps as much history when each actor’s definition differs only in a secret (a token in its context) as when they are the same', () => {
    const kept = (definition: (n: number) => string) => {
      const recording = new Recording({ maxBytes: 100_000 });
      let fewest = Infinity;
      for (let n = 0; n < 3_000; n++) {
        recording.add({ ...created(n), name: 'conn', definition: definition(n) });
        recording.add(stopped(n));
        if (n >= 1_000) fewest = Math.min(fewest, recording.size);
      }
      return fewest;
    };
    const same = kept(() => JSON.stringify({ id: 'conn', context: { token: 'secret-token-0' } }));
    const differing = kept((n) => JSON.stringify({ id: 'conn', context: { token: `secret-token-${n}` } }));
    expect(differing).toBeGreaterThan(same * 0.9);
  });

  it('takes a definition again once it was let go, under an id that carries it', () => {
    const recording = new Recording({ maxEvents: 4 });
    recording.add(created(1));
    recording.add(stopped(1));
    for (let n = 2; n <= 10; n++) {
      recording.add(created(n));
      recording.add(stopped(n));
    }
    const again = recording.add({ ...created(1), sessionId: 'x:99' })!;
    expect(JSON.parse(recording.definitionRecord(again.def!)).definition).toBe(uploadDefinition(1));
  });

  it('refuses a record whose ids are not texts, keeps nothing of it, and ends its app without a fault', () => {
    const recording = new Recording();
    const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)) as unknown;
    for (const ids of [{ rootId: deep }, { parentId: 5 }, { createdAt: { at: 1 } }]) expect(recording.add({ ...created(1), ...ids }, '', 1)).toBeUndefined();
    expect(recording.add({ ...stopped(1), id: { password: 'SECRET-id-object' } }, '', 1)).toBeUndefined();
    expect(recording.add({ ...stopped(1), sourceId: ['x'] }, '', 1)).toBeUndefined();
    expect([recording.size, recording.liveActors]).toEqual([0, 0]);
    expect(recording.endSource(1)).toEqual([]);
  });

  it('refuses a record whose snapshot, event or sample is not an object, and keeps nothing of it', () => {
    const recording = new Recording();
    expect(recording.add({ ...created(1), snapshot: 'active' })).toBeUndefined();
    expect(recording.add({ ...stopped(1), snapshot: 7 })).toBeUndefined();
    expect(recording.add({ ...stopped(1), event: 'xstate.stop' })).toBeUndefined();
    expect(recording.add({ type: '@socketchart.metrics', sessionId: 'x:1', name: 'feed', kind: 'connection', sample: [1], createdAt: '1', _version: v })).toBeUndefined();
    expect([recording.size, recording.liveActors]).toEqual([0, 0]);
  });

  it('refuses a record without a format version (_version), and keeps nothing of it', () => {
    const recording = new Recording();
    const { _version: _v, ...unversioned } = created(1);
    expect(recording.add(unversioned)).toBeUndefined();
    expect(recording.add({ ...created(1), _version: 7 })).toBeUndefined();
    expect([recording.size, recording.liveActors]).toEqual([0, 0]);
  });

  it('redacts a member named definition on any record but an actor\'s', () => {
    const recording = new Recording();
    const added = recording.add({ ...stopped(1), type: '@xstate.event', event: { type: 'login' }, definition: { password: 'SECRET-def-event' } });
    expect(added?.text).toContain('"type":"login"');
    expect(added?.text).not.toContain('SECRET-def-event');
  });

  it('lets go of the definition of an actor announced again (an app back after a blip) once it has stopped', () => {
    const recording = new Recording({ maxEvents: 4 });
    recording.add(created(1));
    recording.add({ ...created(1), announced: true });
    recording.add(stopped(1));
    for (let n = 2; n <= 10; n++) recording.add(stopped(n));
    expect([...recording.definitionTexts.values()]).not.toContain(uploadDefinition(1));
  });

  it('holds as live no actor that reached its final state or failed', () => {
    const recording = new Recording();
    recording.add(created(1));
    recording.add(created(2));
    recording.add({ ...stopped(1), snapshot: { status: 'done', value: 'done' } });
    recording.add({ ...stopped(2), snapshot: { status: 'error', value: 'sending' } });
    expect(recording.liveActors).toBe(0);
  });

  it('gives a page opened late a live actor whose creation left the history once, with its latest snapshot', () => {
    const recording = new Recording({ maxEvents: 3 });
    recording.add(created(1));
    recording.add({ ...stopped(1), snapshot: { status: 'active', value: 'done' } });
    for (let n = 2; n <= 10; n++) recording.add(stopped(n));
    const replayed = recording.replay().map((r) => JSON.parse(r.text) as { type: string; sessionId: string; snapshot: { value: string } });
    const creations = replayed.filter((r) => r.type === '@xstate.actor');
    expect(creations.map((r) => [r.sessionId, r.snapshot.value])).toEqual([['x:1', 'done']]);
  });

  it('replays the creation of a live actor once when it is the oldest record kept', () => {
    const recording = new Recording({ maxEvents: 2 });
    recording.add(created(0));
    recording.add(created(1));
    recording.add(created(2));
    expect(recording.replay().map((r) => JSON.parse(r.text).sessionId)).toEqual(['x:0', 'x:1', 'x:2']);
  });

  it('when an app leaves, ends its actors only, each in the state it was last in', () => {
    const recording = new Recording();
    recording.add(created(1), '', 1);
    recording.add({ ...stopped(1), snapshot: { status: 'active', value: 'done' } }, '', 1);
    recording.add(created(2), 'a2:', 2);
    const ended = recording.endSource(1).map((r) => JSON.parse(r.text) as { sessionId: string; snapshot: unknown });
    expect(ended.map((r) => [r.sessionId, r.snapshot])).toEqual([['x:1', { status: 'stopped', value: 'done' }]]);
    expect(recording.liveActors).toBe(1);
  });
});
