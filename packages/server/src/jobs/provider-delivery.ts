import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { assertPublicTarget, BlockedTargetError, guardedLookup, parseTargetUrl } from './ssrf.js';

export const SIGNATURE_HEADER = 'X-Charla-Signature';
export const DELIVERY_HEADER = 'X-Charla-Delivery';
export const USER_AGENT = 'Charla';

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, keyed with the provider's signing secret. */
export function signDelivery(secret: string, rawBody: string, t = Math.floor(Date.now() / 1000)): string {
  const v1 = createHmac('sha256', secret).update(`${t}.${rawBody}`).digest('hex');
  return `t=${t},v1=${v1}`;
}

/**
 * What a provider does with a delivery: true when `header` signs `rawBody` with `secret` and
 * its timestamp is within `toleranceSec` of now (replays of old deliveries are refused).
 */
export function verifyDelivery(
  header: string,
  rawBody: string,
  secret: string,
  toleranceSec = 300,
  now = Math.floor(Date.now() / 1000),
): boolean {
  const parts = new Map(
    header.split(',').map((p) => {
      const i = p.indexOf('=');
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()] as const;
    }),
  );
  const t = Number(parts.get('t'));
  const given = parts.get('v1') ?? '';
  if (!Number.isInteger(t) || Math.abs(now - t) > toleranceSec || !/^[0-9a-f]{64}$/.test(given)) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${rawBody}`).digest();
  return timingSafeEqual(expected, Buffer.from(given, 'hex'));
}

/** A delivery that reached the provider but was not accepted, or did not reach it. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export interface DeliveryRequest {
  url: string;
  allowPrivate: boolean;
  signingSecret: string;
  deliveryId: string;
  payload: Record<string, unknown>;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * POSTs a signed JSON delivery. Resolves with the status on 2xx; throws a BlockedTargetError for
 * a refused target (not retried) and a DeliveryError for anything else (retried). Redirects are
 * not followed: a 3xx is a failure.
 */
export async function deliver(req: DeliveryRequest): Promise<{ status: number }> {
  const url = parseTargetUrl(req.url);
  await assertPublicTarget(url, req.allowPrivate);
  const raw = JSON.stringify(req.payload);
  const timeout = AbortSignal.timeout(req.timeoutMs ?? 10_000);
  const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
  const client = url.protocol === 'https:' ? https : http;

  return new Promise((resolve, reject) => {
    const r = client.request(
      url,
      {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(raw),
          'User-Agent': USER_AGENT,
          [SIGNATURE_HEADER]: signDelivery(req.signingSecret, raw),
          [DELIVERY_HEADER]: req.deliveryId,
        },
        // Resolution and the private-address check happen together: what was checked is what is
        // connected to.
        lookup: guardedLookup(req.allowPrivate),
        signal,
        agent: false,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < 2048) chunks.push(c);
          size += c.length;
        });
        res.on('error', (err) => reject(new DeliveryError(err.message, status)));
        res.on('end', () => {
          if (status >= 200 && status < 300) return resolve({ status });
          const text = Buffer.concat(chunks).toString('utf8').slice(0, 500).trim();
          reject(new DeliveryError(`the provider answered HTTP ${status}${text ? `: ${text}` : ''}`, status));
        });
      },
    );
    r.on('error', (err) => {
      if (err instanceof BlockedTargetError) return reject(err);
      const cause = (err as { cause?: unknown }).cause;
      if (cause instanceof BlockedTargetError) return reject(cause);
      const reason = timeout.aborted ? `no answer within ${(req.timeoutMs ?? 10_000) / 1000} s` : err.message;
      reject(new DeliveryError(`delivery failed: ${reason}`));
    });
    r.end(raw);
  });
}
