import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import { isUuid } from '../../core/ids.js';
import { isInlineType } from '../../core/media/sniff.js';
import {
  findReadyMedia,
  type Media,
  MediaError,
  mediaFilePath,
  readMedia,
  receiveUpload,
  sweepTempFiles,
} from '../../core/media/store.js';
import { verifyMediaToken, verifyUploadSignature } from '../../core/media/urls.js';

/** After a refusal, the rest of a request body is read and dropped up to this much, then cut. */
const DRAIN_LIMIT = 64 * 1024 * 1024;

const HTTP_NAMES: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  413: 'Payload Too Large',
};

const fail = (reply: FastifyReply, statusCode: number, message: string) =>
  reply.status(statusCode).send({ statusCode, message, error: HTTP_NAMES[statusCode] ?? 'Bad Request' });

/**
 * The public file face: stored files by their capability URLs (`/media/<id>/<token>/<name>`), and
 * the signed PUT of direct uploads (`/media/uploads/<id>?expires=…&sig=…`). No API key: the URL
 * is the credential.
 */
export async function mediaApi(app: FastifyInstance, ctx: AppContext): Promise<void> {
  // A direct upload's body is the raw file, of whatever type it declares: streamed, never parsed.
  sweepTempFiles(ctx).catch((err) => ctx.log.warn({ err }, 'could not sweep old upload temp files'));
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    drainRequest(req);
    if (err instanceof MediaError) {
      if (err.kind === 'too_large') return fail(reply, 413, err.message);
      if (err.kind === 'expired') return fail(reply, 403, err.message);
      return fail(reply, 404, err.message);
    }
    const status = (err as FastifyError).statusCode ?? 500;
    if (status >= 500) {
      req.log.error({ err }, 'request failed');
      return fail(reply, 500, 'Internal server error');
    }
    return fail(reply, status, err.message);
  });

  app.get<{ Params: { id: string; token: string; name: string } }>(
    '/media/:id/:token/:name',
    {
      config: { public: true },
      schema: {
        tags: ['Media'],
        summary: 'A stored file, by the URL an upload returned (no key needed)',
        security: [],
        params: {
          type: 'object',
          properties: { id: { type: 'string' }, token: { type: 'string' }, name: { type: 'string' } },
        },
      },
    },
    async (req, reply) => {
      const { id, token } = req.params;
      // The token is checked before the database is asked anything.
      if (!isUuid(id) || !verifyMediaToken(ctx, id, token)) return fail(reply, 404, 'File not found');
      const media = await findReadyMedia(ctx.db, id);
      if (!media) return fail(reply, 404, 'File not found');
      return sendMedia(ctx, req, reply, media, isInlineType(media.contentType) ? 'inline' : 'attachment');
    },
  );

  const cors = async (_req: FastifyRequest, reply: FastifyReply) => {
    reply.header('Access-Control-Allow-Origin', '*');
  };

  app.options(
    '/media/uploads/:uploadId',
    { config: { public: true }, schema: { hide: true }, onRequest: cors },
    async (_req, reply) => {
      reply.header('Access-Control-Allow-Methods', 'PUT, OPTIONS');
      reply.header('Access-Control-Allow-Headers', 'Content-Type');
      reply.header('Access-Control-Max-Age', '600');
      return reply.status(204).send();
    },
  );

  app.put<{ Params: { uploadId: string }; Querystring: { expires?: string; sig?: string } }>(
    '/media/uploads/:uploadId',
    {
      config: { public: true },
      onRequest: cors,
      schema: {
        tags: ['Media'],
        summary: 'Upload the bytes of a direct upload (the signed uploadUrl of /upload/initiate)',
        security: [],
      },
    },
    async (req, reply) => {
      const { uploadId } = req.params;
      const { expires, sig } = req.query;
      if (!isUuid(uploadId) || !verifyUploadSignature(ctx, uploadId, expires, sig)) {
        drainRequest(req);
        return fail(reply, 403, 'The upload URL signature is invalid');
      }
      if (Number(expires) <= Date.now()) {
        drainRequest(req);
        return fail(reply, 403, 'The upload URL has expired');
      }
      const length = req.headers['content-length'];
      const body = (req.body as Readable | undefined) ?? req.raw;
      // Not destroyed on a refusal mid-way: the error handler reads the rest so the answer arrives.
      const source = body.iterator({ destroyOnReturn: false });
      await receiveUpload(ctx, uploadId, source, length === undefined ? undefined : Number(length));
      return reply.status(200).send();
    },
  );
}

export type Disposition = 'inline' | 'attachment';

/** `attachment; filename="…"; filename*=UTF-8''…`: an ASCII fallback and the exact UTF-8 name. */
export function contentDisposition(type: Disposition, filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const exact = encodeURIComponent(filename).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `${type}; filename="${fallback}"; filename*=UTF-8''${exact}`;
}

/**
 * Streams a stored file with headers that keep it inert: its sniffed type, `nosniff`, a sandboxing
 * CSP, and inline display only for images, audio and video. Supports a single byte range (media
 * players seek with them) and If-None-Match.
 */
export async function sendMedia(
  ctx: AppContext,
  req: FastifyRequest,
  reply: FastifyReply,
  media: Media,
  disposition: Disposition,
  cacheControl = 'private, max-age=31536000, immutable',
): Promise<FastifyReply> {
  let size: number;
  try {
    size = (await stat(mediaFilePath(ctx, media))).size;
  } catch {
    req.log.warn({ mediaId: media.id }, 'stored file is missing');
    return fail(reply, 404, 'File not found');
  }
  const etag = `"${media.id}"`;
  reply.header('Content-Type', media.contentType);
  reply.header('X-Content-Type-Options', 'nosniff');
  reply.header('Content-Disposition', contentDisposition(disposition, media.filename));
  reply.header('Content-Security-Policy', "default-src 'none'; sandbox");
  reply.header('Cache-Control', cacheControl);
  reply.header('Accept-Ranges', 'bytes');
  reply.header('ETag', etag);
  if (req.headers['if-none-match'] === etag) return reply.status(304).send();

  const range = parseRange(req.headers.range, size);
  if (range === 'invalid') {
    reply.header('Content-Range', `bytes */${size}`);
    return reply.status(416).send();
  }
  if (range) {
    reply.status(206);
    reply.header('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
    reply.header('Content-Length', range.end - range.start + 1);
    return reply.send(readMedia(ctx, media, range));
  }
  reply.header('Content-Length', size);
  return reply.send(size === 0 ? '' : readMedia(ctx, media));
}

/** One `bytes=` range; anything else (several ranges, other units) is answered whole. */
function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'invalid' | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'invalid';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'invalid';
  return { start, end };
}

/**
 * The rest of a refused request's body is read and dropped (up to a limit, then the connection is
 * cut), so the client gets its answer instead of a connection stalled on a body nobody reads.
 */
export function drainRequest(req: FastifyRequest): void {
  const raw = req.raw;
  if (raw.readableEnded || raw.destroyed) return;
  raw.unpipe();
  let seen = 0;
  raw.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > DRAIN_LIMIT) raw.destroy();
  });
  raw.resume();
}
