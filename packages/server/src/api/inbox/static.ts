import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** packages/inbox/dist, from src/api/inbox (tsx) and dist/api/inbox (built) alike. */
export const INBOX_DIST = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../../inbox/dist',
);

// Only the app's own code runs; whatever a visitor writes is text, and even a slip cannot load
// or run anything else, frame the inbox, or send data anywhere but Charla.
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

const cache = new Map<string, { mtimeMs: number; body: Buffer }>();

/** A file of the built inbox, read once per change. */
async function load(file: string): Promise<Buffer | undefined> {
  try {
    const s = await stat(file);
    const hit = cache.get(file);
    if (hit && hit.mtimeMs === s.mtimeMs) return hit.body;
    const body = await readFile(file);
    cache.set(file, { mtimeMs: s.mtimeMs, body });
    return body;
  } catch {
    return undefined;
  }
}

async function send(req: FastifyRequest, reply: FastifyReply, file: string, cacheControl: string) {
  const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
  const br = /\bbr\b/.test(String(req.headers['accept-encoding'] ?? ''))
    ? await load(`${file}.br`)
    : undefined;
  const body = br ?? (await load(file));
  if (!body) {
    return reply
      .status(file.endsWith('index.html') ? 503 : 404)
      .send({ error: { code: 'not_found', message: 'The inbox is not built: run npm run build' } });
  }
  reply
    .header('Content-Type', type)
    .header('Cache-Control', cacheControl)
    .header('Vary', 'Accept-Encoding')
    .header('X-Content-Type-Options', 'nosniff')
    .header('Referrer-Policy', 'same-origin');
  if (br) reply.header('Content-Encoding', 'br');
  return reply.send(body);
}

export async function staticInbox(app: FastifyInstance, dist = INBOX_DIST): Promise<void> {
  app.get('/inbox', { schema: { hide: true } }, async (req, reply) => {
    reply
      .header('Content-Security-Policy', CSP)
      .header('X-Frame-Options', 'DENY')
      .header('Cross-Origin-Opener-Policy', 'same-origin');
    return send(req, reply, path.join(dist, 'index.html'), 'no-cache');
  });
  // Asset names carry a content hash: cached for good.
  app.get<{ Params: { file: string } }>(
    '/inbox/assets/:file',
    { schema: { hide: true } },
    async (req, reply) => {
      if (!/^[\w-]+\.(js|css|svg)$/.test(req.params.file)) {
        return reply.status(404).send({ error: { code: 'not_found', message: 'Not found' } });
      }
      return send(
        req,
        reply,
        path.join(dist, 'assets', req.params.file),
        'public, max-age=31536000, immutable',
      );
    },
  );
}
