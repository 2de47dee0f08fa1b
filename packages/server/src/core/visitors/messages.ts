import type { Db } from '../../storage/db.js';
import { openConversation } from '../conversations/service.js';
import { notFound } from '../errors.js';
import { isUuid } from '../ids.js';
import { type Message, type MessageRow, toMessage } from '../messages/model.js';
import { appendMessage, writeOnce } from '../messages/store.js';
import { conversationTypeFor } from '../messages/types.js';
import { requireQuotable, type WebChatAttachment, webChatMeta } from '../messages/web-chat.js';

export interface VisitorMessageInput {
  locationId: string;
  channelId: string;
  visitorId: string;
  contactId: string;
  departmentId: string | null;
  body?: string;
  attachment?: WebChatAttachment;
  clientMessageId?: string;
  /** A message of the conversation the visitor quotes. */
  replyToMessageId?: string;
}

const idempotencyKey = (i: VisitorMessageInput) =>
  i.clientMessageId ? `webchat:${i.channelId}:${i.visitorId}:${i.clientMessageId}` : null;

/**
 * Appends a visitor's message to their open live-chat conversation on this channel, opening one
 * when there is none. With a clientMessageId a retry returns the first message instead of a copy.
 */
export async function sendVisitorMessage(
  db: Db,
  input: VisitorMessageInput,
): Promise<{ message: Message; replayed: boolean }> {
  const key = idempotencyKey(input);
  return writeOnce(db, input.locationId, key, () =>
    db.tx(async (tx) => {
      const { conversation } = await openConversation(tx, {
        locationId: input.locationId,
        contactId: input.contactId,
        channel: 'live_chat',
        type: conversationTypeFor('Live_Chat'),
        chatWidgetId: input.channelId,
        departmentId: input.departmentId,
      });
      if (input.replyToMessageId !== undefined) {
        await requireQuotable(tx, input.locationId, conversation.id, input.replyToMessageId);
      }
      return appendMessage(tx, {
        locationId: input.locationId,
        conversationId: conversation.id,
        type: 'TYPE_LIVE_CHAT',
        direction: 'inbound',
        status: 'delivered',
        body: input.body ?? null,
        attachments: input.attachment ? [input.attachment.url] : [],
        source: 'web_chat',
        action: 'manual',
        chatWidgetId: input.channelId,
        replyToId: input.replyToMessageId ?? null,
        idempotencyKey: key,
        meta: {
          visitorId: input.visitorId,
          ...(input.clientMessageId ? { clientMessageId: input.clientMessageId } : {}),
          ...webChatMeta(input.attachment),
        },
      });
    }),
  );
}

/** Messages the visitor sees: live-chat messages, not scheduled ones still waiting. */
const VISIBLE = `m.type = 'TYPE_LIVE_CHAT' AND m.status <> 'scheduled'
  AND (m.scheduled_at IS NULL OR m.scheduled_at <= now())`;

/**
 * A page of the visitor's messages across their conversations on this channel, newest first
 * from `before` (a message id of that history), returned oldest first.
 */
export async function visitorHistory(
  db: Db,
  scope: { locationId: string; channelId: string; contactId: string },
  page: { limit: number; before?: string },
): Promise<{ messages: Message[]; hasMore: boolean }> {
  const params: unknown[] = [scope.locationId, scope.contactId, scope.channelId, page.limit + 1];
  let cursor = '';
  if (page.before !== undefined) {
    if (!isUuid(page.before)) throw notFound('Message');
    const { rows } = await db.query<{ created_at: Date; id: string }>(
      `SELECT m.created_at, m.id FROM messages m JOIN conversations c
         ON c.location_id = m.location_id AND c.id = m.conversation_id
       WHERE m.location_id = $1 AND m.id = $2 AND m.contact_id = $3 AND c.chat_widget_id = $4`,
      [scope.locationId, page.before, scope.contactId, scope.channelId],
    );
    if (!rows[0]) throw notFound('Message');
    params.push(rows[0].created_at, rows[0].id);
    cursor = 'AND (m.created_at, m.id) < ($5, $6)';
  }
  const { rows } = await db.query<MessageRow>(
    `SELECT m.* FROM messages m JOIN conversations c ON c.location_id = m.location_id AND c.id = m.conversation_id
     WHERE m.location_id = $1 AND m.contact_id = $2 AND c.contact_id = $2 AND c.chat_widget_id = $3
       AND c.channel = 'live_chat' AND c.deleted_at IS NULL AND ${VISIBLE} ${cursor}
     ORDER BY m.created_at DESC, m.id DESC LIMIT $4`,
    params,
  );
  const hasMore = rows.length > page.limit;
  return { messages: rows.slice(0, page.limit).map(toMessage).reverse(), hasMore };
}
