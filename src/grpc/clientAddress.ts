import { BlockList, isIP } from 'node:net';

/** Resolves the client IP of a call, honouring forwarded-for headers only from trusted proxies. */
export type ClientAddressResolver = (peer: string, forwardedFor: string | undefined) => string;

/** Strips the port and brackets from a grpc-js peer string ("1.2.3.4:5", "[::1]:5", "ipv4:..."). */
function peerIp(peer: string): string {
  let p = peer.replace(/^ipv[46]:/, '');
  if (p.startsWith('[')) p = p.slice(1, p.indexOf(']'));
  else if (p.split(':').length === 2) p = p.slice(0, p.lastIndexOf(':'));
  return p.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
}

/**
 * Builds the resolver for TRUSTED_PROXIES (addresses or CIDRs). The forwarded chain is walked
 * from the right, skipping trusted hops, so a client cannot choose its own address by sending a
 * forged header: the first untrusted hop is the source.
 */
export function createClientAddressResolver(trustedProxies: string[]): ClientAddressResolver {
  const trusted = new BlockList();
  for (const entry of trustedProxies) {
    const [addr = '', bits] = entry.split('/');
    const family = isIP(addr) === 6 ? 'ipv6' : isIP(addr) === 4 ? 'ipv4' : undefined;
    if (family === undefined)
      throw new Error(`TRUSTED_PROXIES: not an IP address or CIDR: ${entry}`);
    if (bits === undefined) trusted.addAddress(addr, family);
    else trusted.addSubnet(addr, Number(bits), family);
  }
  const isTrusted = (ip: string) => {
    const family = isIP(ip);
    return family !== 0 && trusted.check(ip, family === 6 ? 'ipv6' : 'ipv4');
  };
  return (peer, forwardedFor) => {
    let ip = peerIp(peer);
    if (trustedProxies.length === 0 || !forwardedFor || !isTrusted(ip)) return ip;
    const hops = forwardedFor
      .split(',')
      .map((h) => peerIp(h.trim()))
      .filter((h) => isIP(h) !== 0);
    for (let i = hops.length - 1; i >= 0; i--) {
      ip = hops[i] as string;
      if (!isTrusted(ip)) return ip;
    }
    return ip;
  };
}
