import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { findProviderForSend } from '../../src/core/providers/service.js';
import { signDelivery, verifyDelivery } from '../../src/jobs/provider-delivery.js';
import { isPrivateAddress } from '../../src/jobs/ssrf.js';
import { startTestCharla, startTestNode, type TestCharla } from '../support/charla.js';
import { client } from '../support/http.js';
import {
  dispatchJob,
  insertMessage,
  messageRow,
  outboxFor,
  seedThread,
  settled,
  startProviderServer,
  type Thread,
  waitFor,
} from './fixtures.js';

let t: TestCharla;
let server: Awaited<ReturnType<typeof startProviderServer>>;
/** How the provider answers, by the `message` of the delivery. */
const script = new Map<string, (n: number) => number>();
let provider: { id: string; secret: string };
let threadA: Thread;
const db = () => t.charla.ctx.db;
let admin: ReturnType<typeof client>;

async function registerProvider(locationId: string, body: Record<string, unknown>) {
  const res = await admin('POST', `/admin/v1/locations/${locationId}/providers`, body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { id: res.body.provider.id as string, secret: res.body.signingSecret as string };
}

const deliveriesOf = (messageId: string) => server.deliveries.filter((d) => d.body?.messageId === messageId);

before(async () => {
  t = await startTestCharla();
  t.charla.ctx.jobs.options.backoffBaseMs = 100;
  t.charla.ctx.jobs.options.backoffMaxMs = 200;
  admin = client(t.url, { authorization: `Bearer ${t.agencyKey}` });
  const counts = new Map<string, number>();
  server = await startProviderServer((d) => {
    const key = String(d.body?.message);
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    return script.get(key)?.(n) ?? 200;
  });
  provider = await registerProvider(t.a.locationId, {
    name: 'Local SMS',
    type: 'SMS',
    deliveryUrl: server.url,
    allowPrivate: true,
    isDefault: true,
  });
  threadA = await seedThread(db(), t.a.locationId, { phone: '+15550001111', email: 'pat@example.org' });
});
after(async () => {
  await t.close();
  await server.close();
});

describe('delivery to a conversation provider', () => {
  test('POSTs a signed ProviderOutboundMessage; the message stays pending, marked as handed over', async () => {
    const userId = crypto.randomUUID();
    const id = await insertMessage(db(), threadA, {
      type: 'TYPE_SMS',
      body: 'Hello by SMS',
      attachments: ['https://files.example/pic.png'],
      providerId: provider.id,
      userId,
    });
    const job = await dispatchJob(db(), threadA, id);
    const j = await settled(db(), job);
    assert.equal(j.status, 'done');

    const [d] = deliveriesOf(id);
    assert.ok(d, 'the provider received the delivery');
    assert.equal(d.method, 'POST');
    assert.equal(d.url, '/deliver');
    assert.equal(d.headers['content-type'], 'application/json');
    assert.equal(d.headers['user-agent'], 'Charla');
    assert.equal(d.headers['x-charla-delivery'], String(job));
    const signature = String(d.headers['x-charla-signature']);
    assert.match(signature, /^t=\d+,v1=[0-9a-f]{64}$/);
    assert.ok(verifyDelivery(signature, d.raw, provider.secret), 'the signature verifies with the secret');
    assert.ok(!verifyDelivery(signature, d.raw, 'whsec_other'), 'and not with another secret');
    assert.ok(!verifyDelivery(signature, `${d.raw} `, provider.secret), 'nor for another body');
    assert.deepEqual(d.body, {
      contactId: threadA.contactId,
      locationId: t.a.locationId,
      messageId: id,
      type: 'SMS',
      phone: '+15550001111',
      message: 'Hello by SMS',
      attachments: ['https://files.example/pic.png'],
      userId,
      conversationId: threadA.conversationId,
      conversationProviderId: provider.id,
    });

    const row = await messageRow(db(), t.a.locationId, id);
    assert.equal(row.status, 'pending', 'the provider reports the outcome later');
    assert.ok(!Number.isNaN(Date.parse(row.meta.deliveredToProviderAt)));
    assert.deepEqual(await outboxFor(db(), id), [], 'no status change, no event');
  });

  test('an email through a custom email provider carries the email fields', async () => {
    const email = await registerProvider(t.a.locationId, {
      name: 'Custom mail',
      type: 'Email',
      deliveryUrl: server.url,
      allowPrivate: true,
    });
    const id = await insertMessage(db(), threadA, {
      type: 'TYPE_EMAIL',
      subject: 'Subject line',
      body: 'Text',
      html: '<p>Text</p>',
      providerId: email.id,
      email: { from: 'support@acme.example', to: ['pat@example.org'], cc: ['c@example.org'] },
    });
    const job = await dispatchJob(db(), threadA, id);
    assert.equal((await settled(db(), job)).status, 'done');
    const [d] = deliveriesOf(id);
    assert.ok(d);
    assert.ok(verifyDelivery(String(d.headers['x-charla-signature']), d.raw, email.secret));
    assert.equal(d.body.type, 'Email');
    assert.equal(d.body.emailMessageId, id);
    assert.equal(d.body.subject, 'Subject line');
    assert.equal(d.body.html, '<p>Text</p>');
    assert.equal(d.body.emailFrom, 'support@acme.example');
    assert.equal(d.body.emailTo, 'pat@example.org');
    assert.deepEqual(d.body.emailCc, ['c@example.org']);
    assert.equal(d.body.conversationProviderId, email.id);
  });

  test('a 500 is retried with backoff, with the same delivery id, until the provider accepts', async () => {
    script.set('flaky', (n) => (n < 3 ? 500 : 200));
    const id = await insertMessage(db(), threadA, {
      type: 'TYPE_SMS',
      body: 'flaky',
      providerId: provider.id,
    });
    const job = await dispatchJob(db(), threadA, id);
    const j = await settled(db(), job);
    assert.equal(j.status, 'done');
    assert.equal(j.attempts, 3);
    assert.match(j.last_error ?? '', /HTTP 500/);
    const ds = deliveriesOf(id);
    assert.equal(ds.length, 3);
    assert.deepEqual(new Set(ds.map((d) => d.headers['x-charla-delivery'])), new Set([String(job)]));
    assert.ok(ds[1]!.at - ds[0]!.at >= 45, `first retry after ${ds[1]!.at - ds[0]!.at} ms`);
    assert.ok(ds[2]!.at - ds[1]!.at >= 95, `second retry after ${ds[2]!.at - ds[1]!.at} ms`);
    const row = await messageRow(db(), t.a.locationId, id);
    assert.equal(row.status, 'pending');
    assert.ok(row.meta.deliveredToProviderAt);
  });

  test('after the last attempt the message fails with delivery_failed', async () => {
    script.set('down', () => 503);
    const id = await insertMessage(db(), threadA, {
      type: 'TYPE_SMS',
      body: 'down',
      providerId: provider.id,
    });
    const job = await dispatchJob(db(), threadA, id, { maxAttempts: 3 });
    const j = await settled(db(), job);
    assert.equal(j.status, 'failed');
    assert.equal(j.attempts, 3);
    assert.equal(deliveriesOf(id).length, 3);
    const row = await messageRow(db(), t.a.locationId, id);
    assert.equal(row.status, 'failed');
    assert.equal(row.error.code, 'delivery_failed');
    assert.equal(row.error.type, 'provider');
    assert.match(row.error.message, /HTTP 503/);
    assert.equal(row.meta.deliveredToProviderAt, undefined);
    assert.deepEqual(
      (await outboxFor(db(), id)).map((e) => [e.topic, e.payload]),
      [
        [
          'message.updated',
          { conversationId: threadA.conversationId, messageId: id, seq: Number(row.seq), status: 'failed' },
        ],
      ],
    );
  });

  test('a delivery whose node died on the last attempt fails the message instead of leaving it pending', async () => {
    const id = await insertMessage(db(), threadA, {
      type: 'TYPE_SMS',
      body: 'orphaned',
      providerId: provider.id,
    });
    // As a node that died mid-delivery leaves it: running, last attempt spent, lease lapsed.
    const { rows } = await db().query<{ id: string }>(
      `INSERT INTO jobs (location_id, kind, payload, status, attempts, max_attempts, locked_until, ref)
       VALUES ($1, 'message.dispatch', $2, 'running', 3, 3, now() - interval '1 second', $3) RETURNING id`,
      [t.a.locationId, JSON.stringify({ messageId: id }), id],
    );
    assert.equal((await settled(db(), Number(rows[0]!.id))).status, 'failed');
    const row = await waitFor('the message to fail', async () => {
      const r = await messageRow(db(), t.a.locationId, id);
      return r.status === 'failed' ? r : undefined;
    });
    assert.equal(row.error.code, 'abandoned');
    assert.equal(deliveriesOf(id).length, 0);
  });

  test('a redirect is not followed: it counts as a failed delivery', async () => {
    script.set('moved', () => 302);
    const id = await insertMessage(db(), threadA, {
      type: 'TYPE_SMS',
      body: 'moved',
      providerId: provider.id,
    });
    const job = await dispatchJob(db(), threadA, id, { maxAttempts: 1 });
    assert.equal((await settled(db(), job)).status, 'failed');
    assert.equal(deliveriesOf(id).length, 1);
    assert.equal((await messageRow(db(), t.a.locationId, id)).error.code, 'delivery_failed');
  });

  test('the same provider without allowPrivate is refused: no request, no retry', async () => {
    const guarded = await registerProvider(t.a.locationId, {
      name: 'Was private',
      type: 'WhatsApp',
      deliveryUrl: server.url,
      allowPrivate: true,
    });
    await db().query('UPDATE conversation_providers SET allow_private = false WHERE id = $1', [guarded.id]);
    const id = await insertMessage(db(), threadA, {
      type: 'TYPE_WHATSAPP',
      body: 'ssrf',
      providerId: guarded.id,
    });
    const job = await dispatchJob(db(), threadA, id);
    const j = await settled(db(), job);
    assert.equal(j.status, 'failed');
    assert.equal(j.attempts, 1);
    assert.equal(deliveriesOf(id).length, 0, 'nothing reached the private address');
    const row = await messageRow(db(), t.a.locationId, id);
    assert.equal(row.status, 'failed');
    assert.equal(row.error.code, 'delivery_refused');
    assert.equal(row.error.type, 'provider');
    assert.match(row.error.message, /127\.0\.0\.1/);
  });

  test('names and address forms that reach loopback are refused too', async () => {
    for (const url of [
      `http://localhost:${server.port}/deliver`,
      `http://[::1]:${server.port}/deliver`,
      `http://[::ffff:127.0.0.1]:${server.port}/deliver`,
      `http://2130706433:${server.port}/deliver`,
    ]) {
      const p = await registerProvider(t.a.locationId, {
        name: 'Sneaky',
        type: 'Custom',
        deliveryUrl: url,
        allowPrivate: true,
      });
      await db().query('UPDATE conversation_providers SET allow_private = false WHERE id = $1', [p.id]);
      const id = await insertMessage(db(), threadA, {
        type: 'TYPE_CUSTOM_SMS',
        body: `sneaky ${url}`,
        providerId: p.id,
      });
      const job = await dispatchJob(db(), threadA, id);
      assert.equal((await settled(db(), job)).attempts, 1, url);
      const row = await messageRow(db(), t.a.locationId, id);
      assert.equal(row.status, 'failed', url);
      assert.equal(row.error.code, 'delivery_refused', url);
      assert.equal(deliveriesOf(id).length, 0);
    }
  });

  test('a provider of another location cannot deliver this location’s messages', async () => {
    const ofB = await registerProvider(t.b.locationId, {
      name: 'B SMS',
      type: 'SMS',
      deliveryUrl: server.url,
      allowPrivate: true,
    });
    assert.equal(await findProviderForSend(db(), t.a.locationId, 'SMS', ofB.id), undefined);
    assert.equal((await findProviderForSend(db(), t.b.locationId, 'SMS', ofB.id))?.id, ofB.id);
    const id = await insertMessage(db(), threadA, { type: 'TYPE_SMS', body: 'cross', providerId: ofB.id });
    const job = await dispatchJob(db(), threadA, id);
    assert.equal((await settled(db(), job)).status, 'failed');
    assert.equal(deliveriesOf(id).length, 0);
    const row = await messageRow(db(), t.a.locationId, id);
    assert.equal(row.status, 'failed');
    assert.equal(row.error.code, 'no_provider');
  });

  test('without a provider id the location’s default provider for the type is used', async () => {
    const id = await insertMessage(db(), threadA, { type: 'TYPE_SMS', body: 'default' });
    const job = await dispatchJob(db(), threadA, id);
    assert.equal((await settled(db(), job)).status, 'done');
    const [d] = deliveriesOf(id);
    assert.equal(d?.body.conversationProviderId, provider.id);
    assert.equal((await messageRow(db(), t.a.locationId, id)).provider_id, provider.id);
  });

  test('a scheduled message is handed over when due, and announced then', async () => {
    const id = await insertMessage(db(), threadA, {
      type: 'TYPE_SMS',
      status: 'scheduled',
      body: 'scheduled sms',
      providerId: provider.id,
    });
    const runAt = new Date(Date.now() + 800);
    const job = await dispatchJob(db(), threadA, id, { runAt });
    await sleep(300);
    assert.equal(deliveriesOf(id).length, 0, 'not before it is due');
    assert.equal((await settled(db(), job)).status, 'done');
    const [d] = deliveriesOf(id);
    assert.ok(d && d.at >= runAt.getTime() - 20);
    const row = await messageRow(db(), t.a.locationId, id);
    assert.equal(row.status, 'pending');
    const events = await outboxFor(db(), id);
    assert.deepEqual(
      events.map((e) => [e.topic, e.payload.status]),
      [
        ['message.created', 'pending'],
        ['message.updated', 'pending'],
      ],
    );
    assert.equal(events[0]!.payload.seq, Number(row.seq));
    assert.equal(events[0]!.payload.type, 'TYPE_SMS');
    assert.equal(events[0]!.payload.direction, 'outbound');
  });

  test('with two nodes, a scheduled send is delivered exactly once, about when it is due', async () => {
    const second = await startTestNode(t.charla.ctx.config.databaseUrl!);
    try {
      const runAt = new Date(Date.now() + 1500);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const id = await insertMessage(db(), threadA, {
          type: 'TYPE_SMS',
          status: 'scheduled',
          body: `twice? ${i}`,
          providerId: provider.id,
        });
        await dispatchJob(db(), threadA, id, { runAt });
        ids.push(id);
      }
      const { rows } = await db().query<{ id: string }>('SELECT id FROM jobs WHERE ref = ANY($1)', [ids]);
      for (const r of rows) assert.equal((await settled(db(), Number(r.id), 6000)).status, 'done');
      await sleep(1000); // a second delivery would have arrived by now
      for (const id of ids) {
        const ds = deliveriesOf(id);
        assert.equal(ds.length, 1, `message ${id} was delivered once`);
        assert.ok(ds[0]!.at >= runAt.getTime() - 20 && ds[0]!.at <= runAt.getTime() + 1100);
        const events = await outboxFor(db(), id);
        assert.equal(events.filter((e) => e.topic === 'message.created').length, 1);
      }
    } finally {
      await second.close();
    }
  });

  test('a status the provider reported before the job finished is not overwritten', async () => {
    const id = await insertMessage(db(), threadA, {
      type: 'TYPE_SMS',
      status: 'delivered',
      body: 'already',
      providerId: provider.id,
    });
    const job = await dispatchJob(db(), threadA, id);
    assert.equal((await settled(db(), job)).status, 'done');
    assert.equal(deliveriesOf(id).length, 0);
    assert.equal((await messageRow(db(), t.a.locationId, id)).status, 'delivered');
  });
});

