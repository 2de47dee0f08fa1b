import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../../context.js';
import { invalid } from '../../../core/errors.js';
import * as widgets from '../../../core/widgets/service.js';
import { actorOf, requireLocation } from '../../../http/auth.js';
import { checkVersion } from '../version.js';
import { chatWidgetDto, chatWidgetListItemDto, publicConfigDto } from './dto.js';
import { cloneBody, createBody, listQuery, publicConfigQuery, updateBody, widgetParams } from './schemas.js';

type WidgetParams = { locationId: string; id: string };
type Body = {
  version?: number;
  chatType?: string;
  name?: string;
  locationId?: string;
  default?: boolean;
  settings?: Record<string, unknown>;
};
type ListQuery = Record<string, string | undefined>;

const tags = ['Chat Widget'];

export async function chatWidgetRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const { db } = ctx;

  app.get<{ Querystring: ListQuery }>(
    '/chat-widget/list',
    {
      config: { scope: 'chat-widget.readonly' },
      schema: { tags, summary: 'List chat widgets', querystring: listQuery },
    },
    async (req) => {
      const q = req.query;
      requireLocation(req, q.locationId!);
      const offset = Number(q.offset ?? 0);
      const limit = Number(q.limit ?? 20);
      if (limit < 1 || limit > 100) throw invalid(['limit must be between 1 and 100']);
      const { items, total } = await widgets.listWidgets(
        db,
        q.locationId!,
        {
          chatType: q.chatType,
          excludeChatType: q.excludeChatType,
          allInOneChatType: q.allInOneChatTypes,
          voiceAiAgentId: q.voiceAiAgentId,
          creationSource: q.creationSource,
          excludeCreationSource: q.excludeCreationSource,
        },
        { offset, limit },
      );
      return { chatWidgets: items.map(chatWidgetListItemDto), totalCount: total };
    },
  );

  app.get<{ Params: WidgetParams }>(
    '/chat-widget/data/:locationId/:id',
    {
      config: { scope: 'chat-widget.readonly' },
      schema: { tags, summary: 'Get a chat widget', params: widgetParams },
    },
    async (req) => {
      requireLocation(req, req.params.locationId);
      return chatWidgetDto(await widgets.getWidget(db, req.params.locationId, req.params.id));
    },
  );

  for (const method of ['PUT', 'PATCH'] as const) {
    app.route<{ Params: WidgetParams; Body: Body }>({
      method,
      url: '/chat-widget/data/:locationId/:id',
      config: { scope: 'chat-widget.write' },
      schema: {
        tags,
        summary: method === 'PUT' ? 'Update a chat widget (full)' : 'Patch a chat widget (partial)',
        params: widgetParams,
        body: updateBody,
      },
      handler: async (req) => {
        const { locationId, id } = req.params;
        requireLocation(req, locationId);
        const b = req.body;
        if (method === 'PUT' && (b.name === undefined || b.chatType === undefined)) {
          throw invalid([
            ...(b.name === undefined ? ['name is required for a full update'] : []),
            ...(b.chatType === undefined ? ['chatType is required for a full update'] : []),
          ]);
        }
        const widget = await widgets.updateWidget(db, actorOf(req), locationId, id, {
          mode: method === 'PUT' ? 'replace' : 'merge',
          expectedRevision: b.version,
          name: b.name,
          chatType: b.chatType,
          isDefault: b.default,
          settings: b.settings,
        });
        return chatWidgetDto(widget);
      },
    });
  }

  app.delete<{ Params: WidgetParams }>(
    '/chat-widget/:locationId/:id',
    {
      config: { scope: 'chat-widget.write' },
      schema: { tags, summary: 'Delete a chat widget (soft delete)', params: widgetParams },
    },
    async (req) => {
      requireLocation(req, req.params.locationId);
      return chatWidgetDto(
        await widgets.deleteWidget(db, actorOf(req), req.params.locationId, req.params.id),
      );
    },
  );

  app.post<{ Body: { locationId: string; chatWidgetId: string; name?: string } }>(
    '/chat-widget/clone',
    {
      config: { scope: 'chat-widget.write' },
      schema: { tags, summary: 'Clone a chat widget', body: cloneBody },
    },
    async (req, reply) => {
      requireLocation(req, req.body.locationId);
      const widget = await widgets.cloneWidget(
        db,
        actorOf(req),
        req.body.locationId,
        req.body.chatWidgetId,
        req.body.name,
      );
      return reply.status(201).send(chatWidgetDto(widget));
    },
  );

  app.post<{ Body: Body & { locationId: string; name: string; chatType: string; version: number } }>(
    '/chat-widget/',
    {
      config: { scope: 'chat-widget.write' },
      schema: { tags, summary: 'Create a chat widget', body: createBody },
    },
    async (req, reply) => {
      const b = req.body;
      requireLocation(req, b.locationId);
      const widget = await widgets.createWidget(db, actorOf(req), {
        locationId: b.locationId,
        name: b.name,
        chatType: b.chatType,
        revision: b.version,
        isDefault: b.default,
        settings: b.settings,
      });
      return reply.status(201).send(chatWidgetDto(widget));
    },
  );

  // Read by widgets on other sites: every answer, errors included, is readable cross-origin.
  const cors = async (req: FastifyRequest, reply: FastifyReply) => {
    reply.header('Access-Control-Allow-Origin', req.headers.origin ?? '*');
    reply.header('Vary', 'Origin');
  };

  app.options(
    '/chat-widget/public/config/:id',
    { config: { public: true }, schema: { hide: true }, onRequest: cors },
    async (_req, reply) => {
      reply.header('Access-Control-Allow-Methods', 'GET, OPTIONS');
      reply.header('Access-Control-Allow-Headers', 'Version, Content-Type');
      reply.header('Access-Control-Max-Age', '600');
      return reply.status(204).send();
    },
  );

  app.get<{ Params: { id: string } }>(
    '/chat-widget/public/config/:id',
    {
      config: { public: true },
      onRequest: cors,
      schema: {
        tags,
        summary: 'Public widget config (no auth)',
        params: { type: 'object', properties: { id: { type: 'string' } } },
        querystring: publicConfigQuery,
      },
    },
    async (req, reply) => {
      checkVersion(req, false);
      const widget = await widgets.findPublicWidget(db, req.params.id);
      if (!widgets.originAllowed(widget.settings, req.headers.origin)) {
        return reply.status(403).send({
          statusCode: 403,
          message: 'This widget may not be used on this site',
          error: 'Forbidden',
        });
      }
      reply.header('Cache-Control', 'public, max-age=30');
      return publicConfigDto(widget);
    },
  );
}
