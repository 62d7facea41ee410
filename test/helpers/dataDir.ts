import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { relocatedClusterBase } from '../../src/storage/startEmbeddedPostgres.ts';

export interface DataDir {
  path: string;
  /** Removes the directory and, when running as root, its relocated embedded cluster. */
  remove(): Promise<void>;
}

/**
 * A fresh DATA_DIR for an embedded start. mkdtemp makes it 0700, which the postgres user (when
 * running as root) cannot traverse, so its cluster is relocated; `traversable` opens it up
 * (0755) to keep the cluster inside it.
 */
export async function createDataDir(options: { traversable?: boolean } = {}): Promise<DataDir> {
  const path = await mkdtemp(join(tmpdir(), 'gatehouse-data-'));
  if (options.traversable) await chmod(path, 0o755);
  return {
    path,
    async remove() {
      await rm(path, { recursive: true, force: true });
      await rm(relocatedClusterBase(path), { recursive: true, force: true });
    },
  };
}
