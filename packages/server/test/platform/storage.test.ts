import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DataDirInUseError, type EmbeddedDatabase, startEmbedded } from '../../src/storage/embedded.js';
import { migrate } from '../../src/storage/migrate.js';
import { migrations } from '../../src/storage/migrations/index.js';
import { databaseUrlFor } from '../support/db.js';

const serverDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Runs the real entry point with `env` (and no database or Redis from this process). */
async function runMain(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: serverDir,
    env: { PATH: process.env.PATH, LOG_LEVEL: 'silent', PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 30_000,
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  return { code, stderr };
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

describe('migrations', () => {
  test('three nodes migrating one empty database at once apply each migration once', async () => {
    const adminUrl = process.env.CHARLA_TEST_ADMIN_URL;
    assert.ok(adminUrl, 'run the tests with `npm test`');
    // The runner drops charla_t_<run>_* databases even if this file dies first.
    const name = `charla_t_${process.env.CHARLA_TEST_RUN}_mig_${randomBytes(4).toString('hex')}`;
    await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
    const url = databaseUrlFor(adminUrl, name);
    const pools = [1, 2, 3].map(() => new pg.Pool({ connectionString: url, max: 2 }));
    try {
      const applied = await Promise.all(pools.map((p) => migrate(p)));
      const ids = migrations.map((m) => m.id);
      assert.ok(ids.length > 0);
      assert.deepEqual(
        applied.flat().sort(),
        [...ids].sort(),
        'between them the nodes applied every migration exactly once',
      );
      assert.equal(applied.filter((a) => a.length > 0).length, 1, 'one node did all the work');

      const { rows } = await pools[0]!.query<{ id: string }>('SELECT id FROM schema_migrations ORDER BY id');
      assert.deepEqual(
        rows.map((r) => r.id),
        [...ids].sort(),
      );
      const tables = await pools[0]!.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('outbox', 'chat_widgets')",
      );
      assert.equal(tables.rows[0]!.n, 2, 'the schema exists');

      assert.deepEqual(await migrate(pools[1]!), [], 'a second run is a no-op');
      assert.equal(
        (await pools[0]!.query('SELECT 1 FROM schema_migrations')).rowCount,
        ids.length,
        'and records nothing',
      );

      await pools[0]!.query("INSERT INTO schema_migrations (id) VALUES ('999_from_the_future')");
      await assert.rejects(migrate(pools[2]!), {
        message:
          'The database has migrations this Charla does not know (999_from_the_future): it was migrated by a newer version.',
      });
      const locks = await pools[0]!.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks
         WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      assert.equal(locks.rows[0]!.n, 0, 'the failed run released the migration lock');
    } finally {
      await Promise.all(pools.map((p) => p.end()));
      await withClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    }
  });
});

describe('embedded PostgreSQL', () => {
  test('initialises once, refuses a second Charla on its data dir, and keeps data across restarts', async () => {
    // As root the server runs as "postgres", which must be able to enter the data dir.
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'charla-embedded-'));
    chmodSync(dataDir, 0o755);
    const lockFile = path.join(dataDir, 'charla.lock');
    let db: EmbeddedDatabase | undefined;
    try {
      db = await startEmbedded({ dataDir });
      const first = new URL(db.url);
      assert.equal(first.hostname, '127.0.0.1');
      assert.equal(first.pathname, '/charla');
      assert.equal(readFileSync(lockFile, 'utf8'), String(process.pid), 'the lock names this process');
      await withClient(db.url, async (c) => {
        await c.query('CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)');
        await c.query("INSERT INTO notes VALUES (1, 'survives restarts')");
      });

      // Another Charla process on the same data dir stops at the lock, before touching PostgreSQL.
      const other = await runMain({ DATA_DIR: dataDir });
      assert.equal(other.code, 1, other.stderr);
      assert.equal(other.stderr, `${new DataDirInUseError(dataDir, process.pid).message}\n`);
      assert.match(other.stderr, new RegExp(`already using the data directory ${dataDir}\\.`));
      assert.equal(
        await withClient(
          db.url,
          async (c) => (await c.query('SELECT count(*)::int AS n FROM notes')).rows[0].n,
        ),
        1,
        'the running server is undisturbed',
      );

      await db.stop();
      db = undefined;
      assert.equal(existsSync(lockFile), false, 'stop() releases the lock');

      db = await startEmbedded({ dataDir });
      const again = new URL(db.url);
      assert.equal(again.username, first.username);
      assert.equal(again.password, first.password, 'the generated password is kept in the data dir');
      const { rows } = await withClient(db.url, (c) => c.query('SELECT id, body FROM notes'));
      assert.deepEqual(rows, [{ id: 1, body: 'survives restarts' }]);
      await db.stop();
      db = undefined;
    } finally {
      await db?.stop().catch(() => {});
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('as root, a data dir the "postgres" user cannot reach is refused with a clear message', {
    skip: process.getuid?.() !== 0 && 'only meaningful as root',
  }, async () => {
    const closed = mkdtempSync(path.join(os.tmpdir(), 'charla-private-'));
    assert.equal(statSync(closed).mode & 0o777, 0o700);
    const dataDir = path.join(closed, 'data');
    const message =
      `The embedded PostgreSQL runs as the unprivileged user "postgres" (Charla runs as root), and it cannot ` +
      `enter ${closed} (mode 700). Choose a DATA_DIR outside it, or set DATABASE_URL.`;
    try {
      await assert.rejects(startEmbedded({ dataDir }), { message });
      assert.equal(existsSync(path.join(dataDir, 'charla.lock')), false, 'the lock is released');
      assert.equal(existsSync(path.join(dataDir, 'postgres')), false, 'no cluster was initialised');

      const main = await runMain({ DATA_DIR: dataDir });
      assert.equal(main.code, 1);
      assert.equal(main.stderr, `Charla failed to start: ${message}\n`);
    } finally {
      rmSync(closed, { recursive: true, force: true });
    }
  });
});
