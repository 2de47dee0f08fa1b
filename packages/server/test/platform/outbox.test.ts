import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Bus, type BusMessage, locationChannel } from '../../src/bus/bus.js';
import { startTestCharla, startTestNode, type TestCharla } from '../support/charla.js';
import { client, lc } from '../support/http.js';

let t: TestCharla;
let asA: ReturnType<typeof client>;

before(async () => {
  t = await startTestCharla();
  asA = client(t.url, lc(t.a.key));
});
after(() => t.close());

const PROBE = 'test.probe';

/** Polls `check` until it holds; fails after `ms`. */
async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * Subscribes to one channel and keeps what arrives. Resolves once the subscription is live: a
 * Redis SUBSCRIBE completes asynchronously, so a probe is published until it comes back.
 */
async function listen(bus: Bus, channel: string) {
  const received: BusMessage[] = [];
  const unsubscribe = bus.subscribe(channel, (m) => received.push(m));
  const probe = { id: -1, topic: PROBE, locationId: null, payload: {}, at: new Date().toISOString() };
  await waitFor(`the subscription to ${channel}`, async () => {
    await bus.publish(channel, probe);
    await sleep(20);
    return received.some((m) => m.topic === PROBE);
  });
  return {
    unsubscribe,
    /** Everything but the probes. */
    get messages() {
      return received.filter((m) => m.topic !== PROBE);
    },
  };
}

const newWidget = (name: string) => ({ version: 1, chatType: 'liveChat', name, locationId: t.a.locationId });

