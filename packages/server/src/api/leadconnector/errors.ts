import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorCode } from '../../core/errors.js';
import { describeErrors } from '../../core/validation.js';

/** LeadConnector's NestJS-style bodies: `{statusCode, message, error?}`, 422 `message` an array. */
const STATUS: Record<ErrorCode, [number, string]> = {
  bad_request: [400, 'Bad Request'],
  validation: [422, 'Unprocessable Entity'],
  unauthenticated: [401, 'Unauthorized'],
  insufficient_scope: [401, 'Unauthorized'],
  location_forbidden: [403, 'Forbidden'],
  forbidden: [403, 'Forbidden'],
  not_found: [404, 'Not Found'],
  conflict: [409, 'Conflict'],
  rate_limited: [429, 'Too Many Requests'],
  unavailable: [503, 'Service Unavailable'],
};

export function leadConnectorErrorHandler(
  err: FastifyError | AppError,
  req: FastifyRequest,
  reply: FastifyReply,
) {
  if (err instanceof AppError) {
    const [statusCode, error] = STATUS[err.code];
    const message = err.code === 'validation' ? err.details : err.message;
    return reply.status(statusCode).send({ statusCode, message, error, ...err.extra });
  }
  if (err.validation) {
    const root = err.validationContext === 'body' ? '' : err.validationContext;
    return reply.status(422).send({
      statusCode: 422,
      message: describeErrors(err.validation as never, root),
      error: 'Unprocessable Entity',
    });
  }
  const statusCode = err.statusCode ?? 500;
  if (statusCode >= 500) {
    req.log.error({ err }, 'request failed');
    return reply
      .status(500)
      .send({ statusCode: 500, message: 'Internal server error', error: 'Internal Server Error' });
  }
  // Malformed JSON, a body too large, an unsupported media type: the framework's own 4xx.
  return reply.status(statusCode).send({ statusCode, message: err.message, error: httpName(statusCode) });
}

function httpName(status: number): string {
  return (
    { 400: 'Bad Request', 413: 'Payload Too Large', 415: 'Unsupported Media Type' }[status] ?? 'Bad Request'
  );
}
