import { randomBytes } from 'node:crypto';
import { createKey } from './core/keys/service.js';
import { createLocation } from './core/locations/service.js';
import { createUser } from './core/users/service.js';
import type { Db } from './storage/db.js';

export interface FirstRun {
  locationId: string;
  adminEmail: string;
  adminPassword: string;
  apiKey: string;
}

const BOOTSTRAP_LOCK = 7_305_114_902;

/**
 * On the very first start (no location yet) creates a location, an admin user and an
 * agency-wide API key, and returns their secrets so they can be shown once. Later starts, and
 * every node but one when several start together, get undefined.
 */
export async function bootstrap(
  db: Db,
  adminEmail = 'admin@charla.localhost',
): Promise<FirstRun | undefined> {
  const lock = await db.pool.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [BOOTSTRAP_LOCK]);
    const { rows } = await lock.query<{ n: number }>('SELECT count(*)::int AS n FROM locations');
    if (rows[0]!.n > 0) return undefined;
    const location = await createLocation(db, { name: 'My business' });
    const adminPassword = randomBytes(12).toString('base64url');
    await createUser(db, {
      email: adminEmail,
      name: 'Admin',
      role: 'admin',
      password: adminPassword,
      locationIds: [location.id],
    });
    const { key } = await createKey(db, { name: 'First key', scopes: ['*'], locationIds: null });
    return { locationId: location.id, adminEmail, adminPassword, apiKey: key };
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [BOOTSTRAP_LOCK]).catch(() => {});
    lock.release();
  }
}
