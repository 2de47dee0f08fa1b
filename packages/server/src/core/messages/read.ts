import type { Db } from '../../storage/db.js';
import { getConversation } from '../conversations/service.js';
import { invalid, notFound } from '../errors.js';
import { isUuid } from '../ids.js';
import { findLocation } from '../locations/service.js';
import { type Message, type MessageRow, toMessage } from './model.js';
import { locateMessage } from './status.js';
import { normaliseTypeFilter } from './types.js';

/** A message the caller may see, by id alone; 404 for others' messages. */
export async function getMessage(
  db: Db,
  locationIds: ReadonlySet<string> | null,
  id: string,
): Promise<Message> {
  const loc = await locateMessage(db, id, locationIds);
  const { rows } = await db.query<MessageRow>('SELECT * FROM messages WHERE location_id = $1 AND id = $2', [
    loc,
    id,
  ]);
  return toMessage(rows[0]!);
}

export async function getEmailMessage(
  db: Db,
  locationIds: ReadonlySet<string> | null,
  id: string,
): Promise<Message> {
  const m = await getMessage(db, locationIds, id).catch(() => {
    throw notFound('Email message');
  });
  if (m.type !== 'TYPE_EMAIL') throw notFound('Email message');
  return m;
}

/**
 * A page of a conversation's messages, newest first. `lastMessageId` is the last (oldest) message
 * of the previous page; `nextPage` says whether older ones remain.
 */
export async function listMessages(
  db: Db,
  locationId: string,
  conversationId: string,
  page: { lastMessageId?: string; limit: number; types?: string[] },
): Promise<{ messages: Message[]; nextPage: boolean }> {
  await getConversation(db, locationId, conversationId);
  const params: unknown[] = [locationId, conversationId, page.limit + 1];
  const where = ['location_id = $1', 'conversation_id = $2'];
  if (page.lastMessageId) {
    if (!isUuid(page.lastMessageId))
      throw invalid(['lastMessageId must be the id of a message of this conversation']);
    params.push(page.lastMessageId);
    where.push(
      `seq < (SELECT seq FROM messages WHERE location_id = $1 AND conversation_id = $2 AND id = $${params.length})`,
    );
    const { rowCount } = await db.query(
      'SELECT 1 FROM messages WHERE location_id = $1 AND conversation_id = $2 AND id = $3',
      [locationId, conversationId, page.lastMessageId],
    );
    if (!rowCount) throw invalid(['lastMessageId must be the id of a message of this conversation']);
  }
  if (page.types?.length) {
    params.push(page.types.map(normaliseTypeFilter));
    where.push(`type = ANY($${params.length}::text[])`);
  }
  const { rows } = await db.query<MessageRow>(
    `SELECT * FROM messages WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT $3`,
    params,
  );
  return { messages: rows.slice(0, page.limit).map(toMessage), nextPage: rows.length > page.limit };
}

/** Types an export's `channel` stands for. Without a channel: everything but email. */
export const EXPORT_CHANNELS: Record<string, string[]> = {
  Call: [
    'TYPE_CALL',
    'TYPE_CUSTOM_CALL',
    'TYPE_IVR_CALL',
    'TYPE_CAMPAIGN_CALL',
    'TYPE_CAMPAIGN_MANUAL_CALL',
    'TYPE_CAMPAIGN_VOICEMAIL',
  ],
  SMS: [
    'TYPE_SMS',
    'TYPE_CUSTOM_SMS',
    'TYPE_CUSTOM_PROVIDER_SMS',
    'TYPE_CAMPAIGN_SMS',
    'TYPE_CAMPAIGN_MANUAL_SMS',
    'TYPE_RCS',
  ],
  Email: ['TYPE_EMAIL', 'TYPE_CUSTOM_EMAIL', 'TYPE_CUSTOM_PROVIDER_EMAIL', 'TYPE_CAMPAIGN_EMAIL'],
  WhatsApp: ['TYPE_WHATSAPP', 'TYPE_ACTIVITY_WHATSAPP'],
  Instagram: ['TYPE_INSTAGRAM', 'TYPE_INSTAGRAM_COMMENT'],
  Facebook: ['TYPE_FACEBOOK', 'TYPE_FACEBOOK_COMMENT', 'TYPE_CAMPAIGN_FACEBOOK'],
};

