import type { SearchHit } from '../../../core/conversations/search.js';
import type { Conversation } from '../../../core/conversations/service.js';
import { CONVERSATION_TYPE_CODES } from '../../../core/messages/types.js';

const ms = (d: Date | null) => (d ? d.getTime() : undefined);

/** Charla's inbox fields, carried on every conversation shape (LeadConnector clients ignore them). */
const inboxFields = (c: Conversation) => ({
  status: c.status,
  channel: c.channel,
  chatWidgetId: c.chatWidgetId ?? undefined,
  departmentId: c.departmentId ?? undefined,
  followers: c.followers,
  tags: c.tags,
});

/** A search result: the spec's ConversationSchema plus the fields the live API returns. */
export function searchItemDto(h: SearchHit) {
  const name = h.contact.name ?? '';
  return {
    id: h.id,
    contactId: h.contactId,
    locationId: h.locationId,
    lastMessageBody: h.lastMessageBody ?? '',
    lastMessageType: h.lastMessageType ?? undefined,
    type: h.type,
    unreadCount: h.unreadCount,
    fullName: name,
    contactName: name,
    email: h.contact.email ?? '',
    phone: h.contact.phone ?? '',
    companyName: h.contact.companyName ?? undefined,
    tags: h.tags,
    dateAdded: h.createdAt.getTime(),
    dateUpdated: h.updatedAt.getTime(),
    lastMessageDate: ms(h.lastMessageDate),
    lastManualMessageDate: ms(h.lastManualMessageDate),
    lastMessageDirection: h.lastMessageDirection ?? undefined,
    lastOutboundMessageAction: h.lastMessageAction ?? undefined,
    lastMessageConversationProviderId: h.lastMessageProviderId ?? undefined,
    isLastMessageInternalComment: h.lastMessageType === 'TYPE_INTERNAL_COMMENT',
    inbox: h.inbox,
    starred: h.starred,
    assignedTo: h.assignedTo ?? undefined,
    followers: h.followers,
    mentions: h.mentions,
    scoring: h.score === null ? [] : [{ score: h.score }],
    sort: h.sortValue,
    status: h.status,
    channel: h.channel,
    chatWidgetId: h.chatWidgetId ?? undefined,
    departmentId: h.departmentId ?? undefined,
  };
}

/** GET /conversations/{id}: GetConversationByIdResponse, unwrapped as the spec has it. */
export function conversationDto(c: Conversation) {
  return {
    id: c.id,
    contactId: c.contactId,
    locationId: c.locationId,
    deleted: c.deletedAt !== null,
    inbox: c.inbox,
    type: CONVERSATION_TYPE_CODES[c.type] ?? 1,
    unreadCount: c.unreadCount,
    assignedTo: c.assignedTo ?? undefined,
    starred: c.starred,
    lastMessageBody: c.lastMessageBody ?? undefined,
    lastMessageType: c.lastMessageType ?? undefined,
    lastMessageDate: ms(c.lastMessageDate),
    dateAdded: c.createdAt.getTime(),
    dateUpdated: c.updatedAt.getTime(),
    ...inboxFields(c),
  };
}

/** ConversationDto, the PUT response's `conversation` (lastMessageDate as an epoch-ms string). */
export function updatedConversationDto(c: Conversation) {
  return {
    id: c.id,
    locationId: c.locationId,
    contactId: c.contactId,
    assignedTo: c.assignedTo ?? undefined,
    lastMessageBody: c.lastMessageBody ?? undefined,
    lastMessageDate: c.lastMessageDate ? String(c.lastMessageDate.getTime()) : undefined,
    lastMessageType: c.lastMessageType ?? undefined,
    unreadCount: c.unreadCount,
    inbox: c.inbox,
    starred: c.starred,
    deleted: c.deletedAt !== null,
    feedback: c.feedback ?? undefined,
    ...inboxFields(c),
  };
}

/** ConversationCreateResponseDto. */
export function createdConversationDto(c: Conversation) {
  return {
    id: c.id,
    dateUpdated: c.updatedAt.toISOString(),
    dateAdded: c.createdAt.toISOString(),
    deleted: false,
    contactId: c.contactId,
    locationId: c.locationId,
    lastMessageDate: (c.lastMessageDate ?? c.createdAt).toISOString(),
    assignedTo: c.assignedTo ?? undefined,
  };
}
