import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import { authenticate, requireLocation } from '../../http/auth.js';
import { channelRoutes } from './channels/routes.js';
import { webChatSendRoutes } from './conversations/routes.js';
import { mosendErrorHandler } from './errors.js';

/**
 * The Mosend-compatible face. Organisation-scoped routes (`/organizations/:orgId/…`, where the
 * organisation is a Charla location) take the same API keys as every face, as `X-Api-Key` or
 * `Authorization: Bearer`, and answer `{data, timestamp}` or Mosend's error body.
 */
export async function mosendApi(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.setErrorHandler(mosendErrorHandler);
  await app.register(async (org) => organizationRoutes(org, ctx));
}

async function organizationRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.config.public) return;
    await authenticate(ctx, req, reply);
  });
  // Every route here names its organisation: a key of another location stops at 403.
  app.addHook('preValidation', async (req) => {
    if (req.routeOptions.config.public) return;
    const orgId = (req.params as { orgId?: string }).orgId;
    if (orgId !== undefined) requireLocation(req, orgId);
  });
  await channelRoutes(app, ctx);
  await webChatSendRoutes(app, ctx);
}
