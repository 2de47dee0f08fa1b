import type { FastifyRequest } from 'fastify';
import { AppError } from '../../core/errors.js';

/** API versions LeadConnector clients send; the official SDK defaults to 2023-02-21. */
export const LEADCONNECTOR_VERSIONS = ['2021-04-15', '2021-07-28', '2023-02-21', 'v3'];

/** Checks the `Version` header; `required: false` lets a public route be called without one. */
export function checkVersion(req: FastifyRequest, required = true): void {
  const version = req.headers.version;
  if (version === undefined || version === '') {
    if (required) throw new AppError('unauthenticated', 'version header was not found.');
    return;
  }
  if (typeof version !== 'string' || !LEADCONNECTOR_VERSIONS.includes(version)) {
    throw new AppError('unauthenticated', 'version header is invalid');
  }
}
