import pg from 'pg';
import type { Logger } from 'pino';
import type { Db } from '../storage/db.js';
import { JOBS_CHANNEL } from './queue.js';

/** A claimed job, as its handler sees it. */
export interface Job {
  id: number;
  locationId: string | null;
  kind: string;
  payload: Record<string, unknown>;
  /** This attempt's number, from 1. */
  attempts: number;
  maxAttempts: number;
  runAt: Date;
  ref: string | null;
  createdAt: Date;
}

export interface JobContext {
  db: Db;
  log: Logger;
  /** Aborted when the node stops past its grace period, or when this run lost its lease. */
  signal: AbortSignal;
  /** No retry follows if this attempt fails: the handler records the final failure itself. */
  lastAttempt: boolean;
}

export type JobHandler = (job: Job, ctx: JobContext) => Promise<void>;

/**
 * Settles what a job was about after its last attempt was abandoned. It may run more than once
 * for a job (on two nodes, or again after a crash), so it must be idempotent.
 */
export type AbandonedHandler = (
  job: { id: number; locationId: string | null; kind: string; payload: Record<string, unknown> },
  db: Db,
) => Promise<void>;

/** Thrown by a handler for a failure no retry can fix: the job fails at once. */
export class PermanentJobError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentJobError';
  }
}

export interface JobWorkerOptions {
  /** Handlers running at once on this node. */
  concurrency: number;
  /** How often the queue is checked without a notification; bounds the lateness of scheduled jobs. */
  pollMs: number;
  /** How long a claim holds; renewed while the handler runs. Another node takes the job once it lapses. */
  leaseMs: number;
  /** Retry delay after failed attempt number `attempts`: exponential, capped, with jitter. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** How long stop() waits for running handlers before abandoning them to their leases. */
  stopTimeoutMs: number;
}

export const DEFAULT_JOB_OPTIONS: JobWorkerOptions = {
  concurrency: 4,
  pollMs: 1000,
  leaseMs: 60_000,
  backoffBaseMs: 1000,
  backoffMaxMs: 3600_000,
  stopTimeoutMs: 10_000,
};

/** base·2^(attempts-1), capped, then "equal jitter": half fixed, half random. */
export function backoffMs(attempts: number, baseMs: number, maxMs: number, random = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(attempts - 1, 40)));
  return Math.round(exp / 2 + (random() * exp) / 2);
}

interface JobRow {
  id: string;
  location_id: string | null;
  kind: string;
  payload: Record<string, unknown>;
  attempts: number;
  max_attempts: number;
  run_at: Date;
  ref: string | null;
  created_at: Date;
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 2000);

/**
 * Runs durable jobs (table `jobs`). Jobs are claimed with SKIP LOCKED in one short statement that
 * marks them running under a lease, so one node runs each attempt; handlers run outside any
 * transaction. A LISTEN on the jobs channel wakes the worker when a job is enqueued on any node;
 * a poll catches scheduled jobs coming due and lost notifications. A lease that lapses (its node
 * died) makes the job claimable again, so delivery is at least once: handlers are written to be
 * idempotent. Each attempt's number fences its writes, so a node that lost its lease cannot
 * overwrite the outcome of the node that took the job over.
 */
export class JobWorker {
  readonly options: JobWorkerOptions;
  private readonly handlers = new Map<string, JobHandler>();
  private readonly abandonedHandlers = new Map<string, AbandonedHandler>();
  private readonly active = new Map<
    number,
    { done: Promise<void>; abort: AbortController; renew: NodeJS.Timeout }
  >();
  private timer: NodeJS.Timeout | undefined;
  private dueTimer: NodeJS.Timeout | undefined;
  private lastSweep = 0;
  private running: Promise<void> | undefined;
  private again = false;
  private started = false;
  private stopped = false;
  private listener: pg.Client | undefined;

  constructor(
    private readonly db: Db,
    private readonly connectionString: string,
    private readonly log: Logger,
    options: Partial<JobWorkerOptions> = {},
  ) {
    this.options = { ...DEFAULT_JOB_OPTIONS, ...options };
  }

  /**
   * Handles jobs of `kind` on this node. A node claims only the kinds it has handlers for.
   * `abandoned` settles a job whose last attempt died with its node (its handler never could).
   */
  register(kind: string, handler: JobHandler, abandoned?: AbandonedHandler): void {
    this.handlers.set(kind, handler);
    if (abandoned) this.abandonedHandlers.set(kind, abandoned);
    this.kick();
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    void this.listen();
    this.timer = setInterval(() => this.kick(), this.options.pollMs);
    this.timer.unref();
    this.kick();
  }

