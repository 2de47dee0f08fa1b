import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import { authenticate } from '../../http/auth.js';
import { chatWidgetRoutes } from './chat-widget/routes.js';
import { contactRoutes } from './contacts/routes.js';
import { conversationRoutes } from './conversations/routes.js';
import { leadConnectorErrorHandler } from './errors.js';
import { messageRoutes } from './messages/routes.js';
import { recordingRoutes } from './recordings/routes.js';
import { uploadRoutes } from './uploads/routes.js';
import { checkVersion } from './version.js';

/** The LeadConnector-compatible face: `Version` header, Bearer keys, NestJS-style errors. */
export async function leadConnectorApi(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.setErrorHandler(leadConnectorErrorHandler);
  app.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.config.public) return;
    checkVersion(req);
    await authenticate(ctx, req, reply);
  });
  await chatWidgetRoutes(app, ctx);
  await conversationRoutes(app, ctx);
  await messageRoutes(app, ctx);
  await uploadRoutes(app, ctx);
  await recordingRoutes(app, ctx);
  await contactRoutes(app, ctx);
}
