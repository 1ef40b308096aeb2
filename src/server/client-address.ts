import { BlockList, isIP, SocketAddress } from 'node:net';

/** Hops of `X-Forwarded-For` looked at, from the right: a longer header costs no more. */
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

/** The hops of `X-Forwarded-For` (every header line, each a comma list), from the right, at most `MAX_FORWARDED_HOPS`. */
function* hopsFromRight(forwardedFor: string | readonly string[] | undefined): Generator<string> {
  const lines = forwardedFor === undefined ? [] : typeof forwardedFor === 'string' ? [forwardedFor] : forwardedFor;
  let left = MAX_FORWARDED_HOPS;
  for (let index = lines.length - 1; index >= 0 && left > 0; index--) {
    const line = lines[index]!;
    for (let end = line.length, comma = 0; comma >= 0 && left > 0; end = comma, left--) {
      comma = end === 0 ? -1 : line.lastIndexOf(',', end - 1);
      yield line.slice(comma + 1, end).trim();
    }
  }
}

/** The proxies (`trustedProxies`) whose `X-Forwarded-For` names the client. */
export class TrustedProxies {
  private readonly ranges = new BlockList();
  private readonly none: boolean;

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const range = addressRange(entry);
      if (range) this.ranges.addSubnet(range.address, range.prefix, range.family);
    }
    this.none = entries.length === 0;
  }

  /**
   * The client's address: the socket's, unless it is a trusted proxy; then the first untrusted hop of
   * `forwardedFor` from the right (the leftmost when all are trusted), or the last trusted one when a hop is
   * no IP address.
   */
  clientAddress(remoteAddress: string | undefined, forwardedFor: string | readonly string[] | undefined): string | undefined {
    if (this.none || remoteAddress === undefined) return remoteAddress;
    let client = canonicalAddress(remoteAddress);
    if (client === undefined || !this.trusts(client)) return client ?? remoteAddress;
    for (const hop of hopsFromRight(forwardedFor)) {
      const address = canonicalAddress(hop);
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
