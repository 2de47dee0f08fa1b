import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import { findConversationById } from '../../core/conversations/service.js';
import { AppError } from '../../core/errors.js';
import { listLocations } from '../../core/locations/service.js';
import { addInternalNote } from '../../core/messages/web-chat.js';
import {
  checkPassword,
  createSession,
  deleteSession,
  findSession,
  SESSION_MAX_AGE_MS,
  type Session,
} from '../../core/sessions/service.js';
import { listUsers } from '../../core/users/service.js';
import { visitorOfConversation } from '../../core/visitors/sessions.js';
import { authenticate, requireLocation } from '../../http/auth.js';
import {
  isOwnOrigin,
  SECURE_SESSION_COOKIE,
  SESSION_COOKIE,
  sessionFromCookies,
} from '../../http/credentials.js';
import { RateLimiter } from '../../http/rate-limit.js';
import { adminErrorHandler } from '../admin/errors.js';
import { messageDto } from '../leadconnector/messages/dto.js';
import { staticInbox } from './static.js';

const tags = ['Inbox'];
// Password guessing: a few tries a minute per email, a few more per address (counted per node).
const LOGIN_LIMITS = {
  email: { burst: 10, intervalMs: 60_000, daily: 500 },
  ip: { burst: 30, intervalMs: 60_000, daily: 2000 },
};
const str = (maxLength = 200) => ({ type: 'string', maxLength });
const conversationParams = {
  type: 'object',
  required: ['conversationId'],
  properties: { conversationId: str(100) },
};

/**
 * The agent inbox: sign-in with email and password (a server-side session in an http-only
 * cookie), the few native routes the inbox needs beyond the LeadConnector and ChatCaptain faces
 * (internal notes, visitor details, the location's agents), and the app itself at `/inbox`.
 */
