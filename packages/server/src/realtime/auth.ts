import type { IncomingHttpHeaders } from 'node:http';
import { BEARER_SUBPROTOCOL_PREFIX, CLOSE, type HelloFrame, SUBPROTOCOL } from '@charla/protocol';
import { canAccessLocation, hasScope, type Principal } from '../core/keys/principal.js';
import type { KeyVerifier } from '../core/keys/service.js';
import { findSession, sessionRef } from '../core/sessions/service.js';
import { type VisitorClaims, verifyVisitorToken } from '../core/visitors/token.js';
import { getWidget, originAllowed } from '../core/widgets/service.js';
import { AGENT_SCOPES } from '../http/auth.js';
import { isOwnOrigin, sessionFromCookies } from '../http/credentials.js';
import type { Db } from '../storage/db.js';
import { userInLocations } from './queries.js';

/** Refuses a connection with one of the protocol's close codes. */
export class AuthFailure extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** The subprotocol to answer with: only ever `charla.v1`, never a credential. */
export function selectSubprotocol(protocols: Set<string>): string | false {
  return protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false;
}

/**
 * Marks a credential that came from the inbox's session cookie. It can only come from
 * `credentialsFromHeaders` (a `hello.key` with this prefix is just a key that does not verify).
 */
const SESSION_MARK = 'session\n';

/**
 * A credential sent with the upgrade: `Authorization: Bearer …`, the bearer subprotocol, or an
 * agent's session cookie. The cookie counts only when the page is Charla's own (Origin): browsers
 * attach cookies to cross-site WebSockets too.
 */
export function credentialsFromHeaders(headers: IncomingHttpHeaders, publicUrl?: string): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string' && /^bearer\s+/i.test(auth)) return auth.replace(/^bearer\s+/i, '').trim();
  const offered = headers['sec-websocket-protocol'];
  if (typeof offered === 'string') {
    for (const p of offered.split(',')) {
      const t = p.trim();
      if (t.startsWith(BEARER_SUBPROTOCOL_PREFIX)) return t.slice(BEARER_SUBPROTOCOL_PREFIX.length);
    }
  }
  const session = sessionFromCookies(headers.cookie);
  // Behind a proxy that rewrites Host, the host the browser used is in X-Forwarded-Host (a page
  // of another site cannot set headers on a WebSocket).
  const forwarded = headers['x-forwarded-host'];
  const hosts = [headers.host, ...(typeof forwarded === 'string' ? [forwarded.split(',')[0]!.trim()] : [])];
  if (session && hosts.some((host) => isOwnOrigin(headers.origin, host, publicUrl ?? ''))) {
    return SESSION_MARK + session;
  }
  return undefined;
}

export type Authenticated =
  | { role: 'visitor'; visitor: VisitorClaims; locations: string[] }
  | {
      role: 'agent';
      principal: Principal;
      keyPrefix: string;
      userId: string | null;
      agentId: string;
      locations: string[];
    };

const KEY_PREFIX = /^ck_live_([a-z2-7]{12})\./;
const READ_SCOPES = ['conversations/message.readonly', 'conversations.readonly'] as const;

/**
 * Who is connecting. A visitor token is checked for signature and expiry and the page's Origin
 * against the widget's allowed domains; an API key for revocation, a read scope and locations.
 */
