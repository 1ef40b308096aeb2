import { describe, expect, it } from 'vitest';
import { activeStates, parseDefinition, stateLabel, takenTransitions } from '../../../inspector/src/definition.js';
import { parseRecording } from '../../../inspector/src/sources.js';
import { Store, type Rec } from '../../../inspector/src/store.js';
import { connectionMachine, poolMachine } from '../../../src/index.js';
import { isInspectionRecord } from '../../../src/inspection/protocol.js';
import { toJsonText } from '../../../src/inspection/serialize.js';

/**
 * What the page reads from a definition and a stream of records. Expected states and transitions are the
 * README's connection diagram, written out here.
 */

const connection = parseDefinition(toJsonText(connectionMachine.config));

describe('a machine definition, as the page draws it', () => {
  it('has the connection’s states, nested and parallel as the diagram shows', () => {
    for (const id of ['connection.idle', 'connection.queued', 'connection.link.connecting', 'connection.link.halfOpen', 'connection.link.authenticating', 'connection.link.closing', 'connection.reconnecting', 'connection.circuitOpen', 'connection.offline', 'connection.suspended', 'connection.closed', 'connection.failed', 'connection.retrying']) {
      expect(connection.states.has(id), id).toBe(true);
    }
    expect(connection.states.get('connection.link.connected')!.type).toBe('parallel');
    expect(connection.states.get('connection.link.connected')!.children.map((c) => c.key)).toEqual(['liveness', 'outbound', 'session']);
    expect(connection.states.get('connection.link.connected.liveness')!.initial).toBe('quiet');
    expect(connection.states.get('connection.link.connected.liveness.probing')!.invokes).toEqual(['heartbeat']);
    expect(connection.states.get('connection.closed')!.tags).toEqual(['socketless', 'settled']);
  });

  it('has its transitions: events with guards, delays, eventless ones, invoked actors done, targets resolved by id and by sibling', () => {
    const find = (source: string, label: string) => connection.transitions.find((t) => t.source === source && t.label === label);
    expect(find('connection.link.connecting', 'socket.open [fromOwnSocket]')?.targets).toEqual(['connection.link.authenticating']);
    expect(find('connection.link.connecting', 'after connectTimeout')).toMatchObject({ targets: ['connection.retrying'], eventType: 'xstate.after.connectTimeout.connection.link.connecting' });
    expect(find('connection.retrying', 'always [isFatal]')).toMatchObject({ targets: ['connection.failed'], eventType: '' });
    expect(find('connection.link.connected.liveness.probing', 'done: heartbeat')).toMatchObject({ targets: ['connection.link.connected.liveness.quiet'], eventType: 'xstate.done.actor.heartbeat' });
    expect(find('connection.queued', 'permit.granted [circuitIsOpen]')?.targets).toEqual(['connection.link.halfOpen']);
    expect(find('connection.circuitOpen', 'after recoveryTimeout [dialsFreely]')?.targets).toEqual(['connection.link.halfOpen']);
    const pool = parseDefinition(toJsonText(poolMachine.config));
    expect(pool.transitions.find((t) => t.source === 'pool.starting.launching' && t.label === 'always [allStarted]')?.targets).toEqual(['pool.running']);
  });

  it('reads the active states and the state in words from a snapshot value', () => {
    const value = { link: { connected: { liveness: 'quiet', outbound: 'streaming', session: 'valid' } } };
    expect([...activeStates(connection, value)].sort()).toEqual(
      [
        'connection',
        'connection.link',
        'connection.link.connected',
        'connection.link.connected.liveness',
        'connection.link.connected.liveness.quiet',
        'connection.link.connected.outbound',
        'connection.link.connected.outbound.streaming',
        'connection.link.connected.session',
        'connection.link.connected.session.valid',
      ].sort(),
    );
    expect(stateLabel(value)).toBe('connected');
    expect(stateLabel({ link: 'authenticating' })).toBe('authenticating');
    expect(stateLabel('reconnecting')).toBe('reconnecting');
    expect(stateLabel({ starting: 'launching' })).toBe('launching');
  });

  it('lights the transition taken between two snapshots, from its event (or as the sender listed it)', () => {
    const before = activeStates(connection, { link: 'connecting' });
    const after = activeStates(connection, { link: 'authenticating' });
    const taken = [...takenTransitions(connection, before, after, 'socket.open')].map((id) => connection.transitions.find((t) => t.id === id)!.label);
    expect(taken).toEqual(['socket.open [fromOwnSocket]']);
    const listed = takenTransitions(connection, before, activeStates(connection, 'reconnecting'), 'socket.close', [
      { source: 'connection.link', targets: ['connection.retrying'], eventType: 'socket.close' },
      { source: 'connection.retrying', targets: ['connection.reconnecting'], eventType: '' },
    ]);
    expect([...listed].map((id) => connection.transitions.find((t) => t.id === id)!.label).sort()).toEqual(['always', 'socket.close [fromOwnSocket]']);
  });
});

