import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../core/errors.js';
import { canAccessLocation, hasScope, type Principal } from '../core/keys/principal.js';
import type { KeyVerifier } from '../core/keys/service.js';
import { presentedKey } from './credentials.js';
import { RateLimiter } from './rate-limit.js';

export interface AuthDeps {
  keys: KeyVerifier;
  limiter: RateLimiter;
}

/**
 * Authenticates a request by its API key, applies the key's rate limit (setting the limit
 * headers every face's clients read) and checks the route's scope. Faces call it from their own
 * hooks and map the errors it throws to their own shapes.
 */
export async function authenticate(
  deps: AuthDeps,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<Principal> {
  const key = presentedKey(req);
  if (!key) throw new AppError('unauthenticated', 'Invalid token: access token is invalid');
  const principal = await deps.keys.verify(key);
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
  return req.principal ? `key:${req.principal.keyId}` : 'anonymous';
}
