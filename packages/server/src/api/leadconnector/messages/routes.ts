import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../../context.js';
import { findConversationById, locateContact } from '../../../core/conversations/service.js';
import { announceTyping } from '../../../core/conversations/typing.js';
import { invalid } from '../../../core/errors.js';
import { addExternalMessage, type InboundInput } from '../../../core/messages/inbound.js';
import { exportMessages, getEmailMessage, getMessage, listMessages } from '../../../core/messages/read.js';
import { sendReviewReply } from '../../../core/messages/review.js';
import { sendMessage } from '../../../core/messages/send.js';
import {
  cancelScheduledMessage,
  EMAIL_STATUSES,
  reportEmailStatus,
  reportMessageStatus,
  setCallAttachments,
} from '../../../core/messages/status.js';
import { INBOUND_TYPES, MESSAGE_TYPE_NAMES, SEND_TYPES } from '../../../core/messages/types.js';
import { requireLocation } from '../../../http/auth.js';
import { emailMessageDto, messageDto, sendResultDto } from './dto.js';

const tags = ['Messages'];
const str = (maxLength = 200) => ({ type: 'string', maxLength });
const text = str(20_000);
const emailList = { type: 'array', items: str(254), maxItems: 50 };
const urls = (maxItems: number) => ({ type: 'array', items: str(2048), maxItems });
const callData = {
  type: 'object',
  additionalProperties: false,
  properties: {
    to: str(50),
    from: str(50),
    status: {
      enum: ['pending', 'completed', 'answered', 'busy', 'no-answer', 'failed', 'canceled', 'voicemail'],
    },
    duration: { type: 'integer', minimum: 0, maximum: 1_000_000 },
    recordingUrl: str(2048),
  },
};
const idParam = (name: string) => ({ type: 'object', required: [name], properties: { [name]: str(100) } });

const sendBody = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'contactId'],
  properties: {
    type: { enum: SEND_TYPES },
    contactId: str(100),
    message: text,
    html: str(200_000),
    subject: str(998),
    attachments: urls(20),
    emailFrom: str(320),
    emailTo: str(254),
    emailCc: emailList,
    emailBcc: emailList,
    emailReplyMode: { enum: ['reply', 'reply_all'] },
    replyMessageId: str(100),
    threadId: str(100),
    scheduledTimestamp: { type: 'number', minimum: 0 },
    conversationProviderId: str(100),
    fromNumber: str(50),
    toNumber: str(50),
    userId: str(100),
    // Accepted for compatibility; Charla has no templates, appointments or unsubscribe subtypes.
    subType: {},
    status: { enum: ['delivered', 'failed', 'pending', 'read'] },
    appointmentId: str(100),
    templateId: str(100),
    customSubtypeId: str(100),
    usesNativeSchedulingAi: { type: 'boolean' },
    optimizationPeriod: { enum: ['24h', '48h', '72h'] },
    forward: { type: 'object', maxProperties: 20 },
  },
};

const inboundBody = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  properties: {
    type: { enum: INBOUND_TYPES },
    conversationId: str(100),
    contactId: str(100),
    conversationProviderId: str(100),
    message: text,
    html: str(200_000),
    subject: str(998),
    attachments: urls(20),
    emailFrom: str(320),
    emailTo: str(320),
    emailCc: emailList,
    emailBcc: emailList,
    emailMessageId: str(100),
    altId: str(200),
    direction: { enum: ['inbound', 'outbound'] },
    date: str(40),
    call: callData,
    reviewId: { ...str(200), description: 'Charla: files the message in a review conversation' },
  },
};

const outboundBody = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'conversationId'],
  properties: {
    type: { enum: ['Call'] },
    conversationId: str(100),
    conversationProviderId: str(100),
    attachments: urls(5),
    altId: str(200),
    date: str(40),
    call: callData,
  },
};