export interface ExportFilter {
  locationId: string;
  conversationId?: string;
  contactId?: string;
  channel?: string;
  startDate?: Date;
  endDate?: Date;
  sortBy: 'createdAt' | 'updatedAt';
  sortOrder: 'asc' | 'desc';
  limit: number;
  cursor?: string;
}

interface Cursor {
  t: number;
  id: string;
}

function decodeCursor(cursor: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Cursor;
    if (typeof c.t === 'number' && Number.isFinite(c.t) && isUuid(c.id)) return c;
  } catch {
    // fall through
  }
  throw invalid(['cursor is not a cursor this API returned']);
}

const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url');

/** Every message of a location matching the filter, in stable pages with an opaque cursor. */
export async function exportMessages(
  db: Db,
  f: ExportFilter,
): Promise<{ messages: Message[]; nextCursor: string | null; total: number }> {
  if (!isUuid(f.locationId)) throw notFound('Location');
  const where = ['location_id = $1'];
  const params: unknown[] = [f.locationId];
  const add = (clause: (p: string) => string, value: unknown) => {
    params.push(value);
    where.push(clause(`$${params.length}`));
  };
  if (f.conversationId) {
    if (!isUuid(f.conversationId)) return { messages: [], nextCursor: null, total: 0 };
    add((p) => `conversation_id = ${p}`, f.conversationId);
  }
  if (f.contactId) {
    if (!isUuid(f.contactId)) return { messages: [], nextCursor: null, total: 0 };
    add((p) => `contact_id = ${p}`, f.contactId);
  }
  if (f.channel) add((p) => `type = ANY(${p}::text[])`, EXPORT_CHANNELS[f.channel]);
  else add((p) => `type <> ALL(${p}::text[])`, EXPORT_CHANNELS.Email);
  const col = f.sortBy === 'updatedAt' ? 'updated_at' : 'created_at';
  if (f.startDate) add((p) => `${col} >= ${p}`, f.startDate);
  if (f.endDate) add((p) => `${col} <= ${p}`, f.endDate);
  const filterSql = where.join(' AND ');
  const pageParams = [...params];
  let pageSql = filterSql;
  if (f.cursor) {
    const c = decodeCursor(f.cursor);
    pageParams.push(new Date(c.t), c.id);
    const cmp = f.sortOrder === 'asc' ? '>' : '<';
    pageSql += ` AND (date_trunc('milliseconds', ${col}), id) ${cmp} ($${pageParams.length - 1}, $${pageParams.length}::uuid)`;
  }
  pageParams.push(f.limit + 1);
  const dir = f.sortOrder === 'asc' ? 'ASC' : 'DESC';
  const [rows, count] = await Promise.all([
    db.query<MessageRow>(
      `SELECT * FROM messages WHERE ${pageSql}
       ORDER BY date_trunc('milliseconds', ${col}) ${dir}, id ${dir} LIMIT $${pageParams.length}`,
      pageParams,
    ),
    db.query<{ n: number }>(`SELECT count(*)::int AS n FROM messages WHERE ${filterSql}`, params),
  ]);
  if (count.rows[0]!.n === 0 && !(await findLocation(db, f.locationId))) throw notFound('Location');
  const page = rows.rows.slice(0, f.limit).map(toMessage);
  const last = page[page.length - 1];
  const more = rows.rows.length > f.limit && last !== undefined;
  const lastDate = last ? (f.sortBy === 'updatedAt' ? last.updatedAt : last.createdAt) : undefined;
  return {
    messages: page,
    nextCursor: more && lastDate ? encodeCursor({ t: lastDate.getTime(), id: last.id }) : null,
    total: count.rows[0]!.n,
  };
}
