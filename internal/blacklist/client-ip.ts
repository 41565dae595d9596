import { BlockList, isIP } from 'node:net';

// The client IP that IP bans and the registry see. It is the socket's peer address, unless that peer is one
// of the configured trusted proxies: then X-Forwarded-For is read from the right (each proxy appends the
// address it saw), skipping trusted hops, and the first untrusted address is the client. Everything to its
// left was written by the client itself and is never believed.

/**
 * One spelling per address, so that a ban on `2001:DB8::1` matches a peer reported as `2001:db8:0:0::1`, and an
 * IPv4 peer on a dual-stack listener (`::ffff:1.2.3.4`) matches a ban on `1.2.3.4`. Null when not an IP.
 */
export function canonicalIp(text: string): string | null {
  const value = text.trim();
  const version = isIP(value);
  if (version === 4) return value;
  if (version !== 6) return null;
  let host: string;
  try {
    // WHATWG URL serialises IPv6 the RFC 5952 way (lower case, longest zero run compressed).
    host = new URL(`http://[${value}]/`).hostname.slice(1, -1);
  } catch {
    return null; // a zone id (fe80::1%eth0) is valid for isIP but names no address across hosts
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (mapped) {
    const hi = parseInt(mapped[1] as string, 16);
    const lo = parseInt(mapped[2] as string, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return host;
}

/** `1.2.3.4`, `10.0.0.0/8`, `::1` or `fd00::/8`; null when the entry is neither an address nor a CIDR. */
export function parseIpRange(
  entry: string,
): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [address = '', bits, extra] = entry.trim().split('/');
  const ip = canonicalIp(address);
  if (ip === null || extra !== undefined) return null;
  const family = isIP(ip) === 4 ? 'ipv4' : 'ipv6';
  const max = family === 'ipv4' ? 32 : 128;
  if (bits === undefined) return { address: ip, prefix: max, family };
  const prefix = Number(bits);
  if (!/^\d{1,3}$/.test(bits) || prefix > max) return null;
  return { address: ip, prefix, family };
}

export class ClientIp {
  private readonly trusted: BlockList | null;

  /** `trustedProxies`: addresses or CIDRs; a bad entry throws naming `http.trustedProxies[i]`. */
  constructor(trustedProxies: readonly string[] = []) {
    if (trustedProxies.length === 0) {
      this.trusted = null;
      return;
    }
    const list = new BlockList();
    trustedProxies.forEach((entry, i) => {
      const range = parseIpRange(entry);
      if (!range)
        throw new RangeError(
          `http.trustedProxies[${i}]: not an IP address or CIDR: ${JSON.stringify(entry)}`,
        );
      list.addSubnet(range.address, range.prefix, range.family);
    });
    this.trusted = list;
  }

  /** The client address of a request that arrived from `peer` with these X-Forwarded-For header(s). */
  resolve(peer: string | undefined, forwardedFor: string | string[] | undefined): string {
    let ip = canonicalIp(peer ?? '') ?? peer ?? '';
    if (!this.isTrusted(ip) || forwardedFor === undefined) return ip;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = canonicalIp(stripPort(hops[i] as string));
      // Garbage can only come from the client's own part of the header: stop at the last address a trusted
      // proxy reported.
      if (hop === null) return ip;
      ip = hop;
      if (!this.isTrusted(hop)) return hop;
    }
    return ip; // every hop was a trusted proxy: the left-most is as close to the client as it gets
  }

  private isTrusted(ip: string): boolean {
    if (!this.trusted) return false;
    const version = isIP(ip);
    return version !== 0 && this.trusted.check(ip, version === 4 ? 'ipv4' : 'ipv6');
  }
}

/** Some proxies write `1.2.3.4:5678` or `[::1]:80`. */
function stripPort(hop: string): string {
  const value = hop.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(value);
  if (bracketed) return bracketed[1] as string;
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(value);
  return v4 ? (v4[1] as string) : value;
}