export async function messageRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const { db } = ctx;
  const reach = (req: FastifyRequest) => req.principal!.locationIds;

  const conversationOf = async (req: FastifyRequest, id: string) => {
    return findConversationById(db, id, req.principal!.locationIds);
  };

  app.post<{ Body: Record<string, unknown> & { contactId: string; type: (typeof SEND_TYPES)[number] } }>(
    '/conversations/messages',
    {
      config: { scope: 'conversations/message.write' },
      schema: { tags, summary: 'Send a message', body: sendBody },
    },
    async (req) => {
      const b = req.body;
      const key = req.headers['idempotency-key'];
      if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > 200)) {
        throw invalid(['Idempotency-Key must be 1 to 200 characters']);
      }
      const { message } = await sendMessage(db, {
        locationId: reach(req),
        contactId: b.contactId,
        type: b.type,
        message: b.message as string | undefined,
        html: b.html as string | undefined,
        subject: b.subject as string | undefined,
        attachments: b.attachments as string[] | undefined,
        emailFrom: b.emailFrom as string | undefined,
        emailTo: b.emailTo as string | undefined,
        emailCc: b.emailCc as string[] | undefined,
        emailBcc: b.emailBcc as string[] | undefined,
        emailReplyMode: b.emailReplyMode as 'reply' | 'reply_all' | undefined,
        replyMessageId: b.replyMessageId as string | undefined,
        threadId: b.threadId as string | undefined,
        scheduledTimestamp: b.scheduledTimestamp as number | undefined,
        conversationProviderId: b.conversationProviderId as string | undefined,
        fromNumber: b.fromNumber as string | undefined,
        toNumber: b.toNumber as string | undefined,
        userId: b.userId as string | undefined,
        idempotencyKey: key as string | undefined,
      });
      return sendResultDto(message);
    },
  );

  for (const [url, body, summary] of [
    ['/conversations/messages/inbound', inboundBody, 'Add an inbound message'],
    ['/conversations/messages/outbound', outboundBody, 'Add an external outbound call'],
  ] as const) {
    app.post<{ Body: Record<string, unknown> & { type: string } }>(
      url,
      { config: { scope: 'conversations/message.write' }, schema: { tags, summary, body } },
      async (req) => {
        const b = req.body;
        let locationId: string;
        if (b.conversationId) locationId = (await conversationOf(req, b.conversationId as string)).locationId;
        else if (b.contactId) locationId = await locateContact(db, b.contactId as string, reach(req));
        else throw invalid(['conversationId or contactId is required']);
        const outbound = url.endsWith('outbound');
        const m = await addExternalMessage(db, {
          ...(b as Omit<InboundInput, 'locationId'>),
          locationId,
          direction: outbound
            ? 'outbound'
            : ((b.direction as 'inbound' | 'outbound' | undefined) ?? 'inbound'),
        });
        return {
          success: true,
          conversationId: m.conversationId,
          messageId: m.id,
          message: 'Message added successfully',
          contactId: m.contactId,
          dateAdded: m.createdAt.toISOString(),
          ...(m.type === 'TYPE_EMAIL' ? { emailMessageId: m.id } : {}),
        };
      },
    );
  }

  app.get<{
    Params: { conversationId: string };
    Querystring: { lastMessageId?: string; limit?: string; type?: string };
  }>(
    '/conversations/:conversationId/messages',
    {
      config: { scope: 'conversations/message.readonly' },
      schema: {
        tags,
        summary: "Get a conversation's messages",
        params: idParam('conversationId'),
        querystring: {
          type: 'object',
          properties: {
            lastMessageId: str(100),
            limit: { type: 'string', pattern: '^[0-9]{1,9}$', description: '1 to 100, default 20' },
            type: { type: 'string', maxLength: 2000, description: 'Comma-separated message types' },
          },
        },
      },
    },
    async (req) => {
      const c = await conversationOf(req, req.params.conversationId);
      const limit = req.query.limit === undefined ? 20 : Number(req.query.limit);
      if (limit < 1 || limit > 100) throw invalid(['limit must be between 1 and 100']);
      const types = req.query.type
        ?.split(',')
        .map((t) => t.trim())
        .filter(Boolean);
      const known = new Set([...MESSAGE_TYPE_NAMES, 'TYPE_INTERNAL_COMMENTS']);
      const unknown = types?.filter((t) => !known.has(t)) ?? [];
      if (unknown.length) throw invalid([`type has unknown values: ${unknown.join(', ')}`]);
      const page = await listMessages(db, c.locationId, c.id, {
        lastMessageId: req.query.lastMessageId,
        limit,
        types,
      });
      const last = page.messages[page.messages.length - 1];
      // The live API nests the page under `messages` (the current spec shows it flat).
      return {
        messages: {
          lastMessageId: last?.id ?? null,
          nextPage: page.nextPage,
          messages: page.messages.map(messageDto),
        },
        traceId: req.id,
      };
    },
  );

  app.get<{ Querystring: Record<string, string | undefined> }>(
    '/conversations/messages/export',
    {
      config: { scope: 'conversations/message.readonly' },
      schema: {
        tags,
        summary: "Export a location's messages",
        querystring: {
          type: 'object',
          required: ['locationId'],
          properties: {
            locationId: str(100),
            limit: { type: 'string', pattern: '^[0-9]{1,9}$', description: '10 to 500, default 100' },
            cursor: str(500),
            sortBy: { enum: ['createdAt', 'updatedAt'] },
            sortOrder: { enum: ['asc', 'desc'] },
            conversationId: str(100),
            contactId: str(100),
            channel: { enum: ['Call', 'SMS', 'Email', 'WhatsApp', 'Instagram', 'Facebook'] },
            startDate: { type: 'string', format: 'date-time' },
            endDate: { type: 'string', format: 'date-time' },
          },
        },
      },
    },
    async (req) => {
      const q = req.query;
      requireLocation(req, q.locationId!);
      const limit = q.limit === undefined ? 100 : Number(q.limit);
      if (limit < 10 || limit > 500) throw invalid(['limit must be between 10 and 500']);
      const result = await exportMessages(db, {
        locationId: q.locationId!,
        conversationId: q.conversationId,
        contactId: q.contactId,
        channel: q.channel,
        startDate: q.startDate ? new Date(q.startDate) : undefined,
        endDate: q.endDate ? new Date(q.endDate) : undefined,
        sortBy: q.sortBy === 'updatedAt' ? 'updatedAt' : 'createdAt',
        sortOrder: q.sortOrder === 'asc' ? 'asc' : 'desc',
        limit,
        cursor: q.cursor,
      });
      return {
        messages: result.messages.map(messageDto),
        nextCursor: result.nextCursor,
        total: result.total,
      };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/conversations/messages/email/:id',
    {
      config: { scope: 'conversations/message.readonly' },
      schema: { tags, summary: 'Get an email message', params: idParam('id') },
    },
    async (req) => emailMessageDto(await getEmailMessage(db, reach(req), req.params.id)),
  );

  app.get<{ Params: { id: string } }>(
    '/conversations/messages/:id',
    {
      config: { scope: 'conversations/message.readonly' },
      schema: { tags, summary: 'Get a message', params: idParam('id') },
    },
    async (req) => messageDto(await getMessage(db, reach(req), req.params.id)),
  );

  app.put<{
    Params: { messageId: string };
    Body: Record<string, unknown> & { status: 'delivered' | 'failed' | 'pending' | 'read' };
  }>(
    '/conversations/messages/:messageId/status',
    {
      config: { scope: 'conversations/message.write' },
      schema: {
        tags,
        summary: "Report a message's delivery status (its provider only)",
        params: idParam('messageId'),
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['status'],
          properties: {
            status: { enum: ['delivered', 'failed', 'pending', 'read'] },
            error: {
              type: 'object',
              additionalProperties: false,
              properties: { code: str(100), type: str(100), message: str(2000) },
            },
            emailMessageId: str(100),
            recipients: { type: 'array', maxItems: 100 },
          },
        },
      },
    },
    async (req) => {
      const m = await reportMessageStatus(db, reach(req), req.principal!.providerId, req.params.messageId, {
        status: req.body.status,
        error: req.body.error as never,
      });
      return sendResultDto(m);
    },
  );

  app.put<{
    Params: { id: string };
    Body: Record<string, unknown> & { status: (typeof EMAIL_STATUSES)[number] };
  }>(
    '/conversations/messages/email/:id/status',
    {
      config: { scope: 'conversations/message.write' },
      schema: {
        tags,
        summary: "Report an email's delivery events (its custom provider only)",
        params: idParam('id'),
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['status'],
          properties: {
            status: { enum: EMAIL_STATUSES },
            events: {
              type: 'object',
              maxProperties: 50,
              additionalProperties: { type: 'integer', minimum: 0, maximum: 1_000_000 },
            },
            recipients: {
              type: 'array',
              maxItems: 100,
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['emailId', 'status'],
                properties: { emailId: str(254), status: { enum: EMAIL_STATUSES }, failReason: str(2000) },
              },
            },
          },
        },
      },
    },
    async (req) => {
      await reportEmailStatus(db, reach(req), req.principal!.providerId, req.params.id, req.body as never);
      return { success: true, message: 'Updated email message successfully' };
    },
  );

  app.put<{ Params: { messageId: string }; Body: { attachments: string[] } }>(
    '/conversations/messages/:messageId/attachments',
    {
      config: { scope: 'conversations/message.write' },
      schema: {
        tags,
        summary: "Set a call message's attachments (at most 5)",
        params: idParam('messageId'),
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['attachments'],
          properties: { attachments: urls(5) },
        },
      },
    },
    async (req) => {
      const m = await setCallAttachments(db, reach(req), req.params.messageId, req.body.attachments);
      return { success: true, messageId: m.id, attachments: m.attachments };
    },
  );

  // Both answer 200 with an HTTP-like status inside the body, as LeadConnector does.
  for (const [url, emailOnly] of [
    ['/conversations/messages/:messageId/schedule', false],
    ['/conversations/messages/email/:messageId/schedule', true],
  ] as const) {
    app.delete<{ Params: { messageId: string } }>(
      url,
      {
        config: { scope: 'conversations/message.write' },
        schema: { tags, summary: 'Cancel a scheduled message', params: idParam('messageId') },
      },
      async (req) => {
        const canceled = await cancelScheduledMessage(db, reach(req), req.params.messageId, emailOnly);
        return canceled
          ? { status: 200, message: 'Scheduled message cancelled successfully' }
          : { status: 404, message: 'Failed cancel the scheduled message' };
      },
    );
  }

  app.post<{ Body: { conversationId: string; locationId: string; message: string } }>(
    '/conversations/messages/review-reply',
    {
      config: { scope: 'conversations/message.write' },
      schema: {
        tags,
        summary: 'Reply to a review',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['conversationId', 'locationId', 'message'],
          properties: { conversationId: str(100), locationId: str(100), message: { ...text, minLength: 1 } },
        },
      },
    },
    async (req) => {
      requireLocation(req, req.body.locationId);
      const m = await sendReviewReply(db, req.body.locationId, req.body.conversationId, req.body.message);
      return sendResultDto(m);
    },
  );

  app.post<{
    Body: { locationId: string; isTyping: string | boolean; visitorId: string; conversationId: string };
  }>(
    '/conversations/providers/live-chat/typing',
    {
      config: { scope: 'conversations/livechat.write' },
      schema: {
        tags,
        summary: 'Show the visitor that an agent is typing',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['locationId', 'isTyping', 'visitorId', 'conversationId'],
          properties: {
            locationId: str(100),
            isTyping: { anyOf: [{ enum: ['true', 'false'] }, { type: 'boolean' }] },
            visitorId: str(200),
            conversationId: str(100),
          },
        },
      },
    },
    async (req, reply) => {
      const b = req.body;
      requireLocation(req, b.locationId);
      await announceTyping(db, ctx.bus, {
        locationId: b.locationId,
        conversationId: b.conversationId,
        visitorId: b.visitorId,
        isTyping: b.isTyping === true || b.isTyping === 'true',
        from: 'agent',
      });
      return reply.status(201).send({ success: true });
    },
  );
}
