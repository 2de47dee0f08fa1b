import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../../context.js';
import { type SearchPage, type SortBy, searchConversations } from '../../../core/conversations/search.js';
import {
  type Conversation,
  createConversation,
  deleteConversation,
  type Feedback,
  findConversationById,
  updateConversation,
} from '../../../core/conversations/service.js';
import { invalid, notFound } from '../../../core/errors.js';
import { MESSAGE_TYPE_NAMES } from '../../../core/messages/types.js';
import { requireLocation } from '../../../http/auth.js';
import { conversationDto, createdConversationDto, searchItemDto, updatedConversationDto } from './dto.js';

const tags = ['Conversations'];
const str = (maxLength = 200) => ({ type: 'string', maxLength });
const csv = { type: 'string', maxLength: 4000, description: 'Comma-separated list' };
const num = { type: 'string', pattern: '^-?[0-9]+(\\.[0-9]+)?$' };

const searchQuery = {
  type: 'object',
  required: ['locationId'],
  properties: {
    locationId: str(100),
    contactId: str(100),
    id: str(100),
    assignedTo: csv,
    followers: csv,
    mentions: csv,
    query: str(200),
    sort: { enum: ['asc', 'desc'] },
    sortBy: {
      enum: ['last_manual_message_date', 'last_message_date', 'score_profile', 'overdue_at', 'due_at'],
    },
    sortScoreProfile: str(100),
    startAfterDate: {
      anyOf: [num, { type: 'array', items: { type: 'string', maxLength: 100 }, maxItems: 2 }],
      description: 'The `sort` value of the last item of the previous page',
    },
    limit: { type: 'string', pattern: '^[0-9]{1,9}$', description: '1 to 100, default 20' },
    lastMessageType: { enum: MESSAGE_TYPE_NAMES },
    lastMessageAction: { enum: ['automated', 'manual'] },
    lastMessageDirection: { enum: ['inbound', 'outbound'] },
    status: { enum: ['all', 'read', 'unread', 'starred', 'recents'] },
    startDate: num,
    endDate: num,
    scoreProfile: str(100),
    scoreProfileMin: num,
    scoreProfileMax: num,
    conversationStatus: { enum: ['open', 'closed'], description: 'Charla: open or closed conversations' },
    channel: { enum: ['default', 'live_chat', 'review'], description: 'Charla: the conversation channel' },
    chatWidgetId: str(100),
    departmentId: str(100),
    tags: { ...csv, description: 'Charla: conversations with any of these tags' },
  },
};

const idParams = {
  type: 'object',
  required: ['conversationId'],
  properties: { conversationId: str(100) },
};

const updateBody = {
  type: 'object',
  additionalProperties: false,
  required: ['locationId'],
  properties: {
    locationId: str(100),
    unreadCount: { type: 'integer', minimum: 0, maximum: 1_000_000 },
    starred: { type: 'boolean' },
    feedback: {
      anyOf: [{ enum: ['positive', 'negative'] }, { type: 'object', maxProperties: 20 }, { type: 'null' }],
    },
    // Charla's inbox fields (LeadConnector's responses carry assignedTo; the rest are Charla's).
    assignedTo: { anyOf: [str(100), { type: 'null' }], description: 'A user of the location, or null' },
    departmentId: { anyOf: [str(40), { type: 'null' }] },
    followers: { type: 'array', items: str(100), maxItems: 100 },
    tags: { type: 'array', items: str(100), maxItems: 100 },
    status: { enum: ['open', 'closed'] },
    inbox: { type: 'boolean' },
  },
};

const list = (v: string | undefined) =>
  v
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const number = (v: string | undefined) => (v === undefined ? undefined : Number(v));