export async function authenticate(
  deps: { db: Db; keys: KeyVerifier; secret: string },
  given: { token?: string; key?: string; headerCredential?: string; origin?: string },
  hello: HelloFrame,
): Promise<Authenticated> {
  let token = given.token;
  let key = given.key;
  if (token === undefined && key === undefined && given.headerCredential) {
    if (given.headerCredential.startsWith('vt1.')) token = given.headerCredential;
    else key = given.headerCredential;
  }
  if (token !== undefined) {
    const claims = verifyVisitorToken(deps.secret, token);
    if (!claims) {
      // Well signed but past its expiry: the widget should open a new session.
      if (verifyVisitorToken(deps.secret, token, 0))
        throw new AuthFailure(CLOSE.TOKEN_EXPIRED, 'token expired');
      throw new AuthFailure(CLOSE.UNAUTHENTICATED, 'invalid token');
    }
    const widget = await getWidget(deps.db, claims.locationId, claims.channelId).catch(() => undefined);
    if (!widget) throw new AuthFailure(CLOSE.FORBIDDEN, 'the chat widget no longer exists');
    if (!originAllowed(widget.settings, given.origin)) {
      throw new AuthFailure(CLOSE.FORBIDDEN, 'origin not allowed for this widget');
    }
    return { role: 'visitor', visitor: claims, locations: [claims.locationId] };
  }
  if (key === undefined) throw new AuthFailure(CLOSE.UNAUTHENTICATED, 'credentials required');
  if (key.startsWith(SESSION_MARK) && key === given.headerCredential) {
    return sessionAgent(deps.db, key.slice(SESSION_MARK.length), hello);
  }
  const principal = await deps.keys.verify(key);
  if (!principal) throw new AuthFailure(CLOSE.UNAUTHENTICATED, 'invalid or revoked key');
  if (!READ_SCOPES.some((s) => hasScope(principal, s))) {
    throw new AuthFailure(CLOSE.FORBIDDEN, 'the key lacks conversations/message.readonly');
  }
  const locations = [
    ...new Set(hello.locations ?? (principal.locationIds ? [...principal.locationIds] : [])),
  ];
  if (locations.length === 0) throw new AuthFailure(CLOSE.FORBIDDEN, 'name the locations to follow');
  if (locations.length > 100) throw new AuthFailure(CLOSE.FORBIDDEN, 'at most 100 locations');
  if (!locations.every((l) => canAccessLocation(principal, l))) {
    throw new AuthFailure(CLOSE.FORBIDDEN, 'the key may not access every location named');
  }
  const userId = hello.userId ?? null;
  if (userId && !(await userInLocations(deps.db, userId, locations))) {
    throw new AuthFailure(CLOSE.FORBIDDEN, 'the user is not an agent of every location named');
  }
  return {
    role: 'agent',
    principal,
    keyPrefix: KEY_PREFIX.exec(key)?.[1] ?? '',
    userId,
    agentId: userId ?? `key:${principal.keyId}`,
    locations,
  };
}

/** An agent signed in to the inbox: the user is the agent, in the locations they belong to. */
async function sessionAgent(db: Db, token: string, hello: HelloFrame): Promise<Authenticated> {
  const session = await findSession(db, token);
  if (!session) throw new AuthFailure(CLOSE.UNAUTHENTICATED, 'the session has expired');
  const member = new Set(session.user.locationIds);
  const locations = [...new Set(hello.locations ?? session.user.locationIds)];
  if (locations.length === 0) throw new AuthFailure(CLOSE.FORBIDDEN, 'the user belongs to no location');
  if (locations.length > 100) throw new AuthFailure(CLOSE.FORBIDDEN, 'at most 100 locations');
  if (!locations.every((l) => member.has(l))) {
    throw new AuthFailure(CLOSE.FORBIDDEN, 'the user is not an agent of every location named');
  }
  if (hello.userId !== undefined && hello.userId !== session.user.id) {
    throw new AuthFailure(CLOSE.FORBIDDEN, 'a session speaks only for its own user');
  }
  return {
    role: 'agent',
    principal: {
      kind: 'session',
      keyId: `user:${session.user.id}`,
      scopes: new Set(AGENT_SCOPES),
      locationIds: member,
      providerId: null,
      userId: session.user.id,
    },
    // Sessions are revoked by reference, as keys are by prefix.
    keyPrefix: `session:${sessionRef(token)}`,
    userId: session.user.id,
    agentId: session.user.id,
    locations,
  };
}
