import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createConnection,
  ErrorCode,
  InvalidOptionError,
  jsonProtocol,
  setDefaultWebSocket,
  SocketchartError,
  type ConnectionOptions,
  type WebSocketConstructor,
} from '../../../src/index.js';
import { resolveOptions } from '../../../src/connection/options.js';
import { systemClock } from '../../../src/environment/clock.js';
import { noEnvironment } from '../../../src/environment/environment.js';
import { SimulatedClock, createManualEnvironment, createMockServer } from '../../../src/testing/index.js';

const server = createMockServer();
const clock = new SimulatedClock(0);
const URL = 'ws://mock.test/socket';

/** Options that are valid on their own; each bad case overrides one thing. */
const base = (): Record<string, unknown> => ({ url: URL, WebSocket: server.WebSocket, clock, environment: false });

/** Creates a connection with `base()` plus `overrides`, returning what it threw (or undefined). */
function creationError(overrides: Record<string, unknown>): unknown {
  try {
    const connection = createConnection({ ...base(), ...overrides } as unknown as ConnectionOptions);
    connection.dispose();
    return undefined;
  } catch (error) {
    return error;
  }
}

const integerOptions: ReadonlyArray<[path: string, wrap: (value: unknown) => Record<string, unknown>]> = [
  ['connectTimeoutMs', (v) => ({ connectTimeoutMs: v })],
  ['authTimeoutMs', (v) => ({ authTimeoutMs: v })],
  ['closeTimeoutMs', (v) => ({ closeTimeoutMs: v })],
  ['maxMessageBytes', (v) => ({ maxMessageBytes: v })],
  ['maxInboundBytes', (v) => ({ maxInboundBytes: v })],
  ['auth.refreshLeadMs', (v) => ({ auth: { token: 't', refreshLeadMs: v } })],
  ['heartbeat.intervalMs', (v) => ({ heartbeat: { intervalMs: v } })],
  ['heartbeat.timeoutMs', (v) => ({ heartbeat: { timeoutMs: v } })],
  ['reconnect.baseMs', (v) => ({ reconnect: { baseMs: v } })],
  ['reconnect.capMs', (v) => ({ reconnect: { capMs: v } })],
  ['reconnect.minUptimeMs', (v) => ({ reconnect: { minUptimeMs: v } })],
  ['reconnect.restartWindowMs', (v) => ({ reconnect: { restartWindowMs: v } })],
  ['reconnect.tryLaterMs', (v) => ({ reconnect: { tryLaterMs: v } })],
  ['circuit.failureThreshold', (v) => ({ circuit: { failureThreshold: v } })],
  ['circuit.recoveryMs', (v) => ({ circuit: { recoveryMs: v } })],
  ['circuit.maxRecoveryMs', (v) => ({ circuit: { maxRecoveryMs: v } })],
  ['queue.maxMessages', (v) => ({ queue: { maxMessages: v } })],
  ['queue.maxBytes', (v) => ({ queue: { maxBytes: v } })],
  ['queue.defaultTtlMs', (v) => ({ queue: { defaultTtlMs: v } })],
  ['queue.highWaterMark', (v) => ({ queue: { highWaterMark: v } })],
];

const ratioOptions: ReadonlyArray<[path: string, wrap: (value: unknown) => Record<string, unknown>]> = [
  ['reconnect.multiplier', (v) => ({ reconnect: { multiplier: v } })],
  ['reconnect.jitter', (v) => ({ reconnect: { jitter: v } })],
  ['circuit.recoveryMultiplier', (v) => ({ circuit: { recoveryMultiplier: v } })],
];

type BadCase = [description: string, overrides: Record<string, unknown>, option: string];

const numericCases: BadCase[] = [
  ...integerOptions.flatMap(([path, wrap]): BadCase[] => [
    [`${path} negative`, wrap(-1), path],
    [`${path} NaN`, wrap(Number.NaN), path],
    [`${path} non-integer`, wrap(1.5), path],
    [`${path} Infinity`, wrap(Number.POSITIVE_INFINITY), path],
    [`${path} a numeric string`, wrap('100'), path],
  ]),
  ...ratioOptions.flatMap(([path, wrap]): BadCase[] => [
    [`${path} negative`, wrap(-1), path],
    [`${path} NaN`, wrap(Number.NaN), path],
    [`${path} a numeric string`, wrap('2'), path],
  ]),
];

