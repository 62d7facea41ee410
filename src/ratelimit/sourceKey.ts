import { isIPv6 } from 'node:net';

/** Expands an IPv6 address to its eight 16-bit groups (handles `::` and a trailing IPv4). */
function ipv6Groups(ip: string): number[] {
  let addr = ip.split('%')[0] ?? ip;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(addr);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    addr = `${addr.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = addr.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((g) => Number.parseInt(g, 16));
}

/**
 * The rate-limit identity of a client address: IPv4 as is, IPv6 grouped by its /64 (one
 * subscriber usually owns a whole /64, so per-address limits would be trivial to dodge).
 */
export function sourceKey(ip: string): string {
  if (!isIPv6(ip)) return ip;
  const groups = ipv6Groups(ip);
  const [, , , , , marker, hi = 0, lo = 0] = groups;
  if (groups.slice(0, 5).every((g) => g === 0) && marker === 0xffff) {
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}
