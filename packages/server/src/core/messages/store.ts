import { JOBS_CHANNEL } from '../../jobs/queue.js';
import type { Queryable } from '../../storage/db.js';
import { OUTBOX_CHANNEL } from '../../storage/outbox.js';
import { notFound } from '../errors.js';
import { uuidv7 } from '../ids.js';
import { type CallData, type EmailData, type Message, type MessageRow, toMessage } from './model.js';

export interface NewMessage {
  id?: string;
  locationId: string;
  conversationId: string;
  type: string;
  direction: 'inbound' | 'outbound';
  status: string;
  body?: string | null;
  html?: string | null;
  subject?: string | null;
  contentType?: string;
  attachments?: string[];
  source?: string | null;
  /** manual (a person) or automated; feeds lastMessageAction and the manual-message date. */
  action?: 'manual' | 'automated';
  userId?: string | null;
  providerId?: string | null;
  chatWidgetId?: string | null;
  altId?: string | null;
  replyToId?: string | null;
  email?: EmailData | null;
  call?: CallData | null;
  meta?: Record<string, unknown>;
  scheduledAt?: Date | null;
  idempotencyKey?: string | null;
  createdAt?: Date;
  /** Queue a `message.dispatch` job (at scheduledAt, or now). */
  dispatch?: boolean;
  /** Publish `message.created` now; a scheduled message is announced when it fires instead. */
  announce?: boolean;
}

/** How much of a body the conversation keeps as its preview. */
const PREVIEW = 500;

/**
 * The message path's one write: in a single statement (so a single round trip and one atomic
 * transaction even outside an explicit one) it takes the conversation's next `seq`, updates its
 * last-message fields and unread count, inserts the message, records the outbox event and
 * queues the delivery job. Row locking on the conversation keeps `seq` gap-free and ordered.
 */
export async function appendMessage(q: Queryable, m: NewMessage): Promise<Message> {
  const at = m.createdAt ?? new Date();
  const params = [
    m.locationId, // 1
    m.conversationId, // 2
    m.id ?? uuidv7(), // 3
    m.type, // 4
    m.direction, // 5
    m.status, // 6
    m.body ?? null, // 7
    m.html ?? null, // 8
    m.subject ?? null, // 9
    m.contentType ?? 'text/plain', // 10
    m.attachments ?? [], // 11
    m.source ?? null, // 12
    m.action ?? null, // 13
    m.userId ?? null, // 14
    m.providerId ?? null, // 15
    m.chatWidgetId ?? null, // 16
    m.altId ?? null, // 17
    m.replyToId ?? null, // 18
    m.email ? JSON.stringify(m.email) : null, // 19
    m.call ? JSON.stringify(m.call) : null, // 20
    JSON.stringify(m.meta ?? {}), // 21
    m.scheduledAt ?? null, // 22
    m.idempotencyKey ?? null, // 23
    at, // 24
    m.announce !== false, // 25
    m.dispatch === true, // 26
    PREVIEW, // 27
  ];
  const { rows } = await q.query<MessageRow>(
    `WITH conv AS (
       UPDATE conversations SET
         last_seq = last_seq + 1,
         last_message_id = $3,
         last_message_body = left(coalesce($7, ''), $27),
         last_message_type = $4,
         last_message_direction = $5,
         last_message_action = $13,
         last_message_provider_id = $15,
         last_message_date = $24,
         last_manual_message_date = CASE WHEN $13 = 'manual' THEN $24 ELSE last_manual_message_date END,
         unread_count = CASE WHEN $5 = 'inbound' THEN unread_count + 1 ELSE unread_count END,
         inbox = true,
         updated_at = now()
       WHERE location_id = $1 AND id = $2 AND deleted_at IS NULL
       RETURNING id, contact_id, last_seq
     ), msg AS (
       INSERT INTO messages (location_id, id, conversation_id, contact_id, seq, type, direction, status, body, html,
         subject, content_type, attachments, source, action, user_id, provider_id, chat_widget_id, alt_id,
         reply_to_id, email, call, meta, scheduled_at, idempotency_key, created_at, updated_at)
       SELECT $1, $3, conv.id, conv.contact_id, conv.last_seq, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
         $16, $17, $18, $19, $20, $21, $22, $23, $24, $24
       FROM conv
       RETURNING *
     ), event AS (
       INSERT INTO outbox (location_id, topic, payload)
       SELECT $1, 'message.created', jsonb_build_object('conversationId', conversation_id, 'messageId', id,
         'seq', seq, 'direction', direction, 'type', type, 'status', status)
       FROM msg WHERE $25
     ), job AS (
       INSERT INTO jobs (location_id, kind, payload, run_at, ref)
       SELECT $1, 'message.dispatch', jsonb_build_object('messageId', id), coalesce($22, now()), id::text
       FROM msg WHERE $26
     )
     SELECT msg.*,
       CASE WHEN $25 THEN pg_notify('${OUTBOX_CHANNEL}', '') END AS notified_outbox,
       CASE WHEN $26 THEN pg_notify('${JOBS_CHANNEL}', '') END AS notified_jobs
     FROM msg`,
    params,
  );
  if (!rows[0]) throw notFound('Conversation');
  return toMessage(rows[0]);
}
