import type { Db, Queryable } from '../../storage/db.js';
import { type Conversation, getConversation } from '../conversations/service.js';
import { AppError, invalid } from '../errors.js';
import { isUuid } from '../ids.js';
import { getMedia } from '../media/store.js';
import { mediaUrl, type UrlContext } from '../media/urls.js';
import type { Message } from './model.js';
import { appendMessage, writeOnce } from './store.js';

/** What a web-chat file is; the widget and the faces draw it from `meta.mediaType`. */
export const WEB_CHAT_MEDIA_KINDS = ['image', 'video', 'audio', 'document'] as const;
export type WebChatMediaKind = (typeof WEB_CHAT_MEDIA_KINDS)[number];

export interface WebChatAttachment {
  mediaAssetId: string;
  kind: WebChatMediaKind;
  filename: string;
  url: string;
  mimeType: string;
}

/** The message `meta` keys a web-chat attachment is described by (the hub's `media`, Mosend's DTO). */
export function webChatMeta(a: WebChatAttachment | undefined): Record<string, unknown> {
  return a
    ? { mediaType: a.kind, mediaAssetId: a.mediaAssetId, filename: a.filename, mimeType: a.mimeType }
    : {};
}

/** Throws unless `messageId` is a live-chat message of the conversation (what a quote may name). */
export async function requireQuotable(
  q: Queryable,
  locationId: string,
  conversationId: string,
  messageId: string,
): Promise<void> {
  const found = isUuid(messageId)
    ? await q.query(
        `SELECT 1 FROM messages WHERE location_id = $1 AND conversation_id = $2 AND id = $3
           AND type = 'TYPE_LIVE_CHAT'`,
        [locationId, conversationId, messageId],
      )
    : { rowCount: 0 };
  if (!found.rowCount) throw invalid(['replyToMessageId must be a message of this conversation']);
}

/** A live conversation of the location that is a web-chat one. */
export async function getWebChatConversation(
  db: Db,
  locationId: string,
  conversationId: string,
): Promise<Conversation> {
  const conversation = await getConversation(db, locationId, conversationId);
  if (conversation.channel !== 'live_chat') {
    throw new AppError('bad_request', 'The conversation is not a web-chat conversation');
  }
  return conversation;
}

/** The content types each kind accepts; a document may be any stored file. */
const KIND_PREFIX: Record<WebChatMediaKind, string | null> = {
  image: 'image/',
  video: 'video/',
  audio: 'audio/',
  document: null,
};

export interface AgentWebChatMessage {
  locationId: string;
  conversationId: string;
  type: 'text' | WebChatMediaKind;
  /** The text, or a file's caption. */
  body?: string;
  /** A file stored for this location (and, if it was uploaded for one, this conversation). */
  mediaAssetId?: string;
  replyToMessageId?: string;
  idempotencyKey?: string;
}

/**
 * An agent's message into a web-chat conversation: stored as an outbound live-chat message, sent
 * at once (the hub delivers it through the outbox event), a file described in its `meta`.
 */
export async function sendAgentWebChatMessage(
  ctx: UrlContext & { db: Db },
  input: AgentWebChatMessage,
): Promise<{ message: Message; replayed: boolean }> {
  const { db } = ctx;
  const conversation = await getWebChatConversation(db, input.locationId, input.conversationId);
  return writeOnce(db, input.locationId, input.idempotencyKey, async () => {
    const problems: string[] = [];
    if (input.type === 'text') {
      if (!input.body || input.body.trim() === '')
        problems.push('body should not be empty when type is text');
      if (input.mediaAssetId !== undefined)
        problems.push('mediaAssetId is only for image, video, audio or document');
    } else if (!input.mediaAssetId) problems.push(`mediaAssetId is required when type is ${input.type}`);
    else if (!isUuid(input.mediaAssetId)) problems.push('mediaAssetId must be a UUID');
    if (input.replyToMessageId !== undefined && !isUuid(input.replyToMessageId)) {
      problems.push('replyToMessageId must be a UUID');
    }
    if (problems.length) throw invalid(problems);

    let attachment: WebChatAttachment | undefined;
    if (input.type !== 'text') {
      const media = await getMedia(db, input.locationId, input.mediaAssetId!);
      if (media?.status !== 'ready') throw invalid(['mediaAssetId names no uploaded file']);
      if (media.conversationId !== null && media.conversationId !== conversation.id) {
        throw invalid(['mediaAssetId was uploaded for another conversation']);
      }
      const prefix = KIND_PREFIX[input.type];
      if (prefix && !media.contentType.startsWith(prefix)) {
        throw invalid([`mediaAssetId is ${media.contentType}, not a file of type ${input.type}`]);
      }
      attachment = {
        mediaAssetId: media.id,
        kind: input.type,
        filename: media.filename,
        url: mediaUrl(ctx, media),
        mimeType: media.contentType,
      };
    }
    if (input.replyToMessageId !== undefined) {
      await requireQuotable(db, input.locationId, conversation.id, input.replyToMessageId);
    }
    return appendMessage(db, {
      locationId: input.locationId,
      conversationId: conversation.id,
      type: 'TYPE_LIVE_CHAT',
      direction: 'outbound',
      status: 'sent',
      body: input.body ?? null,
      attachments: attachment ? [attachment.url] : [],
      source: 'api',
      action: 'automated',
      chatWidgetId: conversation.chatWidgetId,
      replyToId: input.replyToMessageId ?? null,
      meta: webChatMeta(attachment),
      idempotencyKey: input.idempotencyKey ?? null,
      announce: true,
      dispatch: false,
    });
  });
}

/** An agents-only note in a conversation: outside the types visitors receive, and never dispatched. */
export async function addInternalNote(
  db: Db,
  input: { locationId: string; conversationId: string; body: string; userId: string | null },
): Promise<Message> {
  if (input.body.trim() === '') throw new AppError('validation', 'body must not be blank');
  return appendMessage(db, {
    locationId: input.locationId,
    conversationId: input.conversationId,
    type: 'TYPE_INTERNAL_COMMENT',
    direction: 'outbound',
    status: 'delivered',
    body: input.body,
    source: 'inbox',
    userId: input.userId,
  });
}
