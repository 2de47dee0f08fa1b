import type { PoolClient } from 'pg';
import { type Db, isUniqueViolation, type Queryable } from '../../storage/db.js';
import { recordEvent } from '../../storage/outbox.js';
import { uuidv7 } from '../ids.js';
import type { Channel } from './channel.js';

/** Contacts the web chat creates for its visitors carry this source. */
export const VISITOR_SOURCE = 'web_chat';

export interface VisitorContext {
  url?: string;
  referer?: string;
  title?: string;
  lang?: string;
  utm?: Record<string, string>;
  attributes?: Record<string, unknown>;
  acceptOffline?: boolean;
}

export interface SessionRequest {
  channel: Channel;
  visitorKey: string;
  /** What the visitor typed: kept, never trusted. */
  claimed: { name?: string; email?: string; phone?: string };
  /** An identity the host site signed or the visitor proved; absent for unverified sessions. */
  verified?: { userId?: string; email?: string };
  departmentId?: string;
  prechat?: Record<string, string | boolean>;
  context: VisitorContext;
}

export interface Visitor {
  id: string;
  locationId: string;
  channelId: string;
  visitorKey: string;
  contactId: string;
  identityVerified: boolean;
  verifiedEmail: string | null;
  hostUserId: string | null;
  departmentId: string | null;
  metadata: Record<string, unknown>;
}

interface Row {
  id: string;
  location_id: string;
  channel_id: string;
  visitor_key: string;
  contact_id: string;
  identity_verified: boolean;
  verified_email: string | null;
  host_user_id: string | null;
  department_id: string | null;
  metadata: Record<string, unknown>;
}

const toVisitor = (r: Row): Visitor => ({
  id: r.id,
  locationId: r.location_id,
  channelId: r.channel_id,
  visitorKey: r.visitor_key,
  contactId: r.contact_id,
  identityVerified: r.identity_verified,
  verifiedEmail: r.verified_email,
  hostUserId: r.host_user_id,
  departmentId: r.department_id,
  metadata: r.metadata,
});

const COLUMNS =
  'id, location_id, channel_id, visitor_key, contact_id, identity_verified, verified_email, host_user_id, department_id, metadata';

export async function getVisitor(q: Queryable, locationId: string, id: string): Promise<Visitor | null> {
  const { rows } = await q.query<Row>(`SELECT ${COLUMNS} FROM visitors WHERE location_id = $1 AND id = $2`, [
    locationId,
    id,
  ]);
  return rows[0] ? toVisitor(rows[0]) : null;
}

export async function findVisitorByKey(
  q: Queryable,
  channel: Channel,
  visitorKey: string,
): Promise<Visitor | null> {
  const { rows } = await q.query<Row>(
    `SELECT ${COLUMNS} FROM visitors WHERE location_id = $1 AND channel_id = $2 AND visitor_key = $3`,
    [channel.locationId, channel.id, visitorKey],
  );
  return rows[0] ? toVisitor(rows[0]) : null;
}

const announce = (q: Queryable, topic: string, locationId: string, contactId: string) =>
  recordEvent(q, { locationId, topic, payload: { contactId } });

/** Whether no other contact of the location holds this email (or phone). */
async function free(
  q: Queryable,
  locationId: string,
  column: 'email' | 'phone',
  value: string,
  except: string,
) {
  const where = column === 'email' ? 'lower(email) = lower($2)' : 'phone = $2';
  const { rowCount } = await q.query(
    `SELECT 1 FROM contacts WHERE location_id = $1 AND ${where} AND id <> $3`,
    [locationId, value, except],
  );
  return rowCount === 0;
}

async function createContact(
  q: Queryable,
  locationId: string,
  f: { name?: string; email?: string; phone?: string },
): Promise<string> {
  const id = uuidv7();
  const email = f.email && (await free(q, locationId, 'email', f.email, id)) ? f.email : null;
  const phone = f.phone && (await free(q, locationId, 'phone', f.phone, id)) ? f.phone : null;
  await q.query(
    'INSERT INTO contacts (location_id, id, name, email, phone, source) VALUES ($1, $2, $3, $4, $5, $6)',
    [locationId, id, f.name ?? null, email, phone, VISITOR_SOURCE],
  );
  await announce(q, 'contact.created', locationId, id);
  return id;
}

