import type { Message } from '../../../core/messages/model.js';
import { messageTypeCode } from '../../../core/messages/types.js';

/** GetMessageResponseDto (plus `dateUpdated`, `altId`, `subject` and Charla's `seq`). */
export function messageDto(m: Message) {
  const meta: Record<string, unknown> = {};
  if (m.call) {
    if (m.call.duration !== undefined) meta.callDuration = String(m.call.duration);
    if (m.call.status) meta.callStatus = m.call.status;
    meta.call = { duration: m.call.duration, status: m.call.status };
  }
  if (m.type === 'TYPE_EMAIL') meta.email = { messageIds: [m.id] };
  return {
    id: m.id,
    type: messageTypeCode(m.type),
    messageType: m.type,
    locationId: m.locationId,
    contactId: m.contactId,
    conversationId: m.conversationId,
    dateAdded: m.createdAt.toISOString(),
    dateUpdated: m.updatedAt.toISOString(),
    body: m.body ?? undefined,
    subject: m.subject ?? undefined,
    direction: m.direction,
    status: m.status,
    contentType: m.contentType,
    attachments: m.attachments,
    meta,
    source: m.source ?? undefined,
    userId: m.userId ?? undefined,
    conversationProviderId: m.providerId ?? undefined,
    chatWidgetId: m.chatWidgetId ?? undefined,
    altId: m.altId ?? undefined,
    replyToMessageId: m.replyToId ?? undefined,
    error: m.error ?? undefined,
    seq: m.seq,
  };
}

/** GetEmailMessageResponseDto: the message id doubles as the email message id. */
export function emailMessageDto(m: Message) {
  const e = m.email ?? { to: [] };
  return {
    id: m.id,
    altId: m.altId ?? undefined,
    threadId: e.threadId ?? m.id,
    locationId: m.locationId,
    contactId: m.contactId,
    conversationId: m.conversationId,
    dateAdded: m.createdAt.toISOString(),
    subject: m.subject ?? undefined,
    body: m.html ?? m.body ?? '',
    direction: m.direction,
    status: m.status,
    contentType: m.html ? 'text/html' : m.contentType,
    attachments: m.attachments,
    provider: m.providerId ? 'custom' : 'smtp',
    from: e.from ?? '',
    to: e.to,
    cc: e.cc ?? [],
    bcc: e.bcc ?? [],
    replyToMessageId: e.replyToMessageId,
    source: m.source ?? undefined,
    conversationProviderId: m.providerId ?? undefined,
    events: e.events,
    recipients: e.recipients,
  };
}

/** SendMessageResponseDto. */
export function sendResultDto(m: Message) {
  return {
    conversationId: m.conversationId,
    messageId: m.id,
    ...(m.type === 'TYPE_EMAIL' ? { emailMessageId: m.id, threadId: m.email?.threadId ?? m.id } : {}),
    status: m.status,
    ...(m.status === 'scheduled' ? { msg: 'Message scheduled successfully.' } : {}),
  };
}
