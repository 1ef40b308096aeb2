import { expect, it } from 'vitest';
import { explained } from '../../../src/cli/explained.js';

/** The error `listen` fails with, as Node makes it. */
const listenError = (code: string) => Object.assign(new Error(`listen ${code}`), { code });

it('tells to choose another --port for a port it cannot listen on, and another --host for an address it cannot listen on', () => {
  expect(explained(listenError('EADDRINUSE'), { port: 4242, host: '::1' })).toBe('cannot listen on [::1]:4242 (EADDRINUSE): choose another --port');
  expect(explained(listenError('EADDRNOTAVAIL'), { port: 4242, host: '192.0.2.1' })).toBe('cannot listen on 192.0.2.1 (EADDRNOTAVAIL): choose another --host');
  expect(explained(listenError('ENOTFOUND'), { port: 4242, host: 'no-such-host.invalid' })).toBe('cannot listen on no-such-host.invalid (ENOTFOUND): choose another --host');
});

it('names the flag it is told sets the port (the demo’s --inspect=<port>), not a --port the command does not have', () => {
  expect(explained(listenError('EADDRINUSE'), { port: 4242, host: '127.0.0.1', portFlag: '--inspect=<port>' })).toBe('cannot listen on 127.0.0.1:4242 (EADDRINUSE): choose another --inspect=<port>');
});
