import { rm } from 'node:fs/promises';
import type { PoolClient } from 'pg';
import type { AppContext } from '../../context.js';
import { type Db, isUniqueViolation, type Queryable } from '../../storage/db.js';
import { recordEvent } from '../../storage/outbox.js';
import { AppError, notFound } from '../errors.js';
import { isUuid, uuidv7 } from '../ids.js';
import { mediaFilePath } from '../media/store.js';
import { type ContactFields, type CustomFieldValue, cleanFields, mergeCustomFields } from './fields.js';

export type { ContactFields, CustomFieldValue } from './fields.js';
export { CONTACT_LIMITS, normalizePhone } from './fields.js';

export interface Contact {
  id: string;
  locationId: string;
  firstName: string | null;
  lastName: string | null;
  /** The full name as given; not derived from, nor split into, first and last name. */
  name: string | null;
  email: string | null;
  /** `+` and digits. */
  phone: string | null;
  companyName: string | null;
  tags: string[];
  /** By custom field id (or key). */
  customFields: Record<string, CustomFieldValue>;
  source: string | null;
  createdAt: Date;
  updatedAt: Date;
}

interface Row {
  location_id: string;
  id: string;
  first_name: string | null;
  last_name: string | null;
  name: string | null;
  email: string | null;
  phone: string | null;
  company_name: string | null;
  tags: string[];
  custom_fields: Record<string, CustomFieldValue>;
  source: string | null;
  created_at: Date;
  updated_at: Date;
}

const toContact = (r: Row): Contact => ({
  id: r.id,
  locationId: r.location_id,
  firstName: r.first_name,
  lastName: r.last_name,
  name: r.name,
  email: r.email,
  phone: r.phone,
  companyName: r.company_name,
  tags: r.tags,
  customFields: r.custom_fields,
  source: r.source,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const COLUMNS = `location_id, id, first_name, last_name, name, email, phone, company_name, tags, custom_fields,
  source, created_at, updated_at`;

export interface NewContact extends ContactFields {
  locationId: string;
}

/** A partial change: absent fields stay, tags are replaced, custom fields are merged by id. */
export type ContactChange = ContactFields;

/** How people are shown a contact: name, else first and last name, else email, else phone; else ''. */
export function displayName(
  contact: Pick<Contact, 'name' | 'firstName' | 'lastName' | 'email' | 'phone'>,
): string {
  const full = [contact.firstName, contact.lastName].filter(Boolean).join(' ');
  return contact.name || full || contact.email || contact.phone || '';
}

export const DUPLICATE_MESSAGE = 'This location does not allow duplicated contacts.';

/** Email or phone already belong to another contact of the location (LeadConnector's 400). */
const duplicate = (contactId: string, matchingField: 'email' | 'phone') =>
  new AppError('bad_request', DUPLICATE_MESSAGE, [], {
    meta: { contactId, matchingField } satisfies DuplicateMatch,
  });

export interface DuplicateMatch {
  contactId: string;
  matchingField: 'email' | 'phone';
}

/** The contact a create, change or upsert collided with, when `err` is that refusal; else null. */
export function duplicateOf(err: unknown): DuplicateMatch | null {
  if (!(err instanceof AppError) || err.code !== 'bad_request' || err.message !== DUPLICATE_MESSAGE)
    return null;
  return (err.extra.meta as DuplicateMatch | undefined) ?? null;
}

/** Refuses an email or phone that another contact of the location has; email is checked first. */
async function refuseDuplicate(
  q: Queryable,
  locationId: string,
  fields: { email?: string | null; phone?: string | null },
  exceptId: string | null,
): Promise<void> {
  const email = fields.email ?? null;
  const phone = fields.phone ?? null;
  if (email === null && phone === null) return;
  const { rows } = await q.query<{ id: string; by_email: boolean }>(
    `SELECT id, coalesce(lower(email) = lower($2), false) AS by_email FROM contacts
     WHERE location_id = $1 AND (lower(email) = lower($2) OR phone = $3) AND ($4::uuid IS NULL OR id <> $4)
     ORDER BY by_email DESC LIMIT 1`,
    [locationId, email, phone, exceptId],
  );
  if (rows[0]) throw duplicate(rows[0].id, rows[0].by_email ? 'email' : 'phone');
}

/** A write lost a race to a concurrent one and should run again; `refusal` is the answer if it cannot. */
class Raced extends Error {
  constructor(readonly refusal: AppError) {
    super('raced');
  }
}

/**
 * Runs a write that checks for duplicates first; when a concurrent write took the email or phone
 * between check and insert (a unique violation, or a `Raced`), runs it again: the check then sees
 * the winner.
 */
async function retryingDuplicates<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const raced =
        err instanceof Raced ||
        isUniqueViolation(err, 'contacts_email') ||
        isUniqueViolation(err, 'contacts_phone');
      if (!raced) throw err;
      if (attempt >= 3) throw err instanceof Raced ? err.refusal : err;
    }
  }
}

