import multipart, { type Multipart } from '@fastify/multipart';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import type { AppContext } from '../../../context.js';
import { AppError, invalid } from '../../../core/errors.js';
import { describeSize, MediaError, storeMedia } from '../../../core/media/store.js';
import { mediaUrl } from '../../../core/media/urls.js';
import { getWebChatConversation, sendAgentWebChatMessage } from '../../../core/messages/web-chat.js';
import { drainRequest } from '../../media/index.js';
import { MOSEND_MESSAGE_TYPES, toMosendMessage } from '../dto.js';
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

      const { message } = await sendAgentWebChatMessage(ctx, {
        locationId: orgId,
        conversationId: convId,
        type,
        body: b.body,
        mediaAssetId: b.mediaAssetId,
        replyToMessageId: b.replyToMessageId,
        idempotencyKey: key,
      });
      return reply.status(201).send(envelope(toMosendMessage(message)));
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
        await getWebChatConversation(ctx.db, orgId, convId);
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
