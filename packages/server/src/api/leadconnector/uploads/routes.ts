import path from 'node:path';
import multipart, { type Multipart } from '@fastify/multipart';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../../context.js';
import { AppError, notFound } from '../../../core/errors.js';
import { isUuid } from '../../../core/ids.js';
import {
  completeUpload,
  createPendingUpload,
  DEFAULT_MAX_FILE_SIZE,
  describeSize,
  MediaError,
  type StagedMedia,
  saveStaged,
  stageMedia,
  uploadFilePath,
  WHATSAPP_MAX_FILE_SIZE,
} from '../../../core/media/store.js';
import { mediaUrl, uploadUrl } from '../../../core/media/urls.js';
import { requireLocation } from '../../../http/auth.js';
import type { Queryable } from '../../../storage/db.js';
import { drainRequest } from '../../media/index.js';
import { leadConnectorErrorHandler } from '../errors.js';
import {
  completeBody,
  completeResponses,
  initiateBody,
  initiateResponses,
  uploadForm,
  uploadResponses,
} from './schemas.js';

const tags = ['Messages'];
const MAX_FILES = 10;
/** `fileAttachment`, and the `fileAttachment[]` / `fileAttachment[0]` some form builders write. */
const FILE_FIELD = /^fileAttachment(\[\d*\])?$/;

/** An upload refusal in LeadConnector's UploadFilesErrorResponseDto shape: `{status, message}`. */
class UploadFailure extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    message: string,
  ) {
    super(message);
  }
}

type InitiateBody = {
  locationId: string;
  conversationId: string;
  filename: string;
  contentType: string;
  fileSize?: number;
  channel: string;
};
type CompleteBody = {
  uploadId: string;
  filePath: string;
  locationId: string;
  conversationId: string;
  filename: string;
};

/**
 * File uploads for message attachments: the multipart upload, and the direct upload (initiate, PUT
 * to a signed URL, complete). Multipart parsing is registered in this scope only.
 */
export async function uploadRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  await app.register(async (scope) => {
    await scope.register(multipart, { throwFileSizeLimit: true });
    scope.setErrorHandler(uploadErrorHandler);

    scope.post(
      '/conversations/messages/upload',
      {
        config: { scope: 'conversations/message.write' },
        schema: {
          tags,
          summary: 'Upload file attachments',
          description:
            'multipart/form-data with the fields `conversationId`, `contactId` and `locationId`, and up to ' +
            `${MAX_FILES} files under the key \`fileAttachment\`, ${describeSize(DEFAULT_MAX_FILE_SIZE)} each. ` +
            'Allowed types (checked by content): JPG, JPEG, PNG, MP4, MPEG, ZIP, RAR, PDF, DOC, DOCX, TXT, MP3, WAV. ' +
            'Answers `{uploadedFiles: {filename: url}}`; refusals are `{status, message}` (400, 413, 415).',
          body: uploadForm,
          response: uploadResponses,
        },
      },
      async (req) => {
        if (!req.isMultipart()) {
          // The official SDK's default `Content-Type: application/json` turns a FormData into JSON.
          const sdkHint =
            req.body && typeof req.body === 'object' && 'fileAttachment' in req.body
              ? " (with the official SDK, pass {headers: {'Content-Type': 'multipart/form-data'}})"
              : '';
          throw new UploadFailure(
            400,
            `The body must be multipart/form-data, with the files under fileAttachment${sdkHint}`,
          );
        }
        const parts = req.parts({
          limits: {
            // One byte over the limit is enough to know a file is too large.
            fileSize: DEFAULT_MAX_FILE_SIZE + 1,
            files: MAX_FILES,
            fields: 50,
            fieldSize: 16 * 1024,
            parts: 100,
            headerPairs: 100,
          },
        });
        const fields: Record<string, string> = {};
        const staged: StagedMedia[] = [];
        let target: Target | undefined;
        try {
          for (let part = await nextPart(parts); part; part = await nextPart(parts)) {
            if (part.type === 'field') {
              if (typeof part.value === 'string') fields[part.fieldname] = part.value;
              continue;
            }
            if (!FILE_FIELD.test(part.fieldname)) {
              part.file.resume();
              throw new UploadFailure(
                400,
                `Unexpected file field ${part.fieldname}: send the files under the key fileAttachment`,
              );
            }
            // Fields sent before the files are checked before any file is received.
            if (!target && TARGET_FIELDS.every((k) => fields[k])) {
              target = await resolveTarget(ctx, req, fields);
            }
            staged.push(
              await stageMedia(ctx, part.file, { filename: part.filename, maxSize: DEFAULT_MAX_FILE_SIZE }),
            );
          }
          target ??= await resolveTarget(ctx, req, fields);
          if (staged.length === 0) {
            throw new UploadFailure(400, 'No files were uploaded: send them under the key fileAttachment');
          }
          const saved = await saveStaged(ctx, staged, target);
          staged.length = 0;
          // Files with the same name each keep their URL: "a.png", "a (1).png", ...
          const uploaded = new Map<string, string>();
          for (const media of saved) uploaded.set(uniqueName(uploaded, media.filename), mediaUrl(ctx, media));
          return { uploadedFiles: Object.fromEntries(uploaded) };
        } finally {
          await Promise.all(staged.map((s) => s.discard()));
        }
      },
    );

    scope.post<{ Body: InitiateBody }>(
      '/conversations/messages/upload/initiate',
      {
        config: { scope: 'conversations/message.write' },
        schema: {
          tags,
          summary: 'Initiate a direct file upload',
          description:
            'Returns a signed URL, valid 15 minutes, to PUT the raw file to; then call /complete. ' +
            `The limit is ${describeSize(WHATSAPP_MAX_FILE_SIZE)} for the WHATSAPP channel and ` +
            `${describeSize(DEFAULT_MAX_FILE_SIZE)} for any other.`,
          body: initiateBody,
          response: initiateResponses,
        },
      },
      async (req) => {
        const b = req.body;
        const target = await requireConversation(ctx.db, req, b.locationId, b.conversationId);
        const maxFileSize =
          b.channel.toUpperCase() === 'WHATSAPP' ? WHATSAPP_MAX_FILE_SIZE : DEFAULT_MAX_FILE_SIZE;
        if (b.fileSize !== undefined && b.fileSize > maxFileSize) {
          throw new UploadFailure(
            413,
            `File ${b.filename} is too large: the limit is ${describeSize(maxFileSize)}`,
          );
        }
        const media = await createPendingUpload(ctx, {
          ...target,
          filename: b.filename,
          contentType: b.contentType,
          maxSize: maxFileSize,
        });
        const expiresAt = media.expiresAt!.getTime();
        return {
          uploadUrl: uploadUrl(ctx, media.id, expiresAt),
          uploadId: media.id,
          filePath: uploadFilePath(media),
          expiresAt,
          maxFileSize,
        };
      },
    );

    scope.post<{ Body: CompleteBody }>(
      '/conversations/messages/upload/complete',
      {
        config: { scope: 'conversations/message.write' },
        schema: {
          tags,
          summary: 'Complete a direct file upload',
          description:
            'Checks the uploaded file by content and returns its URL. 404 when nothing was uploaded or ' +
            'the upload URL expired; 415 (and the file is deleted) when the type is not allowed.',
          body: completeBody,
          response: completeResponses,
        },
      },
      async (req) => {
        const b = req.body;
        requireLocation(req, b.locationId);
        if (!isUuid(b.locationId) || !isUuid(b.uploadId)) throw new AppError('not_found', 'Upload not found');
        const media = await completeUpload(ctx, b);
        return {
          uploadedFiles: Object.fromEntries([[b.filename, mediaUrl(ctx, media)]]),
          metadata: { size: media.size, contentType: media.contentType },
        };
      },
    );
  });
}

