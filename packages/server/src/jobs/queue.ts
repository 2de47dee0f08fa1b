import type { Queryable } from '../storage/db.js';

/** PostgreSQL delivers the NOTIFY at commit: workers wake as soon as a job can be seen. */
export const JOBS_CHANNEL = 'charla_jobs';

export interface NewJob {
  locationId: string | null;
  kind: string;
  payload: Record<string, unknown>;
  /** When to run it; now when absent. */
  runAt?: Date;
  maxAttempts?: number;
  /** What the job is about (e.g. a message id), so it can be found and canceled. */
  ref?: string;
}

/** Enqueues a job inside the caller's transaction: it exists only if that transaction commits. */
export async function enqueueJob(q: Queryable, job: NewJob): Promise<number> {
  const { rows } = await q.query<{ id: string }>(
    `INSERT INTO jobs (location_id, kind, payload, run_at, max_attempts, ref)
     VALUES ($1, $2, $3, coalesce($4, now()), $5, $6) RETURNING id`,
    [
      job.locationId,
      job.kind,
      JSON.stringify(job.payload),
      job.runAt ?? null,
      job.maxAttempts ?? 8,
      job.ref ?? null,
    ],
  );
  await q.query(`NOTIFY ${JOBS_CHANNEL}`);
  return Number(rows[0]!.id);
}

/** Cancels the queued (not yet running) jobs about `ref`; returns how many were canceled. */
export async function cancelJobs(q: Queryable, locationId: string, ref: string): Promise<number> {
  const { rowCount } = await q.query(
    `UPDATE jobs SET status = 'canceled', updated_at = now()
     WHERE location_id = $1 AND ref = $2 AND status = 'queued'`,
    [locationId, ref],
  );
  return rowCount ?? 0;
}
