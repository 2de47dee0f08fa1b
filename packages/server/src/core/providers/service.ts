import { randomBytes } from 'node:crypto';
import { assertPublicTarget, BlockedTargetError, parseTargetUrl } from '../../jobs/ssrf.js';
import { type Db, isUniqueViolation, type Queryable } from '../../storage/db.js';
import { AppError, invalid, notFound } from '../errors.js';
import { isUuid, uuidv7 } from '../ids.js';
import { createKey, revokeKey } from '../keys/service.js';

/** What a conversation provider carries; the send `type` names, plus Review and Call. */
export const PROVIDER_TYPES = [
  'SMS',
  'RCS',
  'Email',
  'WhatsApp',
  'IG',
  'FB',
  'Custom',
  'TIKTOK',
  'Review',
  'Call',
] as const;
export type ProviderType = (typeof PROVIDER_TYPES)[number];

/** The scopes of the key a provider gets: post inbound messages and report status. */
export const PROVIDER_KEY_SCOPES = ['conversations/message.write', 'conversations/message.readonly'];

export interface Provider {
  id: string;
  locationId: string;
  name: string;
  type: ProviderType;
  deliveryUrl: string;
  allowPrivate: boolean;
  isDefault: boolean;
  createdAt: Date;
  deletedAt: Date | null;
}

/** A provider with what only the delivery worker may see. */
export interface ProviderWithSecret extends Provider {
  signingSecret: string;
}

export interface ProviderRow {
  location_id: string;
  id: string;
  name: string;
  type: ProviderType;
  delivery_url: string;
  signing_secret: string;
  allow_private: boolean;
  is_default: boolean;
  created_at: Date;
  deleted_at: Date | null;
}

export const toProvider = (r: ProviderRow): Provider => ({
  id: r.id,
  locationId: r.location_id,
  name: r.name,
  type: r.type,
  deliveryUrl: r.delivery_url,
  allowPrivate: r.allow_private,
  isDefault: r.is_default,
  createdAt: r.created_at,
  deletedAt: r.deleted_at,
});

const withSecret = (r: ProviderRow): ProviderWithSecret => ({
  ...toProvider(r),
  signingSecret: r.signing_secret,
});

export interface NewProvider {
  name: string;
  type: string;
  deliveryUrl: string;
  allowPrivate?: boolean;
  isDefault?: boolean;
}

/**
 * Checks a delivery URL: http(s), no credentials, and (unless private targets are allowed) a
 * host that does not resolve to a private address. A host that cannot be resolved now is
 * accepted: delivery checks again, every time, and refuses then.
 */
export async function checkDeliveryUrl(raw: string, allowPrivate: boolean): Promise<string[]> {
  if (raw.length > 2048) return ['deliveryUrl must be at most 2048 characters'];
  try {
    const url = parseTargetUrl(raw);
    await assertPublicTarget(url, allowPrivate, 3000);
    return [];
  } catch (err) {
    if (err instanceof BlockedTargetError) return [`deliveryUrl is refused: ${err.message}`];
    return [];
  }
}

/**
 * Registers a provider with its signing secret (returned only here) and an API key bound to it
 * (api_keys.provider_id), limited to the provider's location, for its inbound messages and
 * status reports. A new default provider replaces the type's previous default.
 */
