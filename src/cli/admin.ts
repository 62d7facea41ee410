import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { type BootstrapDeps, createOrPromoteAdmin } from '../admin/createOrPromoteAdmin.ts';
import { createServiceAccountWithKey } from '../admin/createServiceAccountWithKey.ts';
import { resetPasswordByOperator } from '../admin/resetPasswordByOperator.ts';
import { setServiceAccountStatusByName } from '../admin/setServiceAccountStatusByName.ts';
import { createPasswordHasher } from '../auth/createPasswordHasher.ts';
import { createPasswordPolicy } from '../auth/passwordPolicy.ts';
import { AppError } from '../errors/AppError.ts';
import { createDatabase } from '../storage/createDatabase.ts';
import { cliDatabaseUrl, failCli, loadCliConfig } from './cliSetup.ts';

const USAGE = `usage: scripts/run admin create --email <address> [--role <name>]... [--password-stdin]
       scripts/run admin reset-password --email <address> [--password-stdin]
       scripts/run admin service-account create --name <name> [--role <name>]...
                                               [--display-name <text>]
       scripts/run admin service-account disable|enable --name <name>
  create          Creates an account holding the roles (default: admin) against the configured
                  database (DATABASE_URL, or the embedded development database of a running
                  \`scripts/run start\`), or adds the roles to the live account with this email
                  (enabling it if it was disabled; its password is left alone). A new account
                  gets the password read from stdin (--password-stdin, one line) or a generated
                  one, printed once.
  reset-password  Sets a new password on the live account with this email (from stdin, or
                  generated and printed once), clears its lockout and ends all its sessions:
                  the way back in when a password (e.g. the first-start admin's) is lost.
  service-account create
                  Creates a service account holding the roles and one API key with all of
                  them, and prints the key's secret alone on stdout, once (what it created,
                  and a reminder to store the secret, go to stderr): for bootstrapping
                  automation without a person.
  service-account disable|enable
                  Disables the live service account with this name, so every key of it stops
                  working on every instance within a second (nothing is revoked), or enables
                  it again (keys neither revoked nor expired work again). Idempotent.
  Never prompts. Needs only the database (also with NODE_ENV=production).`;

const out = (line: string) => process.stdout.write(`${line}\n`);
function fail(message: string, code: number): never {
  return failCli('admin', message, code);
}

let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      email: { type: 'string' },
      name: { type: 'string' },
      'display-name': { type: 'string' },
      role: { type: 'string', multiple: true },
      'password-stdin': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
try {
  args = parse();
} catch (error) {
  fail(`${(error as Error).message}\n${USAGE}`, 64);
}
const { positionals, values } = args;
if (values.help) {
  out(USAGE);
  process.exit(0);
}
const command = positionals.join(' ');
const forAccounts = command === 'create' || command === 'reset-password';
const forStatus = command === 'service-account disable' || command === 'service-account enable';
if (
  (forAccounts &&
    (values.email === undefined ||
      values.name !== undefined ||
      values['display-name'] !== undefined ||
      (command === 'reset-password' && values.role !== undefined))) ||
  (command === 'service-account create' &&
    (values.name === undefined ||
      values.email !== undefined ||
      values['password-stdin'] !== undefined)) ||
  (forStatus &&
    (values.name === undefined ||
      values.email !== undefined ||
      values.role !== undefined ||
      values['display-name'] !== undefined ||
      values['password-stdin'] !== undefined)) ||
  (!forAccounts && !forStatus && command !== 'service-account create')
) {
  fail(USAGE, 64);
}

