/** A Redis Cluster to connect to: seed nodes (any subset of the cluster) and credentials. */
export interface RedisClusterAddress {
  nodes: { host: string; port: number }[];
  username: string | undefined;
  password: string | undefined;
  /** rediss+cluster://: TLS to every node. */
  tls: boolean;
}

export const REDIS_CLUSTER_URL_FORM =
  'redis+cluster://[user:password@]host1:port1,host2:port2,… (rediss+cluster:// for TLS)';

const CLUSTER_SCHEME = /^(rediss?)\+cluster:\/\//i;

/** True when `url` names a Redis Cluster (redis+cluster:// or rediss+cluster://). */
export function isRedisClusterUrl(url: string): boolean {
  return CLUSTER_SCHEME.test(url);
}

// A hostname or IPv4 address, or an IPv6 address in brackets; then an optional port.
const NODE = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9](?:[a-z0-9.-]*[a-z0-9])?))(?::(\d{1,5}))?$/i;

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new Error(`the ${what} is not percent-encoded correctly`);
  }
}

/**
 * Parses `redis+cluster://[user:password@]h1:7000,h2:7001` (port 6379 when left out). Throws an
 * Error whose message says what is wrong, without the password; the caller adds the variable.
 * No database number (a cluster has only db 0) and no query options.
 */
export function parseRedisClusterUrl(url: string): RedisClusterAddress {
  const scheme = CLUSTER_SCHEME.exec(url);
  if (scheme === null)
    throw new Error('the URL must start with redis+cluster:// or rediss+cluster://');
  let rest = url.slice(scheme[0].length);
  const at = rest.lastIndexOf('@');
  let username: string | undefined;
  let password: string | undefined;
  if (at >= 0) {
    const userInfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userInfo.indexOf(':');
    const user = colon >= 0 ? userInfo.slice(0, colon) : userInfo;
    username = user === '' ? undefined : decode(user, 'user name');
    if (colon >= 0) password = decode(userInfo.slice(colon + 1), 'password');
  }
  const end = rest.search(/[/?#]/);
  if (end >= 0) {
    const tail = rest.slice(end);
    if (tail !== '/') {
      throw new Error(
        'a cluster URL takes no database number, path or options after the node list',
      );
    }
    rest = rest.slice(0, end);
  }
  if (rest === '') throw new Error('no nodes in the URL');
  const nodes = rest.split(',').map((entry) => {
    const node = NODE.exec(entry.trim());
    if (node === null) throw new Error(`"${entry}" is not host:port`);
    const port = node[3] === undefined ? 6379 : Number(node[3]);
    if (port < 1 || port > 65535) throw new Error(`port ${node[3]} of "${entry}" is out of range`);
    return { host: node[1] ?? node[2] ?? '', port };
  });
  return { nodes, username, password, tls: scheme[1]?.toLowerCase() === 'rediss' };
}