const rec = (r: Partial<Rec> & { type: string; sessionId: string }, t: number): Rec => ({ createdAt: String(t), _version: '0.7.2', ...r }) as Rec;
/** A record of any shape, as an app or a file may send it. */
const odd = (r: Record<string, unknown> & { type: string; sessionId: string }, t = 1): Rec => rec(r as Partial<Rec> & typeof r, t);
const door = JSON.stringify({ id: 'door', initial: 'shut', states: { shut: { on: { push: 'open' } }, open: { on: { push: 'shut' } } } });

/** A door `front` with a child `bell`, then 30 pushes: a store of 20 entries has let their creations go. */
function trimmedSession(): Store {
  const store = new Store({ maxEntries: 20 });
  store.ingest(rec({ type: '@xstate.actor', sessionId: 'x:0', name: 'front', definition: door, snapshot: { status: 'active', value: 'shut' } }, 1));
  store.ingest(rec({ type: '@xstate.actor', sessionId: 'x:1', name: 'bell', parentId: 'x:0', definition: JSON.stringify({ id: 'bell' }), snapshot: { status: 'active' } }, 1));
  for (let i = 0; i < 30; i++) store.ingest(rec({ type: '@xstate.snapshot', sessionId: 'x:0', event: { type: 'push' }, snapshot: { status: 'active', value: i % 2 ? 'shut' : 'open' } }, 2 + i));
  expect(store.entry(0)).toBeUndefined();
  return store;
}

/** What the page's Export writes, read back as its Import does. */
function exportAndImport(store: Store): Store {
  const imported = new Store({ maxEntries: 10_000 });
  for (const record of parseRecording(`${store.exportRecords().map((r) => JSON.stringify(r)).join('\n')}\n`)) imported.ingest(record);
  return imported;
}

