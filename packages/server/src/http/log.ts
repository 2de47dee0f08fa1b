import type { IncomingMessage } from 'node:http';
import { type Logger, pino } from 'pino';

/** Query parameters that carry credentials: a visitor token, an upload signature. */
const SECRET_PARAMS = /([?&](?:sessionToken|sig|token)=)[^&#]*/gi;
/** A signed media URL's token: `/media/<id>/<token>/<name>`. */
const MEDIA_TOKEN = /^(\/media\/[^/]+\/)[^/?#]+(?=\/)/;

/** A request URL as logs may keep it: credentials in it are masked. */
export function redactUrl(url: string): string {
  return url.replace(MEDIA_TOKEN, '$1***').replace(SECRET_PARAMS, '$1***');
}

/** Charla's logger: pino JSON, with request URLs stripped of the credentials some carry. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      serializers: {
        req: (req: IncomingMessage & { hostname?: string; ip?: string }) => ({
          method: req.method,
          url: redactUrl(req.url ?? ''),
          host: req.hostname,
          remoteAddress: req.ip,
        }),
      },
    },
    destination,
  );
}
