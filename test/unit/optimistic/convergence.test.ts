import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createOptimisticStore, type ConflictPolicy } from '../../../src/optimistic/index.js';
import { harness } from '../../support/harness.js';

const CHANNEL = 'docs:1';
const KEYS = ['a', 'b'] as const;

interface ListChange {
  key: string;
  add?: string;
  set?: string[];
}
/** Order-sensitive and not idempotent: a change applied twice, or two applied out of order, shows. */
const merge = (current: string[] | undefined, change: ListChange): string[] => change.set ?? [...(current ?? []), change.add ?? ''];

type Command =
  | { kind: 'update'; key: string }
  | { kind: 'remote'; key: string }
  | { kind: 'accept' }
  | { kind: 'refuse' }
  | { kind: 'deliverMessage' }
  | { kind: 'deliverReply' };

const keyArb = fc.constantFrom(...KEYS);
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('update' as const), key: keyArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remote' as const), key: keyArb }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('accept' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('refuse' as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('deliverMessage' as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('deliverReply' as const) }) },
);

type PolicyName = 'server-wins' | 'client-wins' | 'union';
const policies: Record<PolicyName, ConflictPolicy<string[], ListChange>> = {
  'server-wins': 'server-wins',
  'client-wins': 'client-wins',
  union: ({ mine, theirs }) => ({ merged: [...theirs, ...mine.filter((item) => !theirs.includes(item))] }),
};

interface Publish {
  id: string;
  data: ListChange;
}

/**
 * The channel as a server sees it: publishes wait in arrival order until stored or refused; stored
 * messages are numbered and go out in that order; acks and errors go out in the order they were decided.
 * How the two outbound streams interleave is left to the commands.
 */
async function run(policy: PolicyName, commands: Command[]) {
  const h = harness();
  const inbox: Publish[] = [];
  const log: ListChange[] = [];
  const messages: Array<Record<string, unknown>> = [];
  const replies: Array<Record<string, unknown>> = [];
  let seq = 0;
  h.server.onFrame = (_socket, frame) => {
    if (frame.json?.type === 'publish') inbox.push(frame.json as unknown as Publish);
  };
  await h.connect();
  const store = createOptimisticStore<string[], ListChange>({
    connection: h.connection,
    channel: CHANNEL,
    key: (change) => change.key,
    initial: { a: ['base'] },
    merge,
    fromValue: (value, key) => ({ key, set: value }),
    conflict: policies[policy],
  });
  const outcomes: Array<'pending' | 'resolved' | 'rejected'> = [];
  const append = (publish: Publish) => {
    const at = ++seq;
    log.push(publish.data);
    messages.push({ type: 'message', ch: CHANNEL, seq: at, id: publish.id, data: publish.data });
    return at;
  };
  const push = (frame: Record<string, unknown> | undefined) => frame && h.server.last!.push(frame);

  for (const [index, command] of commands.entries()) {
    switch (command.kind) {
      case 'update': {
        const slot = outcomes.push('pending') - 1;
        store.update(command.key, { key: command.key, add: `mine${index}` }).then(
          () => (outcomes[slot] = 'resolved'),
          () => (outcomes[slot] = 'rejected'),
        );
        break;
      }
      case 'remote':
        append({ id: `remote-${index}`, data: { key: command.key, add: `theirs${index}` } });
        break;
      case 'accept': {
        const publish = inbox.shift();
        if (publish) replies.push({ type: 'ack', id: publish.id, seq: append(publish) });
        break;
      }
      case 'refuse': {
        const publish = inbox.shift();
        if (publish) replies.push({ type: 'error', id: publish.id, code: 'AUTHORIZATION_FAILED', message: 'refused' });
        break;
      }
      case 'deliverMessage':
        push(messages.shift());
        break;
      case 'deliverReply':
        push(replies.shift());
        break;
    }
    await h.settle();
  }

  for (let round = 0; inbox.length + messages.length + replies.length > 0; round++) {
    if (round > 50) throw new Error('the channel did not settle');
    while (inbox.length > 0) replies.push({ type: 'ack', id: inbox[0]!.id, seq: append(inbox.shift()!) });
    while (messages.length > 0) push(messages.shift());
    while (replies.length > 0) push(replies.shift());
    await h.settle();
  }

  const expected = (key: string) => log.filter((change) => change.key === key).reduce<string[] | undefined>(merge, key === 'a' ? ['base'] : undefined);
  const result = {
    pending: store.pending(),
    shown: KEYS.map((key) => store.get(key)),
    confirmed: KEYS.map((key) => store.confirmed(key)),
    expected: KEYS.map(expected),
    unsettled: outcomes.filter((outcome) => outcome === 'pending').length,
  };
  store.dispose();
  h.connection.dispose();
  return result;
}

describe('optimistic store convergence', () => {
  it('for any interleaving of local changes, acks, refusals and remote updates, once nothing is pending every key shows the server sequence applied in order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom<PolicyName>('server-wins', 'client-wins', 'union'), fc.array(commandArb, { maxLength: 40 }), async (policy, commands) => {
        const result = await run(policy, commands);
        expect(result.pending).toBe(0);
        expect(result.unsettled).toBe(0);
        expect(result.shown).toEqual(result.expected);
        expect(result.confirmed).toEqual(result.expected);
      }),
      { numRuns: 300, seed: 20_260_501 },
    );
  });
});
