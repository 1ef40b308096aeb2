import { describe, expect, it } from 'vitest';
import { EnvironmentFanout } from '../../../src/pool/environment-fanout.js';
import { createManualEnvironment } from '../../../src/testing/index.js';

/** One listener on the real environment for a whole pool: held while the pool runs or any connection listens. */

describe('EnvironmentFanout', () => {
  it('listens to the real environment while the pool runs, and lets go when it stops and nobody listens', () => {
    const env = createManualEnvironment();
    const fanout = new EnvironmentFanout(env);
    expect(env.listenerCount).toBe(0);
    fanout.watch();
    fanout.watch();
    expect(env.listenerCount).toBe(1);
    fanout.unwatch();
    expect(env.listenerCount).toBe(0);
  });

  it('listens while a connection listens, though the pool is stopped, and forwards every event to each', () => {
    const env = createManualEnvironment();
    const fanout = new EnvironmentFanout(env);
    const heard: string[] = [];
    const offA = fanout.subscribe((event) => heard.push(`a ${event}`));
    const offB = fanout.subscribe((event) => heard.push(`b ${event}`));
    expect(env.listenerCount).toBe(1);
    env.emit('offline');
    expect(heard).toEqual(['a offline', 'b offline']);
    offA();
    expect(env.listenerCount).toBe(1);
    offB();
    expect(env.listenerCount).toBe(0);
  });

  it('keeps listening while the pool runs after its last connection leaves, and while a connection stays after the pool stops', () => {
    const env = createManualEnvironment();
    const fanout = new EnvironmentFanout(env);
    fanout.watch();
    fanout.subscribe(() => {})();
    expect(env.listenerCount).toBe(1);
    const off = fanout.subscribe(() => {});
    fanout.unwatch();
    expect(env.listenerCount).toBe(1);
    off();
    expect(env.listenerCount).toBe(0);
  });

  it('close() lets go whoever listens, and a stopped pool does not listen again when its connections leave', () => {
    const env = createManualEnvironment();
    const fanout = new EnvironmentFanout(env);
    fanout.watch();
    const off = fanout.subscribe(() => {});
    fanout.close();
    expect(env.listenerCount).toBe(0);
    off();
    expect(env.listenerCount).toBe(0);
  });

  it('after close(), a connection that listens holds the real environment only while it listens', () => {
    const env = createManualEnvironment();
    const fanout = new EnvironmentFanout(env);
    fanout.watch();
    fanout.close();
    const off = fanout.subscribe(() => {});
    expect(env.listenerCount).toBe(1);
    off();
    expect(env.listenerCount).toBe(0);
  });

  it('forwards each event in rank order (a pool\'s start order), whenever each listener came, and in the order they came within a rank', () => {
    const env = createManualEnvironment();
    const fanout = new EnvironmentFanout(env);
    const heard: string[] = [];
    fanout.ranked(2).subscribe(() => heard.push('third'));
    fanout.ranked(1).subscribe(() => heard.push('second'));
    fanout.ranked(0).subscribe(() => heard.push('first'));
    fanout.ranked(2).subscribe(() => heard.push('fourth'));
    env.emit('online');
    expect(heard).toEqual(['first', 'second', 'third', 'fourth']);
  });

  it('reads online and hidden from the environment, and assumes online and visible when it cannot tell', () => {
    const env = createManualEnvironment({ online: false, hidden: true });
    const fanout = new EnvironmentFanout(env);
    expect([fanout.isOnline(), fanout.isHidden()]).toEqual([false, true]);
    const silent = new EnvironmentFanout({ subscribe: () => () => {} });
    expect([silent.isOnline(), silent.isHidden()]).toEqual([true, false]);
  });

  it('does not forward an event to a listener an earlier one removed while it is being forwarded', () => {
    const env = createManualEnvironment();
    const fanout = new EnvironmentFanout(env);
    const heard: string[] = [];
    let offB: () => void = () => {};
    fanout.subscribe((event) => {
      heard.push(`a ${event}`);
      offB();
    });
    offB = fanout.subscribe((event) => heard.push(`b ${event}`));
    env.emit('offline');
    expect(heard).toEqual(['a offline']);
    expect(fanout.size).toBe(1);
  });
});
