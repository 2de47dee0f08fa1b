import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../../storage/db.js';
import { recordEvent } from '../../storage/outbox.js';
import { invalid, notFound } from '../errors.js';
import { isUuid, uuidv7 } from '../ids.js';
import type { Principal } from './principal.js';
import { isScope, SCOPES } from './scopes.js';

export interface ApiKey {
  id: string;
  prefix: string;
  name: string;
  scopes: string[];
  locationIds: string[] | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

interface Row {
  id: string;
  prefix: string;
  secret_hash: Buffer;
  name: string;
  scopes: string[];
  location_ids: string[] | null;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
  provider_id: string | null;
}

const toKey = (r: Row): ApiKey => ({
  id: r.id,
  prefix: r.prefix,
  name: r.name,
  scopes: r.scopes,
  locationIds: r.location_ids,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

// ck_live_<12 lowercase base32 chars>.<43 base64url chars>
const KEY_FORMAT = /^ck_live_([a-z2-7]{12})\.([A-Za-z0-9_-]{43})$/;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

// The secret is 256 random bits, so a fast hash is enough: nothing can be guessed from it.
const hashSecret = (secret: string) => createHash('sha256').update(secret).digest();

export interface NewKey {
  name: string;
  scopes: string[];
  /** null: agency-wide. */
  locationIds: string[] | null;
}

/** Creates a key; the returned `key` is the only time the secret exists outside the caller. */
export async function createKey(db: Db, input: NewKey): Promise<{ apiKey: ApiKey; key: string }> {
  if (input.locationIds) input = { ...input, locationIds: [...new Set(input.locationIds)] };
  const problems: string[] = [];
  if (input.name.trim() === '' || input.name.length > 200) problems.push('name must be 1 to 200 characters');
  if (input.scopes.length === 0) problems.push('scopes must name at least one scope');
  const unknown = input.scopes.filter((s) => !isScope(s));
  if (unknown.length)
    problems.push(`scopes has unknown values (${unknown.join(', ')}); known: ${SCOPES.join(', ')}`);
  if (input.locationIds !== null) {
    if (input.locationIds.length === 0)
      problems.push('locationIds must name at least one location, or be null');
    if (!input.locationIds.every(isUuid)) problems.push('locationIds must be location ids');
  }
  if (problems.length) throw invalid(problems);

  if (input.locationIds !== null) {
    const { rows } = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM locations WHERE id = ANY($1)',
      [input.locationIds],
    );
    if (rows[0]!.n !== new Set(input.locationIds).size)
      throw invalid(['locationIds names an unknown location']);
  }

  const prefix = [...randomBytes(12)].map((b) => BASE32[b & 31]).join('');
  const secret = randomBytes(32).toString('base64url');
  const { rows } = await db.query<Row>(
    `INSERT INTO api_keys (id, prefix, secret_hash, name, scopes, location_ids)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
    [uuidv7(), prefix, hashSecret(secret), input.name.trim(), [...new Set(input.scopes)], input.locationIds],
  );
  return { apiKey: toKey(rows[0]!), key: `ck_live_${prefix}.${secret}` };
}

export async function listKeys(db: Db): Promise<ApiKey[]> {
  const { rows } = await db.query<Row>('SELECT * FROM api_keys ORDER BY created_at');
  return rows.map(toKey);
}

/** Revokes a key; every node drops it from its cache when the `key.revoked` event reaches it. */
export async function revokeKey(db: Db, id: string): Promise<ApiKey> {
  if (!isUuid(id)) throw notFound('API key');
  return db.tx(async (tx) => {
    const { rows } = await tx.query<Row>(
      'UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING *',
      [id],
    );
    if (!rows[0]) throw notFound('API key');
    await recordEvent(tx, {
      locationId: null,
      topic: 'key.revoked',
      payload: { keyId: id, prefix: rows[0].prefix },
    });
    return toKey(rows[0]);
  });
}

interface CachedKey {
  row: Row | null;
  principal: Principal | null;
  expires: number;
}

/**
 * Resolves presented keys to principals. Lookups are cached for a few seconds so the hot path
 * does not hit the database on every request; `forget()` drops a key at once on this node, and
 * other nodes see a revocation within `ttlMs`.
 */
export class KeyVerifier {
  private readonly cache = new Map<string, CachedKey>();
  private readonly lastTouched = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly ttlMs = 5000,
    private readonly maxEntries = 10_000,
  ) {}

  async verify(presented: string): Promise<Principal | null> {
    const m = KEY_FORMAT.exec(presented);
    if (!m) return null;
    const [, prefix, secret] = m as unknown as [string, string, string];
    const now = Date.now();
    let entry = this.cache.get(prefix);
    if (!entry || entry.expires < now) {
      const { rows } = await this.db.query<Row>('SELECT * FROM api_keys WHERE prefix = $1', [prefix]);
      const row = rows[0] ?? null;
      entry = {
        row,
        principal:
          row && !row.revoked_at
            ? {
                kind: 'key',
                keyId: row.id,
                scopes: new Set(row.scopes),
                locationIds: row.location_ids ? new Set(row.location_ids) : null,
                providerId: row.provider_id,
              }
            : null,
        expires: now + this.ttlMs,
      };
      if (this.cache.size >= this.maxEntries) this.cache.clear();
      this.cache.set(prefix, entry);
    }
    if (!entry.row || !entry.principal) return null;
    const given = hashSecret(secret);
    if (!timingSafeEqual(given, entry.row.secret_hash)) return null;
    this.touch(entry.row.id, now);
    return entry.principal;
  }

  forget(prefix?: string): void {
    if (prefix === undefined) this.cache.clear();
    else this.cache.delete(prefix);
  }

  /** Records use at most once a minute per key, off the request's path. */
  private touch(id: string, now: number): void {
    if ((this.lastTouched.get(id) ?? 0) > now - 60_000) return;
    this.lastTouched.set(id, now);
    this.db.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [id]).catch(() => {});
  }
}