describe('the page’s store', () => {
  it('builds the tree by name, keeps every session of a name (a connection started again), and answers as of any moment', () => {
    const store = new Store({ maxEntries: 1_000 });
    const def = JSON.stringify({ id: 'door', initial: 'shut', states: { shut: {}, open: {} } });
    store.ingest(rec({ type: '@xstate.actor', sessionId: 'x:0', name: 'front', definition: def, snapshot: { status: 'active', value: 'shut' } }, 1));
    store.ingest(rec({ type: '@xstate.snapshot', sessionId: 'x:0', event: { type: 'push' }, snapshot: { status: 'active', value: 'open' } }, 2));
    const middle = store.lastSeq;
    store.ingest(rec({ type: '@xstate.snapshot', sessionId: 'x:0', event: { type: 'xstate.stop' }, snapshot: { status: 'stopped', value: 'open' } }, 3));
    store.ingest(rec({ type: '@xstate.actor', sessionId: 's2:x:0', name: 'front', definition: def, snapshot: { status: 'active', value: 'shut' } }, 4));
    const node = store.node('front')!;
    expect(store.roots.map((r) => r.key)).toEqual(['front']);
    expect(node.sessions.map((s) => s.id)).toEqual(['x:0', 's2:x:0']);
    expect(store.stateAt(store.sessionAt(node, store.lastSeq)!, store.lastSeq)).toEqual({ status: 'active', label: 'shut' });
    const then = store.sessionAt(node, middle)!;
    expect(then.id).toBe('x:0');
    expect(store.stateAt(then, middle)).toEqual({ status: 'active', label: 'open' });
    expect(store.live).toBe(1);
  });

  it('places an actor first known from its events where its creation says, once that arrives', () => {
    const store = new Store({ maxEntries: 1_000 });
    store.ingest(rec({ type: '@xstate.actor', sessionId: 'x:0', name: 'pool', definition: '{"id":"pool"}', snapshot: { status: 'active' } }, 1));
    store.ingest(rec({ type: '@xstate.event', sessionId: 'x:1', event: { type: 'connection.start' } }, 2));
    store.ingest(rec({ type: '@xstate.actor', sessionId: 'x:2', name: 'socket', parentId: 'x:1', snapshot: { status: 'active' } }, 3));
    expect(store.node('x:1/socket')).toBeDefined();
    store.ingest(rec({ type: '@xstate.actor', sessionId: 'x:1', name: 'queue', parentId: 'x:0', definition: '{"id":"connection"}', snapshot: { status: 'active' } }, 4));
    expect(store.node('x:1')).toBeUndefined();
    expect(store.node('pool/queue')!.sessions.map((s) => s.id)).toEqual(['x:1']);
    expect(store.node('pool/queue/socket')!.sessions.map((s) => s.id)).toEqual(['x:2']);
  });

  it('counts dials per 100 ms on the pool and lets the oldest entries go beyond its bound', () => {
    const store = new Store({ maxEntries: 50 });
    store.ingest(rec({ type: '@xstate.actor', sessionId: 'p', name: 'pool', definition: '{"id":"pool","states":{"a":{}}}', snapshot: { status: 'active', value: 'a', context: { connected: 0 } } }, 1_000));
    store.ingest(rec({ type: '@xstate.actor', sessionId: 'c', name: 'feed', parentId: 'p', definition: '{"id":"connection","states":{"a":{}}}', snapshot: { status: 'active', value: 'a', context: { settings: {} } } }, 1_000));
    for (let i = 0; i < 5; i++) store.ingest(rec({ type: '@xstate.actor', sessionId: `s${i}`, name: 'socket', parentId: 'c', snapshot: { status: 'active' } }, 1_010 + i * 40));
    expect([...store.node('pool')!.series.dials]).toEqual([
      [10, 3],
      [11, 2],
    ]);
    for (let i = 0; i < 100; i++) store.ingest(rec({ type: '@xstate.event', sessionId: 'c', event: { type: 'tick' } }, 2_000 + i));
    expect(store.size).toBeLessThanOrEqual(55);
    expect(store.entry(store.base)!.seq).toBe(store.base);
    expect(store.trimmed).toBeGreaterThan(0);
  });

  it('travels to a kept moment with the state an actor was in then, though the entry that brought it was let go', () => {
    const store = new Store({ maxEntries: 10 });
    const feed = '{"id":"feed","initial":"connecting","states":{"connecting":{},"connected":{}}}';
    store.ingest(rec({ type: '@xstate.actor', sessionId: 'x:0', name: 'feed', definition: feed, snapshot: { status: 'active', value: 'connecting' } }, 1_000));
    store.ingest(rec({ type: '@xstate.snapshot', sessionId: 'x:0', event: { type: 'socket.open' }, snapshot: { status: 'active', value: 'connected' } }, 1_001));
    store.ingest(rec({ type: '@xstate.actor', sessionId: 'x:1', name: 'other', snapshot: { status: 'active' } }, 1_002));
    for (let i = 0; i < 30; i++) store.ingest(rec({ type: '@xstate.event', sessionId: 'x:1', event: { type: 'tick' } }, 1_003 + i));
    expect(store.trimmed).toBeGreaterThan(2);
    const actor = store.actors.get('x:0')!;
    const moment = store.lastSeq - 1;
    expect(store.entry(moment)).toBeDefined();
    expect(store.snapshotAt(actor, moment).snapshot.value).toBe('connected');
    expect(store.stateAt(actor, moment).label).toBe('connected');
  });

  it('ingests a metrics sample without rtt (the server relays it) and leaves it out of the plots', () => {
    const store = new Store({ maxEntries: 1_000 });
    const sample = odd({ type: '@socketchart.metrics', sessionId: 'x:9', name: 'feed', kind: 'connection', sample: { status: 'connected' }, id: null });
    expect(isInspectionRecord(sample)).toBe(true);
    expect(() => store.ingest(sample)).not.toThrow();
    const node = store.actors.get('x:9')!.node;
    expect([node.series.t.length, store.sampleAt(node, store.lastSeq)]).toEqual([0, undefined]);
  });

  it('ingests a snapshot that is not an object as an empty one', () => {
    const store = new Store({ maxEntries: 1_000 });
    store.ingest(odd({ type: '@xstate.actor', sessionId: 'x:1', name: 'door', definition: door, snapshot: 'shut' }));
    expect(() => store.ingest(odd({ type: '@xstate.snapshot', sessionId: 'x:1', event: { type: 'push' }, snapshot: 7 }))).not.toThrow();
    expect(() => store.ingest(odd({ type: '@xstate.snapshot', sessionId: 'x:8', event: { type: 'push' }, snapshot: 'open' }))).not.toThrow();
    const door1 = store.actors.get('x:1')!;
    expect([door1.initial, door1.latest, store.actors.get('x:8')?.status]).toEqual([{ status: 'active' }, {}, 'active']);
  });

  it('takes an event type that is not a text, and taken transitions that are not a list of objects, as none given', () => {
    const store = new Store({ maxEntries: 1_000 });
    const types = [5, { type: 'push' }, null].map((type) => store.ingest(odd({ type: '@xstate.event', sessionId: 'x:1', event: { type } }))!.type);
    const transitions = [7, 'ab', [null], [{ source: 'door.shut', targets: 3, eventType: 'push' }]].map(
      (taken) => store.ingest(odd({ type: '@xstate.snapshot', sessionId: 'x:1', event: { type: 'push' }, snapshot: { status: 'active' }, transitions: taken }))!.transitions,
    );
    expect({ types, transitions }).toEqual({ types: ['?', '?', '?'], transitions: [undefined, undefined, undefined, undefined] });
  });

  it('keeps at the root an actor whose creation names itself or its own descendant as its parent', () => {
    const store = new Store({ maxEntries: 1_000 });
    store.ingest(odd({ type: '@xstate.snapshot', sessionId: 'x:1', event: { type: 'e' }, snapshot: { status: 'active' } }));
    store.ingest(odd({ type: '@xstate.actor', sessionId: 'x:2', name: 'child', parentId: 'x:1', snapshot: { status: 'active' } }));
    expect(() => store.ingest(odd({ type: '@xstate.actor', sessionId: 'x:1', name: 'root', parentId: 'x:2', snapshot: { status: 'active' } }))).not.toThrow();
    store.ingest(odd({ type: '@xstate.event', sessionId: 'x:3', event: { type: 'e' } }));
    store.ingest(odd({ type: '@xstate.actor', sessionId: 'x:3', name: 'self', parentId: 'x:3', snapshot: { status: 'active' } }));
    expect({ root: store.actors.get('x:1')?.parent, child: store.actors.get('x:2')?.node.key, self: store.actors.get('x:3')?.node.key }).toEqual({ root: undefined, child: 'root/child', self: 'self' });
  });

  it('exports, once old entries were let go, each actor still shown with its name, parent, machine definition and state then', () => {
    const store = trimmedSession();
    const imported = exportAndImport(store);
    const front = imported.actors.get('x:0')!;
    expect({ name: front.name, chart: imported.definition(front.defId).isMachine, bell: imported.actors.get('x:1')?.parent?.id, bare: front.bare }).toEqual({ name: 'front', chart: true, bell: 'x:0', bare: false });
    expect(front.initial).toEqual(store.actors.get('x:0')!.initial);
    expect(imported.stateAt(front, imported.lastSeq)).toEqual(store.stateAt(store.actors.get('x:0')!, store.lastSeq));
  });

  it('imports a recording given as a JSON array, definitions too, as from JSON lines; one cut short up to its last whole record; nothing from one unreadable, without throwing', () => {
    const records = [{ type: '@socketchart.definition', id: 'd1', definition: '{"id":"door"}' } as unknown as Rec, ...trimmedSession().exportRecords()];
    expect(parseRecording(JSON.stringify(records))).toEqual(records);
    const oneALine = `[\n${records.map((r) => JSON.stringify(r)).join(',\n')}\n]`;
    expect(parseRecording(oneALine)).toEqual(records);
    expect(parseRecording(oneALine.slice(0, oneALine.lastIndexOf('\n') - 10)), 'cut inside the last record').toEqual(records.slice(0, -1));
    for (const text of ['[', '[{"type": "@xstate.actor",', '{', 'not a recording', '']) expect(parseRecording(text), text).toEqual([]);
  });

  it('exports the creations of actors let go before the entries, parents first, and nothing else twice', () => {
    const store = trimmedSession();
    const records = store.exportRecords();
    const creations = records.filter((r) => r.type === '@xstate.actor');
    expect(creations.map((r) => [r.sessionId, r.parentId, r.createdAt])).toEqual([
      ['x:0', undefined, '1'],
      ['x:1', 'x:0', '1'],
    ]);
    expect(records.slice(2)).toEqual(store.entries.map((entry) => store.exportRecord(entry)));
  });

  it("answers a connection's sample as of a moment, and whether it still told the present: not once the connection changed or stopped after it", () => {
    const store = new Store({ maxEntries: 1_000 });
    const feed = '{"id":"connection","initial":"connected","states":{"connected":{},"closed":{}}}';
    const sample = (status: string, messagesIn: number) => ({ status, rtt: { p50: 1, p95: 1, p99: 1 }, queueDepth: 0, messagesIn, messagesOut: 0, bytesIn: 0, bytesOut: 0, connects: 1, reconnects: 0, errors: 0, drops: 0, healthScore: 1 });
    store.ingest(rec({ type: '@xstate.actor', sessionId: 'x:0', name: 'feed', definition: feed, snapshot: { status: 'active', value: 'connected', context: { settings: {} } } }, 1_000));
    const beforeAny = store.lastSeq;
    store.ingest(rec({ type: '@socketchart.metrics', sessionId: 'x:0', kind: 'connection', sample: sample('connected', 5) }, 2_000));
    store.ingest(rec({ type: '@socketchart.metrics', sessionId: 'x:0', kind: 'connection', sample: sample('connected', 9) }, 3_000));
    const sampled = store.lastSeq;
    store.ingest(rec({ type: '@xstate.snapshot', sessionId: 'x:0', event: { type: 'connection.stop' }, snapshot: { status: 'active', value: 'closed' } }, 3_500));
    const closed = store.lastSeq;
    store.ingest(rec({ type: '@xstate.snapshot', sessionId: 'x:0', event: { type: 'xstate.stop' }, snapshot: { status: 'stopped', value: 'closed' } }, 3_600));
    const node = store.node('feed')!;
    const at = (seq: number) => {
      const found = store.sampleAt(node, seq);
      return found && { messagesIn: (found.sample as { messagesIn: number }).messagesIn, t: found.entry.t, current: found.current };
    };
    expect(at(beforeAny)).toBeUndefined();
    expect(at(sampled - 1)).toEqual({ messagesIn: 5, t: 2_000, current: true });
    expect(at(sampled)).toEqual({ messagesIn: 9, t: 3_000, current: true });
    expect(at(closed)).toEqual({ messagesIn: 9, t: 3_000, current: false });
    expect(at(store.lastSeq)).toEqual({ messagesIn: 9, t: 3_000, current: false });
  });
});

