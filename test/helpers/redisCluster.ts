import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { eventually } from './eventually.ts';
import { freePort } from './redisServer.ts';

const run = promisify(execFile);

/** One redis-server of the cluster. */
export interface ClusterNode {
  port: number;
  process: ChildProcess;
  exited: Promise<void>;
}

/** What `cluster nodes` says about one node. */
export interface NodeView {
  id: string;
  port: number;
  role: 'master' | 'replica';
  /** The master's id, for a replica. */
  masterId: string | undefined;
  failed: boolean;
  slots: [number, number][];
}

/** True when every program the cluster needs is on PATH. */
export async function haveRedisServer(): Promise<boolean> {
  try {
    await run('redis-server', ['--version']);
    await run('redis-cli', ['--version']);
    return true;
  } catch {
    return false;
  }
}

/** `redis-cli -p port args...`, its output trimmed; throws on a non-zero exit. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args]);
  return stdout.trim();
}

/** The same, resolving to null instead of throwing (a node that is down). */
async function tryCli(port: number, ...args: string[]): Promise<string | null> {
  try {
    return await redisCli(port, ...args);
  } catch {
    return null;
  }
}

/**
 * A private Redis Cluster of `masters` masters with one replica each, on free ports in a temp
 * directory (node timeout `nodeTimeoutMs`, no persistence), created with
 * `redis-cli --cluster create` and ready (cluster_state:ok on every node, every node seeing every
 * other) when `start` resolves.
 */
export class RedisCluster {
  readonly nodes: ClusterNode[] = [];
  #dir = '';
  readonly nodeTimeoutMs: number;
  constructor(nodeTimeoutMs: number) {
    this.nodeTimeoutMs = nodeTimeoutMs;
  }

  static async start(masters = 3, nodeTimeoutMs = 2000): Promise<RedisCluster> {
    const cluster = new RedisCluster(nodeTimeoutMs);
    try {
      await cluster.#start(masters * 2, masters);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  async #start(count: number, masters: number): Promise<void> {
    this.#dir = await mkdtemp(join(tmpdir(), 'gatehouse-cluster-'));
    for (let i = 0; i < count; i++) {
      // The bus port gets its own free port: port + 10000 may be taken or beyond 65535.
      const [port, busPort] = [await freePort(), await freePort()];
      const child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--cluster-port',
          String(busPort),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(this.#dir, `nodes-${port}.conf`),
          '--cluster-node-timeout',
          String(this.nodeTimeoutMs),
          '--dir',
          this.#dir,
          '--save',
          '',
          '--appendonly',
          'no',
          // A replica syncs at once instead of after the default 5 s batching delay: a replica
          // that never synced cannot be promoted.
          '--repl-diskless-sync-delay',
          '0',
        ],
        { stdio: 'ignore' },
      );
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      this.nodes.push({ port, process: child, exited });
    }
    for (const node of this.nodes) {
      await eventually(
        () => tryCli(node.port, 'ping'),
        (r) => r === 'PONG',
        { what: `redis-server on ${node.port} answering` },
      );
    }
    await run('redis-cli', [
      '--cluster',
      'create',
      ...this.nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas',
      String(count / masters - 1),
      '--cluster-yes',
    ]);
    await this.waitHealthy();
  }

  /** Seed URL for Gatehouse: every node, as redis+cluster://. */
  get url(): string {
    return `redis+cluster://${this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
  }

  /** The nodes still running. */
  get running(): ClusterNode[] {
    return this.nodes.filter((n) => n.process.exitCode === null && n.process.signalCode === null);
  }

  /** `cluster nodes` as seen by the node on `port`. */
  async view(port: number): Promise<NodeView[]> {
    const text = await redisCli(port, 'cluster', 'nodes');
    return text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((line) => {
        const [id = '', address = '', flags = '', master = '', , , , , ...slots] = line.split(' ');
        return {
          id,
          port: Number(address.split('@')[0]?.split(':')[1]),
          role: flags.includes('master') ? 'master' : 'replica',
          masterId: master === '-' ? undefined : master,
          failed: /fail/.test(flags),
          slots: slots
            .filter((s) => !s.startsWith('['))
            .map((s) => {
              const [from, to = from] = s.split('-');
              return [Number(from), Number(to)] as [number, number];
            }),
        };
      });
  }

  /**
   * Waits until every running node reports cluster_state:ok, sees every running node and agrees
   * on which node is master of each slot, and every replica is in sync with its master.
   */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    await eventually(
      async () => {
        const states: string[] = [];
        const masterSets = new Set<string>();
        for (const node of this.running) {
          const info = (await tryCli(node.port, 'cluster', 'info')) ?? '';
          states.push(/cluster_state:(\w+)/.exec(info)?.[1] ?? 'down');
          const view = await this.view(node.port).catch(() => []);
          const live = view.filter((v) => !v.failed);
          if (live.length < this.running.length) states.push(`${node.port} sees ${live.length}`);
          masterSets.add(
            live
              .filter((v) => v.role === 'master' && v.slots.length > 0)
              .map((v) => `${v.port}:${JSON.stringify(v.slots)}`)
              .sort()
              .join(';'),
          );
        }
        const replicas = new Set(
          (await this.view(this.running[0]?.port ?? 0).catch(() => []))
            .filter((v) => v.role === 'replica' && !v.failed)
            .map((v) => v.port),
        );
        for (const port of replicas) {
          const info = (await tryCli(port, 'info', 'replication')) ?? '';
          if (!/master_link_status:up/.test(info)) states.push(`replica ${port} not in sync`);
        }
        return { states, agreeing: masterSets.size === 1 };
      },
      (s) => s.agreeing && s.states.every((x) => x === 'ok'),
      { timeoutMs, intervalMs: 100, what: 'every cluster node reporting cluster_state:ok' },
    );
  }

  /**
   * The port of the master serving `key`, and of its replica. Waits for the node's view to
   * show both: after a failover the demoted master is announced as the new master's replica a
   * little after the cluster is healthy again.
   */
  async ownerOf(key: string, timeoutMs = 30_000): Promise<{ master: number; replica: number }> {
    const port = this.running[0]?.port ?? 0;
    const slot = Number(await redisCli(port, 'cluster', 'keyslot', key));
    const found = await eventually(
      async () => {
        const view = await this.view(port);
        const master = view.find(
          (v) => v.role === 'master' && v.slots.some(([a, b]) => slot >= a && slot <= b),
        );
        const replica = view.find(
          (v) => v.role === 'replica' && !v.failed && v.masterId === master?.id,
        );
        return master && replica ? { master: master.port, replica: replica.port } : undefined;
      },
      (owner) => owner !== undefined,
      { timeoutMs, intervalMs: 100, what: `a master with a replica for slot ${slot}` },
    );
    if (found === undefined) throw new Error(`no master with a replica for slot ${slot}`);
    return found;
  }

  /** The node on `port`. */
  node(port: number): ClusterNode {
    const node = this.nodes.find((n) => n.port === port);
    if (!node) throw new Error(`no cluster node on ${port}`);
    return node;
  }

  /** Kills the node on `port` with SIGKILL (no shutdown, no last replication). */
  async kill(port: number): Promise<void> {
    const node = this.node(port);
    node.process.kill('SIGKILL');
    await node.exited;
  }

  /** Stops every node and removes the directory. */
  async stop(): Promise<void> {
    for (const node of this.nodes) {
      node.process.kill('SIGCONT');
      node.process.kill('SIGKILL');
    }
    await Promise.all(this.nodes.map((n) => n.exited));
    if (this.#dir !== '') await rm(this.#dir, { recursive: true, force: true });
  }
}
