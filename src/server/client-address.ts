import { BlockList, isIP, SocketAddress } from 'node:net';

/** The header a trusted proxy names the client in: `X-Forwarded-For`, or RFC 7239 `Forwarded` (its `for=`). */
export type ForwardedHeader = 'x-forwarded-for' | 'forwarded';

/** Hops of the forwarding header looked at, from the right: a longer header costs no more. */
export const MAX_FORWARDED_HOPS = 32;

const MAPPED_IPV4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/;
const PREFIX = /^(?:0|[1-9]\d{0,2})$/;

/** `text` written canonically (IPv6 compressed and in lower case, IPv4-mapped IPv6 as IPv4), or undefined if it is no IP address. */
export function canonicalAddress(text: string): string | undefined {
  const family = isIP(text);
  if (family === 0) return undefined;
  if (family === 4) return text;
  const address = new SocketAddress({ address: text, family: 'ipv6' }).address;
  return MAPPED_IPV4.exec(address)?.[1] ?? address;
}

/** The 16-bit groups of a canonical IPv6 address. */
function ipv6Groups(address: string): number[] {
  const [head = '', tail] = address.split('::');
  const part = (text: string) =>
    text === ''
      ? []
      : text.split(':').flatMap((group) => {
          if (!group.includes('.')) return [parseInt(group, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const left = part(head);
  const right = tail === undefined ? [] : part(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/**
 * The key of `address` in per-address budgets: an IPv4 address itself; an IPv6 address as its network of
 * `ipv6Prefix` bits (`2001:db8:1:2::/64`), since one host or home is given a whole network to pick addresses from.
 */
export function addressBudgetKey(address: string, ipv6Prefix: number): string {
  const canonical = canonicalAddress(address);
  if (canonical === undefined || ipv6Prefix >= 128 || isIP(canonical) !== 6) return canonical ?? address;
  const groups = ipv6Groups(canonical).map((group, index) => {
    const kept = Math.min(16, Math.max(0, ipv6Prefix - 16 * index));
    return (group & (0xffff << (16 - kept))).toString(16);
  });
  return `${canonicalAddress(groups.join(':'))!}/${ipv6Prefix}`;
}

export interface AddressRange {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** The range `entry` names (an IP address, or `address/prefix`), an IPv4-mapped one as IPv4; undefined if it names none. */
export function addressRange(entry: string): AddressRange | undefined {
  const [text = '', prefixText, ...rest] = entry.split('/');
  const address = canonicalAddress(text);
  if (address === undefined || rest.length > 0 || (prefixText !== undefined && !PREFIX.test(prefixText))) return undefined;
  const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
  const bits = family === 'ipv4' ? 32 : 128;
  const mappedBits = isIP(text) === 6 && family === 'ipv4' ? 96 : 0;
  const prefix = prefixText === undefined ? bits : Number(prefixText) - mappedBits;
  return prefix >= 0 && prefix <= bits ? { address, prefix, family } : undefined;
}

/** Named ranges a `trustedProxies` entry may give, as proxies on the same host or private network are. */
const NAMED_RANGES: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.0/8', '::1'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/** The ranges a `trustedProxies` entry names: an address, a CIDR range, or `loopback`, `linklocal`, `uniquelocal`; undefined if none. */
export function proxyRanges(entry: string): AddressRange[] | undefined {
  const named = Object.hasOwn(NAMED_RANGES, entry) ? NAMED_RANGES[entry]! : [entry];
  const ranges = named.map((range) => addressRange(range));
  return ranges.every((range) => range !== undefined) ? ranges : undefined;
}

const FORWARDED_NODE = /^(?:\[([^\]]*)\]|(\d{1,3}(?:\.\d{1,3}){3}))(?::(?:\d{1,5}|_[\w.-]+))?$/;

/** The address the `for=` of a `Forwarded` element names (`192.0.2.1`, `"[2001:db8::1]:4711"`), or '' when it names none. */
function forwardedFor(element: string): string {
  for (const pair of element.split(';')) {
    const equals = pair.indexOf('=');
    if (equals < 0 || pair.slice(0, equals).trim().toLowerCase() !== 'for') continue;
    const value = pair.slice(equals + 1).trim();
    const node = FORWARDED_NODE.exec(value.length > 1 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value);
    return node?.[1] ?? node?.[2] ?? '';
  }
  return '';
}

/** The hops of a forwarding header (every header line, each a comma list), from the right, at most `MAX_FORWARDED_HOPS`. */
function* hopsFromRight(forwarded: string | readonly string[] | undefined): Generator<string> {
  const lines = forwarded === undefined ? [] : typeof forwarded === 'string' ? [forwarded] : forwarded;
  let left = MAX_FORWARDED_HOPS;
  for (let index = lines.length - 1; index >= 0 && left > 0; index--) {
    const line = lines[index]!;
    for (let end = line.length, comma = 0; comma >= 0 && left > 0; end = comma, left--) {
      comma = end === 0 ? -1 : line.lastIndexOf(',', end - 1);
      yield line.slice(comma + 1, end).trim();
    }
  }
}

/** The proxies (`trustedProxies`) whose forwarding header (`forwardedHeader`) names the client. */
export class TrustedProxies {
  private readonly ranges = new BlockList();
  private readonly none: boolean;

  constructor(
    entries: readonly string[],
    /** The request header the proxies name the client in. */
    readonly header: ForwardedHeader = 'x-forwarded-for',
  ) {
    for (const range of entries.flatMap((entry) => proxyRanges(entry) ?? [])) this.ranges.addSubnet(range.address, range.prefix, range.family);
    this.none = entries.length === 0;
  }

  /**
   * The client's address: the socket's, unless it is a trusted proxy; then the first untrusted hop of
   * `forwarded` (the value of `header`) from the right (the leftmost when all are trusted), or the last trusted
   * one when a hop is no IP address.
   */
  clientAddress(remoteAddress: string | undefined, forwarded: string | readonly string[] | undefined): string | undefined {
    if (this.none || remoteAddress === undefined) return remoteAddress;
    let client = canonicalAddress(remoteAddress);
    if (client === undefined || !this.trusts(client)) return client ?? remoteAddress;
    for (const hop of hopsFromRight(forwarded)) {
      const address = canonicalAddress(this.header === 'forwarded' ? forwardedFor(hop) : hop);
      if (address === undefined) break;
      client = address;
      if (!this.trusts(address)) break;
    }
    return client;
  }

  private trusts(address: string): boolean {
    return this.ranges.check(address, isIP(address) === 4 ? 'ipv4' : 'ipv6');
  }
}
