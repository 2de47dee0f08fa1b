import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../core/errors.js';
import { canAccessLocation, hasScope, type Principal } from '../core/keys/principal.js';
import type { Scope } from '../core/keys/scopes.js';
import type { KeyVerifier } from '../core/keys/service.js';
import { csrfMatches, findSession } from '../core/sessions/service.js';
import type { Db } from '../storage/db.js';
import { isOwnOrigin, presentedKey, sessionFromCookies } from './credentials.js';
import { RateLimiter } from './rate-limit.js';

export interface AuthDeps {
  keys: KeyVerifier;
  limiter: RateLimiter;
  /** With both, an agent's session cookie (the inbox) is accepted where a key is. */
  db?: Db;
  config?: { publicUrl: string };
}

/** What an agent signed in to the inbox may do, in the locations they are a member of. */
export const AGENT_SCOPES: readonly Scope[] = [
  'chat-widget.readonly',
  'conversations.readonly',
  'conversations.write',
  'conversations/message.readonly',
  'conversations/message.write',
  'conversations/livechat.write',
  'contacts.readonly',
  'contacts.write',
  'chatbots.inbox.widgets.list',
  'chatbots.inbox.widgets.get',
  'chatbots.inbox.widgets.content.get',
];

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The principal of an agent's session cookie. Browsers send cookies with cross-site requests
 * too, so an unsafe request must also carry the session's CSRF token in `X-Charla-CSRF` (which
 * no other site can read or set) and, when the browser names one, Charla's own Origin.
 */
export async function sessionPrincipal(
  deps: { db: Db; config: { publicUrl: string } },
  req: FastifyRequest,
  token: string,
): Promise<Principal> {
  const session = await findSession(deps.db, token);
  if (!session) throw new AppError('unauthenticated', 'The session has expired: sign in again');
  if (!SAFE_METHODS.has(req.method)) {
    const origin = req.headers.origin;
    if (origin !== undefined && !isOwnOrigin(origin, req.headers.host, deps.config.publicUrl)) {
      throw new AppError('forbidden', 'Cross-site request refused');
    }
    const csrf = req.headers['x-charla-csrf'];
    if (!csrfMatches(session, typeof csrf === 'string' ? csrf : undefined)) {
      throw new AppError('forbidden', 'Missing or wrong X-Charla-CSRF header');
    }
  }
  return {
    kind: 'session',
    keyId: `user:${session.user.id}`,
    scopes: new Set(AGENT_SCOPES),
    locationIds: new Set(session.user.locationIds),
    providerId: null,
    userId: session.user.id,
  };
}

/**
 * Authenticates a request by its API key (or, given `db` and `config` and no key, an agent's
 * session cookie), applies the key's rate limit (setting the limit headers every face's clients
 * read) and checks the route's scope. Faces call it from their own hooks and map the errors it
 * throws to their own shapes.
 */
export async function authenticate(
  deps: AuthDeps,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<Principal> {
  const key = presentedKey(req);
  const session = key || !deps.db || !deps.config ? undefined : sessionFromCookies(req.headers.cookie);
  let principal: Principal | null;
  if (session) principal = await sessionPrincipal({ db: deps.db!, config: deps.config! }, req, session);
  else if (!key) throw new AppError('unauthenticated', 'Invalid token: access token is invalid');
  else principal = await deps.keys.verify(key);
  if (!principal) throw new AppError('unauthenticated', 'Invalid token: access token is invalid');

  const rl = await deps.limiter.hit(principal.keyId);
  reply.header('X-RateLimit-Max', rl.limit);
  reply.header('X-RateLimit-Limit', rl.limit);
  reply.header('X-RateLimit-Interval-Milliseconds', rl.intervalMs);
  reply.header('X-RateLimit-Remaining', rl.remaining);
  reply.header('X-RateLimit-Reset', Math.ceil((Date.now() + rl.resetMs) / 1000));
  reply.header('X-RateLimit-Limit-Daily', rl.dailyLimit);
  reply.header('X-RateLimit-Daily-Remaining', rl.dailyRemaining);
  // Milliseconds until the daily allowance resets, as the official LeadConnector SDK reads it.
  reply.header('X-RateLimit-Daily-Reset', Math.max(0, rl.dailyReset - Date.now()));
  if (!rl.allowed) {
    const retryAfter = RateLimiter.retryAfter(rl);
    reply.header('Retry-After', retryAfter);
    throw new AppError('rate_limited', `Too many requests: retry in ${retryAfter} s`);
  }

  const scope = req.routeOptions.config.scope;
  if (scope && !hasScope(principal, scope)) {
    throw new AppError('insufficient_scope', 'The token is not authorized for this scope.');
  }
  req.principal = principal;
  return principal;
}

/** Throws unless the caller's key may act on `locationId`. */
export function requireLocation(req: FastifyRequest, locationId: string): void {
  if (!req.principal || !canAccessLocation(req.principal, locationId)) {
    throw new AppError('location_forbidden', 'The token does not have access to this location');
  }
}

/** The `updatedBy` recorded for changes this request makes. */
export function actorOf(req: FastifyRequest): string {
  if (req.principal?.userId) return `user:${req.principal.userId}`;
  return req.principal ? `key:${req.principal.keyId}` : 'anonymous';
}
