import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import { authenticate, requireLocation } from '../../http/auth.js';
import { chatCaptainErrorHandler } from './errors.js';
import { inboxWidgetRoutes } from './inbox-widgets/routes.js';

/**
 * The ChatCaptain-compatible face: `/v1/inbox/:chatbotId/…`, where the chatbot is a Charla
 * location. Keys come as `x-chatcaptain-key` (or any header every face accepts); each route needs
 * the ChatCaptain permission of the same name as a key scope.
 */
export async function chatCaptainApi(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.setErrorHandler(chatCaptainErrorHandler);
  app.addHook('onRequest', async (req, reply) => {
    await authenticate(ctx, req, reply);
  });
  // Every route names its chatbot: a key of another location stops at 403 before its input is read.
  app.addHook('preValidation', async (req) => {
    const chatbotId = (req.params as { chatbotId?: string }).chatbotId;
    if (chatbotId !== undefined) requireLocation(req, chatbotId);
  });
  await inboxWidgetRoutes(app, ctx);
}
