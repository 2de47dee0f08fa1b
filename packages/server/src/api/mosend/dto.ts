import type { Message } from '../../core/messages/model.js';
import { WEB_CHAT_MEDIA_KINDS } from '../../core/messages/web-chat.js';

/**
 * Mosend's Message (reference §4.2) as Charla builds it from a stored message; the org-scoped
 * agent send and the public visitor API both answer with it.
 *
 * A web-chat message with media keeps its file URL in `attachments[0]` and, in `meta`, the
 * Mosend type (`mediaType`: image | video | audio | document), the stored file's id
 * (`mediaAssetId`) and its name (`filename`). Without `meta.mediaType`, a message with an
 * attachment reads as a document.
 */
export const MOSEND_MEDIA_TYPES = WEB_CHAT_MEDIA_KINDS;
export type MosendMediaType = (typeof MOSEND_MEDIA_TYPES)[number];
export const MOSEND_MESSAGE_TYPES = ['text', ...MOSEND_MEDIA_TYPES] as const;
export type MosendMessageType = (typeof MOSEND_MESSAGE_TYPES)[number];

export type MosendStatus = 'queued' | 'sent' | 'delivered' | 'read' | 'failed';

export interface MosendMessage {
  id: string;
  conversationId: string;
  direction: 'IN' | 'OUT';
  type: MosendMessageType;
  status: MosendStatus;
  payload: { body: string } | { link: string; caption?: string; filename?: string };
  replyToMessageId: string | null;
  createdAt: string;
  updatedAt: string;
}

const STATUS: Record<string, MosendStatus> = {
  pending: 'queued',
  scheduled: 'queued',
  queued: 'queued',
  sent: 'sent',
  connected: 'sent',
  delivered: 'delivered',
  read: 'read',
  opened: 'read',
  clicked: 'read',
  failed: 'failed',
  undelivered: 'failed',
  opt_out: 'failed',
};

export function mosendStatus(status: string): MosendStatus {
  return STATUS[status] ?? 'sent';
}

export function toMosendMessage(m: Message): MosendMessage {
  const link = m.attachments[0];
  const metaType = m.meta.mediaType as string | undefined;
  const type: MosendMessageType = link
    ? (MOSEND_MEDIA_TYPES as readonly string[]).includes(metaType ?? '')
      ? (metaType as MosendMediaType)
      : 'document'
    : 'text';
  const filename = typeof m.meta.filename === 'string' ? m.meta.filename : undefined;
  return {
    id: m.id,
    conversationId: m.conversationId,
    direction: m.direction === 'inbound' ? 'IN' : 'OUT',
    type,
    status: mosendStatus(m.status),
    payload: link
      ? {
          link,
          ...(m.body ? { caption: m.body } : {}),
          ...(filename ? { filename } : {}),
        }
      : { body: m.body ?? '' },
    replyToMessageId: m.replyToId,
    createdAt: m.createdAt.toISOString(),
    updatedAt: m.updatedAt.toISOString(),
  };
}
