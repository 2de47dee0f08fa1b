import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AppContext } from '../../context.js';
import type { Queryable } from '../../storage/db.js';
import { randomToken, uuidv7 } from '../ids.js';
import { type SniffedType, Sniffer } from './sniff.js';

/** What the media store needs from the context. */
export type MediaContext = Pick<AppContext, 'config' | 'db' | 'secret'>;

const MB = 1024 * 1024;
/** The LeadConnector attachment limit. */
export const DEFAULT_MAX_FILE_SIZE = 5 * MB;
/** Direct uploads for the WhatsApp channel. */
export const WHATSAPP_MAX_FILE_SIZE = 100 * MB;

export interface Media {
  id: string;
  locationId: string;
  conversationId: string | null;
  filename: string;
  /** Sniffed from the bytes once the file is ready; the declared type while an upload is pending. */
  contentType: string;
  size: number;
  status: 'pending' | 'ready';
  maxSize: number | null;
  expiresAt: Date | null;
  createdAt: Date;
}

interface Row {
  id: string;
  location_id: string;
  conversation_id: string | null;
  filename: string;
  content_type: string;
  size: string;
  path: string;
  status: 'pending' | 'ready';
  max_size: string | null;
  expires_at: Date | null;
  created_at: Date;
}

const toMedia = (r: Row): Media => ({
  id: r.id,
  locationId: r.location_id,
  conversationId: r.conversation_id,
  filename: r.filename,
  contentType: r.content_type,
  size: Number(r.size),
  status: r.status,
  maxSize: r.max_size === null ? null : Number(r.max_size),
  expiresAt: r.expires_at,
  createdAt: r.created_at,
});

export type MediaErrorKind =
  | 'too_large'
  | 'unsupported_type'
  | 'empty'
  | 'not_found'
  | 'expired'
  | 'not_uploaded';

/** Why a file was refused or cannot be found; each API face words and numbers it its own way. */
export class MediaError extends Error {
  constructor(
    readonly kind: MediaErrorKind,
    message: string,
    /** For `too_large`: the limit in bytes. */
    readonly limit?: number,
  ) {
    super(message);
    this.name = 'MediaError';
  }
}

export const describeSize = (bytes: number) =>
  bytes % MB === 0 ? `${bytes / MB} MB` : `${Math.round((bytes / MB) * 10) / 10} MB`;

const tooLarge = (filename: string, limit: number) =>
  new MediaError('too_large', `File ${filename} is too large: the limit is ${describeSize(limit)}`, limit);

/** The directory every stored file lives under: `${dataDir}/media`. */
export const mediaRoot = (ctx: Pick<AppContext, 'config'>) => path.join(ctx.config.dataDir, 'media');

/** Where a file is kept: `${dataDir}/media/<locationId>/<mediaId>`. */
export function mediaFilePath(ctx: Pick<AppContext, 'config'>, media: { locationId: string; id: string }) {
  return path.join(mediaRoot(ctx), media.locationId, media.id);
}

/** A name fit to store and show: no directories, no control characters, at most 200 characters. */
export function cleanFilename(name: string | undefined): string {
  let base = (name ?? '').split(/[\\/]/).pop() ?? '';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
  base = base.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  if (base === '' || base === '.' || base === '..') return 'file';
  if (base.length > 200) {
    const ext = path.extname(base).slice(0, 20);
    base = base.slice(0, 200 - ext.length) + ext;
  }
  return base;
}

interface TempFile {
  tmpPath: string;
  size: number;
  sniffer: Sniffer;
}

/**
 * Streams `source` into a new temp file under the media root (same file system as the final
 * place, so it can be renamed there), at most `maxSize` bytes; sniffs it on the way.
 */
