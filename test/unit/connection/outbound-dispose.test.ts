import { expect, it } from 'vitest';
import { ErrorCode } from '../../../src/index.js';
import { harness } from '../../support/harness.js';

/**
 * `dispose()` settles every message (CLOSED), whatever state the connection was in: a connection never
 * started holds its sends in the queue, and they must not be left pending.
 */

it('dispose() of a connection never started rejects its queued sends, acknowledged ones included, with CLOSED', async () => {
  const h = harness({ heartbeat: false });
  const plain = h.connection.send('queued', { channel: 'c' });
  const acked = h.connection.send('acked', { channel: 'c', ack: true });
  const request = h.connection.request('asked', { channel: 'c' });
  expect(h.connection.queued).toBe(3);
  h.connection.dispose();
  await expect(plain).rejects.toMatchObject({ code: ErrorCode.CLOSED });
  await expect(acked).rejects.toMatchObject({ code: ErrorCode.CLOSED });
  await expect(request).rejects.toMatchObject({ code: ErrorCode.CLOSED });
  expect(h.connection.queued).toBe(0);
  await expect(h.connection.send('after')).rejects.toMatchObject({ code: ErrorCode.CLOSED });
});
