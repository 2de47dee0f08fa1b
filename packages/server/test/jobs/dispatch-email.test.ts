import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestCharla, type TestCharla } from '../support/charla.js';
import { client } from '../support/http.js';
import {
  dispatchJob,
  insertMessage,
  jobState,
  messageRow,
  outboxFor,
  seedThread,
  settled,
  startSmtp,
  type Thread,
} from './fixtures.js';

let t: TestCharla;
let smtp: Awaited<ReturnType<typeof startSmtp>>;
/** Recipients the test server refuses: permanently (5xx) or a number of times (4xx). */
const refuseForever = new Set<string>();
const refuseTimes = new Map<string, number>();
let thread: Thread;
const db = () => t.charla.ctx.db;

before(async () => {
  t = await startTestCharla({ PUBLIC_URL: 'https://chat.example.test' });
  t.charla.ctx.jobs.options.backoffBaseMs = 100;
  t.charla.ctx.jobs.options.backoffMaxMs = 200;
  smtp = await startSmtp((address) => {
    if (refuseForever.has(address)) return { responseCode: 550, message: 'No such user here' };
    const n = refuseTimes.get(address) ?? 0;
    if (n > 0) {
      refuseTimes.set(address, n - 1);
      return { responseCode: 451, message: 'Try again later' };
    }
    return undefined;
  });
  const admin = client(t.url, { authorization: `Bearer ${t.agencyKey}` });
  const res = await admin('PUT', `/admin/v1/locations/${t.a.locationId}/smtp`, {
    host: '127.0.0.1',
    port: smtp.port,
    secure: false,
    username: 'mailer',
    password: 's3cret',
    fromAddress: 'Acme Support <support@acme.example>',
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  thread = await seedThread(db(), t.a.locationId, { email: 'pat@example.org' });
});
after(async () => {
  await t.close();
  await smtp.close();
});

const mailTo = (address: string) => smtp.received.filter((r) => r.envelope.to.includes(address));

describe('email dispatch through the location SMTP server', () => {
  test('sends From/To/Cc/Bcc, subject, text and html, with a stable Message-ID; the message is sent', async () => {
    const id = await insertMessage(db(), thread, {
      type: 'TYPE_EMAIL',
      subject: 'Your order',
      body: 'Hello Pat',
      html: '<p>Hello <b>Pat</b></p>',
      attachments: ['https://files.example/a.pdf'],
      email: { to: ['pat@example.org'], cc: ['boss@example.org'], bcc: ['audit@example.org'] },
    });
    const job = await dispatchJob(db(), thread, id);
    assert.equal((await settled(db(), job)).status, 'done');

    const [got] = mailTo('pat@example.org');
    assert.ok(got, 'the server received the mail');
    const { mail, envelope } = got;
    assert.equal(mail.from?.text, '"Acme Support" <support@acme.example>', 'the location default sender');
    assert.equal(envelope.from, 'support@acme.example');
    assert.deepEqual(envelope.to.sort(), ['audit@example.org', 'boss@example.org', 'pat@example.org']);
    assert.equal((mail.to as { text: string }).text, 'pat@example.org');
    assert.equal((mail.cc as { text: string }).text, 'boss@example.org');
    assert.equal(mail.bcc, undefined, 'Bcc is not a header');
    assert.equal(mail.subject, 'Your order');
    assert.match(mail.text ?? '', /^Hello Pat\n\nAttachments:\n- https:\/\/files\.example\/a\.pdf/);
    assert.match(String(mail.html), /<p>Hello <b>Pat<\/b><\/p>/);
    assert.match(String(mail.html), /<a href="https:\/\/files\.example\/a\.pdf">/);
    assert.equal(mail.attachments.length, 0, 'attachments are links, not attached files');
    assert.equal(mail.messageId, `<${id}@chat.example.test>`);
    assert.equal(mail.inReplyTo, undefined);
    assert.deepEqual(smtp.logins.at(-1), { username: 'mailer', password: 's3cret' });

    const row = await messageRow(db(), t.a.locationId, id);
    assert.equal(row.status, 'sent');
    assert.equal(row.email.messageIdHeader, `<${id}@chat.example.test>`);
    assert.ok(!Number.isNaN(Date.parse(row.email.sentAt)));
    assert.deepEqual(row.email.to, ['pat@example.org'], 'what the send path stored is kept');
    assert.deepEqual(
      (await outboxFor(db(), id)).map((e) => [e.topic, e.location_id, e.payload]),
      [
        [
          'message.updated',
          t.a.locationId,
          { conversationId: thread.conversationId, messageId: id, seq: Number(row.seq), status: 'sent' },
        ],
      ],
    );
  });

  test('a reply carries In-Reply-To and References; an explicit sender is used', async () => {
    const parent = '<original-123@mail.example.org>';
    const grand = '<first-1@mail.example.org>';
    const id = await insertMessage(db(), thread, {
      type: 'TYPE_EMAIL',
      subject: 'Re: Question',
      body: 'Answer',
      email: {
        from: 'Sam <sam@acme.example>',
        to: ['reply@example.org'],
        inReplyTo: parent,
        references: [grand, parent],
      },
    });
    const job = await dispatchJob(db(), thread, id);
    assert.equal((await settled(db(), job)).status, 'done');
    const [got] = mailTo('reply@example.org');
    assert.ok(got);
    assert.equal(got.mail.from?.text, '"Sam" <sam@acme.example>');
    assert.equal(got.mail.inReplyTo, parent);
    assert.deepEqual(got.mail.references, [grand, parent]);
    assert.equal(got.mail.messageId, `<${id}@chat.example.test>`);
    assert.equal(got.mail.html, false, 'no html part when the message has none');
  });

  test('a permanent SMTP refusal (5xx) fails the message at once, with the SMTP error', async () => {
    refuseForever.add('nobody@example.org');
    const id = await insertMessage(db(), thread, {
      type: 'TYPE_EMAIL',
      subject: 'Hi',
      body: 'x',
      email: { to: ['nobody@example.org'] },
    });
    const job = await dispatchJob(db(), thread, id);
    const j = await settled(db(), job);
    assert.equal(j.status, 'failed');
    assert.equal(j.attempts, 1, 'no retry');
    const row = await messageRow(db(), t.a.locationId, id);
    assert.equal(row.status, 'failed');
    assert.equal(row.error.code, '550');
    assert.equal(row.error.type, 'smtp');
    assert.match(row.error.message, /No such user/);
    assert.deepEqual(
      (await outboxFor(db(), id)).map((e) => [e.topic, e.payload.status]),
      [['message.updated', 'failed']],
    );
  });

  test('a temporary refusal (4xx) is retried with backoff until it goes through', async () => {
    refuseTimes.set('later@example.org', 2);
    const id = await insertMessage(db(), thread, {
      type: 'TYPE_EMAIL',
      subject: 'Later',
      body: 'x',
      email: { to: ['later@example.org'] },
    });
    const job = await dispatchJob(db(), thread, id);
    const j = await settled(db(), job);
    assert.equal(j.status, 'done');
    assert.equal(j.attempts, 3);
    assert.match(j.last_error ?? '', /451|Try again/);
    assert.equal((await messageRow(db(), t.a.locationId, id)).status, 'sent');
    assert.equal(mailTo('later@example.org').length, 1);
  });

  test('temporary refusals until the last attempt fail the message', async () => {
    refuseTimes.set('never@example.org', 100);
    const id = await insertMessage(db(), thread, {
      type: 'TYPE_EMAIL',
      subject: 'Never',
      body: 'x',
      email: { to: ['never@example.org'] },
    });
    const job = await dispatchJob(db(), thread, id, { maxAttempts: 2 });
    const j = await settled(db(), job);
    assert.equal(j.status, 'failed');
    assert.equal(j.attempts, 2);
    const row = await messageRow(db(), t.a.locationId, id);
    assert.equal(row.status, 'failed');
    assert.equal(row.error.code, '451');
    assert.equal(row.error.type, 'smtp');
  });

  test('an SMTP server that cannot be reached is retried, then fails the message', async () => {
    const other = await seedThread(db(), t.b.locationId, { email: 'q@example.org' });
    // A port nothing listens on: connection refused.
    await db().query(
      `INSERT INTO location_smtp (location_id, host, port, secure, from_address) VALUES ($1, '127.0.0.1', 1, false, 'b@b.example')`,
      [t.b.locationId],
    );
    try {
      const id = await insertMessage(db(), other, {
        type: 'TYPE_EMAIL',
        subject: 'x',
        body: 'x',
        email: { to: ['q@example.org'] },
      });
      const job = await dispatchJob(db(), other, id, { maxAttempts: 2 });
      const j = await settled(db(), job);
      assert.equal(j.status, 'failed');
      assert.equal(j.attempts, 2);
      const row = await messageRow(db(), t.b.locationId, id);
      assert.equal(row.status, 'failed');
      assert.equal(row.error.type, 'smtp');
      assert.match(row.error.code, /^E(SOCKET|CONNECTION)$/);
      assert.match(row.error.message, /ECONNREFUSED/);
    } finally {
      await db().query('DELETE FROM location_smtp WHERE location_id = $1', [t.b.locationId]);
    }
  });

  test('without an SMTP server for the location, the message fails (another location’s server is not used)', async () => {
    const other = await seedThread(db(), t.b.locationId, { email: 'b@example.org' });
    const id = await insertMessage(db(), other, {
      type: 'TYPE_EMAIL',
      subject: 'x',
      body: 'x',
      email: { to: ['b-recipient@example.org'] },
    });
    const job = await dispatchJob(db(), other, id);
    const j = await settled(db(), job);
    assert.equal(j.status, 'failed');
    assert.equal(j.attempts, 1);
    const row = await messageRow(db(), t.b.locationId, id);
    assert.equal(row.status, 'failed');
    assert.deepEqual(
      { code: row.error.code, type: row.error.type },
      { code: 'smtp_not_configured', type: 'smtp' },
    );
    assert.equal(mailTo('b-recipient@example.org').length, 0);
  });

  test('a scheduled email goes out when due and is announced then', async () => {
    const id = await insertMessage(db(), thread, {
      type: 'TYPE_EMAIL',
      status: 'scheduled',
      subject: 'Scheduled',
      body: 'x',
      email: { to: ['sched@example.org'] },
    });
    const runAt = new Date(Date.now() + 1000);
    const job = await dispatchJob(db(), thread, id, { runAt });
    assert.equal((await jobState(db(), job)).status, 'queued');
    assert.equal(mailTo('sched@example.org').length, 0);
    assert.equal((await settled(db(), job)).status, 'done');
    const [got] = mailTo('sched@example.org');
    assert.ok(got);
    assert.ok(got.mail.date!.getTime() >= runAt.getTime() - 1000);
    assert.equal((await messageRow(db(), t.a.locationId, id)).status, 'sent');
    const events = await outboxFor(db(), id);
    assert.deepEqual(
      events.map((e) => e.topic),
      ['message.created', 'message.updated'],
    );
    assert.equal(events[0]!.payload.status, 'sent');
  });

  test('a message already sent (or no longer unsent) is not sent again', async () => {
    const id = await insertMessage(db(), thread, {
      type: 'TYPE_EMAIL',
      status: 'sent',
      subject: 'Done',
      body: 'x',
      email: { to: ['dup@example.org'] },
    });
    const job = await dispatchJob(db(), thread, id);
    assert.equal((await settled(db(), job)).status, 'done');
    await sleep(200);
    assert.equal(mailTo('dup@example.org').length, 0);
    assert.deepEqual(await outboxFor(db(), id), []);
  });
});
