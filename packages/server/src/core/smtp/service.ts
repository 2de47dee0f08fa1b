import { isIP } from 'node:net';
import type { Queryable } from '../../storage/db.js';
import { invalid, notFound } from '../errors.js';

/** A location's outgoing mail server, as the mailer needs it (password included). */
export interface SmtpConfig {
  locationId: string;
  host: string;
  port: number;
  /** TLS from the first byte (port 465); false: plain, upgraded with STARTTLS when offered. */
  secure: boolean;
  username: string | null;
  password: string | null;
  fromAddress: string;
  updatedAt: Date;
}

/** What the API shows: never the password, only whether there is one. */
export interface SmtpSettings {
  host: string;
  port: number;
  secure: boolean;
  username: string | null;
  hasPassword: boolean;
  fromAddress: string;
  updatedAt: Date;
}

export interface SmtpInput {
  host: string;
  port: number;
  secure: boolean;
  username?: string | null;
  /** Absent: keep the stored password; null: remove it. */
  password?: string | null;
  fromAddress: string;
}

interface Row {
  location_id: string;
  host: string;
  port: number;
  secure: boolean;
  username: string | null;
  password: string | null;
  from_address: string;
  updated_at: Date;
}

const toConfig = (r: Row): SmtpConfig => ({
  locationId: r.location_id,
  host: r.host,
  port: r.port,
  secure: r.secure,
  username: r.username,
  password: r.password,
  fromAddress: r.from_address,
  updatedAt: r.updated_at,
});

export const toSettings = (c: SmtpConfig): SmtpSettings => ({
  host: c.host,
  port: c.port,
  secure: c.secure,
  username: c.username,
  hasPassword: c.password !== null && c.password !== '',
  fromAddress: c.fromAddress,
  updatedAt: c.updatedAt,
});

const HOSTNAME =
  /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.?$/i;
// An address, or `Display Name <address>`. Deliberately loose on the local part; no line breaks.
const ADDRESS = /^[^\s@<>",;:]+@[^\s@<>",;:]+\.[^\s@<>",;:]+$/;
const NAMED = /^[^<>\r\n]*<([^<>\r\n]+)>$/;

/** True for `a@b.c` or `Name <a@b.c>`. */
export function isMailbox(value: string): boolean {
  if (/[\r\n]/.test(value) || value.length > 320) return false;
  const named = NAMED.exec(value.trim());
  return ADDRESS.test(named ? named[1]!.trim() : value.trim());
}

function check(input: SmtpInput): void {
  const problems: string[] = [];
  const host = input.host.replace(/^\[(.*)\]$/, '$1');
  if (!(HOSTNAME.test(host) || isIP(host))) problems.push('host must be a host name or an IP address');
  if (!Number.isInteger(input.port) || input.port < 1 || input.port > 65535) {
    problems.push('port must be an integer from 1 to 65535');
  }
  if (typeof input.secure !== 'boolean') problems.push('secure must be boolean');
  if (input.username != null && (input.username === '' || input.username.length > 320)) {
    problems.push('username must be 1 to 320 characters');
  }
  if (input.password != null && input.password.length > 1024) {
    problems.push('password must be at most 1024 characters');
  }
  if (!isMailbox(input.fromAddress)) {
    problems.push('fromAddress must be an email address, optionally as "Name <address>"');
  }
  if (problems.length) throw invalid(problems);
}

/** The location's mail server with its password, for the mailer; undefined if none is set. */
export async function getSmtpConfig(q: Queryable, locationId: string): Promise<SmtpConfig | undefined> {
  const { rows } = await q.query<Row>('SELECT * FROM location_smtp WHERE location_id = $1', [locationId]);
  return rows[0] ? toConfig(rows[0]) : undefined;
}

/** Sets (replaces) the location's mail server. */
export async function putSmtpConfig(
  q: Queryable,
  locationId: string,
  input: SmtpInput,
): Promise<SmtpSettings> {
  check(input);
  const { rows: loc } = await q.query('SELECT 1 FROM locations WHERE id = $1', [locationId]);
  if (!loc[0]) throw notFound('Location');
  const keepPassword = input.password === undefined;
  const { rows } = await q.query<Row>(
    `INSERT INTO location_smtp (location_id, host, port, secure, username, password, from_address)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (location_id) DO UPDATE SET host = $2, port = $3, secure = $4, username = $5,
       password = CASE WHEN $8 THEN location_smtp.password ELSE $6 END,
       from_address = $7, updated_at = now()
     RETURNING *`,
    [
      locationId,
      input.host,
      input.port,
      input.secure,
      input.username ?? null,
      input.password ?? null,
      input.fromAddress.trim(),
      keepPassword,
    ],
  );
  return toSettings(toConfig(rows[0]!));
}

export async function deleteSmtpConfig(q: Queryable, locationId: string): Promise<void> {
  const { rowCount } = await q.query('DELETE FROM location_smtp WHERE location_id = $1', [locationId]);
  if (!rowCount) throw notFound('SMTP configuration');
}