async function writeTemp(
  ctx: Pick<AppContext, 'config'>,
  source: AsyncIterable<Uint8Array> | Uint8Array,
  filename: string,
  maxSize: number,
): Promise<TempFile> {
  const dir = path.join(mediaRoot(ctx), '.tmp');
  await mkdir(dir, { recursive: true });
  const tmpPath = path.join(dir, `${randomToken(12)}.part`);
  const sniffer = new Sniffer();
  const input: AsyncIterable<Uint8Array> = source instanceof Uint8Array ? Readable.from([source]) : source;
  try {
    await pipeline(
      input,
      async function* (chunks: AsyncIterable<Uint8Array>) {
        for await (const chunk of chunks) {
          if (sniffer.size + chunk.length > maxSize) throw tooLarge(filename, maxSize);
          sniffer.update(chunk);
          yield chunk;
        }
      },
      createWriteStream(tmpPath, { flags: 'wx', mode: 0o600 }),
    );
  } catch (err) {
    await rm(tmpPath, { force: true });
    throw err;
  }
  return { tmpPath, size: sniffer.size, sniffer };
}

/** A file written and identified, not yet stored: `saveStaged` keeps it, `discard` drops it. */
export interface StagedMedia {
  tmpPath: string;
  filename: string;
  size: number;
  type: SniffedType;
  discard(): Promise<void>;
}

/**
 * Receives one file: streams it to a temp file within `maxSize`, and identifies it by content.
 * Throws `MediaError` (too_large, empty, unsupported_type) and leaves nothing behind when it does.
 */
export async function stageMedia(
  ctx: Pick<AppContext, 'config'>,
  source: AsyncIterable<Uint8Array> | Uint8Array,
  options: { filename: string; maxSize?: number },
): Promise<StagedMedia> {
  const filename = cleanFilename(options.filename);
  const temp = await writeTemp(ctx, source, filename, options.maxSize ?? DEFAULT_MAX_FILE_SIZE);
  const discard = () => rm(temp.tmpPath, { force: true });
  if (temp.size === 0) {
    await discard();
    throw new MediaError('empty', `File ${filename} is empty`);
  }
  const type = temp.sniffer.result(filename);
  if (!type) {
    await discard();
    throw unsupported(filename);
  }
  return { tmpPath: temp.tmpPath, filename, size: temp.size, type, discard };
}

const unsupported = (filename: string) =>
  new MediaError(
    'unsupported_type',
    `File ${filename} is not an allowed type: JPG, JPEG, PNG, MP4, MPEG, ZIP, RAR, PDF, DOC, DOCX, TXT, MP3 or WAV`,
  );

/**
 * Keeps staged files for a location, all or none: each is moved to its place and recorded as a
 * ready `media` row in one transaction. On failure nothing stays, neither rows nor files.
 */
export async function saveStaged(
  ctx: MediaContext,
  staged: StagedMedia[],
  target: { locationId: string; conversationId?: string | null },
): Promise<Media[]> {
  const moved: string[] = [];
  try {
    return await ctx.db.tx(async (q) => {
      const out: Media[] = [];
      for (const s of staged) {
        const id = uuidv7();
        const file = mediaFilePath(ctx, { locationId: target.locationId, id });
        await mkdir(path.dirname(file), { recursive: true });
        await rename(s.tmpPath, file);
        moved.push(file);
        const { rows } = await q.query<Row>(
          `INSERT INTO media (location_id, id, conversation_id, filename, content_type, size, path, status)
           VALUES ($1, $2, $3, $4, $5, $6, $7, 'ready') RETURNING *`,
          [
            target.locationId,
            id,
            target.conversationId ?? null,
            s.filename,
            s.type.contentType,
            s.size,
            relativePath(target.locationId, id),
          ],
        );
        out.push(toMedia(rows[0]!));
      }
      return out;
    });
  } catch (err) {
    await Promise.all([...moved.map((f) => rm(f, { force: true })), ...staged.map((s) => s.discard())]);
    throw err;
  }
}

const relativePath = (locationId: string, id: string) => `${locationId}/${id}`;

/**
 * Stores one file for a location (and optionally a conversation): size limit, content sniffing,
 * file and row. The one way files enter the store; the upload APIs and the web chat use it.
 */
export async function storeMedia(
  ctx: MediaContext,
  input: {
    locationId: string;
    conversationId?: string | null;
    filename: string;
    source: AsyncIterable<Uint8Array> | Uint8Array;
    maxSize?: number;
  },
): Promise<Media> {
  const staged = await stageMedia(ctx, input.source, { filename: input.filename, maxSize: input.maxSize });
  const [media] = await saveStaged(ctx, [staged], input);
  return media!;
}