it("tells a connection's latest sample as the present while it samples on, though a heartbeat round changed its snapshot after it", () => {
  const store = new Store({ maxEntries: 1_000 });
  const definition = toJsonText(connectionMachine.config);
  const connected = (liveness: string) => ({ status: 'active', value: { link: { connected: { liveness, outbound: 'idle', session: 'valid' } } }, context: { settings: {} } });
  const sample = { status: 'connected', rtt: { p50: 1, p95: 1, p99: 1 }, queueDepth: 0, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, connects: 1, reconnects: 0, errors: 0, drops: 0, healthScore: 1 };
  store.ingest(rec({ type: '@xstate.actor', sessionId: 'x:0', name: 'feed', definition, snapshot: connected('quiet') }, 1_000));
  store.ingest(rec({ type: '@socketchart.metrics', sessionId: 'x:0', kind: 'connection', sample }, 2_000));
  store.ingest(rec({ type: '@xstate.snapshot', sessionId: 'x:0', event: { type: 'xstate.after.heartbeatInterval.connection.link.connected.liveness.quiet' }, snapshot: connected('probing') }, 2_500));
  store.ingest(rec({ type: '@xstate.snapshot', sessionId: 'x:0', event: { type: 'heartbeat.pong' }, snapshot: connected('probing') }, 2_501));
  store.ingest(rec({ type: '@xstate.snapshot', sessionId: 'x:0', event: { type: 'xstate.done.actor.heartbeat' }, snapshot: connected('quiet') }, 2_502));
  const node = store.node('feed')!;
  expect(store.stateAt(store.actors.get('x:0')!, store.lastSeq).label).toBe('connected');
  expect(store.sampleAt(node, store.lastSeq)).toMatchObject({ entry: { t: 2_000 }, current: true });
});

