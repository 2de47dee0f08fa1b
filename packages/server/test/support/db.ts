import { randomBytes } from 'node:crypto';
import pg from 'pg';

export function databaseUrlFor(serverUrl: string, name: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * A fresh, migrated database for one test file: a copy of the run's template (made by
 * scripts/run-tests.ts). Dropped by `drop()`, and by the runner if a file dies first.
 */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const adminUrl = process.env.CHARLA_TEST_ADMIN_URL;
  const template = process.env.CHARLA_TEST_TEMPLATE;
  if (!adminUrl || !template)
    throw new Error('Run the tests with `npm test`: it prepares the database server.');
  const name = `charla_t_${process.env.CHARLA_TEST_RUN}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  } finally {
    await admin.end();
  }
  return {
    url: databaseUrlFor(adminUrl, name),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
