import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, randomInt } from 'node:crypto';
import { enqueueJob } from '../../jobs/queue.js';
import type { Db, Queryable } from '../../storage/db.js';
import { AppError } from '../errors.js';
import { uuidv7 } from '../ids.js';

/** Codes live ten minutes and die after five wrong tries. */
export const OTP_TTL_MS = 10 * 60 * 1000;
export const OTP_MAX_ATTEMPTS = 5;
export const OTP_JOB = 'visitor.otp';

const derived = new Map<string, Buffer>();
function key(secret: string, use: string): Buffer {
  const id = `${use}\u0000${secret}`;
  let k = derived.get(id);
  if (!k) {
    k = Buffer.from(hkdfSync('sha256', secret, 'charla', use, 32));
    derived.set(id, k);
  }
  return k;
}

/** Only a keyed hash of a code is stored: six digits alone would fall to a dump and a loop. */
const codeHash = (secret: string, otpId: string, code: string) =>
  createHmac('sha256', key(secret, 'visitor-otp-hash')).update(`${otpId}:${code}`).digest('hex');

/** The code travels to the mail job encrypted, so the job queue never holds it in the clear. */
export function sealCode(secret: string, otpId: string, code: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key(secret, 'visitor-otp-seal'), iv);
  c.setAAD(Buffer.from(otpId));
  const data = Buffer.concat([c.update(code, 'utf8'), c.final()]);
  return [iv, data, c.getAuthTag()].map((b) => b.toString('base64url')).join('.');
}

export function openCode(secret: string, otpId: string, sealed: string): string | null {
  const [iv, data, tag] = sealed.split('.');
  if (!iv || !data || !tag) return null;
  try {
    const d = createDecipheriv('aes-256-gcm', key(secret, 'visitor-otp-seal'), Buffer.from(iv, 'base64url'));
    d.setAAD(Buffer.from(otpId));
    d.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([d.update(Buffer.from(data, 'base64url')), d.final()]).toString('utf8');
  } catch {
    return null;
  }
}

/**
 * Issues a new code for the email on this channel (earlier live codes for it stop working) and
 * returns it in the clear, once, for the caller to hand to the mailer.
 */
export async function issueOtp(
  q: Queryable,
  secret: string,
  target: { locationId: string; channelId: string; email: string },
): Promise<{ otpId: string; code: string; expiresAt: Date }> {
  const otpId = uuidv7();
  const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
  const expiresAt = new Date(Date.now() + OTP_TTL_MS);
  await q.query(
    `UPDATE visitor_otps SET used_at = now()
     WHERE location_id = $1 AND channel_id = $2 AND lower(email) = lower($3) AND used_at IS NULL`,
    [target.locationId, target.channelId, target.email],
  );
  await q.query(
    `INSERT INTO visitor_otps (location_id, id, channel_id, email, code_hash, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [target.locationId, otpId, target.channelId, target.email, codeHash(secret, otpId, code), expiresAt],
  );
  return { otpId, code, expiresAt };
}

type Outcome = 'ok' | 'none' | 'expired' | 'exhausted' | 'wrong';

/**
 * Checks a code: the email's latest live code on the channel, not expired, with attempts left.
 * A wrong code uses up an attempt (committed even though the call fails); a right one is used up.
 */
export async function consumeOtp(
  db: Db,
  secret: string,
  target: { locationId: string; channelId: string; email: string },
  code: string,
): Promise<void> {
  if (!/^\d{6}$/.test(code))
    throw new AppError('validation', 'otp must be 6 digits', ['otp must be 6 digits']);
  const { outcome, left } = await db.tx(async (tx): Promise<{ outcome: Outcome; left: number }> => {
    const { rows } = await tx.query<{ id: string; code_hash: string; attempts: number; expired: boolean }>(
      `SELECT id, code_hash, attempts, expires_at <= now() AS expired FROM visitor_otps
       WHERE location_id = $1 AND channel_id = $2 AND lower(email) = lower($3) AND used_at IS NULL
       ORDER BY created_at DESC LIMIT 1 FOR UPDATE`,
      [target.locationId, target.channelId, target.email],
    );
    const otp = rows[0];
    if (!otp) return { outcome: 'none', left: 0 };
    if (otp.expired) return { outcome: 'expired', left: 0 };
    if (otp.attempts >= OTP_MAX_ATTEMPTS) return { outcome: 'exhausted', left: 0 };
    const given = Buffer.from(codeHash(secret, otp.id, code), 'hex');
    const ok = given.equals(Buffer.from(otp.code_hash, 'hex'));
    if (ok) {
      await tx.query('UPDATE visitor_otps SET used_at = now() WHERE location_id = $1 AND id = $2', [
        target.locationId,
        otp.id,
      ]);
      return { outcome: 'ok', left: 0 };
    }
    await tx.query('UPDATE visitor_otps SET attempts = attempts + 1 WHERE location_id = $1 AND id = $2', [
      target.locationId,
      otp.id,
    ]);
    return { outcome: 'wrong', left: OTP_MAX_ATTEMPTS - otp.attempts - 1 };
  });
  if (outcome === 'ok') return;
  const messages: Record<Exclude<Outcome, 'ok'>, string> = {
    none: 'No verification code is pending for this email: request one first',
    expired: 'The verification code has expired: request a new one',
    exhausted: 'Too many wrong verification codes: request a new one',
    wrong:
      left > 0
        ? `The verification code is not valid (${left} attempt${left === 1 ? '' : 's'} left)`
        : 'The verification code is not valid, and no attempts are left: request a new one',
  };
  throw new AppError('unauthenticated', messages[outcome]);
}

/**
 * Issues a code and queues the `visitor.otp` mail job for it in one transaction: the job exists
 * exactly when the code does.
 */
export async function sendOtp(
  db: Db,
  secret: string,
  target: { locationId: string; channelId: string; email: string },
): Promise<{ expiresAt: Date }> {
  return db.tx(async (tx) => {
    const otp = await issueOtp(tx, secret, target);
    await enqueueJob(tx, {
      locationId: target.locationId,
      kind: OTP_JOB,
      payload: { otpId: otp.otpId, email: target.email, sealed: sealCode(secret, otp.otpId, otp.code) },
      ref: otp.otpId,
      maxAttempts: 5,
    });
    return { expiresAt: otp.expiresAt };
  });
}