async function outboxCount(): Promise<number> {
  return (await t.charla.ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox')).rows[0]!.n;
}

describe('outbox and bus', () => {
  test('creating, patching and deleting a widget each publish one event, in order', async () => {
    const onA = await listen(t.charla.ctx.bus, locationChannel(t.a.locationId));
    const onB = await listen(t.charla.ctx.bus, locationChannel(t.b.locationId));
    try {
      const created = await asA('POST', '/chat-widget/', newWidget('Evented'));
      assert.equal(created.status, 201);
      const id = created.body._id as string;
      const mine = () => onA.messages.filter((m) => m.payload.widgetId === id);
      await waitFor('widget.created', () => mine().some((m) => m.topic === 'widget.created'));

      const patched = await asA('PATCH', `/chat-widget/data/${t.a.locationId}/${id}`, { name: 'Renamed' });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.version, 2);
      await waitFor('widget.updated', () => mine().some((m) => m.topic === 'widget.updated'));

      const deleted = await asA('DELETE', `/chat-widget/${t.a.locationId}/${id}`);
      assert.equal(deleted.status, 200);
      assert.equal(deleted.body.version, 3);
      await waitFor('widget.deleted', () => mine().some((m) => m.topic === 'widget.deleted'));

      // A second publication of any row would have arrived by now.
      await t.charla.ctx.relay.flush();
      await sleep(100);

      const events = mine();
      assert.deepEqual(
        events.map((m) => [m.topic, m.locationId, m.payload]),
        [
          [
            'widget.created',
            t.a.locationId,
            { widgetId: id, revision: 1, chatType: 'liveChat', isDefault: created.body.default },
          ],
          [
            'widget.updated',
            t.a.locationId,
            { widgetId: id, revision: 2, chatType: 'liveChat', isDefault: created.body.default },
          ],
          [
            'widget.deleted',
            t.a.locationId,
            { widgetId: id, revision: 3, chatType: 'liveChat', isDefault: false },
          ],
        ],
      );
      const { rows } = await t.charla.ctx.db.query<{
        id: string;
        topic: string;
        created_at: Date;
        published_at: Date | null;
      }>(
        "SELECT id, topic, created_at, published_at FROM outbox WHERE payload->>'widgetId' = $1 ORDER BY id",
        [id],
      );
      assert.deepEqual(
        events.map((m) => m.id),
        rows.map((r) => Number(r.id)),
        'each outbox row is delivered once, with its row id',
      );
      assert.deepEqual(
        events.map((m) => m.at),
        rows.map((r) => r.created_at.toISOString()),
      );
      for (const r of rows) assert.ok(r.published_at, `outbox row ${r.id} (${r.topic}) is marked published`);
      assert.equal(onB.messages.length, 0, "another location's channel hears nothing");
    } finally {
      onA.unsubscribe();
      onB.unsubscribe();
    }
  });

  test('a write that is refused records no outbox row and publishes nothing', async () => {
    const created = await asA('POST', '/chat-widget/', newWidget('Stays put'));
    assert.equal(created.status, 201);
    const id = created.body._id as string;
    await t.charla.ctx.relay.flush();
    const onA = await listen(t.charla.ctx.bus, locationChannel(t.a.locationId));
    try {
      const before = await outboxCount();
      const refused: [string, string, unknown, number][] = [
        // Each of these fails inside the write's transaction, after the row locks are taken.
        [
          'POST',
          '/chat-widget/',
          {
            ...newWidget('Bad'),
            settings: { departments: [{ id: 'd', name: 'D', agents: [crypto.randomUUID()] }] },
          },
          422,
        ],
        [
          'PATCH',
          `/chat-widget/data/${t.a.locationId}/${id}`,
          { settings: { widgetPrimaryColor: 'red;}' } },
          422,
        ],
        ['PATCH', `/chat-widget/data/${t.a.locationId}/${id}`, { version: 7, name: 'Stale' }, 409],
        ['PUT', `/chat-widget/data/${t.a.locationId}/${id}`, { name: 'No chat type' }, 422],
        ['PATCH', `/chat-widget/data/${t.a.locationId}/${crypto.randomUUID()}`, { name: 'Nobody' }, 404],
      ];
      for (const [method, path, body, status] of refused) {
        const res = await asA(method, path, body);
        assert.equal(
          res.status,
          status,
          `${method} ${path} ${JSON.stringify(body)} -> ${JSON.stringify(res.body)}`,
        );
      }
      assert.equal(await outboxCount(), before, 'no outbox row was recorded');
      const widget = await asA('GET', `/chat-widget/data/${t.a.locationId}/${id}`);
      assert.equal(widget.body.version, 1);
      assert.equal(widget.body.name, 'Stays put');
      await t.charla.ctx.relay.flush();
      await sleep(100);
      assert.deepEqual(onA.messages, [], 'nothing was published');
    } finally {
      onA.unsubscribe();
    }
  });

  test('with two nodes on one database, each event is published once in total', async () => {
    const redis = Boolean(t.charla.ctx.config.redisUrl);
    const second = await startTestNode(t.charla.ctx.config.databaseUrl!);
    const channel = locationChannel(t.a.locationId);
    const onFirst = await listen(t.charla.ctx.bus, channel);
    const onSecond = await listen(second.charla.ctx.bus, channel);
    try {
      const { rows: start } = await t.charla.ctx.db.query<{ id: string }>(
        'SELECT coalesce(max(id), 0) AS id FROM outbox',
      );
      // Every write goes through the first node; both relays are woken by every commit and race
      // for the rows.
      const widgets = await Promise.all(
        Array.from({ length: 5 }, async (_, i) => {
          const res = await asA('POST', '/chat-widget/', newWidget(`Fan-out ${i}`));
          assert.equal(res.status, 201);
          return res.body._id as string;
        }),
      );
      for (let round = 0; round < 3; round++) {
        await Promise.all(
          widgets.map(async (id) => {
            const res = await asA('PATCH', `/chat-widget/data/${t.a.locationId}/${id}`, {
              name: `Round ${round}`,
            });
            assert.equal(res.status, 200);
          }),
        );
      }
      await Promise.all([t.charla.ctx.relay.flush(), second.charla.ctx.relay.flush()]);

      const { rows } = await t.charla.ctx.db.query<{ id: string; published_at: Date | null }>(
        'SELECT id, published_at FROM outbox WHERE location_id = $1 AND id > $2 ORDER BY id',
        [t.a.locationId, start[0]!.id],
      );
      const expected = rows.map((r) => Number(r.id));
      assert.equal(expected.length, 20, 'five creates and fifteen updates were recorded');
      for (const r of rows) assert.ok(r.published_at, `outbox row ${r.id} is marked published`);

      // Deliveries per outbox id, by id: two relays publish concurrently, so arrival order is free.
      const count = (messages: BusMessage[]) => {
        const n = new Map<number, number>();
        for (const m of messages)
          if (m.id !== null && m.id > Number(start[0]!.id)) n.set(m.id, (n.get(m.id) ?? 0) + 1);
        return new Map([...n].sort((x, y) => x[0] - y[0]));
      };
      if (redis) {
        // Redis fans every event out to every node, whichever relay published it.
        await waitFor('the second node to hear every event', () =>
          expected.every((id) => count(onSecond.messages).has(id)),
        );
        await sleep(200);
        assert.deepEqual(
          [...count(onSecond.messages)],
          expected.map((id) => [id, 1]),
          'the second node hears each event once',
        );
        assert.deepEqual(
          [...count(onFirst.messages)],
          expected.map((id) => [id, 1]),
          'the first node hears each event once',
        );
        const widgetIds = new Set(onSecond.messages.map((m) => m.payload.widgetId));
        assert.deepEqual(widgetIds, new Set(widgets), 'the second node hears about writes made on the first');
      } else {
        // Without Redis each node's bus is its own: between them they see each event exactly once.
        await sleep(200);
        const total = [...onFirst.messages, ...onSecond.messages];
        assert.deepEqual(
          [...count(total)],
          expected.map((id) => [id, 1]),
          'the two relays together publish each event once',
        );
      }
    } finally {
      onFirst.unsubscribe();
      onSecond.unsubscribe();
      await second.close();
    }
  });
});