/** A ready file by id alone (ids are unique): what the public file URLs look up. */
export async function findReadyMedia(q: Queryable, id: string): Promise<Media | null> {
  const { rows } = await q.query<Row>(`SELECT * FROM media WHERE id = $1 AND status = 'ready'`, [id]);
  return rows[0] ? toMedia(rows[0]) : null;
}

/** A file of one location, in any state. */
export async function getMedia(q: Queryable, locationId: string, id: string): Promise<Media | null> {
  const { rows } = await q.query<Row>('SELECT * FROM media WHERE location_id = $1 AND id = $2', [
    locationId,
    id,
  ]);
  return rows[0] ? toMedia(rows[0]) : null;
}

/** Removes a file and its row. */
export async function deleteMedia(ctx: MediaContext, media: Media, q: Queryable = ctx.db): Promise<void> {
  await q.query('DELETE FROM media WHERE location_id = $1 AND id = $2', [media.locationId, media.id]);
  await rm(mediaFilePath(ctx, media), { force: true });
}

/** Reads a stored file from its start, or the inclusive byte range given. */
export function readMedia(
  ctx: Pick<AppContext, 'config'>,
  media: Media,
  range?: { start: number; end: number },
) {
  return createReadStream(mediaFilePath(ctx, media), range);
}

// ---------------------------------------------------------------------------------------------
// Direct uploads: initiate (a pending row and a signed PUT URL), PUT the bytes, complete (sniff).

/** How long a direct upload URL stays valid. */
export const UPLOAD_TTL_MS = 15 * 60 * 1000;

/** The `filePath` a direct upload is named by (the shape of LeadConnector's storage paths). */
export const uploadFilePath = (media: Pick<Media, 'locationId' | 'conversationId' | 'id'>) =>
  `location/${media.locationId}/conversations/${media.conversationId ?? 'none'}/${media.id}`;

export async function createPendingUpload(
  ctx: MediaContext,
  input: {
    locationId: string;
    conversationId: string;
    filename: string;
    contentType: string;
    maxSize: number;
  },
): Promise<Media> {
  await purgeExpiredUploads(ctx, input.locationId);
  const id = uuidv7();
  const { rows } = await ctx.db.query<Row>(
    `INSERT INTO media (location_id, id, conversation_id, filename, content_type, size, path, status,
                        max_size, expires_at)
     VALUES ($1, $2, $3, $4, $5, 0, $6, 'pending', $7, now() + make_interval(secs => $8::double precision / 1000))
     RETURNING *`,
    [
      input.locationId,
      id,
      input.conversationId,
      cleanFilename(input.filename),
      input.contentType.slice(0, 200),
      relativePath(input.locationId, id),
      input.maxSize,
      UPLOAD_TTL_MS,
    ],
  );
  return toMedia(rows[0]!);
}

const isExpired = (m: Media) => m.expiresAt !== null && m.expiresAt.getTime() <= Date.now();

/**
 * Receives the bytes of a direct upload (the signed PUT). Allowed while the upload is pending and
 * unexpired; a second PUT replaces the first. `declaredLength` refuses an oversize body unread.
 */
export async function receiveUpload(
  ctx: MediaContext,
  uploadId: string,
  source: AsyncIterable<Uint8Array>,
  declaredLength?: number,
): Promise<Media> {
  const { rows } = await ctx.db.query<Row>(`SELECT * FROM media WHERE id = $1 AND status = 'pending'`, [
    uploadId,
  ]);
  const pending = rows[0] ? toMedia(rows[0]) : null;
  if (!pending) throw new MediaError('not_found', 'Upload not found');
  if (isExpired(pending)) throw new MediaError('expired', 'The upload URL has expired');
  const limit = pending.maxSize ?? DEFAULT_MAX_FILE_SIZE;
  if (declaredLength !== undefined && declaredLength > limit) throw tooLarge(pending.filename, limit);
  const temp = await writeTemp(ctx, source, pending.filename, limit);
  try {
    // Under the row's lock, so a completion in between cannot sniff one file and keep another.
    return await ctx.db.tx(async (q) => {
      const { rows: locked } = await q.query<Row>(
        `SELECT * FROM media WHERE location_id = $1 AND id = $2 AND status = 'pending' FOR UPDATE`,
        [pending.locationId, pending.id],
      );
      if (!locked[0]) throw new MediaError('not_found', 'Upload not found');
      const file = mediaFilePath(ctx, pending);
      await mkdir(path.dirname(file), { recursive: true });
      await rename(temp.tmpPath, file);
      const { rows: updated } = await q.query<Row>(
        'UPDATE media SET size = $3 WHERE location_id = $1 AND id = $2 RETURNING *',
        [pending.locationId, pending.id, temp.size],
      );
      return toMedia(updated[0]!);
    });
  } finally {
    await rm(temp.tmpPath, { force: true });
  }
}