it('shows the newest session of a name, though an older one’s creation arrived after its events and the newer one’s creation', () => {
  const store = new Store({ maxEntries: 1_000 });
  const feed = JSON.stringify({ id: 'feed', initial: 'connecting', states: { connecting: {}, connected: {} } });
  store.ingest(rec({ type: '@xstate.actor', sessionId: 'x:0', name: 'pool', definition: '{"id":"pool"}', snapshot: { status: 'active' } }, 500));
  store.ingest(rec({ type: '@xstate.snapshot', sessionId: 'x:1', event: { type: 'socket.open' }, snapshot: { status: 'active', value: 'connected' } }, 1_000));
  store.ingest(rec({ type: '@xstate.actor', sessionId: 'x:2', name: 'feed', parentId: 'x:0', definition: feed, snapshot: { status: 'active', value: 'connecting' } }, 2_000));
  store.ingest(rec({ type: '@xstate.actor', sessionId: 'x:1', name: 'feed', parentId: 'x:0', definition: feed, snapshot: { status: 'active', value: 'connecting' } }, 900));
  const node = store.node('pool/feed')!;
  expect(store.sessionAt(node, store.lastSeq)?.id).toBe('x:2');
  expect(node.sessions.map((s) => s.id)).toEqual(['x:1', 'x:2']);
});

