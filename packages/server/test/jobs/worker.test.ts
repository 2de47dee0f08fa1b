import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { enqueueJob } from '../../src/jobs/queue.js';
import { backoffMs, type Job, PermanentJobError } from '../../src/jobs/worker.js';
import { startTestCharla, startTestNode, type TestCharla, type TestNode } from '../support/charla.js';
import { jobState, settled, waitFor } from './fixtures.js';

let t: TestCharla;
const db = () => t.charla.ctx.db;
const worker = () => t.charla.ctx.jobs;

before(async () => {
  t = await startTestCharla();
  worker().options.backoffBaseMs = 100;
  worker().options.backoffMaxMs = 400;
});
after(() => t.close());

let kinds = 0;
/** A job kind no other test (or node) handles. */
const kind = (name: string) => `test.${name}.${++kinds}`;

const enqueue = (
  k: string,
  extra: { runAt?: Date; maxAttempts?: number; payload?: Record<string, unknown> } = {},
) =>
  enqueueJob(db(), {
    locationId: t.a.locationId,
    kind: k,
    payload: extra.payload ?? {},
    ...(extra.runAt ? { runAt: extra.runAt } : {}),
    ...(extra.maxAttempts ? { maxAttempts: extra.maxAttempts } : {}),
  });

describe('backoff', () => {
  test('grows exponentially from the base, is capped, and is jittered within [exp/2, exp]', () => {
    assert.equal(
      backoffMs(1, 1000, 3600_000, () => 0),
      500,
    );
    assert.equal(
      backoffMs(1, 1000, 3600_000, () => 1),
      1000,
    );
    assert.equal(
      backoffMs(4, 1000, 3600_000, () => 1),
      8000,
    );
    assert.equal(
      backoffMs(30, 1000, 3600_000, () => 1),
      3600_000,
      'capped at an hour',
    );
    assert.equal(
      backoffMs(1000, 1000, 3600_000, () => 0),
      1800_000,
    );
    for (let i = 0; i < 50; i++) {
      const d = backoffMs(3, 1000, 3600_000);
      assert.ok(d >= 2000 && d <= 4000, String(d));
    }
  });
});

describe('job worker', () => {
  test('runs a job once with its payload and marks it done', async () => {
    const k = kind('simple');
    const seen: Job[] = [];
    worker().register(k, async (job) => {
      seen.push(job);
    });
    const id = await enqueue(k, { payload: { hello: 'world' } });
    const j = await settled(db(), id);
    assert.equal(j.status, 'done');
    assert.equal(j.attempts, 1);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.id, id);
    assert.deepEqual(seen[0]!.payload, { hello: 'world' });
    assert.equal(seen[0]!.locationId, t.a.locationId);
    const { rows } = await db().query('SELECT locked_until FROM jobs WHERE id = $1', [id]);
    assert.equal(rows[0]!.locked_until, null, 'the lease is released');
  });

  test('a failed attempt is retried after a backoff, with the error kept', async () => {
    const k = kind('flaky');
    const times: number[] = [];
    worker().register(k, async () => {
      times.push(Date.now());
      if (times.length < 3) throw new Error(`boom ${times.length}`);
    });
    const id = await enqueue(k);
    const j = await settled(db(), id);
    assert.equal(j.status, 'done');
    assert.equal(j.attempts, 3);
    assert.equal(j.last_error, 'boom 2');
    // Attempt n waits between base·2^(n-1)/2 and base·2^(n-1): 50-100 ms, then 100-200 ms.
    assert.ok(times[1]! - times[0]! >= 45, `first retry after ${times[1]! - times[0]!} ms`);
    assert.ok(times[2]! - times[1]! >= 95, `second retry after ${times[2]! - times[1]!} ms`);
  });

  test('while waiting for a retry the job is queued in the future with its error', async () => {
    const k = kind('later');
    worker().options.backoffBaseMs = 60_000;
    worker().options.backoffMaxMs = 60_000;
    try {
      worker().register(k, async () => {
        throw new Error('not yet');
      });
      const id = await enqueue(k);
      const j = await waitFor('the first attempt', async () => {
        const s = await jobState(db(), id);
        return s.attempts === 1 && s.status === 'queued' ? s : undefined;
      });
      assert.equal(j.last_error, 'not yet');
      const delay = j.run_at.getTime() - j.updated_at.getTime();
      assert.ok(delay >= 29_000 && delay <= 61_000, `retry in ${delay} ms`);
      await db().query("UPDATE jobs SET status = 'canceled' WHERE id = $1", [id]);
    } finally {
      worker().options.backoffBaseMs = 100;
      worker().options.backoffMaxMs = 400;
    }
  });

  test('after its last attempt a job fails; a handler sees which attempt is its last', async () => {
    const k = kind('doomed');
    const last: boolean[] = [];
    worker().register(k, async (_job, ctx) => {
      last.push(ctx.lastAttempt);
      throw new Error('always');
    });
    const id = await enqueue(k, { maxAttempts: 3 });
    const j = await settled(db(), id);
    assert.equal(j.status, 'failed');
    assert.equal(j.attempts, 3);
    assert.equal(j.last_error, 'always');
    assert.deepEqual(last, [false, false, true]);
  });

  test('a permanent error fails the job without a retry', async () => {
    const k = kind('permanent');
    let runs = 0;
    worker().register(k, async () => {
      runs++;
      throw new PermanentJobError('no point retrying');
    });
    const id = await enqueue(k);
    const j = await settled(db(), id);
    assert.equal(j.status, 'failed');
    assert.equal(j.attempts, 1);
    assert.equal(runs, 1);
    assert.equal(j.last_error, 'no point retrying');
  });

  test('a canceled job is never run', async () => {
    const k = kind('canceled');
    let runs = 0;
    worker().register(k, async () => {
      runs++;
    });
    const id = await enqueue(k, { runAt: new Date(Date.now() + 500) });
    await db().query("UPDATE jobs SET status = 'canceled' WHERE id = $1", [id]);
    await sleep(1800);
    assert.equal(runs, 0);
    assert.equal((await jobState(db(), id)).status, 'canceled');
  });

  test('a node runs at most `concurrency` handlers at once', async () => {
    const k = kind('busy');
    worker().options.concurrency = 2;
    try {
      let now = 0;
      let peak = 0;
      worker().register(k, async () => {
        peak = Math.max(peak, ++now);
        await sleep(100);
        now--;
      });
      const ids = await Promise.all(Array.from({ length: 6 }, () => enqueue(k)));
      for (const id of ids) assert.equal((await settled(db(), id)).status, 'done');
      assert.equal(peak, 2);
    } finally {
      worker().options.concurrency = 4;
    }
  });

  test('a node only claims the kinds it has handlers for', async () => {
    const k = kind('unhandled');
    const id = await enqueue(k);
    await sleep(1300);
    const j = await jobState(db(), id);
    assert.equal(j.status, 'queued');
    assert.equal(j.attempts, 0);
    await db().query("UPDATE jobs SET status = 'canceled' WHERE id = $1", [id]);
  });
});