/** Fills in what the contact lacks: a name, and an email or phone no other contact holds. */
async function completeContact(
  q: Queryable,
  locationId: string,
  contactId: string,
  f: { name?: string; email?: string; phone?: string },
): Promise<void> {
  const email = f.email && (await free(q, locationId, 'email', f.email, contactId)) ? f.email : null;
  const phone = f.phone && (await free(q, locationId, 'phone', f.phone, contactId)) ? f.phone : null;
  const { rowCount } = await q.query(
    `UPDATE contacts SET name = coalesce($3, name), email = coalesce(email, $4), phone = coalesce(phone, $5),
            updated_at = now()
     WHERE location_id = $1 AND id = $2
       AND ($3::text IS NOT NULL AND name IS DISTINCT FROM $3 OR ($4::text IS NOT NULL AND email IS NULL)
            OR ($5::text IS NOT NULL AND phone IS NULL))`,
    [locationId, contactId, f.name ?? null, email, phone],
  );
  if (rowCount) await announce(q, 'contact.updated', locationId, contactId);
}

const isVerifiedContact = async (q: Queryable, locationId: string, contactId: string) =>
  (
    await q.query(
      'SELECT 1 FROM visitors WHERE location_id = $1 AND contact_id = $2 AND identity_verified LIMIT 1',
      [locationId, contactId],
    )
  ).rowCount !== 0;

/**
 * The contact a verified identity belongs to. A signed userId finds the contact earlier sessions
 * verified for it. A verified email finds the location's contact with that email, unless that
 * contact only holds it because a visitor typed it: such a claim loses the email to its owner.
 * Only the signed value is trusted: with a userId, an email sent alongside stays a claim.
 */
async function verifiedContact(
  q: Queryable,
  channel: Channel,
  current: Visitor | null,
  verified: { userId?: string; email?: string },
  claimed: { name?: string; email?: string; phone?: string },
): Promise<string> {
  const loc = channel.locationId;
  if (verified.userId) {
    const { rows } = await q.query<{ contact_id: string }>(
      `SELECT contact_id FROM visitors WHERE location_id = $1 AND channel_id = $2 AND host_user_id = $3
       AND identity_verified ORDER BY last_seen_at DESC LIMIT 1`,
      [loc, channel.id, verified.userId],
    );
    if (rows[0]) return rows[0].contact_id;
  } else if (verified.email) {
    const { rows } = await q.query<{ id: string; source: string | null }>(
      'SELECT id, source FROM contacts WHERE location_id = $1 AND lower(email) = lower($2) FOR UPDATE',
      [loc, verified.email],
    );
    const holder = rows[0];
    if (holder) {
      if (holder.source !== VISITOR_SOURCE || (await isVerifiedContact(q, loc, holder.id))) {
        await completeContact(q, loc, holder.id, { name: claimed.name });
        return holder.id;
      }
      await q.query(
        'UPDATE contacts SET email = NULL, updated_at = now() WHERE location_id = $1 AND id = $2',
        [loc, holder.id],
      );
      await announce(q, 'contact.updated', loc, holder.id);
    }
  }
  const fields = { ...claimed, email: verified.email ?? claimed.email };
  // The visitor's own unverified contact becomes the verified one: its earlier chat stays with it.
  if (current && !current.identityVerified) {
    await completeContact(q, loc, current.contactId, fields);
    return current.contactId;
  }
  return createContact(q, loc, fields);
}

async function open(tx: PoolClient, req: SessionRequest): Promise<Visitor> {
  const { channel } = req;
  const { rows: found } = await tx.query<Row>(
    `SELECT ${COLUMNS} FROM visitors WHERE location_id = $1 AND channel_id = $2 AND visitor_key = $3 FOR UPDATE`,
    [channel.locationId, channel.id, req.visitorKey],
  );
  const current = found[0] ? toVisitor(found[0]) : null;
  let contactId: string;
  if (req.verified) {
    contactId = await verifiedContact(tx, channel, current, req.verified, req.claimed);
  } else if (current && !current.identityVerified) {
    contactId = current.contactId;
    await completeContact(tx, channel.locationId, contactId, req.claimed);
  } else {
    // A new browser, or an unverified session on a verified visitor's id: it never inherits
    // the verified contact.
    contactId = await createContact(tx, channel.locationId, req.claimed);
  }
  const c = req.context;
  const meta: Record<string, unknown> = {};
  if (c.attributes) meta.host = c.attributes;
  if (c.utm) meta.utm = c.utm;
  if (req.prechat && Object.keys(req.prechat).length) meta.prechat = req.prechat;
  const claimed = Object.fromEntries(Object.entries(req.claimed).filter(([, v]) => v));
  if (Object.keys(claimed).length) meta.claimed = claimed;
  if (c.acceptOffline !== undefined) meta.acceptOffline = c.acceptOffline;
  const verified = req.verified !== undefined;
  const params = [
    channel.locationId,
    current?.id ?? uuidv7(),
    channel.id,
    req.visitorKey,
    contactId,
    verified,
    verified ? (req.verified!.userId ? null : (req.verified!.email ?? null)) : null,
    verified ? (req.verified!.userId ?? null) : null,
    JSON.stringify(meta),
    c.url ?? null,
    c.referer ?? null,
    c.title ?? null,
    c.lang ?? null,
    req.departmentId ?? null,
  ];
  const { rows } = await tx.query<Row>(
    `INSERT INTO visitors (location_id, id, channel_id, visitor_key, contact_id, identity_verified, verified_email,
       host_user_id, metadata, page_url, referer, title, lang, department_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     ON CONFLICT (location_id, id) DO UPDATE SET
       contact_id = $5, identity_verified = $6, verified_email = $7, host_user_id = $8,
       metadata = visitors.metadata || $9::jsonb,
       page_url = coalesce($10, visitors.page_url), referer = coalesce($11, visitors.referer),
       title = coalesce($12, visitors.title), lang = coalesce($13, visitors.lang),
       department_id = coalesce($14, visitors.department_id), last_seen_at = now()
     RETURNING ${COLUMNS}`,
    params,
  );
  return toVisitor(rows[0]!);
}

