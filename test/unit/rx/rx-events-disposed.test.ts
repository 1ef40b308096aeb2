import { describe, expect, it } from 'vitest';
import { events$ } from '../../../src/rx/index.js';
import { harness } from '../../support/harness.js';

describe("events$(connection, 'disposed')", () => {
  it('emits the disposed event before completing', async () => {
    const h = harness();
    await h.connect();
    const seen: unknown[] = [];
    let completed = false;
    events$(h.connection, 'disposed').subscribe({ next: (e) => seen.push(e), complete: () => (completed = true) });
    h.connection.dispose();
    await h.settle();
    expect({ seen: seen.length, completed }).toEqual({ seen: 1, completed: true });
  });
});
