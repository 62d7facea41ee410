/** A listener Gatehouse opens, named by the settings that choose it. */
export interface ListenTarget {
  /** The port variable, e.g. GRPC_PORT. */
  portSetting: string;
  /** The host variable, e.g. GRPC_HOST (null when the host is fixed, as for 127.0.0.1). */
  hostSetting: string | null;
  host: string;
  port: number;
}

/** The errno code of a listen failure, also when only its message carries it (grpc-js). */
function listenErrorCode(error: unknown): string | undefined {
  const e = error as { code?: unknown; message?: unknown } | null;
  if (e && typeof e.code === 'string') return e.code;
  const match = /\b(EADDRINUSE|EADDRNOTAVAIL|EACCES|ENOTFOUND|EAI_AGAIN)\b/.exec(
    String(e?.message),
  );
  return match?.[1];
}

/** One line naming the setting, the address and what to do; null for an unknown failure. */
export function describeListenError(error: unknown, target: ListenTarget): string | null {
  const { portSetting, hostSetting, host, port } = target;
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const hostName = hostSetting === null ? host : `${hostSetting}=${host}`;
  switch (listenErrorCode(error)) {
    case 'EADDRINUSE':
      return (
        `${portSetting} ${port} is already in use on ${host} (another Gatehouse, or another program, listens on ${address}): ` +
        `stop it, or set ${portSetting} to a free port${portSetting === 'EMBEDDED_POSTGRES_PORT' ? '' : ' (0 picks one)'}`
      );
    case 'EADDRNOTAVAIL':
      return `${hostName} is not an address of this machine: use 0.0.0.0 (all interfaces), 127.0.0.1, or one of this machine's addresses`;
    case 'EACCES':
      return `${portSetting} ${port} on ${host}: permission denied (ports below 1024 need privileges): use a port above 1023`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${hostName} does not resolve to an address: use an IP address or a resolvable name`;
    default:
      return null;
  }
}
