import type { Db } from '../../storage/db.js';
import { recordEvent } from '../../storage/outbox.js';
import { notFound } from '../errors.js';
import { isUuid } from '../ids.js';

/** Message types a web-chat visitor sees: never internal comments, emails, calls or SMS. */
export const VISITOR_MESSAGE_TYPES = [
  'TYPE_LIVE_CHAT',
  'TYPE_LIVE_CHAT_INFO_MESSAGE',
  'TYPE_WEBCHAT',
] as const;

/** Statuses a read receipt does not overwrite. */
const UNREADABLE = ['read', 'failed', 'scheduled', 'pending'];

export interface VisitorRead {
  locationId: string;
  contactId: string;
  conversationId: string;
  /** Read up to and including this seq; everything when absent. */
  seq?: number;
}

/**
 * A visitor read their conversation up to a seq: the agents' Live_Chat messages up to there
 * become `read`, each with its `message.updated` event, in one transaction. Only the contact's
 * own conversations; others are not found.
 */
export async function markReadByVisitor(
  db: Db,
  r: VisitorRead,
): Promise<{ conversationId: string; seq: number; updated: number }> {
  if (!isUuid(r.conversationId)) throw notFound('Conversation');
  return db.tx(async (tx) => {
    const { rows: conv } = await tx.query<{ last_seq: string }>(
      `SELECT last_seq FROM conversations
       WHERE location_id = $1 AND id = $2 AND contact_id = $3 AND deleted_at IS NULL`,
      [r.locationId, r.conversationId, r.contactId],
    );
    if (!conv[0]) throw notFound('Conversation');
    const upTo = Math.min(r.seq ?? Number.MAX_SAFE_INTEGER, Number(conv[0].last_seq));
    const { rows } = await tx.query<{ id: string; seq: string }>(
      `UPDATE messages SET status = 'read', updated_at = now()
       WHERE location_id = $1 AND conversation_id = $2 AND direction = 'outbound' AND seq <= $3
         AND type = ANY($4::text[]) AND status <> ALL($5::text[])
       RETURNING id, seq`,
      [r.locationId, r.conversationId, upTo, VISITOR_MESSAGE_TYPES, UNREADABLE],
    );
    rows.sort((a, b) => Number(a.seq) - Number(b.seq));
    for (const m of rows) {
      await recordEvent(tx, {
        locationId: r.locationId,
        topic: 'message.updated',
        payload: { conversationId: r.conversationId, messageId: m.id, seq: Number(m.seq), status: 'read' },
      });
    }
    return { conversationId: r.conversationId, seq: upTo, updated: rows.length };
  });
}

/**
 * An agent read a conversation: its unread count drops to 0 and `conversation.read` tells the
 * other agents and the visitor how far it was read.
 */
export async function markReadByAgent(
  db: Db,
  r: { locationId: string; conversationId: string; userId?: string | null },
): Promise<{ conversationId: string; contactId: string; seq: number }> {
  if (!isUuid(r.conversationId)) throw notFound('Conversation');
  return db.tx(async (tx) => {
    const { rows } = await tx.query<{ contact_id: string; last_seq: string }>(
      `UPDATE conversations SET unread_count = 0, updated_at = now()
       WHERE location_id = $1 AND id = $2 AND deleted_at IS NULL
       RETURNING contact_id, last_seq`,
      [r.locationId, r.conversationId],
    );
    const c = rows[0];
    if (!c) throw notFound('Conversation');
    const seq = Number(c.last_seq);
    await recordEvent(tx, {
      locationId: r.locationId,
      topic: 'conversation.read',
      payload: {
        conversationId: r.conversationId,
        contactId: c.contact_id,
        seq,
        unreadCount: 0,
        by: 'agent',
        userId: r.userId ?? null,
      },
    });
    return { conversationId: r.conversationId, contactId: c.contact_id, seq };
  });
}