export async function conversationRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const { db } = ctx;

  /** A conversation by id, only if the caller's key reaches its location (404 otherwise). */
  const accessible = async (req: FastifyRequest, id: string): Promise<Conversation> => {
    return findConversationById(db, id, req.principal!.locationIds);
  };

  app.get<{ Querystring: Record<string, string | string[] | undefined> }>(
    '/conversations/search',
    {
      config: { scope: 'conversations.readonly' },
      schema: { tags, summary: 'Search conversations', querystring: searchQuery },
    },
    async (req, reply) => {
      const q = req.query as Record<string, string | undefined>;
      requireLocation(req, q.locationId!);
      const limit = number(q.limit) ?? 20;
      if (limit < 1 || limit > 100) throw invalid(['limit must be between 1 and 100']);
      const rawAfter = req.query.startAfterDate;
      const startAfter = rawAfter === undefined ? undefined : ([] as string[]).concat(rawAfter);
      const sortBy = (
        ['last_manual_message_date', 'score_profile'].includes(q.sortBy ?? '')
          ? q.sortBy
          : 'last_message_date'
      ) as SortBy;
      const page: SearchPage = {
        sort: q.sort === 'asc' ? 'asc' : 'desc',
        sortBy,
        startAfter: startAfter?.map((v, i) => (i === 0 ? Number(v) : v)),
        limit,
      };
      const { hits, total, totalExact } = await searchConversations(
        db,
        {
          locationId: q.locationId!,
          contactId: q.contactId,
          id: q.id,
          assignedTo: list(q.assignedTo),
          followers: list(q.followers),
          mentions: list(q.mentions),
          query: q.query,
          status: q.status as never,
          lastMessageType: q.lastMessageType,
          lastMessageAction: q.lastMessageAction as never,
          lastMessageDirection: q.lastMessageDirection as never,
          startDate: number(q.startDate),
          endDate: number(q.endDate),
          scoreMin: number(q.scoreProfileMin),
          scoreMax: number(q.scoreProfileMax),
          conversationStatus: q.conversationStatus as never,
          channel: q.channel,
          chatWidgetId: q.chatWidgetId,
          departmentId: q.departmentId,
          tags: list(q.tags),
        },
        page,
      );
      // The body keeps LeadConnector's shape; a capped count says so in a header.
      if (!totalExact) reply.header('X-Charla-Total-Is-Lower-Bound', 'true');
      return { conversations: hits.map(searchItemDto), total, traceId: req.id };
    },
  );

  app.get<{ Params: { conversationId: string } }>(
    '/conversations/:conversationId',
    {
      config: { scope: 'conversations.readonly' },
      schema: { tags, summary: 'Get a conversation', params: idParams },
    },
    async (req) => conversationDto(await accessible(req, req.params.conversationId)),
  );

  app.put<{ Params: { conversationId: string }; Body: Record<string, unknown> & { locationId: string } }>(
    '/conversations/:conversationId',
    {
      config: { scope: 'conversations.write' },
      schema: { tags, summary: 'Update a conversation', params: idParams, body: updateBody },
    },
    async (req) => {
      const b = req.body;
      requireLocation(req, b.locationId);
      const c = await accessible(req, req.params.conversationId);
      if (c.locationId !== b.locationId) throw notFound('Conversation');
      const updated = await updateConversation(db, c.locationId, c.id, {
        unreadCount: b.unreadCount as number | undefined,
        starred: b.starred as boolean | undefined,
        feedback: b.feedback as Feedback | undefined,
        assignedTo: b.assignedTo as string | null | undefined,
        departmentId: b.departmentId as string | null | undefined,
        followers: b.followers as string[] | undefined,
        tags: b.tags as string[] | undefined,
        status: b.status as 'open' | 'closed' | undefined,
        inbox: b.inbox as boolean | undefined,
      });
      return { success: true, conversation: updatedConversationDto(updated) };
    },
  );

  app.delete<{ Params: { conversationId: string } }>(
    '/conversations/:conversationId',
    {
      config: { scope: 'conversations.write' },
      schema: { tags, summary: 'Delete a conversation', params: idParams },
    },
    async (req) => {
      const c = await accessible(req, req.params.conversationId);
      await deleteConversation(db, c.locationId, c.id);
      return { success: true };
    },
  );

  app.post<{ Body: { locationId: string; contactId: string } }>(
    '/conversations/',
    {
      config: { scope: 'conversations.write' },
      schema: {
        tags,
        summary: 'Create a conversation',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['locationId', 'contactId'],
          properties: { locationId: str(100), contactId: str(100) },
        },
      },
    },
    async (req, reply) => {
      requireLocation(req, req.body.locationId);
      const c = await createConversation(db, req.body.locationId, req.body.contactId);
      return reply.status(201).send({ success: true, conversation: createdConversationDto(c) });
    },
  );
}
