import type { FastifyRequest } from 'fastify';

/**
 * The API key a request presents. Each face's clients send it their own way: LeadConnector as
 * `Authorization: Bearer`, Mosend as `X-Api-Key`, ChatCaptain as `x-chatcaptain-key`.
 */
export function presentedKey(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const header = req.headers['x-api-key'] ?? req.headers['x-chatcaptain-key'];
  return typeof header === 'string' && header !== '' ? header.trim() : undefined;
}
