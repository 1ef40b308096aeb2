import { describe, expect, it } from 'vitest';
import { createManualEnvironment } from '../../../src/testing/index.js';

describe('createManualEnvironment', () => {
  it('emit() does not call a listener an earlier listener unsubscribed during the same emit (as with removeEventListener)', () => {
    const env = createManualEnvironment();
    const heard: string[] = [];
    let unsubscribeB: () => void = () => {};
    env.subscribe((event) => {
      heard.push(`a ${event}`);
      unsubscribeB(); // going offline disposes another connection
    });
    unsubscribeB = env.subscribe((event) => heard.push(`b ${event}`));
    env.emit('offline');
    expect(heard).toEqual(['a offline']);
    expect(env.listenerCount).toBe(1);
  });

  it('emit() does not call a listener subscribed during the same emit: it hears the next event', () => {
    const env = createManualEnvironment();
    const heard: string[] = [];
    env.subscribe((event) => {
      heard.push(`a ${event}`);
      if (event === 'offline') env.subscribe((later) => heard.push(`b ${later}`));
    });
    env.emit('offline');
    expect(heard).toEqual(['a offline']);
    env.emit('online');
    expect(heard).toEqual(['a offline', 'a online', 'b online']);
  });
});