describe('live chat dispatch', () => {
  test('a scheduled live chat message becomes sent when due, with message.created and message.updated', async () => {
    const chat = await seedThread(db(), t.a.locationId, {}, 'live_chat');
    const id = await insertMessage(db(), chat, { type: 'TYPE_LIVE_CHAT', status: 'scheduled', body: 'Hi!' });
    const scheduledSeq = Number((await messageRow(db(), t.a.locationId, id)).seq);
    const job = await dispatchJob(db(), chat, id, { runAt: new Date(Date.now() + 300) });
    // The conversation goes on meanwhile.
    const later = await insertMessage(db(), chat, {
      type: 'TYPE_LIVE_CHAT',
      status: 'sent',
      body: 'Meanwhile',
    });
    const laterSeq = Number((await messageRow(db(), t.a.locationId, later)).seq);
    assert.ok(laterSeq > scheduledSeq);
    assert.equal((await settled(db(), job)).status, 'done');
    const row = await messageRow(db(), t.a.locationId, id);
    assert.equal(row.status, 'sent');
    // Released, it takes the next seq: a client caught up to the later message still gets it.
    assert.ok(Number(row.seq) > laterSeq, `seq ${row.seq} after ${laterSeq}`);
    const events = await outboxFor(db(), id);
    assert.deepEqual(
      events.map((e) => [e.topic, e.location_id, e.payload]),
      [
        [
          'message.created',
          t.a.locationId,
          {
            conversationId: chat.conversationId,
            messageId: id,
            seq: Number(row.seq),
            direction: 'outbound',
            type: 'TYPE_LIVE_CHAT',
            status: 'sent',
          },
        ],
        [
          'message.updated',
          t.a.locationId,
          { conversationId: chat.conversationId, messageId: id, seq: Number(row.seq), status: 'sent' },
        ],
      ],
    );
    assert.equal(server.deliveries.filter((d) => d.body?.message === 'Hi!').length, 0);
  });

  test('a live chat message already sent is left alone', async () => {
    const chat = await seedThread(db(), t.a.locationId, {}, 'live_chat');
    const id = await insertMessage(db(), chat, { type: 'TYPE_LIVE_CHAT', status: 'sent', body: 'Now' });
    const job = await dispatchJob(db(), chat, id);
    assert.equal((await settled(db(), job)).status, 'done');
    assert.deepEqual(await outboxFor(db(), id), []);
  });

  test('a job whose message is gone does nothing', async () => {
    const job = await dispatchJob(db(), threadA, crypto.randomUUID());
    assert.equal((await settled(db(), job)).status, 'done');
  });
});

