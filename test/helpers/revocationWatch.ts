import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import type {
  AuthServiceClient,
  RevocationEvent,
  RevocationHeartbeat,
  WatchRevocationsResponse,
} from '../../src/gen/gatehouse/auth/v1/auth_service.ts';
import { eventually } from './eventually.ts';

/** An open WatchRevocations stream and everything it delivered so far. */
export interface RevocationWatch {
  messages: WatchRevocationsResponse[];
  events(): RevocationEvent[];
  heartbeats(): RevocationHeartbeat[];
  /** Settles when the stream ends: resolves on OK, rejects with the ServiceError otherwise. */
  ended: Promise<void>;
  /** Stops reading (the server's writes back up) / reads again. */
  pause(): void;
  resume(): void;
  cancel(): void;
  /** Waits until the stream delivered messages for which `done` holds; returns them. */
  until(done: (w: RevocationWatch) => boolean, what: string): Promise<WatchRevocationsResponse[]>;
}

/** Opens AuthService.WatchRevocations with `key` (a bearer credential, if any). */
export function watchRevocations(
  client: AuthServiceClient,
  key: string | undefined,
  afterCursor = '',
): RevocationWatch {
  const md = new Metadata();
  if (key !== undefined) md.set('authorization', `Bearer ${key}`);
  const stream = client.watchRevocations({ afterCursor }, md);
  const messages: WatchRevocationsResponse[] = [];
  stream.on('data', (m: WatchRevocationsResponse) => messages.push(m));
  const ended = new Promise<void>((resolve, reject) => {
    stream.on('error', (err: ServiceError) => reject(err));
    stream.on('status', (s: { code: number }) => {
      if (s.code === status.OK) resolve();
    });
  });
  ended.catch(() => {}); // observed by whoever awaits it
  const watch: RevocationWatch = {
    messages,
    events: () => messages.flatMap((m) => (m.kind?.$case === 'event' ? [m.kind.value] : [])),
    heartbeats: () =>
      messages.flatMap((m) => (m.kind?.$case === 'heartbeat' ? [m.kind.value] : [])),
    ended,
    pause: () => stream.pause(),
    resume: () => stream.resume(),
    cancel: () => stream.cancel(),
    until: (done, what) =>
      eventually(
        async () => [...messages],
        () => done(watch),
        { what },
      ),
  };
  return watch;
}
