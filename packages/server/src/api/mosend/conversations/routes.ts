import multipart, { type Multipart } from '@fastify/multipart';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import type { AppContext } from '../../../context.js';
import { type Conversation, getConversation } from '../../../core/conversations/service.js';
import { AppError, invalid } from '../../../core/errors.js';
import { isUuid } from '../../../core/ids.js';
import { describeSize, getMedia, MediaError, storeMedia } from '../../../core/media/store.js';
import { mediaUrl } from '../../../core/media/urls.js';
import { appendMessage, findByIdempotencyKey } from '../../../core/messages/store.js';
import { isUniqueViolation } from '../../../storage/db.js';
import { drainRequest } from '../../media/index.js';
import { MOSEND_MESSAGE_TYPES, type MosendMediaType, toMosendMessage } from '../dto.js';
import { envelope } from '../envelope.js';
import { mosendErrorHandler } from '../errors.js';

type Params = { orgId: string; convId: string };
type SendBody = {
  type?: (typeof MOSEND_MESSAGE_TYPES)[number];
  body?: string;
  mediaAssetId?: string;
  replyToMessageId?: string;
};

const tags = ['Mosend web chat'];
const MB = 1024 * 1024;
/** Agents' web-chat attachments. */
export const WEB_CHAT_MAX_FILE_SIZE = 10 * MB;
const MAX_BODY = 4096;

const params = {
  type: 'object',
  required: ['orgId', 'convId'],
  properties: { orgId: { type: 'string', maxLength: 100 }, convId: { type: 'string', maxLength: 100 } },
};

const sendBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    type: { enum: MOSEND_MESSAGE_TYPES, description: 'Defaults to text' },
    body: {
      type: 'string',
      maxLength: MAX_BODY,
      description: 'The text (required for text), or the caption of a file',
    },
    mediaAssetId: {
      type: 'string',
      maxLength: 100,
      description: 'From …/web-chat/media; required unless text',
    },
    replyToMessageId: { type: 'string', maxLength: 100, description: 'A message of this conversation' },
  },
};

/** The content types each Mosend media type accepts; a document may be any stored file. */
const MEDIA_PREFIX: Record<MosendMediaType, string | null> = {
  image: 'image/',
  video: 'video/',
  audio: 'audio/',
  document: null,
};

/** A live conversation of the organisation that is a web-chat one. */
async function webChatConversation(ctx: AppContext, orgId: string, convId: string): Promise<Conversation> {
  const conversation = await getConversation(ctx.db, orgId, convId);
  if (conversation.channel !== 'live_chat') {
    throw new AppError('bad_request', 'The conversation is not a web-chat conversation');
  }
  return conversation;
}

/** An HTTP refusal the Mosend error handler words by its status. */
const httpError = (statusCode: number, message: string) => Object.assign(new Error(message), { statusCode });

const MEDIA_STATUS = { too_large: 413, unsupported_type: 415, empty: 400 } as const;

