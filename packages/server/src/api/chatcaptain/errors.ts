import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorCode } from '../../core/errors.js';
import { describeErrors } from '../../core/validation.js';

/**
 * ChatCaptain documents its 4xx only as a status and a sentence ("Insufficient permissions.",
 * "Invalid input data."), and its response DTOs carry an optional `error: string`; errors here are
 * `{statusCode, error}` with that sentence, plus `details` (one sentence per problem) on 400.
 */
const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  validation: 400,
  unauthenticated: 401,
  insufficient_scope: 403,
  location_forbidden: 403,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  rate_limited: 429,
  unavailable: 503,
};

export const INVALID_INPUT = 'Invalid input data.';
export const INSUFFICIENT_PERMISSIONS = 'Insufficient permissions.';

const sentence = (s: string) => (/[.!?]$/.test(s) ? s : `${s}.`);

function messageOf(err: AppError): string {
  switch (err.code) {
    case 'validation':
      return INVALID_INPUT;
    // A key without the permission and a key of another chatbot read the same: ChatCaptain
    // checks the permission on the resource `chatbots/:chatbotId`.
    case 'insufficient_scope':
    case 'location_forbidden':
      return INSUFFICIENT_PERMISSIONS;
    default:
      return sentence(err.message);
  }
}

export function chatCaptainErrorHandler(
  err: FastifyError | AppError,
  req: FastifyRequest,
  reply: FastifyReply,
) {
  if (err instanceof AppError) {
    const statusCode = STATUS[err.code];
    const details = err.code === 'validation' ? { details: err.details } : {};
    return reply.status(statusCode).send({ statusCode, error: messageOf(err), ...details, ...err.extra });
  }
  if (err.validation) {
    const root = err.validationContext === 'body' ? '' : err.validationContext;
    return reply.status(400).send({
      statusCode: 400,
      error: INVALID_INPUT,
      details: describeErrors(err.validation as never, root),
    });
  }
  const statusCode = err.statusCode ?? 500;
  if (statusCode >= 500) {
    req.log.error({ err }, 'request failed');
    return reply.status(500).send({ statusCode: 500, error: 'Internal server error.' });
  }
  // Malformed JSON, a body too large, an unsupported media type: the framework's own 4xx.
  return reply.status(statusCode).send({
    statusCode,
    error: statusCode === 400 ? INVALID_INPUT : sentence(err.message),
    ...(statusCode === 400 ? { details: [err.message] } : {}),
  });
}