export async function inboxApi(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const { db } = ctx;
  app.setErrorHandler(adminErrorHandler);
  const secure = ctx.config.publicUrl.startsWith('https:');
  const cookieName = secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE;
  const limiters = { email: new RateLimiter(LOGIN_LIMITS.email), ip: new RateLimiter(LOGIN_LIMITS.ip) };

  const setCookie = (reply: FastifyReply, value: string, maxAgeS: number) =>
    reply.header(
      'Set-Cookie',
      `${cookieName}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeS}${secure ? '; Secure' : ''}`,
    );

  /** The caller's session: the `me` and `logout` routes are for signed-in browsers only. */
  const sessionOf = async (req: FastifyRequest): Promise<{ token: string; session: Session }> => {
    const token = sessionFromCookies(req.headers.cookie);
    const session = token ? await findSession(db, token) : null;
    if (!token || !session) throw new AppError('unauthenticated', 'Not signed in');
    return { token, session };
  };

  const profile = async (s: Session) => ({
    user: { id: s.user.id, email: s.user.email, name: s.user.name, role: s.user.role },
    csrfToken: s.csrfToken,
    expiresAt: s.expiresAt.toISOString(),
    locations: s.user.locationIds.length
      ? (await listLocations(db, s.user.locationIds)).map((l) => ({ id: l.id, name: l.name }))
      : [],
  });

  // Routes that act with the caller's key or session, checked like every other face.
  const authed = async (req: FastifyRequest, reply: FastifyReply) => {
    await authenticate(ctx, req, reply);
  };

  app.post<{ Body: { email: string; password: string } }>(
    '/inbox/api/login',
    {
      schema: {
        tags,
        summary: 'Sign in to the inbox',
        security: [],
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['email', 'password'],
          properties: { email: str(254), password: str(200) },
        },
      },
    },
    async (req, reply) => {
      // A cross-site form could otherwise sign the victim in to the attacker's account.
      const origin = req.headers.origin;
      if (origin !== undefined && !isOwnOrigin(origin, req.headers.host, ctx.config.publicUrl)) {
        throw new AppError('forbidden', 'Cross-site request refused');
      }
      for (const [limiter, key] of [
        [limiters.email, req.body.email.trim().toLowerCase()],
        [limiters.ip, req.ip],
      ] as const) {
        const rl = await limiter.hit(key);
        if (!rl.allowed) {
          reply.header('Retry-After', Math.max(1, RateLimiter.retryAfter(rl)));
          throw new AppError('rate_limited', 'Too many sign-in attempts: try again later');
        }
      }
      const user = await checkPassword(db, req.body.email, req.body.password);
      if (!user) throw new AppError('unauthenticated', 'Wrong email or password');
      const { token } = await createSession(db, user.id);
      const session = await findSession(db, token);
      setCookie(reply, token, Math.floor(SESSION_MAX_AGE_MS / 1000));
      reply.header('Cache-Control', 'no-store');
      return profile(session!);
    },
  );

  app.post(
    '/inbox/api/logout',
    { schema: { tags, summary: 'Sign out' }, preHandler: authed },
    async (req, reply) => {
      if (req.principal?.kind !== 'session') throw new AppError('forbidden', 'Only a session signs out');
      const { token } = await sessionOf(req);
      await deleteSession(db, token);
      setCookie(reply, '', 0);
      return reply.status(204).send();
    },
  );

  app.get('/inbox/api/me', { schema: { tags, summary: 'The signed-in agent' } }, async (req, reply) => {
    reply.header('Cache-Control', 'no-store');
    return profile((await sessionOf(req)).session);
  });

  app.get<{ Params: { locationId: string } }>(
    '/inbox/api/locations/:locationId/agents',
    {
      config: { scope: 'conversations.readonly' },
      schema: {
        tags,
        summary: "The location's agents (to assign conversations)",
        params: { type: 'object', required: ['locationId'], properties: { locationId: str(100) } },
      },
      preHandler: authed,
    },
    async (req) => {
      requireLocation(req, req.params.locationId);
      const users = await listUsers(db, [req.params.locationId]);
      return { agents: users.map((u) => ({ id: u.id, name: u.name, email: u.email })) };
    },
  );

  /** The conversation, if the caller reaches its location; 404 otherwise, as if it did not exist. */
  const accessible = async (req: FastifyRequest, id: string) => {
    return findConversationById(db, id, req.principal!.locationIds);
  };

  app.post<{ Params: { conversationId: string }; Body: { body: string } }>(
    '/inbox/api/conversations/:conversationId/notes',
    {
      config: { scope: 'conversations/message.write' },
      schema: {
        tags,
        summary: 'Add an internal note (agents only: never sent to the contact)',
        params: conversationParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['body'],
          properties: { body: { type: 'string', minLength: 1, maxLength: 20_000 } },
        },
      },
      preHandler: authed,
    },
    async (req, reply) => {
      const c = await accessible(req, req.params.conversationId);
      const m = await addInternalNote(db, {
        locationId: c.locationId,
        conversationId: c.id,
        body: req.body.body,
        userId: req.principal!.userId ?? null,
      });
      return reply.status(201).send({ message: messageDto(m) });
    },
  );

  app.get<{ Params: { conversationId: string } }>(
    '/inbox/api/conversations/:conversationId/visitor',
    {
      config: { scope: 'conversations.readonly' },
      schema: { tags, summary: 'The web-chat visitor behind a conversation', params: conversationParams },
      preHandler: authed,
    },
    async (req) => {
      const c = await accessible(req, req.params.conversationId);
      const v = await visitorOfConversation(db, c);
      if (!v) return { visitor: null };
      const meta = v.metadata ?? {};
      return {
        visitor: {
          channel: { id: v.channelId, name: v.channelName },
          identityVerified: v.identityVerified,
          pageUrl: v.pageUrl,
          pageTitle: v.title,
          referer: v.referer,
          lang: v.lang,
          departmentId: v.departmentId,
          prechat: meta.prechat ?? {},
          attributes: meta.host ?? {},
          utm: meta.utm ?? {},
          claimed: meta.claimed ?? {},
          firstSeenAt: v.createdAt.toISOString(),
          lastSeenAt: v.lastSeenAt.toISOString(),
        },
      };
    },
  );

  await staticInbox(app);
}