export async function webChatSendRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.post<{ Params: Params; Body: SendBody }>(
    '/organizations/:orgId/conversations/:convId/web-chat/send',
    {
      config: { scope: 'conversations/message.write' },
      schema: {
        tags,
        summary: 'Send an agent message into a web-chat conversation',
        description:
          'Stored as an outbound live-chat message and delivered to the visitor in real time. An ' +
          '`Idempotency-Key` header makes a retry answer the first message instead of sending again.',
        params,
        body: sendBody,
      },
    },
    async (req, reply: FastifyReply) => {
      const { orgId, convId } = req.params;
      const b = req.body ?? {};
      const type = b.type ?? 'text';
      const idempotencyKey = req.headers['idempotency-key'];
      const key = typeof idempotencyKey === 'string' && idempotencyKey !== '' ? idempotencyKey : undefined;
      if (key && key.length > 255) throw invalid(['Idempotency-Key must be at most 255 characters']);

      const conversation = await webChatConversation(ctx, orgId, convId);
      if (key) {
        const earlier = await findByIdempotencyKey(ctx.db, orgId, key);
        if (earlier) return reply.status(201).send(envelope(toMosendMessage(earlier)));
      }

      const problems: string[] = [];
      if (type === 'text') {
        if (!b.body || b.body.trim() === '') problems.push('body should not be empty when type is text');
        if (b.mediaAssetId !== undefined)
          problems.push('mediaAssetId is only for image, video, audio or document');
      } else if (!b.mediaAssetId) problems.push(`mediaAssetId is required when type is ${type}`);
      else if (!isUuid(b.mediaAssetId)) problems.push('mediaAssetId must be a UUID');
      if (b.replyToMessageId !== undefined && !isUuid(b.replyToMessageId)) {
        problems.push('replyToMessageId must be a UUID');
      }
      if (problems.length) throw invalid(problems);

      let attachment: { url: string; id: string; filename: string; mimeType: string } | undefined;
      if (type !== 'text') {
        const media = await getMedia(ctx.db, orgId, b.mediaAssetId!);
        if (media?.status !== 'ready') throw invalid(['mediaAssetId names no uploaded file']);
        if (media.conversationId !== null && media.conversationId !== convId) {
          throw invalid(['mediaAssetId was uploaded for another conversation']);
        }
        const prefix = MEDIA_PREFIX[type];
        if (prefix && !media.contentType.startsWith(prefix)) {
          throw invalid([`mediaAssetId is ${media.contentType}, not a file of type ${type}`]);
        }
        attachment = {
          url: mediaUrl(ctx, media),
          id: media.id,
          filename: media.filename,
          mimeType: media.contentType,
        };
      }
      if (b.replyToMessageId !== undefined) {
        const { rowCount } = await ctx.db.query(
          'SELECT 1 FROM messages WHERE location_id = $1 AND conversation_id = $2 AND id = $3',
          [orgId, convId, b.replyToMessageId],
        );
        if (!rowCount) throw invalid(['replyToMessageId must be a message of this conversation']);
      }

      try {
        const message = await appendMessage(ctx.db, {
          locationId: orgId,
          conversationId: conversation.id,
          type: 'TYPE_LIVE_CHAT',
          direction: 'outbound',
          status: 'sent',
          body: b.body ?? null,
          attachments: attachment ? [attachment.url] : [],
          source: 'api',
          action: 'automated',
          chatWidgetId: conversation.chatWidgetId,
          replyToId: b.replyToMessageId ?? null,
          meta: attachment
            ? {
                mediaType: type,
                mediaAssetId: attachment.id,
                filename: attachment.filename,
                mimeType: attachment.mimeType,
              }
            : {},
          idempotencyKey: key ?? null,
          announce: true,
          dispatch: false,
        });
        return reply.status(201).send(envelope(toMosendMessage(message)));
      } catch (err) {
        // A concurrent retry with the same key won the race: answer with its message.
        if (key && isUniqueViolation(err, 'messages_idempotency')) {
          const earlier = await findByIdempotencyKey(ctx.db, orgId, key);
          if (earlier) return reply.status(201).send(envelope(toMosendMessage(earlier)));
        }
        throw err;
      }
    },
  );

  // Multipart parsing only where a file is expected.
  await app.register(async (scope) => {
    await scope.register(multipart, { throwFileSizeLimit: true });
    scope.setErrorHandler((err: FastifyError, req, reply) => {
      drainRequest(req);
      if (err instanceof MediaError) {
        const status = err.kind in MEDIA_STATUS ? MEDIA_STATUS[err.kind as keyof typeof MEDIA_STATUS] : 404;
        return mosendErrorHandler(httpError(status, err.message) as FastifyError, req, reply);
      }
      return mosendErrorHandler(err, req, reply);
    });

    scope.post<{ Params: Params }>(
      '/organizations/:orgId/conversations/:convId/web-chat/media',
      {
        config: { scope: 'conversations/message.write' },
        schema: {
          tags,
          summary: 'Upload a file for a web-chat message',
          description:
            `multipart/form-data with one file under \`file\`, at most ${describeSize(WEB_CHAT_MAX_FILE_SIZE)}. ` +
            'Allowed types (checked by content): JPG, PNG, MP4, MPEG, MP3, WAV, PDF, DOC, DOCX, ZIP, RAR, TXT. ' +
            'Answers the file id under both `mediaAssetId` and `mediaId`; send it with …/web-chat/send.',
          params,
        },
      },
      async (req, reply: FastifyReply) => {
        const { orgId, convId } = req.params;
        await webChatConversation(ctx, orgId, convId);
        if (!req.isMultipart())
          throw invalid(['the body must be multipart/form-data with the file under "file"']);
        const parts = req.parts({
          limits: {
            fileSize: WEB_CHAT_MAX_FILE_SIZE + 1,
            files: 1,
            fields: 20,
            fieldSize: 16 * 1024,
            parts: 40,
          },
        });
        let stored: Awaited<ReturnType<typeof storeMedia>> | undefined;
        for (let part = await nextPart(parts); part; part = await nextPart(parts)) {
          if (part.type === 'field') continue;
          if (part.fieldname !== 'file' || stored) {
            part.file.resume();
            throw invalid([`unexpected file field ${part.fieldname}: send one file under "file"`]);
          }
          stored = await storeMedia(ctx, {
            locationId: orgId,
            conversationId: convId,
            filename: part.filename,
            source: part.file,
            maxSize: WEB_CHAT_MAX_FILE_SIZE,
          });
        }
        if (!stored) throw invalid(['file is required']);
        const url = mediaUrl(ctx, stored);
        return reply.status(201).send(
          envelope({
            mediaAssetId: stored.id,
            mediaId: stored.id,
            url,
            mimeType: stored.contentType,
            filename: stored.filename,
            sizeBytes: stored.size,
          }),
        );
      },
    );
  });
}

/** The next part; the parser's own errors become 4xx refusals. */
async function nextPart(parts: AsyncIterableIterator<Multipart>): Promise<Multipart | undefined> {
  try {
    const { value, done } = await parts.next();
    return done ? undefined : value;
  } catch (err) {
    const e = err as FastifyError;
    if (e.code === 'FST_REQ_FILE_TOO_LARGE') {
      throw httpError(413, `The file is too large: the limit is ${describeSize(WEB_CHAT_MAX_FILE_SIZE)}`);
    }
    if (e.code === 'FST_FILES_LIMIT') throw invalid(['send one file under "file"']);
    if (err instanceof MediaError || err instanceof AppError) throw err;
    throw invalid([`the multipart body could not be read: ${e.message}`]);
  }
}
