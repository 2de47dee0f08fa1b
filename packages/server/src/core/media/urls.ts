import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AppContext } from '../../context.js';

/** What signing and URL building need from the context. */
export type UrlContext = Pick<AppContext, 'config' | 'secret'>;

// Each use of the secret signs its own domain, so a media token can never be replayed as (or
// made from) another of Charla's signatures over the same id.
const hmac = (secret: string, message: string) =>
  createHmac('sha256', secret).update(message).digest('base64url');

/** The capability in a media URL: 22 base64url characters (132 bits) of HMAC-SHA256, stable. */
export function mediaToken(ctx: UrlContext, mediaId: string): string {
  return hmac(ctx.secret, `media:${mediaId}`).slice(0, 22);
}

/** Constant-time comparison of two short strings. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function verifyMediaToken(ctx: UrlContext, mediaId: string, token: string): boolean {
  return safeEqual(mediaToken(ctx, mediaId), token);
}

/**
 * The public URL of a stored file: `${publicUrl}/media/<id>/<token>/<filename>`. Whoever holds the
 * URL may fetch the file without a key (as with the signed storage URLs LeadConnector returns);
 * without it the file cannot be found. The filename segment is only for people and tools that
 * name downloads after the URL.
 */
export function mediaUrl(ctx: UrlContext, media: { id: string; filename: string }): string {
  return `${ctx.config.publicUrl}/media/${media.id}/${mediaToken(ctx, media.id)}/${encodeURIComponent(media.filename)}`;
}

export function uploadSignature(ctx: UrlContext, uploadId: string, expiresAt: number): string {
  return hmac(ctx.secret, `media-upload:${uploadId}:${expiresAt}`);
}

/** The signed PUT URL of a direct upload: `${publicUrl}/media/uploads/<id>?expires=<ms>&sig=<hmac>`. */
export function uploadUrl(ctx: UrlContext, uploadId: string, expiresAt: number): string {
  return `${ctx.config.publicUrl}/media/uploads/${uploadId}?expires=${expiresAt}&sig=${uploadSignature(ctx, uploadId, expiresAt)}`;
}

export function verifyUploadSignature(
  ctx: UrlContext,
  uploadId: string,
  expiresAt: string | undefined,
  sig: string | undefined,
): boolean {
  if (!expiresAt || !sig || !/^\d{1,15}$/.test(expiresAt)) return false;
  return safeEqual(uploadSignature(ctx, uploadId, Number(expiresAt)), sig);
}
