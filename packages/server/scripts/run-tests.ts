// Runs the test suite against a real PostgreSQL: DATABASE_URL's server when set, otherwise an
// embedded one started for this run. Migrations are applied once to a template database; each
// test file then copies it into a fresh database of its own (test/support/db.ts).
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { type EmbeddedDatabase, startEmbedded } from '../src/storage/embedded.js';
import { migrate } from '../src/storage/migrate.js';
import { databaseUrlFor } from '../test/support/db.js';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

function findTests(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return findTests(full);
    return name.endsWith('.test.ts') ? [full] : [];
  });
}

const filter = process.argv.slice(2);
const files = findTests(path.join(root, 'test'))
  .filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)))
  .sort();

let embedded: EmbeddedDatabase | undefined;
let tmp: string | undefined;
let adminUrl = process.env.DATABASE_URL;
if (!adminUrl) {
  // As root the embedded server runs as the unprivileged "postgres" user, which can reach the
  // system temp dir.
  tmp = mkdtempSync(path.join(os.tmpdir(), 'charla-test-'));
  chmodSync(tmp, 0o755);
  embedded = await startEmbedded({ dataDir: tmp, lock: false });
  adminUrl = embedded.url;
  console.log('Tests use an embedded PostgreSQL (DATABASE_URL is not set).');
} else {
  console.log('Tests use the PostgreSQL server at DATABASE_URL.');
}
console.log(
  process.env.REDIS_URL
    ? 'Events and rate limits go through Redis at REDIS_URL.'
    : 'Events stay in-process (REDIS_URL is not set).',
);

const run = String(process.pid);
const template = `charla_tpl_${run}`;
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS ${template}`);
await admin.query(`CREATE DATABASE ${template}`);
const pool = new pg.Pool({ connectionString: databaseUrlFor(adminUrl, template), max: 1 });
await migrate(pool);
await pool.end();

let code = 1;
try {
  code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], {
      cwd: root,
      stdio: 'inherit',
      env: {
        ...process.env,
        CHARLA_TEST_ADMIN_URL: adminUrl,
        CHARLA_TEST_TEMPLATE: template,
        CHARLA_TEST_RUN: run,
      },
    });
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
} finally {
  const { rows } = await admin.query<{ datname: string }>(
    // starts_with, not LIKE: "_" is a LIKE wildcard, and run 123's pattern would match run 1234's.
    'SELECT datname FROM pg_database WHERE datname = $1 OR starts_with(datname, $2)',
    [template, `charla_t_${run}_`],
  );
  for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
  await admin.end();
  await embedded?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
process.exit(code);