  /** Claims due jobs soon; calls made while a pass runs coalesce into one more pass. */
  kick(): void {
    if (!this.started || this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.claimAndRun()
      .catch((err) => this.log.warn({ err }, 'job worker pass failed; will retry'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Handlers running now on this node. */
  get busy(): number {
    return this.active.size;
  }

  /**
   * Stops claiming, then waits for running handlers up to `stopTimeoutMs`. Handlers still
   * running then are aborted and left to their leases: another node (or this one restarted)
   * runs them again once the lease lapses.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.dueTimer);
    await this.listener?.end().catch(() => {});
    await this.running;
    const pending = [...this.active.values()];
    if (pending.length === 0) return;
    let timeout: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.all(pending.map((a) => a.done)).then(() => false),
      new Promise<boolean>((resolve) => {
        timeout = setTimeout(() => resolve(true), this.options.stopTimeoutMs);
      }),
    ]);
    clearTimeout(timeout);
    if (timedOut) {
      this.log.warn(
        { jobs: [...this.active.keys()] },
        'jobs still running at shutdown; left to their leases',
      );
      for (const a of this.active.values()) {
        clearInterval(a.renew);
        a.abort.abort(new Error('shutting down'));
      }
    }
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({
      connectionString: this.connectionString,
      application_name: 'charla-jobs',
    });
    const retry = () => {
      client.removeAllListeners();
      client.end().catch(() => {});
      if (this.listener === client) this.listener = undefined;
      if (!this.stopped) setTimeout(() => void this.listen(), 1000).unref();
    };
    client.on('error', retry);
    client.on('notification', () => this.kick());
    try {
      await client.connect();
      await client.query(`LISTEN ${JOBS_CHANNEL}`);
      if (this.stopped) {
        await client.end().catch(() => {});
        return;
      }
      this.listener = client;
      this.kick();
    } catch {
      retry();
    }
  }

  private async claimAndRun(): Promise<void> {
    const kinds = [...this.handlers.keys()];
    if (kinds.length === 0) return;
    if (Date.now() - this.lastSweep >= this.options.pollMs) {
      this.lastSweep = Date.now();
      await this.failAbandoned(kinds);
    }
    while (!this.stopped) {
      const free = this.options.concurrency - this.active.size;
      if (free <= 0) return;
      const jobs = await this.claim(kinds, free);
      for (const job of jobs) this.run(job);
      if (jobs.length < free) return this.wakeForNextDue(kinds);
    }
  }

  /** A job coming due before the next poll gets a timer of its own, so it is not up to a poll late. */
  private async wakeForNextDue(kinds: string[]): Promise<void> {
    const { rows } = await this.db.query<{ ms: number | null }>(
      `SELECT (extract(epoch FROM min(run_at) - now()) * 1000)::float8 AS ms FROM jobs
       WHERE status = 'queued' AND kind = ANY($1) AND run_at <= now() + make_interval(secs => $2::float8 / 1000)`,
      [kinds, this.options.pollMs],
    );
    const ms = rows[0]?.ms;
    if (ms === null || ms === undefined || this.stopped) return;
    clearTimeout(this.dueTimer);
    this.dueTimer = setTimeout(() => this.kick(), Math.max(50, Math.ceil(ms) + 5));
    this.dueTimer.unref();
  }

  /**
   * Takes up to `limit` jobs: due queued ones, and running ones whose lease lapsed with an
   * attempt to spare (their node died mid-run). One statement, so one short transaction.
   */
  private async claim(kinds: string[], limit: number): Promise<Job[]> {
    const { rows } = await this.db.query<JobRow>(
      `WITH due AS (
         SELECT id FROM jobs
         WHERE kind = ANY($1)
           AND ((status = 'queued' AND run_at <= now())
             OR (status = 'running' AND locked_until < now() AND attempts < max_attempts))
         ORDER BY run_at, id
         LIMIT $2
         FOR UPDATE SKIP LOCKED
       )
       UPDATE jobs j SET status = 'running', attempts = j.attempts + 1, updated_at = now(),
         locked_until = now() + make_interval(secs => $3::float8 / 1000)
       FROM due WHERE j.id = due.id
       RETURNING j.id, j.location_id, j.kind, j.payload, j.attempts, j.max_attempts, j.run_at, j.ref,
         j.created_at`,
      [kinds, limit, this.options.leaseMs],
    );
    return rows.map((r) => ({
      id: Number(r.id),
      locationId: r.location_id,
      kind: r.kind,
      payload: r.payload,
      attempts: r.attempts,
      maxAttempts: r.max_attempts,
      runAt: r.run_at,
      ref: r.ref,
      createdAt: r.created_at,
    }));
  }

  /** A lease that lapsed on the last attempt: no attempt is left, so the job fails. */
  private async failAbandoned(kinds: string[]): Promise<void> {
    const { rows } = await this.db.query<{
      id: string;
      location_id: string | null;
      kind: string;
      payload: Record<string, unknown>;
    }>(
      `SELECT id, location_id, kind, payload FROM jobs
       WHERE kind = ANY($1) AND status = 'running' AND locked_until < now() AND attempts >= max_attempts
       ORDER BY id LIMIT 100`,
      [kinds],
    );
    // What the job was about is settled first, the job marked failed after: a node that dies in
    // between leaves the job to the next sweep, and abandoned handlers are idempotent.
    for (const r of rows) {
      try {
        await this.abandonedHandlers.get(r.kind)?.(
          { id: Number(r.id), locationId: r.location_id, kind: r.kind, payload: r.payload },
          this.db,
        );
      } catch (err) {
        this.log.error({ err, job: r.id }, 'settling an abandoned job failed; the next sweep retries');
        continue;
      }
      const { rowCount } = await this.db.query(
        `UPDATE jobs SET status = 'failed', locked_until = NULL, updated_at = now(),
           last_error = coalesce(last_error || '; ', '') || 'lease expired during the last attempt'
         WHERE id = $1 AND status = 'running' AND locked_until < now() AND attempts >= max_attempts`,
        [r.id],
      );
      if (rowCount) this.log.warn({ job: r.id, kind: r.kind }, 'job abandoned on its last attempt');
    }
    // Settled jobs are kept a week for inspection, then pruned.
    await this.db.query(
      `DELETE FROM jobs WHERE id IN (
         SELECT id FROM jobs WHERE status IN ('done', 'canceled', 'failed')
           AND updated_at < now() - interval '7 days' LIMIT 1000)`,
    );
  }

  private run(job: Job): void {
    const abort = new AbortController();
    const handler = this.handlers.get(job.kind)!;
    const log = this.log.child({ job: job.id, kind: job.kind, attempt: job.attempts });
    // Renews the lease while the handler runs; a lost lease aborts the handler.
    const renew = setInterval(
      () => {
        this.db
          .query(
            `UPDATE jobs SET locked_until = now() + make_interval(secs => $3::float8 / 1000)
             WHERE id = $1 AND attempts = $2 AND status = 'running'`,
            [job.id, job.attempts, this.options.leaseMs],
          )
          .then((r) => {
            if (r.rowCount === 0) abort.abort(new Error('lease lost'));
          })
          .catch((err) => log.warn({ err }, 'lease renewal failed'));
      },
      Math.max(50, Math.floor(this.options.leaseMs / 3)),
    );
    renew.unref();
    const done = (async () => {
      try {
        await handler(job, {
          db: this.db,
          log,
          signal: abort.signal,
          lastAttempt: job.attempts >= job.maxAttempts,
        });
        await this.finish(job, 'done', null, 0);
      } catch (err) {
        const permanent = err instanceof PermanentJobError;
        const final = permanent || job.attempts >= job.maxAttempts;
        const delay = final
          ? 0
          : backoffMs(job.attempts, this.options.backoffBaseMs, this.options.backoffMaxMs);
        if (final) log.warn({ err }, 'job failed');
        else log.info({ err, retryInMs: delay }, 'job attempt failed; will retry');
        await this.finish(job, final ? 'failed' : 'queued', errorText(err), delay);
      }
    })()
      .catch((err) => log.error({ err }, 'could not record the outcome of a job; its lease will lapse'))
      .finally(() => {
        clearInterval(renew);
        this.active.delete(job.id);
        this.kick();
      });
    this.active.set(job.id, { done, abort, renew });
  }

  /** Records an attempt's outcome, unless the job has since been taken over (attempt fence). */
  private async finish(
    job: Job,
    status: 'done' | 'queued' | 'failed',
    error: string | null,
    delayMs: number,
  ): Promise<void> {
    const { rowCount } = await this.db.query(
      `UPDATE jobs SET status = $3, last_error = coalesce($4, last_error), locked_until = NULL,
         run_at = CASE WHEN $3 = 'queued' THEN now() + make_interval(secs => $5::float8 / 1000) ELSE run_at END,
         updated_at = now()
       WHERE id = $1 AND attempts = $2 AND status = 'running'`,
      [job.id, job.attempts, status, error, delayMs],
    );
    if (rowCount === 0)
      this.log.warn({ job: job.id }, 'job was taken over by another run; outcome not recorded');
  }
}
