import { createContextKey } from '@connectrpc/connect';

/** The connection's remote address, as the gRPC server's peer strings spell it. */
export const peerKey = createContextKey<string>('', { description: 'remote address' });

/** `1.2.3.4:5` or `[::1]:5`, what the client address resolver parses. */
export function peerOf(socket: { remoteAddress?: string; remotePort?: number }): string {
  const address = socket.remoteAddress ?? '';
  const port = socket.remotePort ?? 0;
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
