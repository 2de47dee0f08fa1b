import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../../context.js';
import * as widgets from '../../../core/inbox-widgets/service.js';
import { fieldValueDto, inboxWidgetDto } from './dto.js';
import {
  chatbotParams,
  createBody,
  patchBody,
  valuesQuery,
  widgetParams,
  writeValuesBody,
} from './schemas.js';

type ChatbotParams = { chatbotId: string };
type WidgetParams = { chatbotId: string; widgetId: string };
type WidgetBody = { title?: string; fields?: widgets.InboxWidgetField[] };

const tags = ['ChatCaptain Inbox Widgets'];

export async function inboxWidgetRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const { db } = ctx;
  const base = '/v1/inbox/:chatbotId/widgets';

  app.get<{ Params: ChatbotParams }>(
    base,
    {
      config: { scope: 'chatbots.inbox.widgets.list' },
      schema: { tags, summary: 'List inbox widgets', params: chatbotParams },
    },
    async (req) => ({
      inboxWidgets: (await widgets.listInboxWidgets(db, req.params.chatbotId)).map(inboxWidgetDto),
    }),
  );

  app.post<{ Params: ChatbotParams; Body: WidgetBody & { title: string } }>(
    base,
    {
      config: { scope: 'chatbots.inbox.widgets.create' },
      schema: { tags, summary: 'Create an inbox widget', params: chatbotParams, body: createBody },
    },
    async (req, reply) => {
      const widget = await widgets.createInboxWidget(db, req.params.chatbotId, req.body);
      return reply.status(201).send({ inboxWidget: inboxWidgetDto(widget) });
    },
  );

  app.get<{ Params: WidgetParams }>(
    `${base}/:widgetId`,
    {
      config: { scope: 'chatbots.inbox.widgets.get' },
      schema: { tags, summary: 'Get an inbox widget', params: widgetParams },
    },
    async (req) => ({
      inboxWidget: inboxWidgetDto(
        await widgets.getInboxWidget(db, req.params.chatbotId, req.params.widgetId),
      ),
    }),
  );

  app.patch<{ Params: WidgetParams; Body: WidgetBody }>(
    `${base}/:widgetId`,
    {
      config: { scope: 'chatbots.inbox.widgets.edit' },
      schema: { tags, summary: 'Update an inbox widget', params: widgetParams, body: patchBody },
    },
    async (req) => ({
      inboxWidget: inboxWidgetDto(
        await widgets.updateInboxWidget(db, req.params.chatbotId, req.params.widgetId, req.body),
      ),
    }),
  );

  app.delete<{ Params: WidgetParams }>(
    `${base}/:widgetId`,
    {
      config: { scope: 'chatbots.inbox.widgets.delete' },
      schema: { tags, summary: 'Delete an inbox widget', params: widgetParams },
    },
    async (req) => {
      await widgets.deleteInboxWidget(db, req.params.chatbotId, req.params.widgetId);
      return { deleted: true };
    },
  );

  app.get<{ Params: WidgetParams; Querystring: { conversationId?: string; contactId?: string } }>(
    `${base}/:widgetId/values`,
    {
      config: { scope: 'chatbots.inbox.widgets.content.get' },
      schema: {
        tags,
        summary: "Gets a widget's values",
        params: widgetParams,
        querystring: valuesQuery,
      },
    },
    async (req) => {
      const values = await widgets.inboxWidgetValues(db, req.params.chatbotId, req.params.widgetId, {
        conversationId: req.query.conversationId,
        contactId: req.query.contactId,
      });
      return { fieldValues: values.map(fieldValueDto) };
    },
  );

  app.put<{ Params: WidgetParams; Body: { conversationId: string; values: Record<string, unknown> } }>(
    `${base}/:widgetId/values`,
    {
      config: { scope: 'chatbots.inbox.widgets.content.edit' },
      schema: {
        tags,
        summary: "Write a conversation's values of your own variables (Charla)",
        params: widgetParams,
        body: writeValuesBody,
      },
    },
    async (req) => {
      const values = await widgets.writeInboxWidgetValues(
        db,
        req.params.chatbotId,
        req.params.widgetId,
        req.body.conversationId,
        req.body.values,
      );
      return { fieldValues: values.map(fieldValueDto) };
    },
  );
}
