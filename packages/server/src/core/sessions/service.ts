import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../../storage/db.js';
import { recordEvent } from '../../storage/outbox.js';
import { hashPassword, verifyPassword } from '../users/password.js';
import type { Role } from '../users/service.js';

/** A session ends after this long without a request, and at the latest MAX_AGE after login. */
export const SESSION_IDLE_MS = 7 * 24 * 3600_000;
export const SESSION_MAX_AGE_MS = 30 * 24 * 3600_000;
/** last_seen_at (and the idle expiry) is written at most this often per session. */
const TOUCH_EVERY_MS = 60_000;

export interface SessionUser {
  id: string;
  email: string;
  name: string;
  role: Role;
  locationIds: string[];
}

export interface Session {
  user: SessionUser;
  csrfToken: string;
  expiresAt: Date;
}

const hashToken = (token: string) => createHash('sha256').update(token).digest();

/**
 * A session's public reference: derived from the cookie's hash, it names the session on the bus
 * (to close its sockets on logout) without revealing anything that would open it.
 */
export const sessionRef = (token: string) =>
  createHash('sha256').update(hashToken(token)).digest('hex').slice(0, 32);
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

// scrypt takes 32 MiB and ~50 ms per hash: a burst of logins must not exhaust memory or the
// thread pool, so at most a few run at once and the rest wait their turn.
const MAX_CONCURRENT_HASHES = 4;
let running = 0;
const waiting: (() => void)[] = [];
async function limited<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT_HASHES) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

// Unknown users still cost one scrypt, so the answer's timing does not tell which emails exist.
let dummyHash: Promise<string> | undefined;

/** The user with this email and password, or null (unknown user, no password, wrong password). */
export async function checkPassword(db: Db, email: string, password: string): Promise<SessionUser | null> {
  const { rows } = await db.query<{
    id: string;
    email: string;
    name: string;
    role: Role;
    password_hash: string | null;
    location_ids: string[];
  }>(
    `SELECT u.id, u.email, u.name, u.role, u.password_hash,
            array(SELECT location_id FROM location_users WHERE user_id = u.id ORDER BY location_id) AS location_ids
     FROM users u WHERE lower(u.email) = lower($1)`,
    [email.trim()],
  );
  const row = rows[0];
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
  const stored = row?.password_hash ?? (await dummyHash);
  const ok = await limited(() => verifyPassword(password, stored)).catch(() => false);
  if (!row?.password_hash || !ok) return null;
  return { id: row.id, email: row.email, name: row.name, role: row.role, locationIds: row.location_ids };
}

/** Starts a session; `token` (the cookie's value) exists only in the answer. */
export async function createSession(
  db: Db,
  userId: string,
): Promise<{ token: string; csrfToken: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + SESSION_IDLE_MS);
  await db.query(
    'INSERT INTO user_sessions (id_hash, user_id, csrf_token, expires_at) VALUES ($1, $2, $3, $4)',
    [hashToken(token), userId, csrfToken, expiresAt],
  );
  // Housekeeping on login, indexed: expired sessions are never valid anyway.
  await db.query("DELETE FROM user_sessions WHERE expires_at < now() - interval '1 day'");
  return { token, csrfToken, expiresAt };
}

/** The live session a cookie names, or null; keeps its idle expiry moving. */
export async function findSession(db: Db, token: string): Promise<Session | null> {
  if (!TOKEN.test(token)) return null;
  const idHash = hashToken(token);
  const { rows } = await db.query<{
    user_id: string;
    csrf_token: string;
    created_at: Date;
    expires_at: Date;
    last_seen_at: Date;
    email: string;
    name: string;
    role: Role;
    location_ids: string[];
  }>(
    `SELECT s.user_id, s.csrf_token, s.created_at, s.expires_at, s.last_seen_at, u.email, u.name, u.role,
            array(SELECT location_id FROM location_users WHERE user_id = u.id ORDER BY location_id) AS location_ids
     FROM user_sessions s JOIN users u ON u.id = s.user_id
     WHERE s.id_hash = $1 AND s.expires_at > now()`,
    [idHash],
  );
  const r = rows[0];
  if (!r) return null;
  let expiresAt = r.expires_at;
  if (Date.now() - r.last_seen_at.getTime() > TOUCH_EVERY_MS) {
    expiresAt = new Date(Math.min(r.created_at.getTime() + SESSION_MAX_AGE_MS, Date.now() + SESSION_IDLE_MS));
    await db.query('UPDATE user_sessions SET last_seen_at = now(), expires_at = $2 WHERE id_hash = $1', [
      idHash,
      expiresAt,
    ]);
  }
  return {
    user: { id: r.user_id, email: r.email, name: r.name, role: r.role, locationIds: r.location_ids },
    csrfToken: r.csrf_token,
    expiresAt,
  };
}

/** Ends a session; every node closes the sockets it opened (`session.revoked`). */
export async function deleteSession(db: Db, token: string): Promise<void> {
  if (!TOKEN.test(token)) return;
  await db.tx(async (tx) => {
    const { rowCount } = await tx.query('DELETE FROM user_sessions WHERE id_hash = $1', [hashToken(token)]);
    if (rowCount) {
      await recordEvent(tx, {
        locationId: null,
        topic: 'session.revoked',
        payload: { ref: sessionRef(token) },
      });
    }
  });
}

/** Constant-time comparison of the CSRF header with the session's token. */
export function csrfMatches(session: Session, given: string | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(session.csrfToken);
  return a.length === b.length && timingSafeEqual(a, b);
}
