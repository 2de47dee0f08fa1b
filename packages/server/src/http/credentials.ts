import type { FastifyRequest } from 'fastify';

/**
 * The API key a request presents. Each face's clients send it their own way: LeadConnector as
 * `Authorization: Bearer`, Mosend as `X-Api-Key`, ChatCaptain as `x-chatcaptain-key`.
 */
export function presentedKey(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const header = req.headers['x-api-key'] ?? req.headers['x-chatcaptain-key'];
  return typeof header === 'string' && header !== '' ? header.trim() : undefined;
}

/** The session cookie: `__Host-` (Secure, whole host, no Domain) when served over https. */
export const SESSION_COOKIE = 'charla_session';
export const SECURE_SESSION_COOKIE = '__Host-charla_session';

/** The agent session a `Cookie` header carries, if any. */
export function sessionFromCookies(cookie: string | undefined): string | undefined {
  if (!cookie) return undefined;
  let plain: string | undefined;
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (name === SECURE_SESSION_COOKIE && value) return value;
    if (name === SESSION_COOKIE && value) plain = value;
  }
  return plain;
}

/**
 * Whether a browser's `Origin` is Charla's own: the public URL's origin, or the host the request
 * was sent to (a browser cannot forge either header cross-site).
 */
export function isOwnOrigin(
  origin: string | undefined,
  host: string | undefined,
  publicUrl: string,
): boolean {
  if (!origin) return false;
  const originOf = (url: string) => {
    try {
      return new URL(url);
    } catch {
      return undefined;
    }
  };
  const given = originOf(origin);
  if (!given) return false;
  if (given.origin === originOf(publicUrl)?.origin) return true;
  return host !== undefined && given.host === host;
}
