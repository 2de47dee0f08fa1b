import { randomBytes } from 'node:crypto';
import { parse as parseQuery } from 'node:querystring';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { adminApi } from './api/admin/index.js';
import { chatCaptainApi } from './api/chatcaptain/index.js';
import { inboxApi } from './api/inbox/index.js';
import { leadConnectorApi } from './api/leadconnector/index.js';
import { mediaApi } from './api/media/index.js';
import { mosendApi } from './api/mosend/index.js';
import { mosendPublicApi } from './api/mosend/public/index.js';
import { widgetApi } from './api/widget/index.js';
import type { AppContext } from './context.js';
import { ajv } from './core/validation.js';
import './http/types.js';

/** `k[]=a&k[]=b` (as axios writes arrays) reads as `k: ['a', 'b']`. */
function parseQueryString(qs: string): Record<string, unknown> {
  const parsed = parseQuery(qs);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (key.endsWith('[]')) out[key.slice(0, -2)] = ([] as string[]).concat(value ?? []);
    else out[key] = value;
  }
  return out;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;
// Request ids are this process's random prefix plus a counter: unique across nodes, and cheap.
const BOOT_ID = randomBytes(4).toString('hex');
let requestCounter = 0;

/** Builds the HTTP application on a ready context; it never listens (the caller does). */
export async function buildApp(ctx: AppContext): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.log as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    // Behind a reverse proxy every client would otherwise share the proxy's address (and its
    // per-IP limits); only the proxies the operator names are believed.
    trustProxy:
      typeof ctx.config.trustProxy === 'number'
        ? (
            (hops: number) => (_address: string, hop: number) =>
              hop < hops
          )(ctx.config.trustProxy)
        : ctx.config.trustProxy,
    // A caller's own request id is kept (and echoed) so logs join up across services.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given)
        ? given
        : `${BOOT_ID}-${(++requestCounter).toString(36)}`;
    },
    routerOptions: { ignoreTrailingSlash: true, querystringParser: parseQueryString },
    return503OnClosing: true,
  });

  app.setValidatorCompiler(({ schema }) => ajv.compile(schema));

  // Once closing, keep-alive connections are told to go, so shutdown does not wait for their
  // idle timeout after their last in-flight request.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    app.server.closeIdleConnections();
  });
  app.addHook('onSend', async (_req, reply) => {
    if (closing) reply.header('Connection', 'close');
  });
  app.addHook('onRequest', async (req, reply) => {
    reply.header('X-Request-Id', req.id);
  });

  // Clients (the official LeadConnector SDK among them) send `Content-Type: application/json`
  // on GET and DELETE with no body: an empty body is no body, not an error.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      const err = new Error('Unexpected token in JSON body: the body is not valid JSON') as Error & {
        statusCode: number;
      };
      err.statusCode = 400;
      done(err, undefined);
    }
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Charla API',
        version: '0.1.0',
        description:
          'Self-hosted live chat. LeadConnector-compatible Chat Widget API and Charla admin API. ' +
          'Authenticate with an API key as `Authorization: Bearer ck_live_…` (or `X-Api-Key`).',
      },
      servers: [{ url: ctx.config.publicUrl }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  if (ctx.hub) {
    ctx.hub.attach(app.server);
    // /ws speaks WebSocket only (the upgrade is handled by the hub, never by a route).
    app.get('/ws', { schema: { hide: true } }, async (_req, reply) =>
      reply
        .status(426)
        .header('Upgrade', 'websocket')
        .send({ statusCode: 426, message: 'Use a WebSocket', error: 'Upgrade Required' }),
    );
  }

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const timeout = (ms: number) =>
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms));
    const probe = async (name: string, check: () => Promise<void>) => {
      try {
        await Promise.race([check(), timeout(2000)]);
        return undefined;
      } catch {
        return `${name} unreachable`;
      }
    };
    const problems = (
      await Promise.all([probe('database', () => ctx.db.ping()), probe('bus', () => ctx.bus.ready())])
    ).filter(Boolean);
    if (problems.length)
      return reply.status(503).send({ status: 'unavailable', reason: problems.join(', ') });
    return { status: 'ready' };
  });

  await app.register(async (face) => leadConnectorApi(face, ctx));
  await app.register(async (face) => adminApi(face, ctx));
  await app.register(async (face) => mediaApi(face, ctx));
  await app.register(async (face) => mosendApi(face, ctx));
  await app.register(async (face) => chatCaptainApi(face, ctx));
  await app.register(async (face) => mosendPublicApi(face, ctx));
  await app.register(async (face) => inboxApi(face, ctx));
  await app.register(async (face) => widgetApi(face, ctx));

  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send({
      statusCode: 404,
      message: `Cannot ${req.method} ${req.url.split('?')[0]}`,
      error: 'Not Found',
    });
  });
  return app;
}
