import multipart from '@fastify/multipart';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import type { AppContext } from '../../../context.js';
import { AppError, invalid } from '../../../core/errors.js';
import { isUuid } from '../../../core/ids.js';
import { DEFAULT_MAX_FILE_SIZE, MediaError, saveStaged, stageMedia } from '../../../core/media/store.js';
import { mediaUrl } from '../../../core/media/urls.js';
import type { WebChatMediaKind } from '../../../core/messages/web-chat.js';
import { locationAgentsOnline } from '../../../core/presence/service.js';
import { getSmtpConfig } from '../../../core/smtp/service.js';
import { type Channel, findChannelByToken, requireEnabled } from '../../../core/visitors/channel.js';
import { hostHashValid } from '../../../core/visitors/identity.js';
import { recordVisitorMedia, visitorMedia } from '../../../core/visitors/media.js';
import { sendVisitorMessage, visitorHistory } from '../../../core/visitors/messages.js';
import { consumeOtp, sendOtp } from '../../../core/visitors/otp.js';
import { checkPrechat, prechatEmail } from '../../../core/visitors/prechat.js';
import {
  contactHasEmail,
  findVisitorByKey,
  getVisitor,
  linkEmail,
  openVisitorSession,
  type Visitor,
} from '../../../core/visitors/sessions.js';
import { signVisitorToken, type VisitorClaims, verifyVisitorToken } from '../../../core/visitors/token.js';
import { identitySecretFor } from '../../../core/widgets/identity.js';
import { originAllowed } from '../../../core/widgets/service.js';
import { envelope } from '../envelope.js';
import { mosendErrorHandler } from '../errors.js';
import { channelConfig, type SessionDto, webChatMessage } from './dto.js';
import { PublicRateLimits } from './limits.js';
import {
  type CreateSessionBody,
  createSessionBody,
  historyQuery,
  linkEmailBody,
  resendOtpBody,
  type SendMessageBody,
  sendMessageBody,
  tokenParams,
  tokenQuery,
} from './schemas.js';

interface PublicState {
  channel: Channel;
  claims?: VisitorClaims;
  visitor?: Visitor;
}

const states = new WeakMap<FastifyRequest, PublicState>();
const stateOf = (req: FastifyRequest): PublicState => states.get(req)!;

const tags = ['Mosend web chat (public)'];
const MEDIA_STATUS = {
  too_large: [413, 'Payload Too Large'],
  unsupported_type: [415, 'Unsupported Media Type'],
} as const;

function publicErrorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) {
  if (err instanceof MediaError) {
    if (err.kind === 'too_large' || err.kind === 'unsupported_type') {
      const [statusCode, error] = MEDIA_STATUS[err.kind];
      return reply.status(statusCode).send({
        statusCode,
        error,
        message: err.message,
        timestamp: new Date().toISOString(),
        path: req.url,
      });
    }
    return mosendErrorHandler(new AppError('bad_request', err.message), req, reply);
  }
  if ((err as FastifyError).code === 'FST_REQ_FILE_TOO_LARGE') {
    return mosendErrorHandler(
      Object.assign(
        new Error(`The file is too large: the limit is ${DEFAULT_MAX_FILE_SIZE / 1024 / 1024} MB`),
        {
          statusCode: 413,
        },
      ) as FastifyError,
      req,
      reply,
    );
  }
  return mosendErrorHandler(err as FastifyError, req, reply);
}

/** The visitor token, from `Authorization: Bearer` or the `sessionToken` query parameter. */
function visitorToken(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && /^Bearer\s+/i.test(auth)) return auth.replace(/^Bearer\s+/i, '').trim();
  const q = (req.query as { sessionToken?: unknown } | undefined)?.sessionToken;
  return typeof q === 'string' && q !== '' ? q : undefined;
}

const kindOf = (contentType: string): WebChatMediaKind =>
  contentType.startsWith('image/')
    ? 'image'
    : contentType.startsWith('video/')
      ? 'video'
      : contentType.startsWith('audio/')
        ? 'audio'
        : 'document';

