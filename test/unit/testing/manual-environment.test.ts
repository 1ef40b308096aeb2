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

  it('counts each subscription, as the browser environment does: the same listener subscribed twice hears each event twice, and is still subscribed once one of them ends', () => {
    const env = createManualEnvironment();
    const heard: string[] = [];
    const listener = (event: string) => heard.push(event);
    const first = env.subscribe(listener);
    const second = env.subscribe(listener);
    expect(env.listenerCount).toBe(2);
    env.emit('offline');
    expect(heard).toEqual(['offline', 'offline']);
    first();
    first();
    expect(env.listenerCount).toBe(1);
    env.emit('online');
    expect(heard).toEqual(['offline', 'offline', 'online']);
    second();
    expect(env.listenerCount).toBe(0);
  });
});
