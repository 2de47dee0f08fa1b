import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The signed visitor token a session hands to the widget. It carries who the visitor is, for
 * which channel (chat widget) of which location, and whether the host site vouched for the
 * identity. It is sent as `Authorization: Bearer`, as the `sessionToken` query parameter, or in
 * the WebSocket hello frame; whatever carries it, `verifyVisitorToken` is the only check.
 *
 * Format: `vt1.<base64url(JSON claims)>.<base64url(HMAC-SHA256)>`, signed with a key derived
 * from the server secret for this use alone.
 */
export interface VisitorClaims {
  /** visitors.id */
  visitorId: string;
  locationId: string;
  /** The chat widget (web-chat channel) the session was opened on. */
  channelId: string;
  /** The contact behind the visitor, once one exists. */
  contactId: string | null;
  /** The host site signed this identity (host-identified with a valid hash, or OTP verified). */
  identityVerified: boolean;
  /** Expiry, epoch seconds. */
  exp: number;
}

const PREFIX = 'vt1';
/** Visitor sessions last a month: the widget renews them by opening a new session. */
export const VISITOR_TOKEN_TTL_S = 30 * 24 * 3600;

const keyFor = (secret: string) => createHmac('sha256', secret).update('charla:visitor-token:v1').digest();

function mac(secret: string, payload: string): Buffer {
  return createHmac('sha256', keyFor(secret)).update(`${PREFIX}.${payload}`).digest();
}

export function signVisitorToken(
  secret: string,
  claims: Omit<VisitorClaims, 'exp'> & { exp?: number },
): { token: string; expiresAt: Date } {
  const exp = claims.exp ?? Math.floor(Date.now() / 1000) + VISITOR_TOKEN_TTL_S;
  const compact = {
    v: claims.visitorId,
    l: claims.locationId,
    w: claims.channelId,
    c: claims.contactId,
    i: claims.identityVerified ? 1 : 0,
    exp,
  };
  const payload = Buffer.from(JSON.stringify(compact)).toString('base64url');
  return {
    token: `${PREFIX}.${payload}.${mac(secret, payload).toString('base64url')}`,
    expiresAt: new Date(exp * 1000),
  };
}

/** The claims of a well-signed, unexpired token; null for anything else. */
export function verifyVisitorToken(secret: string, token: string, nowMs = Date.now()): VisitorClaims | null {
  if (typeof token !== 'string' || token.length > 2048) return null;
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== PREFIX) return null;
  const [, payload, sig] = parts as [string, string, string];
  const given = Buffer.from(sig, 'base64url');
  const expected = mac(secret, payload);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (typeof c.exp !== 'number' || c.exp * 1000 <= nowMs) return null;
  if (typeof c.v !== 'string' || typeof c.l !== 'string' || typeof c.w !== 'string') return null;
  return {
    visitorId: c.v,
    locationId: c.l,
    channelId: c.w,
    contactId: typeof c.c === 'string' ? c.c : null,
    identityVerified: c.i === 1,
    exp: c.exp,
  };
}
