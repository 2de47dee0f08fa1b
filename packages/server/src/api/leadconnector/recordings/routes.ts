import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../../context.js';
import { isUuid } from '../../../core/ids.js';
import { CALL_MESSAGE_TYPES, transcriptOf, transcriptText } from '../../../core/media/calls.js';
import { getMedia, type Media } from '../../../core/media/store.js';
import { verifyMediaToken } from '../../../core/media/urls.js';
import { requireLocation } from '../../../http/auth.js';
import { sendMedia } from '../../media/index.js';

const tags = ['Messages'];
// A message's recording may be set or replaced later: revalidated, unlike a file's own URL.
const RECORDING_CACHE = 'private, no-cache';

interface CallMessage {
  type: string;
  attachments: string[];
  call: { recordingMediaId?: unknown; recordingUrl?: unknown; transcript?: unknown } | null;
}

const params = {
  type: 'object',
  required: ['locationId', 'messageId'],
  properties: { locationId: { type: 'string' }, messageId: { type: 'string' } },
};

const sentence = {
  type: 'object',
  properties: {
    mediaChannel: { type: 'number' },
    sentenceIndex: { type: 'number' },
    startTime: { type: 'number', description: 'Milliseconds from the start of the call' },
    endTime: { type: 'number' },
    transcript: { type: 'string' },
    confidence: { type: 'number' },
  },
};

type Params = { locationId: string; messageId: string };

/** Call recordings and transcripts of messages. */
export async function recordingRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const config = { scope: 'conversations/message.readonly' as const };

  /** The message, in the caller's location: 403 for another location, 404 for none. */
  async function loadMessage(req: FastifyRequest<{ Params: Params }>): Promise<CallMessage | null> {
    const { locationId, messageId } = req.params;
    requireLocation(req, locationId);
    if (!isUuid(locationId) || !isUuid(messageId)) return null;
    const { rows } = await ctx.db.query<CallMessage>(
      'SELECT type, attachments, call FROM messages WHERE location_id = $1 AND id = $2',
      [locationId, messageId],
    );
    return rows[0] ?? null;
  }

  const notFound = (reply: FastifyReply, what: string) =>
    reply.status(404).send({ statusCode: 404, message: `${what} not found` });

  app.get<{ Params: Params }>(
    '/conversations/messages/:messageId/locations/:locationId/recording',
    {
      config,
      schema: {
        tags,
        summary: 'Get the recording of a call message',
        description: 'The audio file (a stored recording), or a 302 redirect to where the recording is kept.',
        params,
      },
    },
    async (req, reply) => {
      const message = await loadMessage(req);
      if (!message) return notFound(reply, 'Recording');
      const { locationId } = req.params;
      const call = message.call ?? {};

      if (typeof call.recordingMediaId === 'string' && isUuid(call.recordingMediaId)) {
        const media = await getMedia(ctx.db, locationId, call.recordingMediaId);
        if (media?.status === 'ready' && isRecording(media))
          return sendMedia(ctx, req, reply, media, 'attachment', RECORDING_CACHE);
        return notFound(reply, 'Recording');
      }
      if (typeof call.recordingUrl === 'string' && isHttpUrl(call.recordingUrl)) {
        return reply.redirect(call.recordingUrl, 302);
      }
      const first = message.attachments[0];
      if (CALL_MESSAGE_TYPES.includes(message.type) && first && isHttpUrl(first)) {
        // A file of this store (and this location) is served directly; any other is redirected to.
        const own = await ownMedia(ctx, locationId, first);
        if (own)
          return isRecording(own)
            ? sendMedia(ctx, req, reply, own, 'attachment', RECORDING_CACHE)
            : notFound(reply, 'Recording');
        return reply.redirect(first, 302);
      }
      return notFound(reply, 'Recording');
    },
  );

  app.get<{ Params: Params }>(
    '/conversations/locations/:locationId/messages/:messageId/transcription',
    {
      config,
      schema: {
        tags,
        summary: 'Get the transcription of a call message',
        description:
          'An array of sentences. The spec shows a single sentence object; the live API answers the list.',
        params,
        response: { 200: { type: 'array', items: sentence } },
      },
    },
    async (req, reply) => {
      const sentences = transcriptOf((await loadMessage(req))?.call);
      if (!sentences) return notFound(reply, 'Transcription');
      return sentences;
    },
  );

  app.get<{ Params: Params }>(
    '/conversations/locations/:locationId/messages/:messageId/transcription/download',
    {
      config,
      schema: {
        tags,
        summary: 'Download the transcription of a call message',
        description: 'text/plain, one line per sentence: `[mm:ss] transcript`.',
        params,
      },
    },
    async (req, reply) => {
      const sentences = transcriptOf((await loadMessage(req))?.call);
      if (!sentences) return notFound(reply, 'Transcription');
      const text = transcriptText(sentences);
      reply.header('Content-Type', 'text/plain; charset=utf-8');
      reply.header('Content-Disposition', 'attachment; filename="transcription.txt"');
      reply.header('X-Content-Type-Options', 'nosniff');
      reply.header('Cache-Control', 'private, no-cache');
      return reply.send(text);
    },
  );
}

const isRecording = (m: Media) => m.contentType.startsWith('audio/') || m.contentType.startsWith('video/');

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

/** The stored file a URL of this server names, if it is one of `locationId`'s (token checked). */
async function ownMedia(ctx: AppContext, locationId: string, url: string): Promise<Media | null> {
  const prefix = `${ctx.config.publicUrl}/media/`;
  if (!url.startsWith(prefix)) return null;
  const [id, token] = url.slice(prefix.length).split('/');
  if (!id || !token || !isUuid(id) || !verifyMediaToken(ctx, id, token)) return null;
  const media = await getMedia(ctx.db, locationId, id);
  return media?.status === 'ready' ? media : null;
}