const otherCases: BadCase[] = [
  ['url with http:', { url: 'http://mock.test/socket' }, 'url'],
  ['url with https:', { url: 'https://mock.test/socket' }, 'url'],
  ['url without a scheme', { url: 'mock.test/socket' }, 'url'],
  ['url empty', { url: '' }, 'url'],
  ['url missing', { url: undefined }, 'url'],
  ['url a number', { url: 42 }, 'url'],
  ['reconnect.capMs below baseMs', { reconnect: { baseMs: 2_000, capMs: 1_000 } }, 'reconnect.capMs'],
  ['reconnect.jitter above 1', { reconnect: { jitter: 1.5 } }, 'reconnect.jitter'],
  ['reconnect.multiplier below 1', { reconnect: { multiplier: 0.5 } }, 'reconnect.multiplier'],
  ['circuit.maxRecoveryMs below recoveryMs', { circuit: { recoveryMs: 60_000, maxRecoveryMs: 1_000 } }, 'circuit.maxRecoveryMs'],
  ['circuit.failureThreshold 0', { circuit: { failureThreshold: 0 } }, 'circuit.failureThreshold'],
  ['heartbeat.intervalMs 0', { heartbeat: { intervalMs: 0 } }, 'heartbeat.intervalMs'],
  ['heartbeat.timeoutMs 0', { heartbeat: { timeoutMs: 0 } }, 'heartbeat.timeoutMs'],
  ['connectTimeoutMs 0', { connectTimeoutMs: 0 }, 'connectTimeoutMs'],
  ['maxMessageBytes 0', { maxMessageBytes: 0 }, 'maxMessageBytes'],
  ['maxInboundBytes 0', { maxInboundBytes: 0 }, 'maxInboundBytes'],
  ['queue.maxMessages 0 (a queue that can hold nothing)', { queue: { maxMessages: 0 } }, 'queue.maxMessages'],
  ['queue.maxBytes 0 (a queue that can hold nothing)', { queue: { maxBytes: 0 } }, 'queue.maxBytes'],
  ['queue.highWaterMark 0 (bufferedAmount is never below it: nothing could ever be written)', { queue: { highWaterMark: 0 } }, 'queue.highWaterMark'],
  ['queue.overflow "drop"', { queue: { overflow: 'drop' } }, 'queue.overflow'],
  ['auth.mode "cookie"', { auth: { token: 't', mode: 'cookie' } }, 'auth.mode'],
  ['auth.token empty', { auth: { token: '' } }, 'auth.token'],
  ['auth.token missing', { auth: {} }, 'auth.token'],
  ['auth.token a number', { auth: { token: 42 } }, 'auth.token'],
  ['auth.queryParam with a space', { auth: { token: 't', mode: 'query', queryParam: 'my token' } }, 'auth.queryParam'],
  ['auth not an object', { auth: 'token' }, 'auth'],
  ['heartbeat not an object', { heartbeat: 30_000 }, 'heartbeat'],
  ['reconnect null', { reconnect: null }, 'reconnect'],
  ['circuit true', { circuit: true }, 'circuit'],
  ['queue an array', { queue: [] }, 'queue'],
  ['unknown top-level key', { urls: [URL] }, 'urls'],
  ['unknown top-level key (typo)', { connectTimeout: 1_000 }, 'connectTimeout'],
  ['unknown auth key', { auth: { token: 't', expiresAt: 1 } }, 'auth.expiresAt'],
  ['unknown heartbeat key', { heartbeat: { interval: 1_000 } }, 'heartbeat.interval'],
  ['unknown reconnect key', { reconnect: { base: 100 } }, 'reconnect.base'],
  ['unknown circuit key', { circuit: { threshold: 3 } }, 'circuit.threshold'],
  ['unknown queue key', { queue: { size: 10 } }, 'queue.size'],
  ['clock without now', { clock: { setTimeout: () => 0, clearTimeout: () => {} } }, 'clock'],
  ['clock without setTimeout', { clock: { now: () => 0, clearTimeout: () => {} } }, 'clock'],
  ['environment without subscribe', { environment: { isOnline: () => true } }, 'environment'],
  ['WebSocket not a constructor', { WebSocket: 'ws' }, 'WebSocket'],
  ['protocol not an adapter', { protocol: 42 }, 'protocol'],
  ['protocol without its methods (the first is named)', { protocol: {} }, 'protocol.subprotocols'],
  ['protocols with an empty entry', { protocols: [''] }, 'protocols'],
  ['protocols not an array', { protocols: 'graphql-transport-ws' }, 'protocols'],
  ['random not a function', { random: 0.5 }, 'random'],
  ['inspect not a function', { inspect: true }, 'inspect'],
  ['logger not an object', { logger: 'console' }, 'logger'],
  ['closeWhenHidden not a boolean', { closeWhenHidden: 'yes' }, 'closeWhenHidden'],
  ['name empty', { name: '' }, 'name'],
  ['url an empty array', { url: [] }, 'url'],
  ['url a list with a hole', { url: Object.assign(new Array(2), { 1: URL }) }, 'url[0]'],
  ['clock without clearTimeout', { clock: { now: () => 0, setTimeout: () => 0 } }, 'clock'],
  ['dialGate without request', { dialGate: {} }, 'dialGate'],
  ['persistence.store without delete', { persistence: { store: { load: async () => [], put: async () => {} } } }, 'persistence.store'],
  ['priority negative', { priority: -1 }, 'priority'],
  ['priority above 1000000', { priority: 1_000_001 }, 'priority'],
  ['failover.after 0', { url: [URL, 'ws://mock.test/backup'], failover: { after: 0 } }, 'failover.after'],
  ['failover.after above 1000', { url: [URL, 'ws://mock.test/backup'], failover: { after: 1_001 } }, 'failover.after'],
  ['failover.primaryRetryMs negative', { url: [URL, 'ws://mock.test/backup'], failover: { primaryRetryMs: -1 } }, 'failover.primaryRetryMs'],
  ['acks.timeoutMs 0', { acks: { timeoutMs: 0 } }, 'acks.timeoutMs'],
  ['acks.maxAttempts 0', { acks: { maxAttempts: 0 } }, 'acks.maxAttempts'],
  ['acks.maxAttempts above 1000', { acks: { maxAttempts: 1_001 } }, 'acks.maxAttempts'],
  ['circuit.failureThreshold above 1000', { circuit: { failureThreshold: 1_001 } }, 'circuit.failureThreshold'],
  ['reconnect.multiplier above 100', { reconnect: { multiplier: 101 } }, 'reconnect.multiplier'],
  ['circuit.recoveryMultiplier above 100', { circuit: { recoveryMultiplier: 101 } }, 'circuit.recoveryMultiplier'],
  ['rateLimit.connection without burst', { rateLimit: { connection: { perMinute: 60 } } }, 'rateLimit.connection.burst'],
  ['rateLimit.connection with an unknown key', { rateLimit: { connection: { perMinute: 60, burst: 1, refill: 2 } } }, 'rateLimit.connection.refill'],
  ['rateLimit.channels with an empty channel type', { rateLimit: { channels: { '': { perMinute: 60, burst: 1 } } } }, 'rateLimit.channels.'],
];