/** Keeps the location from being deleted under the write; 404 when there is no such location. */
async function lockLocation(tx: PoolClient, locationId: string): Promise<void> {
  if (!isUuid(locationId)) throw notFound('Location');
  const { rowCount } = await tx.query('SELECT 1 FROM locations WHERE id = $1 FOR KEY SHARE', [locationId]);
  if (rowCount === 0) throw notFound('Location');
}

async function announce(q: Queryable, topic: string, locationId: string, contactId: string) {
  // Ids only: events travel through logs, Redis and webhooks, personal data does not.
  await recordEvent(q, { locationId, topic, payload: { contactId } });
}

async function insertContact(tx: PoolClient, locationId: string, f: ContactFields): Promise<Row> {
  await refuseDuplicate(tx, locationId, f, null);
  const { rows } = await tx.query<Row>(
    `INSERT INTO contacts (location_id, id, first_name, last_name, name, email, phone, company_name, tags,
                           custom_fields, source)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${COLUMNS}`,
    [
      locationId,
      uuidv7(),
      f.firstName ?? null,
      f.lastName ?? null,
      f.name ?? null,
      f.email ?? null,
      f.phone ?? null,
      f.companyName ?? null,
      f.tags ?? [],
      JSON.stringify(mergeCustomFields({}, f.customFields)),
      f.source ?? null,
    ],
  );
  await announce(tx, 'contact.created', locationId, rows[0]!.id);
  return rows[0]!;
}

