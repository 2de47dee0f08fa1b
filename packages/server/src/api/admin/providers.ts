import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import { notFound } from '../../core/errors.js';
import { isUuid } from '../../core/ids.js';
import {
  createProvider,
  deleteProvider,
  getProvider,
  listProviders,
  PROVIDER_TYPES,
} from '../../core/providers/service.js';
import { deleteSmtpConfig, getSmtpConfig, putSmtpConfig, toSettings } from '../../core/smtp/service.js';
import { requireLocation } from '../../http/auth.js';

const tags = ['Admin'];
const str = (maxLength: number) => ({ type: 'string', maxLength });
const locationParams = {
  type: 'object',
  required: ['locationId'],
  properties: { locationId: str(100) },
};
const providerParams = {
  type: 'object',
  required: ['locationId', 'id'],
  properties: { locationId: str(100), id: str(100) },
};

interface LocationParams {
  locationId: string;
}

/**
 * Conversation providers (where a location's SMS, WhatsApp, ... messages are delivered) and the
 * location's SMTP server. Registered inside the admin API: `admin` scope, location-checked.
 */
export async function providersAdminApi(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const { db } = ctx;
  const config = { scope: 'admin' as const };
  /** The caller may act on the location, and it exists (ids that are not UUIDs name none). */
  const location = (req: Parameters<typeof requireLocation>[0], locationId: string) => {
    requireLocation(req, locationId);
    if (!isUuid(locationId)) throw notFound('Location');
  };

  app.post<{
    Params: LocationParams;
    Body: { name: string; type: string; deliveryUrl: string; allowPrivate?: boolean; isDefault?: boolean };
  }>(
    '/admin/v1/locations/:locationId/providers',
    {
      config,
      schema: {
        tags,
        summary:
          'Register a conversation provider; its signing secret and API key are shown only in this response',
        params: locationParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'type', 'deliveryUrl'],
          properties: {
            name: str(200),
            type: { enum: PROVIDER_TYPES },
            deliveryUrl: { ...str(2048), description: 'http(s) URL outbound messages are POSTed to' },
            allowPrivate: {
              type: 'boolean',
              description: 'Allow a delivery URL on a private, loopback or link-local address',
            },
            isDefault: { type: 'boolean', description: "Make it the location's default for its type" },
          },
        },
      },
    },
    async (req, reply) => {
      location(req, req.params.locationId);
      const { provider, signingSecret, key } = await createProvider(db, req.params.locationId, req.body);
      return reply.status(201).send({ provider, signingSecret, key });
    },
  );

  app.get<{ Params: LocationParams }>(
    '/admin/v1/locations/:locationId/providers',
    { config, schema: { tags, summary: "List a location's conversation providers", params: locationParams } },
    async (req) => {
      location(req, req.params.locationId);
      return { providers: await listProviders(db, req.params.locationId) };
    },
  );

  app.get<{ Params: LocationParams & { id: string } }>(
    '/admin/v1/locations/:locationId/providers/:id',
    { config, schema: { tags, summary: 'Get a conversation provider', params: providerParams } },
    async (req) => {
      location(req, req.params.locationId);
      return { provider: await getProvider(db, req.params.locationId, req.params.id) };
    },
  );

  app.delete<{ Params: LocationParams & { id: string } }>(
    '/admin/v1/locations/:locationId/providers/:id',
    {
      config,
      schema: {
        tags,
        summary: 'Delete a conversation provider (it stops receiving messages; its keys are revoked)',
        params: providerParams,
      },
    },
    async (req) => {
      location(req, req.params.locationId);
      const { provider, revokedKeyPrefixes } = await deleteProvider(db, req.params.locationId, req.params.id);
      for (const prefix of revokedKeyPrefixes) ctx.keys.forget(prefix);
      return { provider };
    },
  );

  app.put<{
    Params: LocationParams;
    Body: {
      host: string;
      port: number;
      secure: boolean;
      username?: string | null;
      password?: string | null;
      fromAddress: string;
    };
  }>(
    '/admin/v1/locations/:locationId/smtp',
    {
      config,
      schema: {
        tags,
        summary: "Set the location's outgoing mail server",
        params: locationParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['host', 'port', 'secure', 'fromAddress'],
          properties: {
            host: str(255),
            port: { type: 'integer', minimum: 1, maximum: 65535 },
            secure: { type: 'boolean', description: 'TLS from the start (port 465); false uses STARTTLS' },
            username: { type: ['string', 'null'], maxLength: 320 },
            password: {
              type: ['string', 'null'],
              maxLength: 1024,
              description: 'Never shown again. Leave it out to keep the stored one; null removes it',
            },
            fromAddress: { ...str(320), description: 'Default sender, `a@b.c` or `Name <a@b.c>`' },
          },
        },
      },
    },
    async (req) => {
      location(req, req.params.locationId);
      return { smtp: await putSmtpConfig(db, req.params.locationId, req.body) };
    },
  );

  app.get<{ Params: LocationParams }>(
    '/admin/v1/locations/:locationId/smtp',
    {
      config,
      schema: {
        tags,
        summary: "Get the location's mail server (never its password)",
        params: locationParams,
      },
    },
    async (req) => {
      location(req, req.params.locationId);
      const smtp = await getSmtpConfig(db, req.params.locationId);
      if (!smtp) throw notFound('SMTP configuration');
      return { smtp: toSettings(smtp) };
    },
  );

  app.delete<{ Params: LocationParams }>(
    '/admin/v1/locations/:locationId/smtp',
    { config, schema: { tags, summary: "Remove the location's mail server", params: locationParams } },
    async (req) => {
      location(req, req.params.locationId);
      await deleteSmtpConfig(db, req.params.locationId);
      return { deleted: true };
    },
  );
}