it('exports, once its creation was let go, an actor first known from its events with the time of its creation, not of its first event', () => {
  const store = new Store({ maxEntries: 20 });
  store.ingest(rec({ type: '@xstate.snapshot', sessionId: 'x:0', event: { type: 'push' }, snapshot: { status: 'active', value: 'open' } }, 1_000));
  store.ingest(rec({ type: '@xstate.actor', sessionId: 'x:0', name: 'front', definition: door, snapshot: { status: 'active', value: 'shut' } }, 900));
  for (let i = 0; i < 30; i++) store.ingest(rec({ type: '@xstate.snapshot', sessionId: 'x:0', event: { type: 'push' }, snapshot: { status: 'active', value: i % 2 ? 'open' : 'shut' } }, 1_001 + i));
  expect(store.exportRecords().filter((r) => r.type === '@xstate.actor')).toMatchObject([{ sessionId: 'x:0', name: 'front', createdAt: '900' }]);
});

it('exports the creation of an actor first known from events let go once, when its creation was kept: read back, it is not announced again', () => {
  const store = new Store({ maxEntries: 20 });
  for (let i = 0; i < 30; i++) store.ingest(rec({ type: '@xstate.snapshot', sessionId: 'x:0', event: { type: 'push' }, snapshot: { status: 'active', value: i % 2 ? 'shut' : 'open' } }, 1_000 + i));
  store.ingest(rec({ type: '@xstate.actor', sessionId: 'x:0', name: 'front', definition: door, snapshot: { status: 'active', value: 'shut' } }, 900));
  expect(store.entry(store.actors.get('x:0')!.created)).toBeUndefined();
  const imported = exportAndImport(store);
  expect(imported.entries.filter((entry) => entry.kind === 'actor').map((entry) => entry.type)).not.toContain('announced');
  const front = imported.actors.get('x:0')!;
  expect({ name: front.name, createdAt: front.createdAt, label: front.label, bare: front.bare }).toEqual({ name: 'front', createdAt: 900, label: 'shut', bare: false });
});

it('takes the creation of an actor first known from its events under the name it was known by (its session id), its children kept under it', () => {
  const store = new Store({ maxEntries: 1_000 });
  store.ingest(odd({ type: '@xstate.event', sessionId: 'x:1', event: { type: 'go' } }));
  store.ingest(odd({ type: '@xstate.actor', sessionId: 'x:2', name: 'child', parentId: 'x:1', snapshot: { status: 'active' } }));
  store.ingest(odd({ type: '@xstate.actor', sessionId: 'x:1', snapshot: { status: 'active' } }));
  expect([...store.walk()].map((node) => [node.key, node.sessions.map((s) => s.id)])).toEqual([
    ['x:1', ['x:1']],
    ['x:1/child', ['x:2']],
  ]);
});