/** One line from stdin (trailing newline removed); never prompts, so CI without stdin works. */
async function readPassword(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

const config = loadCliConfig('admin');
const password = values['password-stdin'] ? await readPassword() : undefined;
const pool = await createDatabase({
  ...config.database,
  url: await cliDatabaseUrl('admin', config),
});
const info = { clientIp: '', userAgent: 'gatehouse-cli', requestId: randomUUID() };

/** Exits 65 with the field problems of a refused input, 1 on anything else. */
function failWith(error: unknown): never {
  if (error instanceof AppError) {
    const details = error.fieldViolations.map((v) => `\n  ${v.field}: ${v.description}`).join('');
    fail(`${error.message}${details}`, 65);
  }
  fail(`${(error as Error).message}`, 1);
}

/**
 * `reset-password`: a new password, lockout cleared, sessions ended. Running instances learn of
 * the ended sessions from PostgreSQL's change notifications; this process needs no Redis.
 */
async function resetPasswordCommand(deps: BootstrapDeps): Promise<void> {
  const result = await resetPasswordByOperator(
    deps,
    { email: values.email ?? '', password, source: 'cli' },
    info,
  );
  out(`new password set for ${result.user.email} (id ${result.user.id})`);
  if (result.generatedPassword !== null) {
    out('generated password (shown only this once; store it now):');
    out(`password: ${result.generatedPassword}`);
  }
  out(`lockout cleared; ${result.revokedSessionIds.length} session(s) ended`);
  if (result.user.status === 'disabled') out('note: the account is disabled; enable it to log in');
}

/** `create`: a new account holding the roles, or the roles added to the existing one. */
async function createCommand(deps: BootstrapDeps): Promise<void> {
  const result = await createOrPromoteAdmin(
    deps,
    { email: values.email ?? '', roles: values.role ?? ['admin'], password, source: 'cli' },
    info,
  );
  const { user } = result;
  if (result.created) {
    out(`created ${user.email} (id ${user.id}) with roles: ${user.roles.join(', ')}`);
    if (result.generatedPassword !== null) {
      out('generated password (shown only this once; store it now):');
      out(`password: ${result.generatedPassword}`);
    }
  } else {
    out(`promoted ${user.email} (id ${user.id}); roles now: ${user.roles.join(', ')}`);
    if (result.enabled) out('the account was disabled and is enabled again');
  }
}

/**
 * `service-account create`: the account and its first key. Only the secret goes to stdout
 * (`KEY=$(scripts/run admin service-account create ...)` captures it), the rest to stderr.
 */
async function serviceAccountCommand(): Promise<void> {
  const { account, key } = await createServiceAccountWithKey(
    { pool, apiKeyLimits: config.apiKeys.limits },
    {
      name: values.name ?? '',
      displayName: values['display-name'] ?? '',
      description: '',
      roles: values.role ?? [],
    },
    info,
  );
  const roles = account.roles.length === 0 ? '(none)' : account.roles.join(', ');
  process.stderr.write(
    `created service account ${account.name} (id ${account.id}) with roles: ${roles}\n` +
      `created API key ${key.apiKey.id} (${key.apiKey.displayPrefix}…); its secret follows on stdout\n` +
      'warning: the secret is shown only this once; store it in a secret store now ' +
      '(if it is lost, revoke the key and create another)\n',
  );
  out(key.secret);
}

/** `service-account disable|enable`: the status change, audited; says whether it changed. */
async function serviceAccountStatusCommand(status: 'active' | 'disabled'): Promise<void> {
  const { account, changed } = await setServiceAccountStatusByName(
    { pool },
    { name: values.name ?? '', status },
    info,
  );
  const what = status === 'active' ? 'enabled' : 'disabled';
  out(
    changed
      ? `${what} service account ${account.name} (id ${account.id})`
      : `service account ${account.name} (id ${account.id}) was already ${what}`,
  );
}

try {
  if (forStatus) {
    await serviceAccountStatusCommand(command.endsWith('enable') ? 'active' : 'disabled');
  } else if (command === 'service-account create') {
    // Needs only the database: no hasher, no password policy.
    await serviceAccountCommand();
  } else {
    // Both account commands need only the database, the configured hasher and the policy.
    const deps: BootstrapDeps = {
      pool,
      hasher: await createPasswordHasher(config.passwords.argon2),
      policy: createPasswordPolicy(config.passwords.minLength, config.passwords.maxLength),
    };
    await (command === 'reset-password' ? resetPasswordCommand(deps) : createCommand(deps));
  }
} catch (error) {
  failWith(error);
} finally {
  await pool.end();
}
