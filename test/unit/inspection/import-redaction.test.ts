import { expect, it } from 'vitest';
import { parseRecording } from '../../../inspector/src/sources.js';
import { Store } from '../../../inspector/src/store.js';

/**
 * A recording opened with Import may come from anywhere (`@statelyai/inspect` events another tool saved): the
 * page removes what looks like a credential from it, as from what the server and a window send, so that it
 * neither shows one nor writes it again with Export.
 */

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2lnbmF0dXJlLWltcG9ydA';

const recording = [
  {
    type: '@xstate.actor',
    sessionId: 'x:0',
    name: 'login',
    _version: '0.7.2',
    createdAt: '1',
    id: null,
    snapshot: { status: 'active', value: 'out', context: { url: 'wss://ann:SECRET-import-userinfo@api.test/ws?access_token=SECRET-import-query' } },
    definition: JSON.stringify({ id: 'login', context: { apiKey: 'SECRET-import-definition' } }),
  },
  { type: '@socketchart.definition', id: 'd1', definition: JSON.stringify({ id: 'other', context: { password: 'SECRET-import-definition-record' } }) },
  {
    type: '@xstate.snapshot',
    sessionId: 'x:0',
    _version: '0.7.2',
    createdAt: '2',
    id: null,
    event: { type: 'login', password: 'SECRET-import-pw' },
    snapshot: { status: 'active', value: 'in', context: { header: 'Bearer SECRET-import-bearer', idToken: JWT } },
  },
];

it('removes the credentials of a recording opened with Import: the page neither shows them nor writes them again with Export', () => {
  const lines = `${recording.map((record) => JSON.stringify(record)).join('\n')}\n`;
  for (const text of [lines, JSON.stringify(recording)]) {
    const records = parseRecording(text);
    expect(records.map((record) => record.type)).toEqual(['@xstate.actor', '@socketchart.definition', '@xstate.snapshot']);
    const store = new Store({ maxEntries: 1_000 });
    for (const record of records) store.ingest(record);
    const exported = JSON.stringify(store.exportRecords());
    expect(exported, 'the export holds the session').toContain('"type":"login"');
    for (const shown of [JSON.stringify(records), exported]) {
      expect(shown.match(/SECRET-import-[\w-]+/g)).toBeNull();
      expect(shown).not.toContain(JWT);
    }
  }
});
