import type { Db } from '../../storage/db.js';
import { isUniqueViolation } from '../../storage/db.js';
import { AppError, invalid } from '../errors.js';
import { isUuid, uuidv7 } from '../ids.js';
import { hashPassword } from './password.js';

export type Role = 'admin' | 'agent';

export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
  locationIds: string[];
  createdAt: Date;
}

interface Row {
  id: string;
  email: string;
  name: string;
  role: Role;
  location_ids: string[] | null;
  created_at: Date;
}

const toUser = (r: Row): User => ({
  id: r.id,
  email: r.email,
  name: r.name,
  role: r.role,
  locationIds: r.location_ids ?? [],
  createdAt: r.created_at,
});

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export interface NewUser {
  email: string;
  name: string;
  role: Role;
  password?: string;
  locationIds: string[];
}

export async function createUser(db: Db, input: NewUser): Promise<User> {
  input = { ...input, locationIds: [...new Set(input.locationIds)] };
  const problems: string[] = [];
  if (!EMAIL.test(input.email) || input.email.length > 254) problems.push('email must be an email address');
  if (input.name.trim() === '' || input.name.length > 200) problems.push('name must be 1 to 200 characters');
  if (input.role !== 'admin' && input.role !== 'agent') problems.push('role must be one of: admin, agent');
  if (input.password !== undefined && (input.password.length < 10 || input.password.length > 200)) {
    problems.push('password must be 10 to 200 characters');
  }
  if (!input.locationIds.every(isUuid)) problems.push('locationIds must be location ids');
  if (problems.length) throw invalid(problems);

  const passwordHash = input.password === undefined ? null : await hashPassword(input.password);
  try {
    return await db.tx(async (tx) => {
      const id = uuidv7();
      const { rows } = await tx.query<Row>(
        `INSERT INTO users (id, email, name, role, password_hash) VALUES ($1, $2, $3, $4, $5)
         RETURNING id, email, name, role, created_at`,
        [id, input.email.trim(), input.name.trim(), input.role, passwordHash],
      );
      const inserted = await tx.query(
        `INSERT INTO location_users (location_id, user_id)
         SELECT l.id, $1 FROM locations l WHERE l.id = ANY($2::uuid[])`,
        [id, input.locationIds],
      );
      if (inserted.rowCount !== input.locationIds.length)
        throw invalid(['locationIds names an unknown location']);
      return toUser({ ...rows[0]!, location_ids: input.locationIds });
    });
  } catch (err) {
    if (isUniqueViolation(err, 'users_email_key')) {
      throw new AppError('conflict', `A user with the email ${input.email} already exists`);
    }
    throw err;
  }
}

/** Users of the given locations (or all users when `only` is null), showing only those locations. */
export async function listUsers(db: Db, only: string[] | null): Promise<User[]> {
  const { rows } = await db.query<Row>(
    `SELECT u.id, u.email, u.name, u.role, u.created_at,
            array_remove(array_agg(lu.location_id ORDER BY lu.location_id)
              FILTER (WHERE $1::uuid[] IS NULL OR lu.location_id = ANY($1)), NULL) AS location_ids
     FROM users u LEFT JOIN location_users lu ON lu.user_id = u.id
     GROUP BY u.id
     HAVING $1::uuid[] IS NULL OR bool_or(lu.location_id = ANY($1))
     ORDER BY u.created_at`,
    [only],
  );
  return rows.map(toUser);
}