/**
 * Completes a direct upload: the uploaded bytes are sniffed, and the file becomes ready (or is
 * deleted when refused). Completing a ready upload again answers the same file.
 */
export async function completeUpload(
  ctx: MediaContext,
  input: { locationId: string; uploadId: string; conversationId: string; filePath: string },
): Promise<Media> {
  const notFound = () => new MediaError('not_found', 'File not found: the upload may have failed or expired');
  const result = await ctx.db.tx(async (q) => {
    const { rows } = await q.query<Row>('SELECT * FROM media WHERE location_id = $1 AND id = $2 FOR UPDATE', [
      input.locationId,
      input.uploadId,
    ]);
    const media = rows[0] ? toMedia(rows[0]) : null;
    if (
      !media ||
      media.conversationId !== input.conversationId ||
      uploadFilePath(media) !== input.filePath ||
      // A file stored by the multipart upload is not a direct upload.
      media.maxSize === null
    ) {
      throw notFound();
    }
    if (media.status === 'ready') return media;
    if (isExpired(media)) {
      await deleteMedia(ctx, media, q);
      return new MediaError('expired', 'File not found: the upload URL has expired');
    }
    const sniffer = new Sniffer();
    try {
      for await (const chunk of readMedia(ctx, media)) sniffer.update(chunk as Buffer);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return new MediaError('not_uploaded', 'File not found: nothing was uploaded yet');
      }
      throw err;
    }
    const type = sniffer.size === 0 ? null : sniffer.result(media.filename);
    if (!type) {
      await deleteMedia(ctx, media, q);
      return sniffer.size === 0
        ? new MediaError('empty', `File ${media.filename} is empty`)
        : unsupported(media.filename);
    }
    const { rows: updated } = await q.query<Row>(
      `UPDATE media SET status = 'ready', content_type = $3, size = $4, expires_at = NULL
       WHERE location_id = $1 AND id = $2 RETURNING *`,
      [media.locationId, media.id, type.contentType, sniffer.size],
    );
    return toMedia(updated[0]!);
  });
  // Refusals that delete the upload must commit that, so they are returned, then thrown.
  if (result instanceof MediaError) throw result;
  return result;
}

/** Drops a location's direct uploads that expired unfinished (an hour's grace), files included. */
export async function purgeExpiredUploads(ctx: MediaContext, locationId: string): Promise<number> {
  const { rows } = await ctx.db.query<Row>(
    `DELETE FROM media WHERE (location_id, id) IN (
       SELECT location_id, id FROM media
       WHERE location_id = $1 AND status = 'pending' AND expires_at < now() - interval '1 hour'
       LIMIT 100)
     RETURNING *`,
    [locationId],
  );
  await Promise.all(rows.map((r) => rm(mediaFilePath(ctx, toMedia(r)), { force: true })));
  return rows.length;
}

/**
 * Removes temp files left by uploads a crash interrupted (older than `maxAgeMs`); best effort.
 * Uploads in progress are far younger than a day.
 */
export async function sweepTempFiles(
  ctx: Pick<AppContext, 'config'>,
  maxAgeMs = 24 * 3600_000,
): Promise<number> {
  const dir = path.join(mediaRoot(ctx), '.tmp');
  const names = await readdir(dir).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names) {
    const file = path.join(dir, name);
    const info = await stat(file).catch(() => null);
    if (info && Date.now() - info.mtimeMs > maxAgeMs) {
      await rm(file, { force: true });
      removed++;
    }
  }
  return removed;
}
