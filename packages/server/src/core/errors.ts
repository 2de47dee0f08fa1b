/**
 * The one catalogue of domain errors. Codes are independent of HTTP; each API face maps them to
 * its own status codes and body shape.
 */
export type ErrorCode =
  | 'bad_request'
  | 'validation'
  | 'unauthenticated'
  | 'insufficient_scope'
  | 'location_forbidden'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'rate_limited'
  | 'unavailable';

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Validation problems, one sentence each. */
    readonly details: string[] = [],
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const notFound = (what: string) => new AppError('not_found', `${what} not found`);

export const invalid = (details: string[]) => new AppError('validation', details.join(', '), details);

export const conflict = (message: string, extra: Record<string, unknown> = {}) =>
  new AppError('conflict', message, [], extra);
