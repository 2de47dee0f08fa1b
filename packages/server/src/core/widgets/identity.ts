import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Db, Queryable } from '../../storage/db.js';
import { recordEvent } from '../../storage/outbox.js';
import { notFound } from '../errors.js';
import { isUuid } from '../ids.js';

/**
 * A widget's identity secret: the HMAC key a host site uses to sign its visitors' identities
 * (`HMAC-SHA256(secret, userId)` in hex). Stored encrypted with AES-256-GCM under a key derived
 * from the server secret, bound to the widget id, so a database dump alone reveals none of them.
 */

const VERSION = 'v1';

const keys = new Map<string, Buffer>();

function keyFor(serverSecret: string): Buffer {
  let key = keys.get(serverSecret);
  if (!key) {
    key = Buffer.from(hkdfSync('sha256', serverSecret, 'charla', 'widget-identity-secret', 32));
    keys.set(serverSecret, key);
  }
  return key;
}

export function sealSecret(serverSecret: string, widgetId: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyFor(serverSecret), iv);
  cipher.setAAD(Buffer.from(widgetId));
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const parts = [iv, data, cipher.getAuthTag()].map((b) => b.toString('base64url'));
  return [VERSION, ...parts].join('.');
}

/** The plaintext, or null when the value cannot be opened (another server secret, tampering). */
export function openSecret(serverSecret: string, widgetId: string, sealed: string): string | null {
  const [version, iv, data, tag] = sealed.split('.');
  if (version !== VERSION || !iv || data === undefined || !tag) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyFor(serverSecret), Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(widgetId));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    return null;
  }
}

/**
 * The widget's current identity secret in plaintext, or null when it has none (never set,
 * revoked, widget deleted, or sealed under a different server secret).
 */
export async function identitySecretFor(
  db: Db,
  serverSecret: string,
  widgetId: string,
): Promise<string | null> {
  if (!isUuid(widgetId)) return null;
  const { rows } = await db.query<{ identity_secret: string | null }>(
    'SELECT identity_secret FROM chat_widgets WHERE id = $1 AND deleted_at IS NULL',
    [widgetId],
  );
  const sealed = rows[0]?.identity_secret;
  return sealed ? openSecret(serverSecret, widgetId, sealed) : null;
}

export interface IssuedSecret {
  secret: string;
  rotatedAt: Date;
}

async function announce(q: Queryable, locationId: string, widgetId: string, change: string): Promise<void> {
  await recordEvent(q, {
    locationId,
    topic: 'widget.identity-secret',
    payload: { widgetId, change },
  });
}

/** Generates a new identity secret (replacing any previous one at once) and returns it, once. */
export async function rotateIdentitySecret(
  db: Db,
  serverSecret: string,
  actor: string,
  locationId: string,
  widgetId: string,
): Promise<IssuedSecret> {
  if (!isUuid(locationId) || !isUuid(widgetId)) throw notFound('Chat widget');
  const secret = `whsec_${randomBytes(32).toString('base64url')}`;
  return db.tx(async (tx) => {
    const { rows } = await tx.query<{ rotated_at: Date }>(
      `UPDATE chat_widgets SET identity_secret = $3, identity_secret_rotated_at = now(), updated_by = $4,
              updated_at = now()
       WHERE location_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING identity_secret_rotated_at AS rotated_at`,
      [locationId, widgetId, sealSecret(serverSecret, widgetId, secret), actor],
    );
    if (!rows[0]) throw notFound('Chat widget');
    await announce(tx, locationId, widgetId, 'rotated');
    return { secret, rotatedAt: rows[0].rotated_at };
  });
}

/** Removes the widget's identity secret; answers whether there was one. */
export async function revokeIdentitySecret(
  db: Db,
  actor: string,
  locationId: string,
  widgetId: string,
): Promise<{ revoked: boolean; revokedAt: Date }> {
  if (!isUuid(locationId) || !isUuid(widgetId)) throw notFound('Chat widget');
  return db.tx(async (tx) => {
    const { rows } = await tx.query<{ had: boolean }>(
      `UPDATE chat_widgets w SET identity_secret = NULL, identity_secret_rotated_at = now(), updated_by = $3,
              updated_at = now()
       FROM (SELECT id, identity_secret IS NOT NULL AS had FROM chat_widgets
             WHERE location_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE) old
       WHERE w.location_id = $1 AND w.id = old.id RETURNING old.had`,
      [locationId, widgetId, actor],
    );
    if (!rows[0]) throw notFound('Chat widget');
    if (rows[0].had) await announce(tx, locationId, widgetId, 'revoked');
    return { revoked: rows[0].had, revokedAt: new Date() };
  });
}
