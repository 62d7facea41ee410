import { Metadata, type ServiceError } from '@grpc/grpc-js';

/** A promisified unary call on a ts-proto client (used for seeding, not for measuring). */
export function unary<Req, Res>(
  client: object,
  method: string,
  request: Req,
  token?: string,
): Promise<Res> {
  const md = new Metadata();
  if (token !== undefined) md.set('authorization', `Bearer ${token}`);
  const fn = (client as Record<string, unknown>)[method];
  if (typeof fn !== 'function') throw new Error(`no such method ${method}`);
  return new Promise((resolve, reject) => {
    fn.call(
      client,
      request,
      md,
      { deadline: Date.now() + 60_000 },
      (err: ServiceError | null, res: Res) => (err ? reject(err) : resolve(res)),
    );
  });
}

/** Runs `fn` over `items` with at most `parallel` in flight; results in input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  parallel: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
  return out;
}