async function applyChange(tx: PoolClient, current: Row, f: ContactChange): Promise<Row> {
  // Only a changed email or phone can collide; keeping one's own is never a duplicate.
  await refuseDuplicate(tx, current.location_id, { email: f.email, phone: f.phone }, current.id);
  const keep = <T>(given: T | undefined, stored: T) => (given === undefined ? stored : given);
  const { rows } = await tx.query<Row>(
    `UPDATE contacts SET first_name = $3, last_name = $4, name = $5, email = $6, phone = $7, company_name = $8,
            tags = $9, custom_fields = $10, source = $11, updated_at = now()
     WHERE location_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
    [
      current.location_id,
      current.id,
      keep(f.firstName, current.first_name),
      keep(f.lastName, current.last_name),
      keep(f.name, current.name),
      keep(f.email, current.email),
      keep(f.phone, current.phone),
      keep(f.companyName, current.company_name),
      keep(f.tags, current.tags),
      JSON.stringify(mergeCustomFields(current.custom_fields, f.customFields)),
      keep(f.source, current.source),
    ],
  );
  await announce(tx, 'contact.updated', current.location_id, current.id);
  return rows[0]!;
}

const splitInput = ({ locationId, ...fields }: NewContact) => ({ locationId, fields: cleanFields(fields) });

/**
 * Creates a contact. An email (case-insensitively) or phone another contact of the location has
 * is refused: a `bad_request` AppError with `extra.meta = {contactId, matchingField}`.
 */
export async function createContact(db: Db, input: NewContact): Promise<Contact> {
  const { locationId, fields } = splitInput(input);
  if (!isUuid(locationId)) throw notFound('Location');
  return retryingDuplicates(() =>
    db.tx(async (tx) => {
      await lockLocation(tx, locationId);
      return toContact(await insertContact(tx, locationId, fields));
    }),
  );
}

async function findRow(q: Queryable, locationId: string, id: string, lock = false): Promise<Row> {
  if (!isUuid(id) || !isUuid(locationId)) throw notFound('Contact');
  const { rows } = await q.query<Row>(
    `SELECT ${COLUMNS} FROM contacts WHERE location_id = $1 AND id = $2${lock ? ' FOR UPDATE' : ''}`,
    [locationId, id],
  );
  if (!rows[0]) throw notFound('Contact');
  return rows[0];
}

export async function getContact(q: Queryable, locationId: string, id: string): Promise<Contact> {
  return toContact(await findRow(q, locationId, id));
}

/**
 * A contact by id alone, for routes that name only the contact. With `locationIds` (a key's
 * locations; null means all) only those locations are searched, so another location's contact
 * is simply not found. Without it any location is: the caller must then check the location.
 */
export async function findContactById(
  q: Queryable,
  id: string,
  locationIds: ReadonlySet<string> | null = null,
): Promise<Contact> {
  if (!isUuid(id)) throw notFound('Contact');
  const within = locationIds ? [...locationIds].filter(isUuid) : null;
  const { rows } = await q.query<Row>(
    `SELECT ${COLUMNS} FROM contacts WHERE id = $1 AND ($2::uuid[] IS NULL OR location_id = ANY($2::uuid[]))`,
    [id, within],
  );
  if (!rows[0]) throw notFound('Contact');
  return toContact(rows[0]);
}

/** Changes a contact: the same duplicate rule as creation applies to a new email or phone. */
export async function updateContact(
  db: Db,
  locationId: string,
  id: string,
  change: ContactChange,
): Promise<Contact> {
  const fields = cleanFields(change);
  return retryingDuplicates(() =>
    db.tx(async (tx) => toContact(await applyChange(tx, await findRow(tx, locationId, id, true), fields))),
  );
}

/**
 * Updates the location's contact with this email (case-insensitively) or, failing that, this
 * phone; creates one when neither matches. Tags given replace the contact's, custom fields merge.
 * When the email matches one contact and the phone another, the phone is a duplicate (400).
 */
export async function upsertContact(
  db: Db,
  input: NewContact,
): Promise<{ contact: Contact; created: boolean }> {
  const { locationId, fields } = splitInput(input);
  if (!isUuid(locationId)) throw notFound('Location');
  return retryingDuplicates(() =>
    db.tx(async (tx) => {
      await lockLocation(tx, locationId);
      const match = async (where: string, value: string | null | undefined) => {
        if (!value) return undefined;
        const { rows } = await tx.query<Row>(
          `SELECT ${COLUMNS} FROM contacts WHERE location_id = $1 AND ${where} FOR UPDATE`,
          [locationId, value],
        );
        return rows[0];
      };
      const existing =
        (await match('lower(email) = lower($2)', fields.email)) ?? (await match('phone = $2', fields.phone));
      if (existing) return { contact: toContact(await applyChange(tx, existing, fields)), created: false };
      try {
        return { contact: toContact(await insertContact(tx, locationId, fields)), created: true };
      } catch (err) {
        // Nothing matched a moment ago: a contact with this email or phone was just committed by a
        // concurrent write. Match again, and update it.
        if (duplicateOf(err)) throw new Raced(err as AppError);
        throw err;
      }
    }),
  );
}

/** What erasing a contact removed. */
export interface ContactErasure {
  conversations: number;
  messages: number;
  media: number;
  /** Queued deliveries of the erased messages, canceled. */
  jobsCanceled: number;
  /** Media files that could not be removed from disk (other than already missing ones). */
  fileErrors: { path: string; error: string }[];
}

/**
 * Erases a contact and everything personal kept about it, in one transaction: its conversations
 * (the messages go with them), the media of those conversations, and the queued deliveries of
 * those messages (canceled; job payloads hold ids only). Media files are removed after commit; a
 * file already missing is fine. Records `contact.deleted` with ids only.
 */
export async function deleteContact(
  ctx: Pick<AppContext, 'db' | 'config'>,
  locationId: string,
  id: string,
): Promise<ContactErasure> {
  const { erasure, media } = await ctx.db.tx(async (tx) => {
    await findRow(tx, locationId, id, true);
    const { rows: convs } = await tx.query<{ id: string }>(
      'SELECT id FROM conversations WHERE location_id = $1 AND contact_id = $2 FOR UPDATE',
      [locationId, id],
    );
    const conversationIds = convs.map((c) => c.id);
    // Messages name their contact too: erase by either link.
    const { rows: messages } = await tx.query<{ id: string }>(
      `DELETE FROM messages WHERE location_id = $1 AND (contact_id = $2 OR conversation_id = ANY($3::uuid[]))
       RETURNING id`,
      [locationId, id, conversationIds],
    );
    const { rows: media } = await tx.query<{ id: string; location_id: string }>(
      'DELETE FROM media WHERE location_id = $1 AND conversation_id = ANY($2::uuid[]) RETURNING id, location_id',
      [locationId, conversationIds],
    );
    const { rowCount: jobsCanceled } = await tx.query(
      `UPDATE jobs SET status = 'canceled', updated_at = now()
       WHERE status = 'queued' AND location_id = $1 AND ref = ANY($2::text[])`,
      [locationId, messages.map((m) => m.id)],
    );
    await tx.query('DELETE FROM conversations WHERE location_id = $1 AND contact_id = $2', [locationId, id]);
    await tx.query('DELETE FROM contacts WHERE location_id = $1 AND id = $2', [locationId, id]);
    await recordEvent(tx, {
      locationId,
      topic: 'contact.deleted',
      payload: { contactId: id, conversationIds },
    });
    const erasure: ContactErasure = {
      conversations: conversationIds.length,
      messages: messages.length,
      media: media.length,
      jobsCanceled: jobsCanceled ?? 0,
      fileErrors: [],
    };
    return { erasure, media };
  });
  // The media module decides where a file lives (`path` is relative to its media root).
  await Promise.all(
    media.map(async (m) => {
      const file = mediaFilePath(ctx, { locationId: m.location_id, id: m.id });
      try {
        await rm(file, { force: true });
      } catch (err) {
        erasure.fileErrors.push({ path: file, error: (err as Error).message });
      }
    }),
  );
  return erasure;
}