afterEach(() => {
  setDefaultWebSocket(undefined);
  vi.unstubAllGlobals();
});

describe('connection options', () => {
  it.each([...otherCases, ...numericCases])('rejects %s at creation, naming the option', (_description, overrides, option) => {
    const error = creationError(overrides);
    expect(error).toBeInstanceOf(InvalidOptionError);
    const invalid = error as InvalidOptionError;
    expect(invalid.option).toBe(option);
    expect(invalid.message).toContain(`\`${option}\``);
  });

  it('the error is a SocketchartError with code INVALID_OPTION, recovery fail and the option in its details', () => {
    const error = creationError({ url: 'http://nope' });
    expect(error).toBeInstanceOf(SocketchartError);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({
      name: 'SocketchartError',
      code: ErrorCode.INVALID_OPTION,
      recovery: 'fail',
      option: 'url',
      details: { option: 'url' },
    });
    expect((error as Error).message).toContain('http://nope');
  });

  it('rejects options that are not an object at all', () => {
    for (const input of [null, undefined, 'ws://mock.test', 42]) {
      expect(() => createConnection(input as unknown as ConnectionOptions)).toThrow(InvalidOptionError);
    }
  });

  it('names `options` when the options are not an object', () => {
    for (const input of [null, undefined, 'ws://mock.test', 42]) {
      expect(() => createConnection(input as unknown as ConnectionOptions), String(input)).toThrow(expect.objectContaining({ option: 'options' }));
    }
  });

  it('never leaks a token value into the error message of a bad auth.token', () => {
    const error = creationError({ auth: { token: { secret: 'hunter2' } } });
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('never shows the token given as `auth` itself (instead of `auth: { token }`) in the error', () => {
    const error = creationError({ auth: 'tok-SECRET-5f9c2e' });
    expect(error).toMatchObject({ option: 'auth' });
    expect(`${(error as Error).message} ${(error as InvalidOptionError).received}`).not.toContain('tok-SECRET');
  });

  it('creating a connection with bad options dials nothing and leaves no timer', () => {
    const watched = createMockServer();
    const timers = new SimulatedClock(0);
    expect(() =>
      createConnection({ url: URL, WebSocket: watched.WebSocket, clock: timers, environment: false, reconnect: { jitter: 2 } }),
    ).toThrow(InvalidOptionError);
    expect(watched.sockets).toHaveLength(0);
    expect(timers.pending).toBe(0);
  });

  it('refuses a reconnect.baseMs of 0: with the circuit off, every failed dial would be retried at once, for ever', () => {
    expect(creationError({ reconnect: { baseMs: 0 }, circuit: false })).toMatchObject({ option: 'reconnect.baseMs' });
  });

  it('accepts the boundary values of every range', () => {
    expect(
      creationError({
        reconnect: { baseMs: 1, capMs: 1, multiplier: 1, jitter: 0, minUptimeMs: 0, restartWindowMs: 0, tryLaterMs: 0 },
      }),
    ).toBeUndefined();
    expect(creationError({ reconnect: { jitter: 1, multiplier: 1.5 } })).toBeUndefined();
    expect(creationError({ circuit: { failureThreshold: 1, recoveryMs: 1, recoveryMultiplier: 1, maxRecoveryMs: 1 } })).toBeUndefined();
    expect(creationError({ heartbeat: { intervalMs: 1, timeoutMs: 1 } })).toBeUndefined();
    expect(creationError({ queue: { defaultTtlMs: 0, maxMessages: 1, maxBytes: 1, highWaterMark: 1 } })).toBeUndefined();
    expect(creationError({ auth: { token: 't', refreshLeadMs: 0, mode: 'query', queryParam: 'access_token' } })).toBeUndefined();
    expect(creationError({ heartbeat: false, circuit: false, environment: createManualEnvironment() })).toBeUndefined();
    expect(creationError({ url: 'WSS://mock.test/socket' })).toBeUndefined();
    expect(creationError({ url: () => URL })).toBeUndefined();
    expect(creationError({ auth: { token: async () => 'fresh' } })).toBeUndefined();
  });

  it('accepts the bounds of failover, acks, circuit, reconnect and priority, and byte counts beyond the longest timer', () => {
    expect(creationError({ url: [URL, 'ws://mock.test/backup'], failover: { after: 1, primaryRetryMs: 0 } })).toBeUndefined();
    expect(creationError({ url: [URL, 'ws://mock.test/backup'], failover: { after: 1_000 } })).toBeUndefined();
    expect(creationError({ acks: { timeoutMs: 1, maxAttempts: 1 } })).toBeUndefined();
    expect(creationError({ acks: { maxAttempts: 1_000 } })).toBeUndefined();
    expect(creationError({ circuit: { failureThreshold: 1_000, recoveryMultiplier: 100 } })).toBeUndefined();
    expect(creationError({ reconnect: { multiplier: 100 } })).toBeUndefined();
    for (const priority of [0, 0.5, 1_000_000]) expect(creationError({ priority }), String(priority)).toBeUndefined();
    const beyondTimers = 2 ** 32;
    expect(creationError({ maxMessageBytes: beyondTimers, maxInboundBytes: beyondTimers, queue: { maxBytes: beyondTimers, highWaterMark: beyondTimers } })).toBeUndefined();
  });

  it('accepts an inspection observer that has only one of next, error and complete', () => {
    for (const inspect of [{ next: () => {} }, { error: () => {} }, { complete: () => {} }]) expect(creationError({ inspect })).toBeUndefined();
  });

  it('says the range it expected: a whole number up to the longest timer for a delay, with no upper bound for a count of bytes, a number for a ratio', () => {
    expect(creationError({ connectTimeoutMs: 0 })).toMatchObject({ message: 'Invalid option `connectTimeoutMs`: expected an integer in [1, 2147483647], received 0' });
    expect(creationError({ maxMessageBytes: 0 })).toMatchObject({ message: 'Invalid option `maxMessageBytes`: expected an integer in [1, ∞], received 0' });
    expect(creationError({ reconnect: { jitter: 1.5 } })).toMatchObject({ message: 'Invalid option `reconnect.jitter`: expected a number in [0, 1], received 1.5' });
  });

  it('a bad url in a list of urls is named by its place, without the token its query carries', () => {
    const error = creationError({ url: [URL, 'http://mock.test/?token=s3cr3t-t0k3n'] });
    expect(error).toMatchObject({ option: 'url[1]' });
    expect((error as Error).message).not.toContain('s3cr3t-t0k3n');
  });

  it('resolves the documented defaults', () => {
    const resolved = resolveOptions({ url: URL, WebSocket: server.WebSocket });
    expect(resolved).toMatchObject({
      url: URL,
      name: 'mock.test/socket',
      WebSocket: server.WebSocket,
      protocols: [],
      auth: undefined,
      heartbeat: { intervalMs: 30_000, timeoutMs: 5_000 },
      reconnect: { baseMs: 1_000, capMs: 30_000, multiplier: 2, jitter: 0.5, minUptimeMs: 5_000, restartWindowMs: 2_000, tryLaterMs: 10_000 },
      circuit: { failureThreshold: 5, recoveryMs: 30_000, recoveryMultiplier: 2, maxRecoveryMs: 300_000 },
      queue: { maxMessages: 1_000, maxBytes: 1_048_576, overflow: 'evict-lowest', defaultTtlMs: 0, highWaterMark: 1_048_576 },
      connectTimeoutMs: 10_000,
      authTimeoutMs: 10_000,
      closeTimeoutMs: 2_000,
      maxMessageBytes: 65_536,
      maxInboundBytes: 1_048_576,
      closeWhenHidden: false,
      logger: undefined,
      inspect: undefined,
    });
    expect(resolved.protocol).toBe(jsonProtocol);
    expect(resolved.clock).toBe(systemClock);
    expect(resolved.random).toBe(Math.random);
    expect(resolved.environment).toBe(noEnvironment);
  });

  it('resolves auth defaults: message mode, the "token" query parameter, a 30 s refresh lead', () => {
    const resolved = resolveOptions({ url: URL, WebSocket: server.WebSocket, auth: { token: 'tkn' } });
    expect(resolved.auth).toEqual({ token: 'tkn', mode: 'message', queryParam: 'token', refreshLeadMs: 30_000 });
  });

  it('fills nested sections partially given and keeps derived bounds consistent', () => {
    const resolved = resolveOptions({
      url: URL,
      WebSocket: server.WebSocket,
      reconnect: { baseMs: 60_000 },
      circuit: { recoveryMs: 600_000 },
      heartbeat: { intervalMs: 10_000 },
      queue: { overflow: 'reject' },
    });
    expect(resolved.reconnect.capMs).toBe(60_000);
    expect(resolved.reconnect.multiplier).toBe(2);
    expect(resolved.circuit).toMatchObject({ recoveryMs: 600_000, maxRecoveryMs: 600_000, failureThreshold: 5 });
    expect(resolved.heartbeat).toEqual({ intervalMs: 10_000, timeoutMs: 5_000 });
    expect(resolved.queue).toMatchObject({ overflow: 'reject', maxMessages: 1_000 });
  });

  it('heartbeat: false and circuit: false resolve to false, environment: false to no environment', () => {
    const resolved = resolveOptions({ url: URL, WebSocket: server.WebSocket, heartbeat: false, circuit: false, environment: false });
    expect(resolved.heartbeat).toBe(false);
    expect(resolved.circuit).toBe(false);
    expect(resolved.environment).toBe(noEnvironment);
  });

  it('names the connection after the url host and path, "connection" for a url function, or the given name', () => {
    expect(resolveOptions({ url: 'wss://api.example.com:8443/live', WebSocket: server.WebSocket }).name).toBe('api.example.com:8443/live');
    expect(resolveOptions({ url: 'ws://api.example.com/', WebSocket: server.WebSocket }).name).toBe('api.example.com');
    expect(resolveOptions({ url: () => URL, WebSocket: server.WebSocket }).name).toBe('connection');
    expect(resolveOptions({ url: URL, WebSocket: server.WebSocket, name: 'feed' }).name).toBe('feed');
  });

  it('WebSocket defaults to the one set with setDefaultWebSocket, else globalThis.WebSocket, else throws naming WebSocket', () => {
    const other = createMockServer();
    vi.stubGlobal('WebSocket', other.WebSocket);
    expect(resolveOptions({ url: URL }).WebSocket).toBe(other.WebSocket);
    setDefaultWebSocket(server.WebSocket as WebSocketConstructor);
    expect(resolveOptions({ url: URL }).WebSocket).toBe(server.WebSocket);
    setDefaultWebSocket(undefined);
    vi.stubGlobal('WebSocket', undefined);
    expect(() => resolveOptions({ url: URL })).toThrow(expect.objectContaining({ option: 'WebSocket' }));
  });
});
