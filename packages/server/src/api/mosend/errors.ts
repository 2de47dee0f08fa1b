import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorCode } from '../../core/errors.js';
import { describeErrors } from '../../core/validation.js';

/**
 * Mosend's NestJS-style error body: `{statusCode, error, message, timestamp, path}`, with
 * `message` an array of sentences on validation errors (ValidationPipe), which answer 400.
 */
const STATUS: Record<ErrorCode, [number, string]> = {
  bad_request: [400, 'Bad Request'],
  validation: [400, 'Bad Request'],
  unauthenticated: [401, 'Unauthorized'],
  insufficient_scope: [403, 'Forbidden'],
  location_forbidden: [403, 'Forbidden'],
  forbidden: [403, 'Forbidden'],
  not_found: [404, 'Not Found'],
  conflict: [409, 'Conflict'],
  rate_limited: [429, 'Too Many Requests'],
  unavailable: [503, 'Service Unavailable'],
};

const HTTP_NAMES: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
};

function body(req: FastifyRequest, statusCode: number, error: string, message: string | string[]) {
  return { statusCode, error, message, timestamp: new Date().toISOString(), path: req.url };
}

export function mosendErrorHandler(err: FastifyError | AppError, req: FastifyRequest, reply: FastifyReply) {
  if (err instanceof AppError) {
    const [statusCode, error] = STATUS[err.code];
    const message = err.code === 'validation' ? err.details : err.message;
    return reply.status(statusCode).send({ ...body(req, statusCode, error, message), ...err.extra });
  }
  if (err.validation) {
    const root = err.validationContext === 'body' ? '' : err.validationContext;
    return reply
      .status(400)
      .send(body(req, 400, 'Bad Request', describeErrors(err.validation as never, root)));
  }
  const statusCode = err.statusCode ?? 500;
  if (statusCode >= 500) {
    req.log.error({ err }, 'request failed');
    return reply.status(500).send(body(req, 500, 'Internal Server Error', 'Internal server error'));
  }
  // Malformed JSON, a body too large, an unsupported media type: the framework's own 4xx.
  return reply
    .status(statusCode)
    .send(body(req, statusCode, HTTP_NAMES[statusCode] ?? 'Bad Request', err.message));
}
