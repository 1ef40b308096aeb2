import { expect, it } from 'vitest';
import { harness } from '../../support/harness.js';

/**
 * The `throttled` event (`{ scope, waitMs, queued }`) and `connection.queued` read inside its listener count
 * every message left waiting, also those set aside because their channel type was out of tokens when the
 * connection's own bucket then runs out in the same drain. Here two messages wait (chat-2 for a chat token,
 * orders-2 for a connection token).
 */

it('the throttled event counts every message left waiting, those held for their channel type included', async () => {
  const h = harness({ heartbeat: false, rateLimit: { connection: { perMinute: 60, burst: 2 }, channels: { chat: { perMinute: 6, burst: 1 } } } });
  const seen: Array<{ queued: number; queuedNow: number }> = [];
  h.connection.on('throttled', ({ queued }) => seen.push({ queued, queuedNow: h.connection.queued }));
  for (const data of ['chat-1', 'chat-2', 'orders-1', 'orders-2']) void h.connection.send(data, { channel: `${data.split('-')[0]}:1` });
  await h.connect();
  expect(h.server.last!.sentOfType('publish').map((frame) => frame.data)).toEqual(['chat-1', 'orders-1']);
  expect(h.connection.queued).toBe(2);
  expect(seen).toEqual([{ queued: 2, queuedNow: 2 }]);
});