describe('two nodes, restarts and crashes', () => {
  let second: TestNode;
  before(async () => {
    second = await startTestNode(t.charla.ctx.config.databaseUrl!);
  });
  after(() => second.close());

  test('a scheduled job fires once in total, about when it is due, with two nodes racing for it', async () => {
    const k = kind('once');
    const runs: { node: string; at: number; id: number }[] = [];
    const handler = (node: string) => async (job: Job) => {
      runs.push({ node, at: Date.now(), id: job.id });
    };
    worker().register(k, handler('first'));
    second.charla.ctx.jobs.register(k, handler('second'));

    const runAt = new Date(Date.now() + 1500);
    const ids = await Promise.all(Array.from({ length: 8 }, () => enqueue(k, { runAt })));
    for (const id of ids) assert.equal((await settled(db(), id, 6000)).status, 'done');
    await sleep(1200); // a duplicate run would show up by now

    assert.equal(runs.length, ids.length, 'each job ran exactly once across both nodes');
    assert.deepEqual(new Set(runs.map((r) => r.id)), new Set(ids));
    for (const r of runs) {
      assert.ok(r.at >= runAt.getTime() - 50, `not before it is due (${r.at - runAt.getTime()} ms)`);
      assert.ok(
        r.at <= runAt.getTime() + 1100,
        `within about a second of due (${r.at - runAt.getTime()} ms)`,
      );
    }
    for (const id of ids) assert.equal((await jobState(db(), id)).attempts, 1);
  });

  test('a job left running by a crashed node is run again once its lease lapses, after a restart', async () => {
    const k = kind('crash');
    const crashed = await startTestNode(t.charla.ctx.config.databaseUrl!);
    const w = crashed.charla.ctx.jobs;
    w.options.leaseMs = 600;
    w.options.stopTimeoutMs = 50;
    let started = 0;
    // The "crashing" node never finishes: it dies mid-run.
    w.register(k, () => {
      started++;
      return new Promise<void>(() => {});
    });
    const id = await enqueue(k);
    await waitFor('the first node to start the job', () => started === 1);
    await crashed.close(); // gives up on the handler after 50 ms; its lease is no longer renewed
    const abandoned = await jobState(db(), id);
    assert.equal(abandoned.status, 'running');
    assert.equal(abandoned.attempts, 1);

    // The restarted node takes it over once the lease runs out, not before.
    const restarted = await startTestNode(t.charla.ctx.config.databaseUrl!);
    try {
      const runs: number[] = [];
      restarted.charla.ctx.jobs.register(k, async (job) => {
        runs.push(job.attempts);
      });
      const j = await settled(db(), id, 5000);
      assert.equal(j.status, 'done');
      assert.equal(j.attempts, 2);
      assert.deepEqual(runs, [2]);
      assert.equal(started, 1);
    } finally {
      await restarted.close();
    }
  });

  test('a running job whose lease has not lapsed is left alone; one whose lease lapsed is taken', async () => {
    const k = kind('lease');
    const runs: number[] = [];
    second.charla.ctx.jobs.register(k, async (job) => {
      runs.push(job.id);
    });
    // As a crashed node leaves them: running, leased until a time in the past or the future.
    const { rows } = await db().query<{ id: string }>(
      `INSERT INTO jobs (location_id, kind, payload, status, attempts, max_attempts, locked_until)
       VALUES ($1, $2, '{}', 'running', 1, 3, now() - interval '1 second'),
              ($1, $2, '{}', 'running', 1, 3, now() + interval '1 hour'),
              ($1, $2, '{}', 'running', 3, 3, now() - interval '1 second')
       RETURNING id`,
      [t.a.locationId, k],
    );
    await db().query(`NOTIFY charla_jobs`);
    const [lapsed, live, exhausted] = rows.map((r) => Number(r.id)) as [number, number, number];
    assert.equal((await settled(db(), lapsed)).status, 'done');
    const spent = await settled(db(), exhausted);
    assert.equal(spent.status, 'failed', 'no attempt was left: the job fails instead');
    assert.match(spent.last_error ?? '', /lease expired/);
    await sleep(1200);
    assert.deepEqual(runs, [lapsed]);
    const j = await jobState(db(), live);
    assert.equal(j.status, 'running');
    assert.equal(j.attempts, 1);
    await db().query("UPDATE jobs SET status = 'canceled' WHERE id = $1", [live]);
  });

  test('a job abandoned on its last attempt is settled by its kind’s abandoned handler, once', async () => {
    const k = kind('abandoned');
    const settledJobs: unknown[] = [];
    second.charla.ctx.jobs.register(
      k,
      async () => {
        throw new Error('must not run: no attempt is left');
      },
      async (job) => {
        settledJobs.push(job.payload);
      },
    );
    const { rows } = await db().query<{ id: string }>(
      `INSERT INTO jobs (location_id, kind, payload, status, attempts, max_attempts, locked_until)
       VALUES ($1, $2, '{"messageId": "m-1"}', 'running', 2, 2, now() - interval '1 second') RETURNING id`,
      [t.a.locationId, k],
    );
    const j = await settled(db(), Number(rows[0]!.id));
    assert.equal(j.status, 'failed');
    await waitFor('the abandoned handler', () => settledJobs.length === 1);
    await sleep(1500);
    assert.deepEqual(settledJobs, [{ messageId: 'm-1' }]);
  });

  test('settled jobs are pruned after a week; newer and unsettled ones are kept', async () => {
    const k = kind('prune');
    second.charla.ctx.jobs.register(k, async () => {});
    const { rows } = await db().query<{ id: string }>(
      `INSERT INTO jobs (location_id, kind, payload, status, run_at, updated_at)
       VALUES ($1, $2, '{}', 'done', now() - interval '8 days', now() - interval '8 days'),
              ($1, $2, '{}', 'canceled', now() - interval '8 days', now() - interval '8 days'),
              ($1, $2, '{}', 'done', now() - interval '6 days', now() - interval '6 days'),
              ($1, $2, '{}', 'queued', now() + interval '30 days', now() - interval '8 days')
       RETURNING id`,
      [t.a.locationId, k],
    );
    const [oldDone, oldCanceled, recent, future] = rows.map((r) => Number(r.id)) as [
      number,
      number,
      number,
      number,
    ];
    const exists = async (id: number) =>
      (await db().query('SELECT 1 FROM jobs WHERE id = $1', [id])).rowCount === 1;
    await waitFor(
      'old settled jobs to be pruned',
      async () => !(await exists(oldDone)) && !(await exists(oldCanceled)),
    );
    assert.equal(await exists(recent), true);
    assert.equal(await exists(future), true);
    await db().query("UPDATE jobs SET status = 'canceled' WHERE id = $1", [future]);
  });

  test('stop() waits for running handlers to finish', async () => {
    const k = kind('drain');
    const node = await startTestNode(t.charla.ctx.config.databaseUrl!);
    let finished = false;
    let started = false;
    node.charla.ctx.jobs.register(k, async () => {
      started = true;
      await sleep(400);
      finished = true;
    });
    const id = await enqueue(k);
    await waitFor('the handler to start', () => started);
    await node.close();
    assert.equal(finished, true, 'the handler finished before the node stopped');
    assert.equal((await jobState(db(), id)).status, 'done');
  });

  test('a long handler keeps its lease: nobody else runs the job meanwhile', async () => {
    const k = kind('long');
    const w = second.charla.ctx.jobs;
    const lease = w.options.leaseMs;
    w.options.leaseMs = 300;
    try {
      const runs: string[] = [];
      w.register(k, async () => {
        runs.push('second');
        await sleep(1200);
      });
      worker().register(k, async () => {
        runs.push('first');
        await sleep(1200);
      });
      const id = await enqueue(k);
      assert.equal((await settled(db(), id, 6000)).status, 'done');
      assert.equal(runs.length, 1, `ran ${runs.join(', ')}`);
    } finally {
      w.options.leaseMs = lease;
    }
  });
});
