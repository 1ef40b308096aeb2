import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/cli/demo-args.js';
import { parseInspectArgs } from '../../../src/cli/inspect-args.js';

describe('socketchart inspect flags', () => {
  it('listens on loopback port 4242 unless told otherwise', () => {
    expect(parseInspectArgs([])).toEqual({ port: 4242, host: '127.0.0.1', exitWithParent: false });
  });

  it('reads --port and --host, with or without =', () => {
    expect(parseInspectArgs(['--port', '0', '--host=::1'])).toEqual({ port: 0, host: '::1', exitWithParent: false });
    expect(parseInspectArgs(['--port=5000', '--exit-with-parent'])).toEqual({ port: 5000, host: '127.0.0.1', exitWithParent: true });
    expect(parseInspectArgs(['-h'])).toBe('help');
  });

  it.each([
    [['--port', '70000'], /--port expects a whole number from 0 to 65535/],
    [['--port'], /--port expects/],
    [['--host', ''], /--host expects/],
    [['--open'], /unknown option/],
    [['--exit-with-parent=no'], /--exit-with-parent takes no value/],
    [['-h=1'], /-h takes no value/],
  ])('rejects %j with a usage error', (argv, message) => {
    expect(() => parseInspectArgs(argv)).toThrow(UsageError);
    expect(() => parseInspectArgs(argv)).toThrow(message);
  });
});
