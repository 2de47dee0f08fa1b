import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorCode } from '../../core/errors.js';
import { describeErrors } from '../../core/validation.js';

/** Native admin API errors: `{error: {code, message, details?}}`, one status per code. */
const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  validation: 422,
  unauthenticated: 401,
  insufficient_scope: 403,
  location_forbidden: 403,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  rate_limited: 429,
  unavailable: 503,
};

export function adminErrorHandler(err: FastifyError | AppError, req: FastifyRequest, reply: FastifyReply) {
  if (err instanceof AppError) {
    const details = err.details.length ? { details: err.details } : {};
    return reply
      .status(STATUS[err.code])
      .send({ error: { code: err.code, message: err.message, ...details } });
  }
  if (err.validation) {
    const root = err.validationContext === 'body' ? '' : err.validationContext;
    const details = describeErrors(err.validation as never, root);
    return reply.status(422).send({ error: { code: 'validation', message: details.join(', '), details } });
  }
  const status = err.statusCode ?? 500;
  if (status >= 500) {
    req.log.error({ err }, 'request failed');
    return reply.status(500).send({ error: { code: 'internal', message: 'Internal server error' } });
  }
  return reply.status(status).send({ error: { code: 'bad_request', message: err.message } });
}
