import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startTestCharla, startTestNode, type TestCharla, type TestNode } from '../support/charla.js';
import { client, lc } from '../support/http.js';

let t: TestCharla;

before(async () => {
  t = await startTestCharla();
});
after(() => t.close());

/** Polls `check` until it holds; fails after `ms`. */
async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A GET on a connection of its own: the status code, or the error code when it cannot connect. */
function getOnNewConnection(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** One JSON request over node:http, on the given agent (false: a connection of its own). */
function send(
  url: string,
  method: string,
  body: unknown,
  headers: Record<string, string>,
  agent: http.Agent | false,
): Promise<{ status: number; body: any }> {
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        agent,
        headers: { ...headers, ...(data ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

describe('health endpoints', () => {
  test('GET /healthz answers 200 while the process is up', async () => {
    const res = await client(t.url)('GET', '/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { status: 'ok' });
    assert.match(res.headers.get('x-request-id') ?? '', /^[\w.:-]{1,128}$/, 'a request id is given');
    const echoed = await client(t.url)('GET', '/healthz', undefined, { 'x-request-id': 'lb-check.42' });
    assert.equal(echoed.headers.get('x-request-id'), 'lb-check.42', "the caller's request id is kept");
  });

  test('GET /readyz answers 200 ready when the database answers', async () => {
    const res = await client(t.url)('GET', '/readyz');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { status: 'ready' });
  });

  test('neither needs an API key, and neither is in the published API description', async () => {
    const res = await client(t.url)('GET', '/openapi.json');
    assert.equal(res.status, 200);
    assert.ok(res.body.paths['/chat-widget/'], 'the API description lists the real routes');
    assert.equal(res.body.paths['/healthz'], undefined);
    assert.equal(res.body.paths['/readyz'], undefined);
  });
});

describe('graceful shutdown', () => {
  /**
   * Stops `node` while a PATCH sent on `agent` is in flight: a transaction of our own holds the
   * widget's row lock, so the PATCH waits in the database until we commit, 300 ms after stop().
   */
  async function stopDuringPatch(node: TestNode, agent: http.Agent | false, connection: string) {
    const headers = { ...lc(t.a.key), connection };
    const created = await send(
      `${node.url}/chat-widget/`,
      'POST',
      { version: 1, chatType: 'liveChat', name: 'Before shutdown', locationId: t.a.locationId },
      headers,
      agent,
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body._id as string;
    assert.equal(
      await getOnNewConnection(`${node.url}/healthz`),
      200,
      'a new connection works before stop()',
    );

    const locker = new pg.Client({ connectionString: t.charla.ctx.config.databaseUrl });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('SELECT id FROM chat_widgets WHERE id = $1 FOR UPDATE', [id]);
      const patch = send(
        `${node.url}/chat-widget/data/${t.a.locationId}/${id}`,
        'PATCH',
        { name: 'During shutdown' },
        headers,
        agent,
      );
      await waitFor('the PATCH to wait on the row lock', async () => {
        const { rows } = await locker.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
        );
        return rows[0]!.n === 1;
      });

      let stoppedAt: number | undefined;
      const stopping = node.charla.stop().then(() => {
        stoppedAt = Date.now();
      });
      await waitFor('the listener to close', () => !node.charla.app.server.listening);
      const late = await getOnNewConnection(`${node.url}/healthz`);
      assert.ok(late === 'ECONNREFUSED' || late === 503, `a new connection after stop() got ${late}`);

      await sleep(300);
      assert.equal(stoppedAt, undefined, 'stop() must wait for the in-flight request');
      await locker.query('COMMIT');

      const res = await patch;
      const answeredAt = Date.now();
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body._id, id);
      assert.equal(res.body.name, 'During shutdown');
      assert.equal(res.body.version, 2);
      const { rows } = await locker.query('SELECT name, revision FROM chat_widgets WHERE id = $1', [id]);
      assert.deepEqual(rows, [{ name: 'During shutdown', revision: 2 }], 'the change was committed');
      return { stopping, answeredAt, stoppedAt: () => stoppedAt };
    } finally {
      await locker.query('ROLLBACK').catch(() => {});
      await locker.end();
    }
  }

  test('stop() finishes an in-flight request, refuses new connections meanwhile, then closes', async () => {
    const node = await startTestNode(t.charla.ctx.config.databaseUrl!);
    try {
      const { stopping, answeredAt } = await stopDuringPatch(node, false, 'close');
      await stopping;
      assert.equal(node.charla.ctx.db.pool.ended, true, 'the database pool is closed once stop() resolves');
      assert.equal(node.charla.app.server.listening, false);
      const stopping2 = node.charla.stop();
      assert.equal(stopping2, node.charla.stop(), 'stop() again returns the same promise');
      await stopping2;
      assert.ok(Date.now() - answeredAt < 2000, 'stop() resolves soon after the last request');
    } finally {
      await node.close();
    }
  });

  test('stop() does not wait for a keep-alive client to hang up after its in-flight request', async () => {
    const node = await startTestNode(t.charla.ctx.config.databaseUrl!);
    const agent = new http.Agent({ keepAlive: true });
    try {
      const { stopping, answeredAt, stoppedAt } = await stopDuringPatch(node, agent, 'keep-alive');
      await Promise.race([stopping, sleep(1000)]);
      assert.ok(
        stoppedAt() !== undefined,
        `stop() still pending ${Date.now() - answeredAt} ms after the last response`,
      );
    } finally {
      // Hanging up lets a stuck stop() finish.
      agent.destroy();
      await node.close();
    }
  });
});
