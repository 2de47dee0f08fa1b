import pg from 'pg';

/** A pool or a client inside a transaction: core functions take either. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    params?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

/** A pooled connection to Charla's PostgreSQL database with a transaction helper. */
export class Db {
  readonly pool: pg.Pool;

  constructor(connectionString: string, options: { max?: number; applicationName?: string } = {}) {
    this.pool = new pg.Pool({
      connectionString,
      max: options.max ?? 10,
      application_name: options.applicationName ?? 'charla',
      idleTimeoutMillis: 30_000,
    });
    // An idle client that loses its server must not crash the process; the pool replaces it.
    this.pool.on('error', () => {});
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    params: unknown[] = [],
  ): Promise<pg.QueryResult<R>> {
    return this.pool.query<R>(text, params);
  }

  /** A named statement: parsed and planned once per connection; for hot, fixed queries. */
  async prepared<R extends pg.QueryResultRow = pg.QueryResultRow>(
    name: string,
    text: string,
    params: unknown[],
  ): Promise<pg.QueryResult<R>> {
    return this.pool.query<R>({ name, text, values: params });
  }

  /** Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. */
  async tx<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // A connection lost mid-transaction also fails the pending query; without a listener the
    // client's 'error' event would crash the process.
    const onError = () => {};
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.off('error', onError);
      client.release();
    }
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** True for a PostgreSQL unique-violation error, optionally on one constraint. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string };
  return e?.code === '23505' && (constraint === undefined || e.constraint === constraint);
}