/**
 * The public web-chat API the widget calls from visitors' browsers (Mosend `web-chat-public`),
 * under `/web-chat/:token/…` where `:token` is the channel's public token. Every request is
 * checked against the channel's allowed domains by its `Origin`; visitor routes take the visitor
 * token a session hands out.
 */
export async function mosendPublicApi(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.setErrorHandler(publicErrorHandler);
  await app.register(multipart, { throwFileSizeLimit: true });

  let redis: Redis | undefined;
  if (ctx.config.redisUrl) {
    redis = new Redis(ctx.config.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: false });
    redis.on('error', () => {});
  }
  app.addHook('onClose', async () => {
    redis?.disconnect();
  });
  const limits = new PublicRateLimits(ctx, redis);

  // The channel, and whether this page may use it. Answers are readable cross-origin (refusals
  // included, so a developer sees why); only pages of the allowed domains get past this point.
  app.addHook('onRequest', async (req, reply) => {
    const token = (req.params as { token?: string }).token;
    if (token === undefined) return;
    const origin = req.headers.origin;
    if (origin) {
      reply.header('Access-Control-Allow-Origin', origin);
      reply.header('Vary', 'Origin');
      reply.header('Access-Control-Expose-Headers', 'Retry-After, X-Request-Id');
    }
    const channel = await findChannelByToken(ctx.db, token);
    if (!originAllowed(channel.settings, origin)) {
      throw new AppError(
        'forbidden',
        origin
          ? 'This chat channel may not be used on this site'
          : 'This chat channel only answers pages of its allowed domains, and the request has no Origin header',
      );
    }
    states.set(req, { channel });
  });

  const visitorAuth = async (req: FastifyRequest) => {
    const state = stateOf(req);
    const token = visitorToken(req);
    if (!token) {
      throw new AppError('unauthenticated', 'A visitor session token is required: open a session first');
    }
    const claims = verifyVisitorToken(ctx.secret, token);
    if (!claims)
      throw new AppError('unauthenticated', 'The visitor session token is not valid or has expired');
    const { channel } = state;
    if (claims.channelId !== channel.id || claims.locationId !== channel.locationId) {
      throw new AppError('forbidden', 'The visitor session token belongs to another chat channel');
    }
    const visitor = await getVisitor(ctx.db, channel.locationId, claims.visitorId);
    // A token outlives changes to its visitor: one whose contact was re-pointed (another session
    // took the visitor id) or whose verification was withdrawn no longer speaks for it.
    if (
      !visitor ||
      visitor.channelId !== channel.id ||
      !claims.contactId ||
      visitor.contactId !== claims.contactId ||
      (claims.identityVerified && !visitor.identityVerified)
    ) {
      throw new AppError('unauthenticated', 'The visitor session is no longer valid: open a new session');
    }
    requireEnabled(channel);
    state.claims = claims;
    state.visitor = visitor;
  };

  const session = (v: Visitor, visitorKey: string): SessionDto => {
    const { token, expiresAt } = signVisitorToken(ctx.secret, {
      visitorId: v.id,
      locationId: v.locationId,
      channelId: v.channelId,
      contactId: v.contactId,
      identityVerified: v.identityVerified,
    });
    return {
      sessionToken: token,
      visitorId: visitorKey,
      contactId: v.contactId,
      identityVerified: v.identityVerified,
      expiresAt: expiresAt.toISOString(),
    };
  };

  const requireSmtp = async (channel: Channel) => {
    if (!(await getSmtpConfig(ctx.db, channel.locationId))) {
      throw new AppError('bad_request', 'Email verification is not available on this channel');
    }
  };

  const otpLimits = async (req: FastifyRequest, reply: FastifyReply, channel: Channel, email: string) => {
    await limits.check('otpPerIp', `${channel.locationId}:${req.ip}`, reply);
    await limits.check('otpPerEmail', `${channel.id}:${email.toLowerCase()}`, reply);
  };

  app.options('/web-chat/:token/*', { schema: { hide: true } }, async (_req, reply) => {
    reply.header('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
    reply.header('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-Request-Id');
    reply.header('Access-Control-Max-Age', '600');
    return reply.status(204).send();
  });

  app.get(
    '/web-chat/:token/config',
    {
      schema: {
        tags,
        summary: 'Public channel configuration (no secrets)',
        params: tokenParams,
      },
    },
    async (req, reply) => {
      // Short: presence changes; the widget follows it live over the socket once open.
      reply.header('Cache-Control', 'public, max-age=10');
      const { channel } = stateOf(req);
      return envelope(channelConfig(channel, await locationAgentsOnline(ctx.db, channel.locationId)));
    },
  );

  app.post<{ Body: CreateSessionBody }>(
    '/web-chat/:token/sessions',
    {
      schema: {
        tags,
        summary: 'Create a visitor session',
        description:
          'Modes: anonymous; identified (typed name/email/phone, never verified); verify-otp (without ' +
          '`otp` mails a 6-digit code valid 10 minutes, 5 tries; with `email` + `otp` verifies); ' +
          'host-identified (`userId` and/or `email` + `hash` = lowercase hex HMAC-SHA256 of userId, ' +
          'else email, keyed with the channel identity secret).',
        params: tokenParams,
        body: createSessionBody,
      },
    },
    async (req, reply) => {
      const { channel } = stateOf(req);
      requireEnabled(channel);
      const b = req.body;
      await limits.check('sessionPerIp', `${channel.locationId}:${req.ip}`, reply);
      await limits.check('sessionPerVisitor', `${channel.id}:${b.visitorId}`, reply);
      const s = channel.settings;

      if ((b.userId !== undefined || b.hash !== undefined) && b.mode !== 'host-identified') {
        throw invalid(['userId and hash are only accepted with mode host-identified']);
      }
      if (b.otp !== undefined && b.mode !== 'verify-otp') {
        throw invalid(['otp is only accepted with mode verify-otp']);
      }
      if (b.departmentId !== undefined) {
        const departments = Array.isArray(s.departments) ? (s.departments as { id: string }[]) : [];
        if (!departments.some((d) => d.id === b.departmentId)) {
          throw invalid(["departmentId must be one of the channel's departments"]);
        }
      }
      const existing = await findVisitorByKey(ctx.db, channel, b.visitorId);
      const prechat = checkPrechat(s, b.prechat, !existing?.metadata.prechat);
      const claimed = { name: b.name, email: b.email ?? prechatEmail(s, prechat), phone: b.phone };

      let verified: { userId?: string; email?: string } | undefined;
      let otp: { otpSent: true; otpExpiresAt: string } | undefined;
      switch (b.mode) {
        case 'identified':
          if (!b.name && !b.email && !b.phone) {
            throw invalid(['mode identified needs at least one of name, email or phone']);
          }
          break;
        case 'verify-otp': {
          if (!b.email) throw invalid(['email is required with mode verify-otp']);
          const target = { locationId: channel.locationId, channelId: channel.id, email: b.email };
          if (b.otp === undefined) {
            await requireSmtp(channel);
            await otpLimits(req, reply, channel, b.email);
            const sent = await sendOtp(ctx.db, ctx.secret, target);
            otp = { otpSent: true, otpExpiresAt: sent.expiresAt.toISOString() };
          } else {
            await consumeOtp(ctx.db, ctx.secret, target, b.otp);
            verified = { email: b.email };
          }
          break;
        }
        case 'host-identified': {
          const signed = b.userId ?? b.email;
          if (!signed) throw invalid(['mode host-identified needs userId or email']);
          if (b.hash === undefined) {
            if (s.identityRequired === true) {
              throw new AppError(
                'unauthenticated',
                'This channel requires a signed identity: send hash, the lowercase hex HMAC-SHA256 of userId (or email) keyed with the identity secret',
              );
            }
            break;
          }
          const secret = await identitySecretFor(ctx.db, ctx.secret, channel.id);
          if (!secret) {
            throw new AppError('forbidden', 'Identity verification is not set up for this channel');
          }
          if (!hostHashValid(secret, signed, b.hash)) {
            throw new AppError('unauthenticated', 'The identity signature (hash) is not valid');
          }
          verified = b.userId ? { userId: b.userId } : { email: signed };
          break;
        }
        default:
          break;
      }

      if (s.requireEmailUpfront === true && !claimed.email && !verified?.email) {
        const known = existing
          ? await contactHasEmail(ctx.db, channel.locationId, existing.contactId)
          : false;
        if (!known) throw invalid(["This channel asks for the visitor's email before the chat: send email"]);
      }

      const visitor = await openVisitorSession(ctx.db, {
        channel,
        visitorKey: b.visitorId,
        claimed: b.mode === 'anonymous' ? {} : claimed,
        verified,
        departmentId: b.departmentId,
        prechat,
        context: {
          url: b.url,
          referer: b.referer,
          title: b.title,
          lang: b.lang,
          utm: b.utm,
          attributes: b.attributes,
          acceptOffline: b.acceptOffline,
        },
      });
      return reply.status(201).send(envelope({ ...session(visitor, b.visitorId), ...otp }));
    },
  );

  app.post<{ Body: { email: string; visitorId?: string } }>(
    '/web-chat/:token/sessions/resend-otp',
    {
      schema: {
        tags,
        summary: 'Resend the email verification code',
        params: tokenParams,
        body: resendOtpBody,
      },
    },
    async (req, reply) => {
      const { channel } = stateOf(req);
      requireEnabled(channel);
      await requireSmtp(channel);
      await otpLimits(req, reply, channel, req.body.email);
      const sent = await sendOtp(ctx.db, ctx.secret, {
        locationId: channel.locationId,
        channelId: channel.id,
        email: req.body.email,
      });
      return reply.status(201).send(envelope({ otpSent: true, otpExpiresAt: sent.expiresAt.toISOString() }));
    },
  );

  app.get<{ Querystring: { limit?: string; before?: string } }>(
    '/web-chat/:token/history',
    {
      preHandler: visitorAuth,
      schema: {
        tags,
        summary: "The visitor's message history",
        params: tokenParams,
        querystring: historyQuery,
      },
    },
    async (req) => {
      const { channel, claims } = stateOf(req);
      const limit = req.query.limit === undefined ? 50 : Number(req.query.limit);
      if (limit < 1 || limit > 100) throw invalid(['limit must be from 1 to 100']);
      const page = await visitorHistory(
        ctx.db,
        { locationId: channel.locationId, channelId: channel.id, contactId: claims!.contactId! },
        { limit, before: req.query.before },
      );
      const data = page.messages.map(webChatMessage);
      return {
        ...envelope(data),
        pageInfo: { endCursor: page.hasMore ? (data[0]?.id ?? null) : null, hasNextPage: page.hasMore },
      };
    },
  );

  app.post<{ Body: { email: string; name?: string } }>(
    '/web-chat/:token/sessions/link-email',
    {
      preHandler: visitorAuth,
      schema: {
        tags,
        summary: 'Link an email (and name) to the visitor; returns a fresh session',
        params: tokenParams,
        querystring: tokenQuery,
        body: linkEmailBody,
      },
    },
    async (req, reply) => {
      const { channel, claims, visitor } = stateOf(req);
      await limits.check('sessionPerVisitor', `${channel.id}:${visitor!.visitorKey}`, reply);
      const updated = await linkEmail(ctx.db, channel, visitor!, claims!.contactId!, req.body);
      return reply.status(201).send(envelope(session(updated, updated.visitorKey)));
    },
  );

  app.post(
    '/web-chat/:token/upload',
    {
      preHandler: visitorAuth,
      schema: {
        tags,
        summary: 'Upload an attachment (multipart, part `file`)',
        description:
          `At most ${DEFAULT_MAX_FILE_SIZE / 1024 / 1024} MB; the type is read from the content: JPG, PNG, MP4, ` +
          'MPEG, MP3, WAV, PDF, DOC, DOCX, TXT, ZIP, RAR.',
        params: tokenParams,
        querystring: tokenQuery,
      },
    },
    async (req, reply) => {
      const { channel, visitor } = stateOf(req);
      await limits.check('uploadPerIp', `${channel.locationId}:${req.ip}`, reply);
      await limits.check('uploadPerVisitor', `${channel.id}:${visitor!.id}`, reply);
      if (!req.isMultipart())
        throw new AppError('bad_request', 'The body must be multipart/form-data with a part named file');
      let file: Awaited<ReturnType<FastifyRequest['file']>>;
      try {
        file = await req.file({
          limits: { fileSize: DEFAULT_MAX_FILE_SIZE + 1, files: 1, fields: 10, parts: 20 },
        });
      } catch (err) {
        throw new AppError('bad_request', `The multipart body could not be read: ${(err as Error).message}`);
      }
      if (file?.fieldname !== 'file') {
        file?.file.resume();
        throw new AppError('bad_request', 'Send the file in a multipart part named file');
      }
      const staged = await stageMedia(ctx, file.file, {
        filename: file.filename,
        maxSize: DEFAULT_MAX_FILE_SIZE,
      });
      const [media] = await saveStaged(ctx, [staged], { locationId: channel.locationId });
      await recordVisitorMedia(
        ctx.db,
        { locationId: channel.locationId, channelId: channel.id, visitorId: visitor!.id },
        media!.id,
      );
      return reply.status(201).send(
        envelope({
          mediaAssetId: media!.id,
          mediaId: media!.id,
          url: mediaUrl(ctx, media!),
          mimeType: media!.contentType,
          filename: media!.filename,
          size: media!.size,
          kind: kindOf(media!.contentType),
        }),
      );
    },
  );

  app.post<{ Body: SendMessageBody }>(
    '/web-chat/:token/messages',
    {
      preHandler: visitorAuth,
      schema: {
        tags,
        summary: 'The visitor sends a message (text and/or an uploaded attachment)',
        params: tokenParams,
        querystring: tokenQuery,
        body: sendMessageBody,
      },
    },
    async (req, reply) => {
      const { channel, claims, visitor } = stateOf(req);
      await limits.check('messagePerIp', `${channel.locationId}:${req.ip}`, reply);
      await limits.check('messagePerVisitor', `${channel.id}:${visitor!.id}`, reply);
      const b = req.body ?? {};
      if (b.body !== undefined && b.caption !== undefined) {
        throw invalid(['send either body or caption, not both']);
      }
      const text = (b.body ?? b.caption)?.trim() || undefined;
      if (!text && !b.attachment) throw invalid(['body or attachment is required']);
      const scope = { locationId: channel.locationId, channelId: channel.id, visitorId: visitor!.id };
      let attachment: Parameters<typeof sendVisitorMessage>[1]['attachment'];
      if (b.attachment) {
        const media = isUuid(b.attachment.mediaAssetId)
          ? await visitorMedia(ctx.db, scope, b.attachment.mediaAssetId)
          : null;
        if (!media) throw invalid(['attachment.mediaAssetId must name a file uploaded in this session']);
        attachment = {
          mediaAssetId: media.id,
          kind: b.attachment.kind ?? kindOf(media.contentType),
          filename: b.attachment.filename ?? media.filename,
          url: mediaUrl(ctx, media),
          mimeType: media.contentType,
        };
      }
      const { message } = await sendVisitorMessage(ctx.db, {
        ...scope,
        contactId: claims!.contactId!,
        departmentId: visitor!.departmentId,
        body: text,
        attachment,
        clientMessageId: b.clientMessageId,
        replyToMessageId: b.replyToMessageId,
      });
      return reply.status(201).send(envelope(webChatMessage(message)));
    },
  );
}