describe('signatures and address checks', () => {
  test('a signature is t=<unix>,v1=HMAC-SHA256("<t>.<body>") and old ones are refused', () => {
    const sig = signDelivery('whsec_x', '{"a":1}', 1_700_000_000);
    assert.equal(
      sig,
      `t=1700000000,v1=${createHmac('sha256', 'whsec_x').update('1700000000.{"a":1}').digest('hex')}`,
    );
    assert.ok(verifyDelivery(sig, '{"a":1}', 'whsec_x', 300, 1_700_000_100));
    assert.ok(!verifyDelivery(sig, '{"a":1}', 'whsec_x', 300, 1_700_000_400), 'too old');
    assert.ok(!verifyDelivery('t=1700000000,v1=zz', '{"a":1}', 'whsec_x', 300, 1_700_000_000));
  });

  test('private, loopback, link-local, multicast and reserved addresses are private', () => {
    for (const ip of [
      '127.0.0.1',
      '127.9.9.9',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '::1',
      '::',
      'fe80::1',
      'fc00::1',
      'fd12:3456::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:10.0.0.1',
      '64:ff9b::a9fe:a9fe',
      'not-an-ip',
    ]) {
      assert.equal(isPrivateAddress(ip), true, ip);
    }
    for (const ip of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
      assert.equal(isPrivateAddress(ip), false, ip);
    }
  });
});
