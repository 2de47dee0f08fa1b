import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import { AppError } from '../../core/errors.js';
import { visibleLocations } from '../../core/keys/principal.js';
import { SCOPES } from '../../core/keys/scopes.js';
import { createKey, listKeys, revokeKey } from '../../core/keys/service.js';
import { createLocation, getLocation, listLocations, updateLocation } from '../../core/locations/service.js';
import { createUser, listUsers } from '../../core/users/service.js';
import { authenticate, requireLocation } from '../../http/auth.js';
import { adminErrorHandler } from './errors.js';
import { providersAdminApi } from './providers.js';
import { transcriptRoutes } from './transcripts.js';

const tags = ['Admin'];
const str = (maxLength: number) => ({ type: 'string', maxLength });
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string' } } };

const locationBody = {
  type: 'object',
  additionalProperties: false,
  properties: { name: str(200), timezone: str(64) },
};

/**
 * Charla's own admin API for what no compatible API covers: locations, users and keys. Every
 * route needs the `admin` scope; a key limited to some locations sees and manages only those.
 */
export async function adminApi(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const { db } = ctx;
  app.setErrorHandler(adminErrorHandler);
  app.addHook('onRequest', async (req, reply) => {
    await authenticate(ctx, req, reply);
  });
  const config = { scope: 'admin' as const };
  const agencyOnly = (req: { principal?: { locationIds: unknown } }) => {
    if (req.principal?.locationIds !== null) {
      throw new AppError('forbidden', 'Only an agency-wide key may do this');
    }
  };

  app.get('/admin/v1/locations', { config, schema: { tags, summary: 'List locations' } }, async (req) => ({
    locations: await listLocations(db, visibleLocations(req.principal!)),
  }));

  app.post<{ Body: { name: string; timezone?: string } }>(
    '/admin/v1/locations',
    { config, schema: { tags, summary: 'Create a location', body: { ...locationBody, required: ['name'] } } },
    async (req, reply) => {
      agencyOnly(req);
      return reply.status(201).send({ location: await createLocation(db, req.body) });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/admin/v1/locations/:id',
    { config, schema: { tags, summary: 'Get a location', params: idParams } },
    async (req) => {
      requireLocation(req, req.params.id);
      return { location: await getLocation(db, req.params.id) };
    },
  );

  app.patch<{ Params: { id: string }; Body: { name?: string; timezone?: string } }>(
    '/admin/v1/locations/:id',
    { config, schema: { tags, summary: 'Update a location', params: idParams, body: locationBody } },
    async (req) => {
      requireLocation(req, req.params.id);
      return { location: await updateLocation(db, req.params.id, req.body) };
    },
  );

  await providersAdminApi(app, ctx);
  await transcriptRoutes(app, ctx);

  app.get('/admin/v1/users', { config, schema: { tags, summary: 'List users' } }, async (req) => ({
    users: await listUsers(db, visibleLocations(req.principal!)),
  }));

  app.post<{
    Body: { email: string; name: string; role: 'admin' | 'agent'; password?: string; locationIds: string[] };
  }>(
    '/admin/v1/users',
    {
      config,
      schema: {
        tags,
        summary: 'Create a user (agent or admin)',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['email', 'name', 'role', 'locationIds'],
          properties: {
            email: str(254),
            name: str(200),
            role: { enum: ['admin', 'agent'] },
            password: str(200),
            locationIds: { type: 'array', items: str(100), maxItems: 1000 },
          },
        },
      },
    },
    async (req, reply) => {
      // A user outside every location would be invisible to a location-limited key.
      if (req.body.locationIds.length === 0) agencyOnly(req);
      for (const id of req.body.locationIds) requireLocation(req, id);
      return reply.status(201).send({ user: await createUser(db, req.body) });
    },
  );

  app.get(
    '/admin/v1/keys',
    { config, schema: { tags, summary: 'List API keys (never their secrets)' } },
    async (req) => {
      agencyOnly(req);
      return { keys: await listKeys(db) };
    },
  );

  app.post<{ Body: { name: string; scopes: string[]; locationIds: string[] | null } }>(
    '/admin/v1/keys',
    {
      config,
      schema: {
        tags,
        summary: 'Create an API key; its secret is shown only in this response',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'scopes', 'locationIds'],
          properties: {
            name: str(200),
            scopes: { type: 'array', items: { enum: SCOPES }, minItems: 1, maxItems: 50 },
            locationIds: {
              description: 'The locations the key may act on, or null for every location',
              oneOf: [{ type: 'null' }, { type: 'array', items: str(100), minItems: 1, maxItems: 1000 }],
            },
          },
        },
      },
    },
    async (req, reply) => {
      if (req.body.locationIds === null) agencyOnly(req);
      else for (const id of req.body.locationIds) requireLocation(req, id);
      const { apiKey, key } = await createKey(db, req.body);
      return reply.status(201).send({ apiKey, key });
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/admin/v1/keys/:id',
    { config, schema: { tags, summary: 'Revoke an API key', params: idParams } },
    async (req) => {
      agencyOnly(req);
      const apiKey = await revokeKey(db, req.params.id);
      // Other nodes drop it when the key.revoked event reaches them; this one must not wait.
      ctx.keys.forget(apiKey.prefix);
      return { apiKey };
    },
  );
}
