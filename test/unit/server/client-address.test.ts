import { describe, expect, it } from 'vitest';
import { addressBudgetKey, addressRange, canonicalAddress, MAX_FORWARDED_HOPS, proxyRanges, TrustedProxies } from '../../../src/server/client-address.js';

const trusting = (...entries: string[]) => new TrustedProxies(entries);

describe('the client address behind trusted proxies (X-Forwarded-For)', () => {
  it('is the socket’s address, X-Forwarded-For ignored, when no proxy is trusted', () => {
    const none = trusting();
    expect(none.clientAddress('10.0.0.2', '203.0.113.7')).toBe('10.0.0.2');
    expect(none.clientAddress('::ffff:10.0.0.2', '203.0.113.7'), 'the socket’s address as it is').toBe('::ffff:10.0.0.2');
    expect(none.clientAddress(undefined, '203.0.113.7')).toBeUndefined();
  });

  it('ignores the X-Forwarded-For of a socket that is not a trusted proxy: a client cannot choose its address', () => {
    const proxies = trusting('10.0.0.0/8');
    expect(proxies.clientAddress('198.51.100.9', '203.0.113.7')).toBe('198.51.100.9');
    expect(proxies.clientAddress('198.51.100.9', '10.0.0.1')).toBe('198.51.100.9');
  });

  it('reads the client from the right of X-Forwarded-For, skipping trusted hops, and no further: what a client wrote left of it is not believed', () => {
    const proxies = trusting('10.0.0.0/8', '192.0.2.10');
    expect(proxies.clientAddress('10.0.0.2', '203.0.113.7')).toBe('203.0.113.7');
    expect(proxies.clientAddress('10.0.0.2', '203.0.113.7, 192.0.2.10, 10.1.2.3')).toBe('203.0.113.7');
    expect(proxies.clientAddress('10.0.0.2', 'spoofed-by-client, 198.51.100.1, 203.0.113.7')).toBe('203.0.113.7');
    expect(proxies.clientAddress('10.0.0.2', '198.51.100.1,203.0.113.7 ,\t10.9.9.9')).toBe('203.0.113.7');
  });

  it('is the trusted proxy itself when it forwarded no X-Forwarded-For (a health check, a direct connection)', () => {
    expect(trusting('10.0.0.0/8').clientAddress('10.0.0.2', undefined)).toBe('10.0.0.2');
    expect(trusting('10.0.0.0/8').clientAddress('10.0.0.2', [])).toBe('10.0.0.2');
  });

  it('is the leftmost hop when every hop is trusted', () => {
    expect(trusting('10.0.0.0/8').clientAddress('10.0.0.2', '10.4.4.4, 10.3.3.3')).toBe('10.4.4.4');
  });

  it('stops at a hop that is not an IP address and takes the last trusted one, never an unparsable or spoofed value', () => {
    const proxies = trusting('10.0.0.0/8');
    for (const malformed of ['unknown', '203.0.113.7:51234', '[2001:db8::1]', '', '203.0.113.07', 'for=203.0.113.7', '_hidden', '2001:db8::1/64']) {
      expect(proxies.clientAddress('10.0.0.2', `198.51.100.1, ${malformed}`), malformed).toBe('10.0.0.2');
      expect(proxies.clientAddress('10.0.0.2', `198.51.100.1, ${malformed}, 10.7.7.7`), malformed).toBe('10.7.7.7');
    }
    expect(proxies.clientAddress('10.0.0.2', '203.0.113.7,'), 'an empty hop').toBe('10.0.0.2');
    expect(proxies.clientAddress('10.0.0.2', ',10.7.7.7'), 'an empty leftmost hop').toBe('10.7.7.7');
  });

  it('reads every X-Forwarded-For header line, in order, each a comma list', () => {
    const proxies = trusting('10.0.0.0/8');
    expect(proxies.clientAddress('10.0.0.2', ['198.51.100.1', '203.0.113.7, 10.1.1.1', '10.2.2.2'])).toBe('203.0.113.7');
    expect(proxies.clientAddress('10.0.0.2', ['198.51.100.1', '10.1.1.1, 10.2.2.2'])).toBe('198.51.100.1');
    expect(proxies.clientAddress('10.0.0.2', ['10.9.9.9', '10.1.1.1'])).toBe('10.9.9.9');
  });

  it('matches IPv6 proxies and ranges in any spelling, and names the client by its canonical address', () => {
    const proxies = trusting('2001:db8:a::/48', '::1');
    expect(proxies.clientAddress('0:0:0:0:0:0:0:1', '2001:DB8:0:0::0:7')).toBe('2001:db8::7');
    expect(proxies.clientAddress('2001:DB8:A:1::2', '2001:db8:b::9, 2001:db8:a:ffff::1')).toBe('2001:db8:b::9');
    expect(proxies.clientAddress('2001:db8:b::1', '203.0.113.7')).toBe('2001:db8:b::1');
  });

  it('treats IPv4-mapped IPv6 addresses as IPv4: the socket’s, the hops and the trusted entries', () => {
    expect(trusting('127.0.0.1').clientAddress('::ffff:127.0.0.1', '::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(trusting('::ffff:10.0.0.0/104').clientAddress('10.1.2.3', '::FFFF:cb00:7107, 10.2.2.2')).toBe('203.0.113.7');
    expect(trusting('::ffff:127.0.0.1').clientAddress('127.0.0.1', '203.0.113.7')).toBe('203.0.113.7');
  });

  it(`looks at no more than the last ${MAX_FORWARDED_HOPS} hops of a huge header: the leftmost of those when all are trusted`, () => {
    const proxies = trusting('10.0.0.0/8');
    const hops = Array.from({ length: 5000 }, (_, i) => `10.0.${Math.floor(i / 250)}.${i % 250}`);
    expect(proxies.clientAddress('10.0.0.2', `203.0.113.7, ${hops.join(', ')}`)).toBe(hops.at(-MAX_FORWARDED_HOPS));
    const read: number[] = [];
    const lines = new Proxy(['203.0.113.7', ...hops], {
      get: (target, key, receiver) => {
        if (typeof key === 'string' && /^\d+$/.test(key)) read.push(Number(key));
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    expect(proxies.clientAddress('10.0.0.2', lines)).toBe(hops.at(-MAX_FORWARDED_HOPS));
    expect(read.length, 'header lines read').toBeLessThanOrEqual(MAX_FORWARDED_HOPS);
  });
});

describe('the client address behind trusted proxies (RFC 7239 Forwarded)', () => {
  const proxies = new TrustedProxies(['10.0.0.0/8', '2001:db8:a::/48'], 'forwarded');

  it('reads the for= of each element from the right, skipping trusted hops, as with X-Forwarded-For', () => {
    expect(proxies.clientAddress('10.0.0.2', 'for=203.0.113.7')).toBe('203.0.113.7');
    expect(proxies.clientAddress('10.0.0.2', 'for=198.51.100.1, for=203.0.113.7;proto=https;by=10.0.0.2, for=10.1.1.1')).toBe('203.0.113.7');
    expect(proxies.clientAddress('10.0.0.2', ['for=198.51.100.1', 'for=10.1.1.1'])).toBe('198.51.100.1');
    expect(proxies.clientAddress('10.0.0.2', 'proto=https; FOR = 203.0.113.7 ;host=example.com')).toBe('203.0.113.7');
  });

  it('takes quoted nodes with ports, IPv6 in brackets, and obfuscated ports', () => {
    expect(proxies.clientAddress('10.0.0.2', 'for="203.0.113.7:47011"')).toBe('203.0.113.7');
    expect(proxies.clientAddress('10.0.0.2', 'for="[2001:DB8:CAFE::17]:4711"')).toBe('2001:db8:cafe::17');
    expect(proxies.clientAddress('10.0.0.2', 'for="[2001:db8:cafe::17]"')).toBe('2001:db8:cafe::17');
    expect(proxies.clientAddress('10.0.0.2', 'for="[::ffff:203.0.113.7]:_port-1"')).toBe('203.0.113.7');
    expect(proxies.clientAddress('2001:db8:a::1', 'for="[2001:db8:b::9]", for="[2001:db8:a:1::2]"')).toBe('2001:db8:b::9');
  });

  it('stops at an element that names no address and takes the last trusted one', () => {
    for (const element of ['for=unknown', 'for=_hidden', 'proto=https', 'for=2001:db8::1', 'for="203.0.113.7', 'for=[2001:db8::1]x', 'for="example.com"', 'for=', 'for="203.0.113.7:"', 'for="203.0.113.7:80', 'for=203.0.113.7"', 'for="203.0.113.7:123456"', '']) {
      expect(proxies.clientAddress('10.0.0.2', `for=198.51.100.1, ${element}`), element).toBe('10.0.0.2');
      expect(proxies.clientAddress('10.0.0.2', `for=198.51.100.1, ${element}, for=10.7.7.7`), element).toBe('10.7.7.7');
    }
  });

  it('ignores X-Forwarded-For spelling in Forwarded, and Forwarded from a socket that is no trusted proxy', () => {
    expect(proxies.clientAddress('10.0.0.2', '203.0.113.7')).toBe('10.0.0.2');
    expect(proxies.clientAddress('198.51.100.9', 'for=203.0.113.7')).toBe('198.51.100.9');
  });
});

describe('trusted proxy entries', () => {
  it('takes IPv4 and IPv6 addresses and CIDR ranges, an IPv4-mapped one as IPv4', () => {
    expect(addressRange('192.0.2.10')).toEqual({ address: '192.0.2.10', prefix: 32, family: 'ipv4' });
    expect(addressRange('10.0.0.0/8')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(addressRange('0.0.0.0/0')).toEqual({ address: '0.0.0.0', prefix: 0, family: 'ipv4' });
    expect(addressRange('2001:DB8::/32')).toEqual({ address: '2001:db8::', prefix: 32, family: 'ipv6' });
    expect(addressRange('::1')).toEqual({ address: '::1', prefix: 128, family: 'ipv6' });
    expect(addressRange('::ffff:10.0.0.0/104')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
  });

  it('refuses anything else: a host name, a prefix out of range or not a number, a port, a mapped range wider than IPv4', () => {
    for (const entry of ['localhost', '', '10.0.0.0/33', '10.0.0.0/-1', '10.0.0.0/', '10.0.0.0/8/8', '10.0.0.0/08', '10.0.0.0/ 8', '::/129', '10.0.0.1:80', '[::1]', ' 10.0.0.1', '::ffff:10.0.0.0/95', '10.0.0.0/8.0']) {
      expect(addressRange(entry), JSON.stringify(entry)).toBeUndefined();
    }
  });

  it('takes the named ranges loopback, linklocal and uniquelocal, in both families', () => {
    expect(proxyRanges('loopback')).toEqual([
      { address: '127.0.0.0', prefix: 8, family: 'ipv4' },
      { address: '::1', prefix: 128, family: 'ipv6' },
    ]);
    const trusts = (entry: string, address: string) => new TrustedProxies([entry]).clientAddress(address, '203.0.113.7') === '203.0.113.7';
    for (const address of ['127.0.0.1', '127.255.0.9', '::1', '::ffff:127.0.0.1']) expect(trusts('loopback', address), address).toBe(true);
    for (const address of ['169.254.1.1', 'fe80::1', 'febf::1']) expect(trusts('linklocal', address), address).toBe(true);
    for (const address of ['10.9.9.9', '172.16.0.1', '172.31.255.255', '192.168.1.1', 'fc00::1', 'fdff::1']) expect(trusts('uniquelocal', address), address).toBe(true);
    for (const [entry, address] of [['loopback', '128.0.0.1'], ['loopback', '::2'], ['linklocal', 'fec0::1'], ['uniquelocal', '172.32.0.1'], ['uniquelocal', '172.15.255.255'], ['uniquelocal', '192.169.0.1'], ['uniquelocal', 'fe00::1'], ['uniquelocal', '127.0.0.1']] as const) {
      expect(trusts(entry, address), `${entry} ${address}`).toBe(false);
    }
    expect(proxyRanges('Loopback'), 'names are exact').toBeUndefined();
    expect(proxyRanges('toString'), 'nothing inherited is a name').toBeUndefined();
    expect(proxyRanges('10.0.0.0/8')).toEqual([{ address: '10.0.0.0', prefix: 8, family: 'ipv4' }]);
  });

  it('writes an address canonically: IPv6 in lower case and compressed, IPv4-mapped as IPv4; anything else is no address', () => {
    expect(canonicalAddress('2001:0DB8:0000::0001')).toBe('2001:db8::1');
    expect(canonicalAddress('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(canonicalAddress('203.0.113.7')).toBe('203.0.113.7');
    for (const text of ['example.com', '203.0.113.7 ', '1.2.3', '::ffff:1.2.3.256']) expect(canonicalAddress(text), text).toBeUndefined();
  });
});

describe('the key of a client in per-address budgets', () => {
  it('is an IPv4 address itself, whatever the IPv6 prefix', () => {
    expect(addressBudgetKey('203.0.113.7', 64)).toBe('203.0.113.7');
    expect(addressBudgetKey('::ffff:203.0.113.7', 64), 'IPv4-mapped').toBe('203.0.113.7');
  });

  it('is the network of an IPv6 address, its first ipv6Prefix bits, in any spelling', () => {
    expect(addressBudgetKey('2001:db8:1:2::a1', 64)).toBe('2001:db8:1:2::/64');
    expect(addressBudgetKey('2001:DB8:1:2:ffff:ffff:ffff:ffff', 64)).toBe('2001:db8:1:2::/64');
    expect(addressBudgetKey('2001:db8:1:2::a1', 56)).toBe('2001:db8:1::/56');
    expect(addressBudgetKey('2001:db8:1:ff::1', 60)).toBe('2001:db8:1:f0::/60');
    expect(addressBudgetKey('2001:db8:1:2:8000::1', 65)).toBe('2001:db8:1:2:8000::/65');
    expect(addressBudgetKey('2001:db8:1:2:7fff::1', 65)).toBe('2001:db8:1:2::/65');
    expect(addressBudgetKey('fe80::1', 0)).toBe('::/0');
    expect(addressBudgetKey('::1.2.3.4', 112), 'an IPv4-compatible tail').toBe('::1.2.0.0/112');
  });

  it('is the IPv6 address itself with a prefix of 128', () => {
    expect(addressBudgetKey('2001:db8:1:2::a1', 128)).toBe('2001:db8:1:2::a1');
    expect(addressBudgetKey('2001:DB8:0::A1', 128)).toBe('2001:db8::a1');
  });

  it('is what it was given when that is no address', () => {
    expect(addressBudgetKey('', 64)).toBe('');
    expect(addressBudgetKey('unix-socket', 64)).toBe('unix-socket');
  });
});
