import type { Db, Queryable } from '../../storage/db.js';
import { invalid, notFound } from '../errors.js';
import { isUuid, uuidv7 } from '../ids.js';

export interface Location {
  id: string;
  name: string;
  timezone: string;
  createdAt: Date;
  updatedAt: Date;
}

interface Row {
  id: string;
  name: string;
  timezone: string;
  created_at: Date;
  updated_at: Date;
}

const toLocation = (r: Row): Location => ({
  id: r.id,
  name: r.name,
  timezone: r.timezone,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function check(input: { name?: string; timezone?: string }): void {
  const problems: string[] = [];
  if (input.name !== undefined && (input.name.trim() === '' || input.name.length > 200)) {
    problems.push('name must be 1 to 200 characters');
  }
  if (input.timezone !== undefined && !isTimeZone(input.timezone)) {
    problems.push(`timezone must be an IANA time zone such as Europe/Madrid, got "${input.timezone}"`);
  }
  if (problems.length) throw invalid(problems);
}

export async function createLocation(
  q: Queryable,
  input: { name: string; timezone?: string },
): Promise<Location> {
  check(input);
  const { rows } = await q.query<Row>(
    'INSERT INTO locations (id, name, timezone) VALUES ($1, $2, $3) RETURNING *',
    [uuidv7(), input.name.trim(), input.timezone ?? 'UTC'],
  );
  return toLocation(rows[0]!);
}

export async function findLocation(q: Queryable, id: string): Promise<Location | undefined> {
  if (!isUuid(id)) return undefined;
  const { rows } = await q.query<Row>('SELECT * FROM locations WHERE id = $1', [id]);
  return rows[0] ? toLocation(rows[0]) : undefined;
}

export async function getLocation(q: Queryable, id: string): Promise<Location> {
  const loc = await findLocation(q, id);
  if (!loc) throw notFound('Location');
  return loc;
}

/** Lists locations, restricted to `only` when the caller may see just some. */
export async function listLocations(db: Db, only: string[] | null): Promise<Location[]> {
  const { rows } = await db.query<Row>(
    'SELECT * FROM locations WHERE ($1::uuid[] IS NULL OR id = ANY($1)) ORDER BY created_at',
    [only],
  );
  return rows.map(toLocation);
}

export async function updateLocation(
  db: Db,
  id: string,
  input: { name?: string; timezone?: string },
): Promise<Location> {
  check(input);
  if (!isUuid(id)) throw notFound('Location');
  const { rows } = await db.query<Row>(
    `UPDATE locations SET name = coalesce($2, name), timezone = coalesce($3, timezone), updated_at = now()
     WHERE id = $1 RETURNING *`,
    [id, input.name?.trim() ?? null, input.timezone ?? null],
  );
  if (!rows[0]) throw notFound('Location');
  return toLocation(rows[0]);
}