export async function createProvider(
  db: Db,
  locationId: string,
  input: NewProvider,
): Promise<{ provider: Provider; signingSecret: string; key: string; keyId: string }> {
  const problems: string[] = [];
  const name = input.name.trim();
  if (name === '' || name.length > 200) problems.push('name must be 1 to 200 characters');
  if (!(PROVIDER_TYPES as readonly string[]).includes(input.type)) {
    problems.push(`type must be one of the following values: ${PROVIDER_TYPES.join(', ')}`);
  }
  problems.push(...(await checkDeliveryUrl(input.deliveryUrl, input.allowPrivate === true)));
  if (problems.length) throw invalid(problems);

  const { rows: loc } = await db.query('SELECT 1 FROM locations WHERE id = $1', [locationId]);
  if (!loc[0]) throw notFound('Location');

  const id = uuidv7();
  const signingSecret = `whsec_${randomBytes(32).toString('base64url')}`;
  const row = await db.tx(async (tx) => {
    if (input.isDefault) {
      await tx.query(
        `UPDATE conversation_providers SET is_default = false
         WHERE location_id = $1 AND type = $2 AND is_default AND deleted_at IS NULL`,
        [locationId, input.type],
      );
    }
    try {
      const { rows } = await tx.query<ProviderRow>(
        `INSERT INTO conversation_providers
           (location_id, id, name, type, delivery_url, signing_secret, allow_private, is_default)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
        [
          locationId,
          id,
          name,
          input.type,
          input.deliveryUrl,
          signingSecret,
          input.allowPrivate === true,
          input.isDefault === true,
        ],
      );
      return rows[0]!;
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('conflict', 'Another default provider was set at once');
      throw err;
    }
  });

  // createKey works on the pool, so the provider exists first and is removed if the key fails.
  try {
    const { apiKey, key } = await createKey(db, {
      name: `provider: ${name}`.slice(0, 200),
      scopes: PROVIDER_KEY_SCOPES,
      locationIds: [locationId],
    });
    await db.query('UPDATE api_keys SET provider_id = $1 WHERE id = $2', [id, apiKey.id]);
    return { provider: toProvider(row), signingSecret, key, keyId: apiKey.id };
  } catch (err) {
    await db.query('DELETE FROM conversation_providers WHERE location_id = $1 AND id = $2', [locationId, id]);
    throw err;
  }
}

export async function listProviders(q: Queryable, locationId: string): Promise<Provider[]> {
  const { rows } = await q.query<ProviderRow>(
    `SELECT * FROM conversation_providers WHERE location_id = $1 AND deleted_at IS NULL
     ORDER BY created_at, id`,
    [locationId],
  );
  return rows.map(toProvider);
}

/** A live provider of this location, with its signing secret; undefined if none. */
export async function findProvider(
  q: Queryable,
  locationId: string,
  id: string,
): Promise<ProviderWithSecret | undefined> {
  if (!isUuid(id)) return undefined;
  const { rows } = await q.query<ProviderRow>(
    `SELECT * FROM conversation_providers WHERE location_id = $1 AND id = $2 AND deleted_at IS NULL`,
    [locationId, id],
  );
  return rows[0] ? withSecret(rows[0]) : undefined;
}

export async function getProvider(q: Queryable, locationId: string, id: string): Promise<Provider> {
  const p = await findProvider(q, locationId, id);
  if (!p) throw notFound('Conversation provider');
  const { signingSecret: _, ...provider } = p;
  return provider;
}

/**
 * Soft-deletes a provider: it no longer receives messages, and the keys bound to it are revoked.
 * Returns the provider and the prefixes of the revoked keys (for the caller's key cache).
 */
export async function deleteProvider(
  db: Db,
  locationId: string,
  id: string,
): Promise<{ provider: Provider; revokedKeyPrefixes: string[] }> {
  if (!isUuid(id)) throw notFound('Conversation provider');
  const { rows } = await db.query<ProviderRow>(
    `UPDATE conversation_providers SET deleted_at = now(), is_default = false
     WHERE location_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING *`,
    [locationId, id],
  );
  if (!rows[0]) throw notFound('Conversation provider');
  const { rows: keys } = await db.query<{ id: string }>(
    'SELECT id FROM api_keys WHERE provider_id = $1 AND revoked_at IS NULL',
    [id],
  );
  const revokedKeyPrefixes: string[] = [];
  for (const k of keys) revokedKeyPrefixes.push((await revokeKey(db, k.id)).prefix);
  return { provider: toProvider(rows[0]), revokedKeyPrefixes };
}

/**
 * The provider a message sent with `sendType` goes through. An explicit `conversationProviderId`
 * must be a live provider of this location (of any type); without one, the type's default
 * provider, or its only one. Undefined when there is none.
 */
export async function findProviderForSend(
  q: Queryable,
  locationId: string,
  sendType: string,
  conversationProviderId?: string | null,
): Promise<ProviderWithSecret | undefined> {
  if (conversationProviderId) return findProvider(q, locationId, conversationProviderId);
  const { rows } = await q.query<ProviderRow>(
    `SELECT * FROM conversation_providers
     WHERE location_id = $1 AND type = $2 AND deleted_at IS NULL
     ORDER BY is_default DESC, created_at LIMIT 2`,
    [locationId, sendType],
  );
  if (rows[0]?.is_default || rows.length === 1) return withSecret(rows[0]!);
  return undefined;
}

/** The provider a key speaks for (api_keys.provider_id), or null for an ordinary key. */
export async function providerIdOfKey(q: Queryable, keyId: string): Promise<string | null> {
  if (!isUuid(keyId)) return null;
  const { rows } = await q.query<{ provider_id: string | null }>(
    'SELECT provider_id FROM api_keys WHERE id = $1',
    [keyId],
  );
  return rows[0]?.provider_id ?? null;
}
