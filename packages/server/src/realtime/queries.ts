import type { WireMedia, WireMessage } from '@charla/protocol';
import type { MessageRow } from '../core/messages/model.js';
import { VISITOR_MESSAGE_TYPES } from '../core/messages/receipts.js';
import { WEB_CHAT_MEDIA_KINDS } from '../core/messages/web-chat.js';
import type { Queryable } from '../storage/db.js';

const WIRE_COLUMNS = `id, location_id, conversation_id, contact_id, seq, type, direction, status, body,
  content_type, attachments, user_id, reply_to_id, meta, created_at, updated_at`;

/** The columns a wire message carries (WIRE_COLUMNS). */
type WireRow = Pick<
  MessageRow,
  | 'id'
  | 'location_id'
  | 'conversation_id'
  | 'contact_id'
  | 'seq'
  | 'type'
  | 'direction'
  | 'status'
  | 'body'
  | 'content_type'
  | 'attachments'
  | 'user_id'
  | 'reply_to_id'
  | 'meta'
  | 'created_at'
  | 'updated_at'
>;

const text = (v: unknown) => (typeof v === 'string' ? v : null);

/** The media description web-chat sends keep in `meta` (api/mosend/dto.ts names the keys). */
function wireMedia(meta: Record<string, unknown>): WireMedia | null {
  const kind = meta.mediaType;
  if (typeof kind !== 'string' || !(WEB_CHAT_MEDIA_KINDS as readonly string[]).includes(kind)) return null;
  return { kind: kind as WireMedia['kind'], filename: text(meta.filename), mimeType: text(meta.mimeType) };
}

const toWire = (r: WireRow): WireMessage => ({
  id: r.id,
  locationId: r.location_id,
  conversationId: r.conversation_id,
  contactId: r.contact_id,
  seq: Number(r.seq),
  type: r.type,
  direction: r.direction,
  status: r.status,
  body: r.body,
  contentType: r.content_type,
  attachments: r.attachments,
  userId: r.user_id,
  replyToId: r.reply_to_id,
  media: wireMedia(r.meta),
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

/** Whether a visitor may see this message (their contact's check is the caller's). */
export const visibleToVisitor = (m: WireMessage) =>
  (VISITOR_MESSAGE_TYPES as readonly string[]).includes(m.type) && m.status !== 'scheduled';

/** Many messages by (location, id) in one query: one fetch per batch of events per node. */
export async function fetchMessages(
  q: Queryable,
  keys: { locationId: string; messageId: string }[],
): Promise<Map<string, WireMessage>> {
  if (keys.length === 0) return new Map();
  const { rows } = await q.query<WireRow>(
    `SELECT ${WIRE_COLUMNS} FROM messages
     WHERE (location_id, id) IN (SELECT * FROM unnest($1::uuid[], $2::uuid[]))`,
    [keys.map((k) => k.locationId), keys.map((k) => k.messageId)],
  );
  return new Map(rows.map((r) => [r.id, toWire(r)]));
}

/** One page of a conversation after `seq`, oldest first. */
export async function messagesAfter(
  q: Queryable,
  p: { locationId: string; conversationId: string; after: number; limit: number; visitorOnly: boolean },
): Promise<WireMessage[]> {
  const { rows } = await q.query<WireRow>(
    `SELECT ${WIRE_COLUMNS} FROM messages
     WHERE location_id = $1 AND conversation_id = $2 AND seq > $3
       AND ($5::boolean IS FALSE OR (type = ANY($6::text[]) AND status <> 'scheduled'))
     ORDER BY seq LIMIT $4`,
    [p.locationId, p.conversationId, p.after, p.limit, p.visitorOnly, VISITOR_MESSAGE_TYPES],
  );
  return rows.map(toWire);
}

/** The last `limit` messages a visitor may see, oldest first. */
export async function recentVisitorMessages(
  q: Queryable,
  p: { locationId: string; conversationId: string; limit: number },
): Promise<WireMessage[]> {
  const { rows } = await q.query<WireRow>(
    `SELECT ${WIRE_COLUMNS} FROM messages
     WHERE location_id = $1 AND conversation_id = $2 AND type = ANY($4::text[]) AND status <> 'scheduled'
     ORDER BY seq DESC LIMIT $3`,
    [p.locationId, p.conversationId, p.limit, VISITOR_MESSAGE_TYPES],
  );
  return rows.reverse().map(toWire);
}

/** A visitor's live-chat conversations: the most recent ones, plus any they name. */
export async function visitorConversations(
  q: Queryable,
  p: { locationId: string; contactId: string; named: string[]; limit: number },
): Promise<{ id: string; lastSeq: number }[]> {
  const { rows } = await q.query<{ id: string; last_seq: string }>(
    `(SELECT id, last_seq, updated_at FROM conversations
      WHERE location_id = $1 AND contact_id = $2 AND channel = 'live_chat' AND deleted_at IS NULL
      ORDER BY updated_at DESC LIMIT $4)
     UNION
     (SELECT id, last_seq, updated_at FROM conversations
      WHERE location_id = $1 AND contact_id = $2 AND channel = 'live_chat' AND id = ANY($3::uuid[]))
     ORDER BY updated_at`,
    [p.locationId, p.contactId, p.named, p.limit],
  );
  return rows.map((r) => ({ id: r.id, lastSeq: Number(r.last_seq) }));
}

export interface ConversationInfo {
  locationId: string;
  contactId: string;
  channel: string;
}

/** Where a conversation lives and whose it is; these never change, so nodes cache them. */
export async function conversationInfo(q: Queryable, id: string): Promise<ConversationInfo | undefined> {
  const { rows } = await q.query<{ location_id: string; contact_id: string; channel: string }>(
    'SELECT location_id, contact_id, channel FROM conversations WHERE id = $1',
    [id],
  );
  const r = rows[0];
  return r && { locationId: r.location_id, contactId: r.contact_id, channel: r.channel };
}

/** Whether a user belongs to every one of these locations. */
export async function userInLocations(q: Queryable, userId: string, locationIds: string[]): Promise<boolean> {
  const { rows } = await q.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM location_users WHERE user_id = $1 AND location_id = ANY($2::uuid[])',
    [userId, locationIds],
  );
  return rows[0]!.n === new Set(locationIds).size;
}