/**
 * Opens a session: creates or refreshes the visitor row for the browser's visitorId and settles
 * the contact behind it. Unverified sessions keep (or get) an unverified contact of their own;
 * verified ones reach the contact of the verified identity.
 */
export async function openVisitorSession(db: Db, req: SessionRequest): Promise<Visitor> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.tx((tx) => open(tx, req));
    } catch (err) {
      // Two first sessions of one browser at once: the second sees the first's row when retried.
      const raced =
        isUniqueViolation(err, 'visitors_key') ||
        isUniqueViolation(err, 'contacts_email') ||
        isUniqueViolation(err, 'contacts_phone');
      if (!raced || attempt >= 3) throw err;
    }
  }
}

/** Records the visitor's typed email and name on their own contact (never verified). */
export async function linkEmail(
  db: Db,
  channel: Channel,
  visitor: Visitor,
  tokenContactId: string,
  f: { email: string; name?: string },
): Promise<Visitor> {
  return db.tx(async (tx) => {
    // A verified contact is not the visitor's to edit: the claim is kept on the visitor only.
    if (!visitor.identityVerified && visitor.contactId === tokenContactId) {
      await completeContact(tx, channel.locationId, visitor.contactId, f);
    }
    const claimed = { ...((visitor.metadata.claimed as object) ?? {}), ...f };
    const { rows } = await tx.query<Row>(
      `UPDATE visitors SET metadata = metadata || jsonb_build_object('claimed', $3::jsonb), last_seen_at = now()
       WHERE location_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
      [channel.locationId, visitor.id, JSON.stringify(claimed)],
    );
    return toVisitor(rows[0]!);
  });
}

/** Whether the contact has an email (for requireEmailUpfront on returning visitors). */
export async function contactHasEmail(q: Queryable, locationId: string, contactId: string): Promise<boolean> {
  const { rowCount } = await q.query(
    'SELECT 1 FROM contacts WHERE location_id = $1 AND id = $2 AND email IS NOT NULL',
    [locationId, contactId],
  );
  return rowCount !== 0;
}

/** A visitor as agents see them beside a conversation: where they are, and on which channel. */
export interface VisitorSighting extends Visitor {
  channelName: string | null;
  pageUrl: string | null;
  referer: string | null;
  title: string | null;
  lang: string | null;
  createdAt: Date;
  lastSeenAt: Date;
}

/**
 * The visitor behind a conversation's contact: the one on the conversation's own channel if
 * there is one, else the contact's most recently seen.
 */
export async function visitorOfConversation(
  q: Queryable,
  c: { locationId: string; contactId: string; chatWidgetId: string | null },
): Promise<VisitorSighting | null> {
  const { rows } = await q.query<
    Row & {
      channel_name: string | null;
      page_url: string | null;
      referer: string | null;
      title: string | null;
      lang: string | null;
      created_at: Date;
      last_seen_at: Date;
    }
  >(
    `SELECT ${COLUMNS.split(', ')
      .map((col) => `v.${col}`)
      .join(
        ', ',
      )}, w.name AS channel_name, v.page_url, v.referer, v.title, v.lang, v.created_at, v.last_seen_at
     FROM visitors v LEFT JOIN chat_widgets w ON w.location_id = v.location_id AND w.id = v.channel_id
     WHERE v.location_id = $1 AND v.contact_id = $2
     ORDER BY (v.channel_id = $3) DESC NULLS LAST, v.last_seen_at DESC LIMIT 1`,
    [c.locationId, c.contactId, c.chatWidgetId],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    ...toVisitor(r),
    channelName: r.channel_name,
    pageUrl: r.page_url,
    referer: r.referer,
    title: r.title,
    lang: r.lang,
    createdAt: r.created_at,
    lastSeenAt: r.last_seen_at,
  };
}
