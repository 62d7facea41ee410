import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Config } from '../config.ts';
import { dataDirInUseProblems } from '../storage/startEmbeddedPostgres.ts';
import { describeListenError, type ListenTarget } from './describeListenError.ts';

/** Opens and closes a listener on the target; the problem line when that fails, else null. */
function listenProblem(target: ListenTarget): Promise<string | null> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', (error) =>
      done(
        describeListenError(error, target) ??
          `${target.portSetting} ${target.port} on ${target.host}: ${error.message}`,
      ),
    );
    server.listen({ host: target.host, port: target.port, exclusive: true }, () =>
      server.close(() => done(null)),
    );
  });
}

/** The listeners this configuration opens (port 0 = any free port, never busy). */
function listenTargets(config: Config): ListenTarget[] {
  const targets: ListenTarget[] = [
    {
      portSetting: 'GRPC_PORT',
      hostSetting: 'GRPC_HOST',
      host: config.grpc.host,
      port: config.grpc.port,
    },
    {
      portSetting: 'HTTP_PORT',
      hostSetting: 'HTTP_HOST',
      host: config.http.host,
      port: config.http.port,
    },
  ];
  if (config.connect) {
    targets.push({
      portSetting: 'CONNECT_PORT',
      hostSetting: 'CONNECT_HOST',
      host: config.connect.host,
      port: config.connect.port,
    });
  }
  if (config.database.url === undefined) {
    targets.push({
      portSetting: 'EMBEDDED_POSTGRES_PORT',
      hostSetting: null,
      host: '127.0.0.1',
      port: config.database.embeddedPort,
    });
  }
  return targets.filter((t) => t.port !== 0);
}

/**
 * What would stop this start, all at once and before anything is started: busy or unusable
 * ports, unreadable key and certificate files, a DATA_DIR held by another running instance.
 * One line per problem, each naming the setting and what to do.
 */
export async function findStartupProblems(config: Config): Promise<string[]> {
  const targets = listenTargets(config);
  const files: [string, string | undefined][] = [
    ['TLS_CERT_FILE', config.grpc.tls?.certFile],
    ['TLS_KEY_FILE', config.grpc.tls?.keyFile],
    ['TLS_CLIENT_CA_FILE', config.grpc.tls?.clientCaFile],
    ['JWT_PRIVATE_KEY_FILE', config.tokens.privateKeyFile],
  ];
  const seen = new Set<string>();
  const unique = targets.filter((t) => {
    // Two settings on one port (e.g. GRPC_PORT = HTTP_PORT) would both pass one at a time.
    const key = String(t.port);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const problems: string[] = [];
  const clashes = targets.filter((t) => !unique.includes(t));
  for (const clash of clashes) {
    const first = unique.find((t) => t.port === clash.port);
    problems.push(
      `${clash.portSetting} ${clash.port} is also ${first?.portSetting}: give each listener its own port`,
    );
  }
  const results = await Promise.all([
    ...unique.map(listenProblem),
    ...files.map(async ([name, path]) => {
      if (path === undefined) return null;
      try {
        await access(path, constants.R_OK);
        return null;
      } catch (error) {
        return `${name}=${path}: cannot read the file (${(error as NodeJS.ErrnoException).code}): fix the path or its permissions`;
      }
    }),
  ]);
  for (const r of results) if (r !== null) problems.push(r);
  if (config.database.url === undefined)
    problems.push(...(await dataDirInUseProblems(config.dataDir)));
  return problems;
}
