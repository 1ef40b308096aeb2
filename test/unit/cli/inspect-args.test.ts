import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/cli/demo-args.js';
import { parseInspectArgs } from '../../../src/cli/inspect-args.js';

describe('socketchart inspect flags', () => {
  it('listens on loopback port 4242 unless told otherwise', () => {
    expect(parseInspectArgs([])).toEqual({ port: 4242, host: '127.0.0.1', exitWithParent: false, portFlag: '--port', appOrigins: [] });
  });

  it('reads --port and --host, with or without =', () => {
    expect(parseInspectArgs(['--port', '0', '--host=::1'])).toMatchObject({ port: 0, host: '::1', exitWithParent: false });
    expect(parseInspectArgs(['--port=5000', '--exit-with-parent'])).toMatchObject({ port: 5000, host: '127.0.0.1', exitWithParent: true });
    expect(parseInspectArgs(['-h'])).toBe('help');
  });

  it('run by the demo, reads the flag to name when the port is taken (--port-flag=--inspect=<port>)', () => {
    expect(parseInspectArgs(['--port=4242', '--exit-with-parent', '--port-flag=--inspect=<port>'])).toMatchObject({ port: 4242, portFlag: '--inspect=<port>' });
  });

  it('reads --app-origin, repeated, and * for any page', () => {
    expect(parseInspectArgs(['--app-origin', 'https://app.test:5173', '--app-origin=http://LAN.test'])).toMatchObject({ appOrigins: ['https://app.test:5173', 'http://LAN.test'] });
    expect(parseInspectArgs(['--app-origin', 'https://app.test', '--app-origin=*'])).toMatchObject({ appOrigins: '*' });
  });

  it('refuses a flag it does not know by its name only, and an argument that is not a flag by its position only', () => {
    expect(() => parseInspectArgs(['--open=hunter2pw'])).toThrow(new UsageError('unknown option "--open"'));
    expect(() => parseInspectArgs(['--port', '0', 'hunter2pw'])).toThrow(new UsageError('unexpected argument #3'));
  });

  it('refuses an --app-origin or --host holding a password without repeating it (a page behind basic auth, a Redis URL)', () => {
    for (const argv of [['--app-origin', 'https://preview:hunter2pw@staging.app.test'], ['--app-origin', 'https://app.test/?token=hunter2pw'], ['--host', 'redis://:hunter2pw@cache.example:6379']]) {
      expect(() => parseInspectArgs(argv)).toThrow(UsageError);
      expect(() => parseInspectArgs(argv)).toThrow(/, got a value that may hold a password \(not repeated\)$/);
    }
  });

  it.each([
    [['--port', '70000'], /--port expects a whole number from 0 to 65535/],
    [['--port', '--exit-with-parent'], /--port expects a whole number from 0 to 65535, got nothing/],
    [['--port'], /--port expects/],
    [['--host', ''], /--host expects/],
    [['--open'], /unknown option/],
    [['--exit-with-parent=no'], /--exit-with-parent takes no value/],
    [['--port-flag', '--inspect'], /--port-flag expects a flag given with =/],
    [['-h=1'], /-h takes no value/],
    [['--app-origin', 'app.test:5173'], /--app-origin expects an origin such as https:\/\/app.test:5173, or '\*', got "app.test:5173"/],
    [['--app-origin'], /--app-origin expects/],
    [['--app-origin', 'https://app.test/chat'], /--app-origin expects/],
  ])('rejects %j with a usage error', (argv, message) => {
    expect(() => parseInspectArgs(argv)).toThrow(UsageError);
    expect(() => parseInspectArgs(argv)).toThrow(message);
  });
});
