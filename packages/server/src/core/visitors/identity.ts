import { createHmac, timingSafeEqual } from 'node:crypto';

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Checks a host site's identity signature: lowercase hex HMAC-SHA256 of `signed` (the userId
 * when there is one, else the email) keyed with the channel's identity secret. Anything that is
 * not exactly 64 lowercase hex digits is refused before comparing; the comparison is constant-time.
 */
export function hostHashValid(secret: string, signed: string, hash: string): boolean {
  if (!HEX64.test(hash)) return false;
  const expected = createHmac('sha256', secret).update(signed, 'utf8').digest();
  return timingSafeEqual(expected, Buffer.from(hash, 'hex'));
}
