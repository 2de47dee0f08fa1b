import type { Db } from '../../storage/db.js';
import { type ConversationChannel, getConversation, openConversation } from '../conversations/service.js';
import { invalid, notFound } from '../errors.js';
import { isUuid } from '../ids.js';
import type { CallData, EmailData, Message, MessageRow } from './model.js';
import { toMessage } from './model.js';
import { appendMessage } from './store.js';
import { conversationChannelFor, conversationTypeFor, type InboundType, messageTypeFor } from './types.js';

export interface InboundInput {
  locationId: string;
  type: InboundType | 'Call';
  conversationId?: string;
  contactId?: string;
  conversationProviderId?: string;
  message?: string;
  html?: string;
  subject?: string;
  attachments?: string[];
  emailFrom?: string;
  emailTo?: string;
  emailCc?: string[];
  emailBcc?: string[];
  /** The email (message id) this one replies to. */
  emailMessageId?: string;
  altId?: string;
  direction?: 'inbound' | 'outbound';
  /** When it happened; now when absent. */
  date?: string;
  call?: CallData;
  /** A review conversation (Charla): the review this message belongs to. */
  reviewId?: string;
}

/**
 * Records a message that happened elsewhere (a carrier's incoming SMS, a received email, a call)
 * in the contact's conversation; nothing is delivered. Either a conversation or a contact names
 * where it goes.
 */
export async function addExternalMessage(db: Db, input: InboundInput): Promise<Message> {
  const problems: string[] = [];
  if (!input.conversationId && !input.contactId) problems.push('conversationId or contactId is required');
  const date = input.date === undefined ? new Date() : new Date(input.date);
  if (Number.isNaN(date.getTime())) problems.push('date must be a date-time');
  else if (date.getTime() > Date.now() + 86_400_000) problems.push('date must not be in the future');
  if (problems.length) throw invalid(problems);

  return db.tx(async (tx) => {
    let conversationId: string;
    let chatWidgetId: string | null = null;
    if (input.conversationId) {
      const c = await getConversation(tx, input.locationId, input.conversationId);
      if (input.contactId && input.contactId !== c.contactId) {
        throw invalid(['contactId is not the contact of that conversation']);
      }
      conversationId = c.id;
      chatWidgetId = c.chatWidgetId;
    } else {
      const channel: ConversationChannel = input.reviewId ? 'review' : conversationChannelFor(input.type);
      const { conversation } = await openConversation(tx, {
        locationId: input.locationId,
        contactId: input.contactId!,
        channel,
        type: input.reviewId ? 'TYPE_REVIEW' : conversationTypeFor(input.type),
        reviewId: input.reviewId ?? null,
      });
      conversationId = conversation.id;
      chatWidgetId = conversation.chatWidgetId;
    }
    let providerId: string | null = null;
    if (input.conversationProviderId) {
      if (!isUuid(input.conversationProviderId)) throw notFound('Conversation provider');
      const { rows } = await tx.query<{ id: string }>(
        'SELECT id FROM conversation_providers WHERE location_id = $1 AND id = $2 AND deleted_at IS NULL',
        [input.locationId, input.conversationProviderId],
      );
      if (!rows[0]) throw notFound('Conversation provider');
      providerId = rows[0].id;
    }
    let email: EmailData | null = null;
    let replyToId: string | null = null;
    if (input.type === 'Email') {
      let parent: { id: string; email: EmailData | null } | undefined;
      if (input.emailMessageId) {
        if (!isUuid(input.emailMessageId)) throw notFound('Email message');
        const { rows } = await tx.query<Pick<MessageRow, 'id' | 'email'>>(
          'SELECT id, email FROM messages WHERE location_id = $1 AND id = $2',
          [input.locationId, input.emailMessageId],
        );
        if (!rows[0]) throw notFound('Email message');
        parent = rows[0];
        replyToId = parent.id;
      }
      email = {
        from: input.emailFrom,
        to: input.emailTo ? [input.emailTo] : [],
        ...(input.emailCc?.length ? { cc: input.emailCc } : {}),
        ...(input.emailBcc?.length ? { bcc: input.emailBcc } : {}),
        ...(parent
          ? {
              replyToMessageId: parent.id,
              threadId: parent.email?.threadId ?? parent.id,
              ...(parent.email?.messageIdHeader ? { inReplyTo: parent.email.messageIdHeader } : {}),
            }
          : {}),
      };
    }
    const direction = input.direction ?? (input.type === 'Call' && !input.call ? 'outbound' : 'inbound');
    return appendMessage(tx, {
      locationId: input.locationId,
      conversationId,
      type: input.reviewId ? 'TYPE_REVIEW' : messageTypeFor(input.type),
      direction,
      status: 'delivered',
      body: input.message ?? null,
      html: input.html ?? null,
      subject: input.subject ?? null,
      contentType: input.html ? 'text/html' : 'text/plain',
      attachments: input.attachments ?? [],
      source: 'api',
      action: 'automated',
      providerId,
      chatWidgetId,
      altId: input.altId ?? null,
      replyToId,
      email,
      call: input.call ?? null,
      meta: input.reviewId ? { reviewId: input.reviewId } : {},
      createdAt: date,
    });
  });
}

/** Another node may have written the message; callers that only have its id use this. */
export async function findMessageById(db: Db, id: string): Promise<Message> {
  if (!isUuid(id)) throw notFound('Message');
  const { rows } = await db.query<MessageRow>('SELECT * FROM messages WHERE id = $1', [id]);
  if (!rows[0]) throw notFound('Message');
  return toMessage(rows[0]);
}
