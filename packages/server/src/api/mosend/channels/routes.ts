import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AppContext } from '../../../context.js';
import { AppError, invalid, notFound } from '../../../core/errors.js';
import { revokeIdentitySecret, rotateIdentitySecret } from '../../../core/widgets/identity.js';
import * as widgets from '../../../core/widgets/service.js';
import { actorOf } from '../../../http/auth.js';
import { envelope } from '../envelope.js';
import { channelDto, channelProblem, settingsPatch } from './dto.js';
import { channelParams, createChannelBody, orgParams, updateChannelBody } from './schemas.js';

type OrgParams = { orgId: string };
type ChannelParams = { orgId: string; id: string };
type Body = Record<string, unknown> & { name?: string };

const tags = ['Mosend web chat'];

/** Web-chat channels are the live-chat widgets; other widget types are not reachable here. */
export const CHANNEL_CHAT_TYPE = 'liveChat';

/** Settings problems worded in channel terms, and a missing widget called a channel. */
async function asChannel<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof AppError && err.code === 'validation') throw invalid(err.details.map(channelProblem));
    if (err instanceof AppError && err.code === 'not_found' && err.message === 'Chat widget not found') {
      throw notFound('Channel');
    }
    throw err;
  }
}

async function findChannel(ctx: AppContext, orgId: string, id: string): Promise<widgets.ChatWidget> {
  const w = await asChannel(widgets.getWidget(ctx.db, orgId, id));
  if (w.chatType !== CHANNEL_CHAT_TYPE) throw notFound('Channel');
  return w;
}

const escapeAttr = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * The install snippet: a command-queue stub, so the page can call `Charla(…)` (identify a
 * visitor, open the widget) before the loader arrives, and the loader itself, async, with the
 * channel's public token in `data-token`.
 */
export function installSnippet(publicUrl: string, token: string): string {
  return [
    '<!-- Charla web chat -->',
    '<script>window.Charla=window.Charla||function(){(window.Charla.q=window.Charla.q||[]).push(arguments)};</script>',
    `<script async src="${escapeAttr(`${publicUrl}/widget/loader.js`)}" data-token="${escapeAttr(token)}"></script>`,
  ].join('\n');
}

export async function channelRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const { db } = ctx;

  app.get<{ Params: OrgParams }>(
    '/organizations/:orgId/web-chat/channels',
    {
      config: { scope: 'chat-widget.readonly' },
      schema: { tags, summary: "List the organisation's web-chat channels", params: orgParams },
    },
    async (req) => {
      const { items } = await asChannel(
        widgets.listWidgets(
          db,
          req.params.orgId,
          { chatType: CHANNEL_CHAT_TYPE },
          { offset: 0, limit: 1000 },
        ),
      ).catch((err) => {
        // A location with no widgets answers an empty list, not 404.
        if (err instanceof AppError && err.code === 'not_found') throw notFound('Organization');
        throw err;
      });
      return envelope(items.map(channelDto));
    },
  );

  app.post<{ Params: OrgParams; Body: Body }>(
    '/organizations/:orgId/web-chat/channels',
    {
      config: { scope: 'chat-widget.write' },
      schema: {
        tags,
        summary: 'Create a web-chat channel',
        description: 'The channel is a live-chat widget: the LeadConnector chat-widget API lists it too.',
        params: orgParams,
        body: createChannelBody,
      },
    },
    async (req, reply: FastifyReply) => {
      const w = await asChannel(
        widgets.createWidget(db, actorOf(req), {
          locationId: req.params.orgId,
          name: req.body.name!,
          chatType: CHANNEL_CHAT_TYPE,
          settings: settingsPatch(req.body),
          creationSource: 'mosend',
        }),
      ).catch((err) => {
        if (err instanceof AppError && err.code === 'not_found') throw notFound('Organization');
        throw err;
      });
      return reply.status(201).send(envelope(channelDto(w)));
    },
  );

  app.patch<{ Params: ChannelParams; Body: Body }>(
    '/organizations/:orgId/web-chat/channels/:id',
    {
      config: { scope: 'chat-widget.write' },
      schema: {
        tags,
        summary: 'Update a web-chat channel',
        description:
          'Only the fields sent change; `null` removes a setting (its default applies). Objects and lists ' +
          '(operatingHours, prechatFields, …) are replaced whole.',
        params: channelParams,
        body: updateChannelBody,
      },
    },
    async (req) => {
      const { orgId, id } = req.params;
      await findChannel(ctx, orgId, id);
      const w = await asChannel(
        widgets.updateWidget(db, actorOf(req), orgId, id, {
          mode: 'merge',
          name: req.body.name,
          settings: settingsPatch(req.body),
        }),
      );
      return envelope(channelDto(w));
    },
  );

  app.delete<{ Params: ChannelParams }>(
    '/organizations/:orgId/web-chat/channels/:id',
    {
      config: { scope: 'chat-widget.write' },
      schema: { tags, summary: 'Delete a web-chat channel', params: channelParams },
    },
    async (req) => {
      const { orgId, id } = req.params;
      await findChannel(ctx, orgId, id);
      const w = await asChannel(widgets.deleteWidget(db, actorOf(req), orgId, id));
      return envelope({ id: w.id, deleted: true });
    },
  );

  app.get<{ Params: ChannelParams }>(
    '/organizations/:orgId/web-chat/channels/:id/snippet',
    {
      config: { scope: 'chat-widget.readonly' },
      schema: {
        tags,
        summary: 'Install snippet for the channel',
        description: 'HTML to paste before `</body>`: it loads `/widget/loader.js` asynchronously.',
        params: channelParams,
      },
    },
    async (req) => {
      const w = await findChannel(ctx, req.params.orgId, req.params.id);
      return envelope({ html: installSnippet(ctx.config.publicUrl, w.publicToken) });
    },
  );

  app.post<{ Params: ChannelParams }>(
    '/organizations/:orgId/web-chat/channels/:id/identity-secret',
    {
      config: { scope: 'chat-widget.write' },
      schema: {
        tags,
        summary: 'Generate or rotate the identity secret',
        description:
          'The HMAC-SHA256 key host sites sign visitor identities with. The secret is shown only in this ' +
          'answer; a rotation replaces the previous secret at once (no grace period).',
        params: channelParams,
      },
    },
    async (req, reply: FastifyReply) => {
      const { orgId, id } = req.params;
      await findChannel(ctx, orgId, id);
      const issued = await asChannel(rotateIdentitySecret(db, ctx.secret, actorOf(req), orgId, id));
      reply.header('Cache-Control', 'no-store');
      return reply
        .status(201)
        .send(envelope({ secret: issued.secret, rotatedAt: issued.rotatedAt.toISOString() }));
    },
  );

  app.delete<{ Params: ChannelParams }>(
    '/organizations/:orgId/web-chat/channels/:id/identity-secret',
    {
      config: { scope: 'chat-widget.write' },
      schema: { tags, summary: 'Revoke the identity secret', params: channelParams },
    },
    async (req) => {
      const { orgId, id } = req.params;
      await findChannel(ctx, orgId, id);
      const { revoked } = await asChannel(revokeIdentitySecret(db, actorOf(req), orgId, id));
      return envelope({ revoked, hasIdentitySecret: false });
    },
  );
}