type Target = { locationId: string; conversationId: string };
const TARGET_FIELDS = ['conversationId', 'contactId', 'locationId'] as const;

async function resolveTarget(
  ctx: AppContext,
  req: FastifyRequest,
  fields: Record<string, string>,
): Promise<Target> {
  const missing = TARGET_FIELDS.filter((k) => !fields[k]);
  if (missing.length) {
    throw new UploadFailure(400, `${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} required`);
  }
  const target = await requireConversation(ctx.db, req, fields.locationId!, fields.conversationId!);
  if (target.contactId !== fields.contactId) {
    throw new UploadFailure(400, 'contactId is not the contact of this conversation');
  }
  return { locationId: target.locationId, conversationId: target.conversationId };
}

/** The key's location, and a live conversation of it: 403 and 404 otherwise. */
async function requireConversation(
  db: Queryable,
  req: FastifyRequest,
  locationId: string,
  conversationId: string,
): Promise<Target & { contactId: string }> {
  requireLocation(req, locationId);
  if (isUuid(locationId) && isUuid(conversationId)) {
    const { rows } = await db.query<{ contact_id: string }>(
      'SELECT contact_id FROM conversations WHERE location_id = $1 AND id = $2 AND deleted_at IS NULL',
      [locationId, conversationId],
    );
    if (rows[0]) return { locationId, conversationId, contactId: rows[0].contact_id };
  }
  throw notFound('Conversation');
}

/** The next part; the parser's own errors (limits, malformed bodies) become upload refusals. */
async function nextPart(parts: AsyncIterableIterator<Multipart>): Promise<Multipart | undefined> {
  try {
    const { value, done } = await parts.next();
    return done ? undefined : value;
  } catch (err) {
    const e = err as FastifyError;
    if (e.code === 'FST_REQ_FILE_TOO_LARGE') {
      throw new UploadFailure(
        413,
        `A file is too large: the limit is ${describeSize(DEFAULT_MAX_FILE_SIZE)}`,
      );
    }
    if (e.code === 'FST_FILES_LIMIT') {
      throw new UploadFailure(400, `Too many files: at most ${MAX_FILES} may be uploaded at once`);
    }
    if (err instanceof MediaError || err instanceof AppError) throw err;
    throw new UploadFailure(400, `The multipart body could not be read: ${e.message}`);
  }
}

function uniqueName(taken: Map<string, string>, name: string): string {
  if (!taken.has(name)) return name;
  const ext = path.extname(name);
  const base = name.slice(0, name.length - ext.length);
  for (let i = 1; ; i++) {
    const candidate = `${base} (${i})${ext}`;
    if (!taken.has(candidate)) return candidate;
  }
}

const MEDIA_STATUS = { too_large: 413, unsupported_type: 415, empty: 400 } as const;

function uploadErrorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) {
  drainRequest(req);
  if (err instanceof UploadFailure) {
    return reply.status(err.status).send({ status: err.status, message: err.message });
  }
  if (err instanceof MediaError) {
    if (err.kind === 'not_found' || err.kind === 'expired' || err.kind === 'not_uploaded') {
      return leadConnectorErrorHandler(new AppError('not_found', err.message), req, reply);
    }
    const status = MEDIA_STATUS[err.kind];
    return reply.status(status).send({ status, message: err.message });
  }
  return leadConnectorErrorHandler(err as FastifyError, req, reply);
}
