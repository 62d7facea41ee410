import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createOrPromoteAdmin } from '../admin/createOrPromoteAdmin.ts';
import { createPasswordHasher } from '../auth/createPasswordHasher.ts';
import { createPasswordPolicy } from '../auth/passwordPolicy.ts';
import { ConfigError, loadConfig } from '../config.ts';
import { AppError } from '../errors/AppError.ts';
import { createDatabase } from '../storage/createDatabase.ts';
import { resolveDatabaseUrl } from './resolveDatabaseUrl.ts';

const USAGE = `usage: scripts/run admin create --email <address> [--role <name>]... [--password-stdin]
  create   Creates an account holding the roles (default: admin) against the configured
           database (DATABASE_URL, or the embedded development database), or adds the roles to
           the live account with this email (enabling it if it was disabled; its password is
           left alone). A new account gets the password read from stdin (--password-stdin,
           one line) or a generated one, printed once. Never prompts.`;

const out = (line: string) => process.stdout.write(`${line}\n`);
function fail(message: string, code: number): never {
  process.stderr.write(`gatehouse admin: ${message}\n`);
  process.exit(code);
}

let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      email: { type: 'string' },
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
if (positionals[0] !== 'create' || positionals.length !== 1 || values.email === undefined) {
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

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) fail(error.message, 78);
  throw error;
}
const password = values['password-stdin'] ? await readPassword() : undefined;
const pool = await createDatabase({ ...config.database, url: resolveDatabaseUrl(config) });
try {
  const result = await createOrPromoteAdmin(
    {
      pool,
      hasher: await createPasswordHasher(config.passwords.argon2),
      policy: createPasswordPolicy(config.passwords.minLength, config.passwords.maxLength),
    },
    { email: values.email ?? '', roles: values.role ?? ['admin'], password, source: 'cli' },
    { clientIp: '', userAgent: 'gatehouse-cli', requestId: randomUUID() },
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
} catch (error) {
  if (error instanceof AppError) {
    const details = error.fieldViolations.map((v) => `\n  ${v.field}: ${v.description}`).join('');
    fail(`${error.message}${details}`, 65);
  }
  fail(`${(error as Error).message}`, 1);
} finally {
  await pool.end();
}
