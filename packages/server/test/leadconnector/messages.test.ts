// POST /conversations/messages (send), inbound and outbound, and the conversation fields they
// move. A job worker may deliver what is sent: statuses are checked only in the immediate answer.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestCharla, type TestCharla } from '../support/charla.js';
import { client, lc } from '../support/http.js';
import {
  contact,
  count,
  expect422,
  expectOk,
  expectStatus,
  freshLocation,
  provider,
  type Req,
  smtp,
  user,
} from './messaging-fixtures.js';

let t: TestCharla;
let asA: Req;
let asB: Req;
let smsProvider: string;
let customProvider: string;
let bProvider: string;

before(async () => {
  t = await startTestCharla();
  asA = client(t.url, lc(t.a.key));
  asB = client(t.url, lc(t.b.key));
  smsProvider = await provider(t, t.a.locationId, 'SMS');
  customProvider = await provider(t, t.a.locationId, 'Custom');
  bProvider = await provider(t, t.b.locationId, 'SMS');
  await smtp(t, t.a.locationId);
  await smtp(t, t.b.locationId);
});
after(() => t.close());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function messageRow(id: string) {
  const { rows } = await t.charla.ctx.db.query<any>('SELECT * FROM messages WHERE id = $1', [id]);
  return rows[0];
}

async function conversationRow(id: string) {
  const { rows } = await t.charla.ctx.db.query<any>('SELECT * FROM conversations WHERE id = $1', [id]);
  return rows[0]!;
}

async function send(req: Req, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return req('POST', '/conversations/messages', body, headers);
}

async function sent(req: Req, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await send(req, body, headers);
  expectOk(res);
  return res.body as { conversationId: string; messageId: string; status: string; [k: string]: unknown };
}

async function inbound(req: Req, body: Record<string, unknown>) {
  const res = await req('POST', '/conversations/messages/inbound', body);
  expectOk(res);
  return res.body;
}

async function newConversation(req: Req, locationId: string, contactId: string): Promise<string> {
  const res = await req('POST', '/conversations/', { locationId, contactId });
  expectOk(res, 201);
  return res.body.conversation.id;
}

/** What a refused send must not have created, anywhere. */
async function totals() {
  return {
    messages: await count(t, 'messages'),
    conversations: await count(t, 'conversations'),
    jobs: await count(t, 'jobs'),
  };
}

describe('POST /conversations/messages: Live_Chat', () => {
  test('is sent at once, in a live_chat conversation apart from the default one', async () => {
    const contactId = await contact(t, t.a.locationId);
    const defaultId = await newConversation(asA, t.a.locationId, contactId);
    const res = await send(asA, { type: 'Live_Chat', contactId, message: 'Hello there' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(Object.keys(res.body).sort(), ['conversationId', 'messageId', 'status']);
    assert.equal(res.body.status, 'sent');
    assert.match(res.body.messageId, UUID);
    assert.notEqual(res.body.conversationId, defaultId);

    const conv = await conversationRow(res.body.conversationId);
    assert.equal(conv.channel, 'live_chat');
    assert.equal(conv.contact_id, contactId);
    assert.equal(conv.location_id, t.a.locationId);
    const m = await messageRow(res.body.messageId);
    assert.equal(m.type, 'TYPE_LIVE_CHAT');
    assert.equal(m.direction, 'outbound');
    assert.equal(m.status, 'sent');
    assert.equal(m.body, 'Hello there');
    assert.equal(m.provider_id, null);
    assert.equal(m.seq, '1');
    assert.equal(await count(t, 'jobs WHERE ref = $1', [res.body.messageId]), 0, 'nothing to deliver');

    const second = await sent(asA, { type: 'Live_Chat', contactId, message: 'Again' });
    assert.equal(second.conversationId, res.body.conversationId);
    assert.equal((await messageRow(second.messageId)).seq, '2');
    assert.equal((await conversationRow(defaultId)).last_seq, '0', 'the default conversation is untouched');
  });
});

describe('POST /conversations/messages: SMS and Custom', () => {
  test('SMS goes to the default SMS provider: pending, with a delivery job', async () => {
    const contactId = await contact(t, t.a.locationId);
    const defaultId = await newConversation(asA, t.a.locationId, contactId);
    const res = await send(asA, {
      type: 'SMS',
      contactId,
      message: 'Your order shipped',
      fromNumber: '+15550009999',
      toNumber: '+15550001111',
    });
    expectOk(res);
    assert.deepEqual(res.body, {
      conversationId: defaultId,
      messageId: res.body.messageId,
      status: 'pending',
    });
    const m = await messageRow(res.body.messageId);
    assert.equal(m.type, 'TYPE_SMS');
    assert.equal(m.provider_id, smsProvider);
    assert.equal(m.source, 'api');
    assert.deepEqual(m.meta, { fromNumber: '+15550009999', toNumber: '+15550001111' });
    const jobs = await t.charla.ctx.db.query<any>('SELECT * FROM jobs WHERE ref = $1', [res.body.messageId]);
    assert.equal(jobs.rows.length, 1);
    assert.equal(jobs.rows[0].kind, 'message.dispatch');
    assert.equal(jobs.rows[0].location_id, t.a.locationId);
    assert.deepEqual(jobs.rows[0].payload, { messageId: res.body.messageId });
  });

  test('Custom goes to the Custom provider; an explicit conversationProviderId wins', async () => {
    const contactId = await contact(t, t.a.locationId);
    const custom = await sent(asA, { type: 'Custom', contactId, message: 'via custom' });
    assert.equal(custom.status, 'pending');
    const m = await messageRow(custom.messageId);
    assert.equal(m.type, 'TYPE_CUSTOM_SMS');
    assert.equal(m.provider_id, customProvider);

    const second = await provider(t, t.a.locationId, 'SMS', false);
    const named = await sent(asA, { type: 'SMS', contactId, message: 'x', conversationProviderId: second });
    assert.equal((await messageRow(named.messageId)).provider_id, second);
    assert.equal(
      named.conversationId,
      custom.conversationId,
      'SMS and Custom share the default conversation',
    );
  });

  test('without a provider for the type: 400 with a clear message, and nothing is stored', async () => {
    const L = await freshLocation(t);
    const contactId = await contact(t, L.locationId);
    const before = await totals();
    for (const type of ['SMS', 'Custom', 'WhatsApp']) {
      const res = await send(L.req, { type, contactId, message: 'hi' });
      assert.deepEqual(
        res.body,
        {
          statusCode: 400,
          message: `No conversation provider is registered for ${type} messages in this location. Register one first.`,
          error: 'Bad Request',
        },
        type,
      );
      assert.equal(res.status, 400);
    }
    assert.deepEqual(await totals(), before);
  });

  test('a conversationProviderId of another location, or unknown, is a 404 and nothing is stored', async () => {
    const contactId = await contact(t, t.a.locationId);
    const before = await totals();
    for (const conversationProviderId of [bProvider, crypto.randomUUID(), 'nope']) {
      const res = await send(asA, { type: 'SMS', contactId, message: 'hi', conversationProviderId });
      expectStatus(res, 404, 'Conversation provider not found', conversationProviderId);
    }
    assert.deepEqual(await totals(), before);
  });

  test('a named provider must deliver the message’s type', async () => {
    const contactId = await contact(t, t.a.locationId);
    const emailProvider = await provider(t, t.a.locationId, 'Email');
    const before = await totals();
    const sms = await send(asA, {
      type: 'SMS',
      contactId,
      message: 'x',
      conversationProviderId: emailProvider,
    });
    assert.ok([400, 422].includes(sms.status), `SMS via the Email provider -> ${sms.status}`);
    const email = await send(asA, {
      type: 'Email',
      contactId,
      message: 'x',
      subject: 's',
      conversationProviderId: smsProvider,
    });
    assert.ok([400, 422].includes(email.status), `Email via the SMS provider -> ${email.status}`);
    assert.deepEqual(await totals(), before);
  });

  test('a contact without a phone needs toNumber', async () => {
    const contactId = await contact(t, t.a.locationId, { phone: null });
    const before = await totals();
    expect422(await send(asA, { type: 'SMS', contactId, message: 'hi' }), /no phone number: give toNumber/);
    assert.deepEqual(await totals(), before);
    const ok = await sent(asA, { type: 'SMS', contactId, message: 'hi', toNumber: '+15550002222' });
    assert.equal(ok.status, 'pending');
  });
});

describe('POST /conversations/messages: Email', () => {
  test('needs the location’s mail server (or an Email provider): 400 otherwise, nothing stored', async () => {
    const L = await freshLocation(t);
    const contactId = await contact(t, L.locationId);
    const before = await totals();
    const res = await send(L.req, { type: 'Email', contactId, message: 'hi', subject: 's' });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, {
      statusCode: 400,
      message: 'No email server is configured for this location.',
      error: 'Bad Request',
    });
    assert.deepEqual(await totals(), before);

    const emailProvider = await provider(t, L.locationId, 'Email');
    const viaProvider = await sent(L.req, {
      type: 'Email',
      contactId,
      html: '<p>hi</p>',
      subject: 's',
      conversationProviderId: emailProvider,
    });
    assert.equal(viaProvider.status, 'pending');
    assert.equal((await messageRow(viaProvider.messageId)).provider_id, emailProvider);
  });

  test('with SMTP: pending, emailMessageId and threadId, addressing stored', async () => {
    const contactId = await contact(t, t.a.locationId, { email: 'pat@example.test' });
    const res = await send(asA, {
      type: 'Email',
      contactId,
      subject: 'Your invoice',
      html: '<p>Attached</p>',
      message: 'Attached',
      emailCc: ['cc@example.test'],
      emailBcc: ['audit@example.test'],
    });
    expectOk(res);
    const id = res.body.messageId;
    assert.deepEqual(res.body, {
      conversationId: res.body.conversationId,
      messageId: id,
      emailMessageId: id,
      threadId: id,
      status: 'pending',
    });
    const m = await messageRow(id);
    assert.equal(m.type, 'TYPE_EMAIL');
    assert.equal(m.subject, 'Your invoice');
    assert.equal(m.html, '<p>Attached</p>');
    assert.equal(m.content_type, 'text/html');
    assert.equal(m.provider_id, null);
    assert.deepEqual(m.email, {
      from: 'shop@x.test',
      to: ['pat@example.test'],
      cc: ['cc@example.test'],
      bcc: ['audit@example.test'],
    });
    assert.equal((await conversationRow(res.body.conversationId)).type, 'TYPE_EMAIL');
    assert.equal((await asA('GET', `/conversations/${res.body.conversationId}`)).body.type, 2);

    const other = await sent(asA, {
      type: 'Email',
      contactId,
      message: 'To someone else',
      emailTo: 'billing@example.test',
      emailFrom: 'Shop <sales@x.test>',
    });
    const o = await messageRow(other.messageId);
    assert.deepEqual(o.email, { from: 'Shop <sales@x.test>', to: ['billing@example.test'] });
    assert.equal(other.conversationId, res.body.conversationId);
  });

  test('addresses are validated: 422 and nothing stored', async () => {
    const contactId = await contact(t, t.a.locationId);
    const noEmail = await contact(t, t.a.locationId, { email: null });
    const before = await totals();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ emailTo: 'not-an-email' }, /emailTo must contain email addresses/],
      [{ emailTo: 'a b@example.test' }, /emailTo must contain email addresses/],
      [{ emailCc: ['ok@example.test', 'nope'] }, /emailCc must contain email addresses/],
      [{ emailBcc: ['a@b'] }, /emailBcc must contain email addresses/],
      [{ emailCc: 'cc@example.test' }, /emailCc must be array/],
      [
        { emailCc: Array.from({ length: 51 }, (_, i) => `u${i}@example.test`) },
        /emailCc must contain no more/,
      ],
      [{ emailReplyMode: 'everyone' }, /emailReplyMode must be one of/],
    ];
    for (const [extra, expected] of cases) {
      const res = await send(asA, { type: 'Email', contactId, message: 'x', ...extra });
      expect422(res, expected, JSON.stringify(extra).slice(0, 80));
    }
    expect422(
      await send(asA, { type: 'Email', contactId: noEmail, message: 'x' }),
      /the contact has no email address: give emailTo/,
    );
    expect422(
      await send(asA, { type: 'Email', contactId, subject: 'empty' }),
      /an email needs a message, html/,
    );
    assert.deepEqual(await totals(), before);
  });

  test('a reply carries the parent’s threading: replyToMessageId, threadId, inReplyTo, references', async () => {
    const contactId = await contact(t, t.a.locationId, { email: 'kim@example.test' });
    const parent = await inbound(asA, {
      type: 'Email',
      contactId,
      message: 'Question',
      subject: 'Help',
      emailFrom: 'kim@example.test',
      emailTo: 'shop@x.test',
      emailCc: ['partner@example.test'],
    });
    await t.charla.ctx.db.query<any>(
      `UPDATE messages SET email = email || '{"messageIdHeader": "<parent@mail.test>", "references": ["<root@mail.test>"], "threadId": "thread-1"}'::jsonb
       WHERE id = $1`,
      [parent.messageId],
    );
    const res = await sent(asA, {
      type: 'Email',
      contactId,
      message: 'Answer',
      subject: 'Re: Help',
      replyMessageId: parent.messageId,
      emailReplyMode: 'reply_all',
    });
    assert.equal(res.threadId, 'thread-1');
    assert.equal(res.conversationId, parent.conversationId);
    const m = await messageRow(res.messageId);
    assert.equal(m.reply_to_id, parent.messageId);
    assert.equal(m.email.replyToMessageId, parent.messageId);
    assert.equal(m.email.threadId, 'thread-1');
    assert.equal(m.email.inReplyTo, '<parent@mail.test>');
    assert.deepEqual(m.email.references, ['<root@mail.test>', '<parent@mail.test>']);
    assert.deepEqual(m.email.to, ['kim@example.test']);
    assert.ok(m.email.cc.includes('partner@example.test'), 'reply_all copies the parent’s cc');
    assert.ok(!m.email.cc.includes('kim@example.test'));

    const email = await asA('GET', `/conversations/messages/email/${res.messageId}`);
    assert.equal(email.body.threadId, 'thread-1');
    assert.equal(email.body.replyToMessageId, parent.messageId);

    // A parent without headers: the thread is the parent itself.
    const plain = await inbound(asA, { type: 'Email', contactId, message: 'Plain', subject: 'x' });
    const reply = await sent(asA, {
      type: 'Email',
      contactId,
      message: 'ok',
      replyMessageId: plain.messageId,
    });
    assert.equal(reply.threadId, plain.messageId);
    const r = await messageRow(reply.messageId);
    assert.equal(r.email.inReplyTo, undefined);
    assert.deepEqual(r.email.references, []);
  });

  test('replyMessageId of another location’s message is a 404 and nothing is stored', async () => {
    const bContact = await contact(t, t.b.locationId);
    const bMessage = await inbound(asB, {
      type: 'Email',
      contactId: bContact,
      message: 'B only',
      subject: 'b',
    });
    const contactId = await contact(t, t.a.locationId);
    const before = await totals();
    for (const replyMessageId of [bMessage.messageId, crypto.randomUUID(), 'nope']) {
      const res = await send(asA, { type: 'Email', contactId, message: 'x', replyMessageId });
      expectStatus(res, 404, 'Replied-to message not found', replyMessageId);
      assert.ok(!JSON.stringify(res.body).includes('B only'));
    }
    assert.deepEqual(await totals(), before);
  });
});

describe('POST /conversations/messages: scheduledTimestamp', () => {
  test('a scheduled send is stored as scheduled with a queued job at that time', async () => {
    const contactId = await contact(t, t.a.locationId);
    const at = Math.floor(Date.now() / 1000) + 3600;
    const res = await send(asA, { type: 'SMS', contactId, message: 'later', scheduledTimestamp: at });
    expectOk(res);
    assert.deepEqual(res.body, {
      conversationId: res.body.conversationId,
      messageId: res.body.messageId,
      status: 'scheduled',
      msg: 'Message scheduled successfully.',
    });
    const m = await messageRow(res.body.messageId);
    assert.equal(m.status, 'scheduled');
    assert.equal(m.scheduled_at.getTime(), at * 1000);
    const { rows } = await t.charla.ctx.db.query<any>('SELECT * FROM jobs WHERE ref = $1', [
      res.body.messageId,
    ]);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].kind, 'message.dispatch');
    assert.equal(rows[0].status, 'queued');
    assert.equal(rows[0].run_at.getTime(), at * 1000);
    assert.equal(rows[0].ref, res.body.messageId);
    assert.equal(rows[0].location_id, t.a.locationId);
  });

  test('Live_Chat and Email can be scheduled too', async () => {
    const contactId = await contact(t, t.a.locationId);
    const at = Math.floor(Date.now() / 1000) + 7200;
    for (const body of [
      { type: 'Live_Chat', contactId, message: 'later', scheduledTimestamp: at },
      { type: 'Email', contactId, message: 'later', subject: 's', scheduledTimestamp: at },
    ]) {
      const res = await sent(asA, body);
      assert.equal(res.status, 'scheduled', body.type);
      const job = await t.charla.ctx.db.query<any>('SELECT run_at, status FROM jobs WHERE ref = $1', [
        res.messageId,
      ]);
      assert.equal(job.rows[0].run_at.getTime(), at * 1000, body.type);
      assert.equal(job.rows[0].status, 'queued', body.type);
    }
  });

  test('more than a year ahead, negative or not a number: 422 and nothing stored', async () => {
    const contactId = await contact(t, t.a.locationId);
    const before = await totals();
    const now = Math.floor(Date.now() / 1000);
    expect422(
      await send(asA, { type: 'SMS', contactId, message: 'x', scheduledTimestamp: now + 400 * 86_400 }),
      /scheduledTimestamp must be within a year/,
    );
    expect422(
      await send(asA, { type: 'SMS', contactId, message: 'x', scheduledTimestamp: -1 }),
      /scheduledTimestamp must be >= 0/,
    );
    expect422(
      await send(asA, { type: 'SMS', contactId, message: 'x', scheduledTimestamp: String(now + 60) }),
      /scheduledTimestamp must be number/,
    );
    assert.deepEqual(await totals(), before);
  });
});

describe('POST /conversations/messages: Idempotency-Key', () => {
  test('the same key twice answers the same message and stores one', async () => {
    const contactId = await contact(t, t.a.locationId);
    const key = `idem-${crypto.randomUUID()}`;
    const first = await sent(
      asA,
      { type: 'Live_Chat', contactId, message: 'once' },
      { 'idempotency-key': key },
    );
    const again = await sent(
      asA,
      { type: 'Live_Chat', contactId, message: 'once' },
      { 'idempotency-key': key },
    );
    assert.deepEqual(again, first);
    assert.equal(await count(t, 'messages WHERE idempotency_key = $1', [key]), 1);
    assert.equal((await conversationRow(first.conversationId)).last_seq, '1', 'a replay takes no seq');
    const other = await sent(
      asA,
      { type: 'Live_Chat', contactId, message: 'twice' },
      { 'idempotency-key': `${key}-2` },
    );
    assert.notEqual(other.messageId, first.messageId);
  });

  test('concurrent duplicates store one message, for a new and for an existing conversation', async () => {
    for (const existing of [false, true]) {
      const contactId = await contact(t, t.a.locationId);
      if (existing) await newConversation(asA, t.a.locationId, contactId);
      const key = `race-${crypto.randomUUID()}`;
      const results = await Promise.all(
        Array.from({ length: 8 }, () =>
          send(asA, { type: 'SMS', contactId, message: 'race' }, { 'idempotency-key': key }),
        ),
      );
      for (const r of results) assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(new Set(results.map((r) => r.body.messageId)).size, 1, `existing=${existing}`);
      assert.equal(await count(t, 'messages WHERE idempotency_key = $1', [key]), 1);
      assert.equal(await count(t, 'messages WHERE contact_id = $1', [contactId]), 1);
      assert.equal(await count(t, 'conversations WHERE contact_id = $1', [contactId]), 1);
      assert.equal(await count(t, 'jobs WHERE ref = $1', [results[0]!.body.messageId]), 1);
      const conv = await conversationRow(results[0]!.body.conversationId);
      assert.equal(conv.last_seq, '1');
    }
  });

  test('keys are per location: B reusing A’s key gets its own message', async () => {
    const key = `shared-${crypto.randomUUID()}`;
    const a = await sent(
      asA,
      { type: 'Live_Chat', contactId: await contact(t, t.a.locationId), message: 'A secret' },
      { 'idempotency-key': key },
    );
    const b = await sent(
      asB,
      { type: 'Live_Chat', contactId: await contact(t, t.b.locationId), message: 'B' },
      { 'idempotency-key': key },
    );
    assert.notEqual(b.messageId, a.messageId);
    assert.notEqual(b.conversationId, a.conversationId);
    assert.equal((await messageRow(b.messageId)).location_id, t.b.locationId);
  });

  test('a key longer than 200 characters is a 422', async () => {
    const contactId = await contact(t, t.a.locationId);
    const before = await totals();
    expect422(
      await send(asA, { type: 'Live_Chat', contactId, message: 'x' }, { 'idempotency-key': 'k'.repeat(201) }),
      /Idempotency-Key must be 1 to 200 characters/,
    );
    assert.deepEqual(await totals(), before);
  });
});

describe('POST /conversations/messages: refused bodies', () => {
  test('422s with a message array, and nothing stored', async () => {
    const contactId = await contact(t, t.a.locationId);
    const before = await totals();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ type: 'Pigeon', contactId, message: 'x' }, /type must be one of the following values/],
      [{ type: 'GMB', contactId, message: 'x' }, /type must be one of the following values/],
      [{ contactId, message: 'x' }, /type is required/],
      [{ type: 'SMS', message: 'x' }, /contactId is required/],
      [
        { type: 'Live_Chat', contactId, message: 'x'.repeat(20_001) },
        /message must be shorter than or equal to 20000/,
      ],
      [{ type: 'Live_Chat', contactId, message: 'x', surprise: true }, /property surprise should not exist/],
      [{ type: 'Live_Chat', contactId, message: 42 }, /message must be string/],
      [{ type: 'Live_Chat', contactId }, /message should not be empty/],
      [{ type: 'Live_Chat', contactId, message: '' }, /message should not be empty/],
      [
        {
          type: 'Live_Chat',
          contactId,
          attachments: Array.from({ length: 21 }, (_, i) => `https://x.test/${i}`),
        },
        /attachments must contain no more than 20/,
      ],
      [{ type: 'Live_Chat', contactId, message: 'x', status: 'sent' }, /status must be one of/],
    ];
    for (const [body, expected] of cases) {
      expect422(await send(asA, body), expected, JSON.stringify(body).slice(0, 80));
    }
    assert.deepEqual(await totals(), before);
  });

  test('attachments alone are a message', async () => {
    const contactId = await contact(t, t.a.locationId);
    const res = await sent(asA, { type: 'Live_Chat', contactId, attachments: ['https://x.test/a.png'] });
    assert.deepEqual((await messageRow(res.messageId)).attachments, ['https://x.test/a.png']);
  });

  test('a userId that is not a UUID is a 422, not a 500', async () => {
    const contactId = await contact(t, t.a.locationId);
    const before = await totals();
    const res = await send(asA, { type: 'Live_Chat', contactId, message: 'x', userId: 'agent-7' });
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.deepEqual(await totals(), before);
  });

  test('a userId must be a user of the location (not someone else’s user)', async () => {
    const contactId = await contact(t, t.a.locationId);
    const outsider = await user(t, t.b.locationId);
    const before = await totals();
    const res = await send(asA, { type: 'Live_Chat', contactId, message: 'x', userId: outsider });
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.deepEqual(await totals(), before);
  });

  test('a userId of the location makes the message manual', async () => {
    const contactId = await contact(t, t.a.locationId);
    const agent = await user(t, t.a.locationId);
    const res = await sent(asA, { type: 'Live_Chat', contactId, message: 'by hand', userId: agent });
    const m = await messageRow(res.messageId);
    assert.equal(m.user_id, agent);
    assert.equal(m.action, 'manual');
    const conv = await conversationRow(res.conversationId);
    assert.equal(conv.last_message_action, 'manual');
    assert.equal(conv.last_manual_message_date.getTime(), m.created_at.getTime());
    assert.equal((await asA('GET', `/conversations/messages/${res.messageId}`)).body.userId, agent);
  });
});

describe("POST /conversations/messages: someone else's contact", () => {
  test('a contact of another location, unknown or malformed is a 404, and nothing is stored', async () => {
    const bContact = await contact(t, t.b.locationId);
    const before = await totals();
    for (const contactId of [bContact, crypto.randomUUID(), 'nope']) {
      for (const type of ['Live_Chat', 'SMS', 'Email']) {
        const res = await send(asA, { type, contactId, message: 'x', subject: 's' });
        expectStatus(res, 404, 'Contact not found', `${type} ${contactId}`);
      }
    }
    const back = await send(asB, {
      type: 'Live_Chat',
      contactId: await contact(t, t.a.locationId),
      message: 'x',
    });
    expectStatus(back, 404, 'Contact not found');
    assert.deepEqual(await totals(), before);
  });

  test('a live chat to a contact of another location is a 404 even when its conversation is open', async () => {
    // The live chat send that finds the open conversation in its write must check the location too.
    const bContact = await contact(t, t.b.locationId);
    const opened = await sent(asB, { type: 'Live_Chat', contactId: bContact, message: 'B first' });
    const before = await totals();
    const res = await send(asA, { type: 'Live_Chat', contactId: bContact, message: 'A intrudes' });
    expectStatus(res, 404, 'Contact not found');
    assert.deepEqual(await totals(), before);
    assert.equal((await conversationRow(opened.conversationId)).last_seq, '1');
  });
});

describe('conversation fields after messages', () => {
  test('unreadCount counts inbound only; the last message fields follow; seq is 1..n', async () => {
    const contactId = await contact(t, t.a.locationId);
    const id = await newConversation(asA, t.a.locationId, contactId);
    const conv = async () => (await asA('GET', `/conversations/${id}`)).body;

    const in1 = await inbound(asA, { type: 'SMS', conversationId: id, message: 'in 1' });
    assert.equal((await conv()).unreadCount, 1);
    await inbound(asA, { type: 'SMS', conversationId: id, message: 'in 2' });
    assert.equal((await conv()).unreadCount, 2);

    const out = await sent(asA, { type: 'SMS', contactId, message: 'out 1' });
    assert.equal(out.conversationId, id);
    let c = await conv();
    assert.equal(c.unreadCount, 2, 'outbound does not count');
    assert.equal(c.lastMessageBody, 'out 1');
    assert.equal(c.lastMessageType, 'TYPE_SMS');
    const outRow = await messageRow(out.messageId);
    assert.equal(c.lastMessageDate, outRow.created_at.getTime());
    let row = await conversationRow(id);
    assert.equal(row.last_message_direction, 'outbound');
    assert.equal(row.last_message_id, out.messageId);
    assert.equal(row.last_message_provider_id, smsProvider);

    const in3 = await inbound(asA, { type: 'Email', conversationId: id, message: 'in 3', subject: 's' });
    c = await conv();
    assert.equal(c.unreadCount, 3);
    assert.equal(c.lastMessageType, 'TYPE_EMAIL');
    assert.equal(c.lastMessageBody, 'in 3');
    assert.equal(c.lastMessageDate, Date.parse(in3.dateAdded));
    row = await conversationRow(id);
    assert.equal(row.last_message_direction, 'inbound');

    expectOk(
      await asA('POST', '/conversations/messages/outbound', {
        type: 'Call',
        conversationId: id,
        call: { status: 'completed', duration: 5 },
      }),
    );
    c = await conv();
    assert.equal(c.unreadCount, 3);
    assert.equal(c.lastMessageType, 'TYPE_CALL');
    assert.equal(c.lastMessageBody, '', 'a call has no body');

    expectOk(await asA('PUT', `/conversations/${id}`, { locationId: t.a.locationId, unreadCount: 0 }));
    await inbound(asA, { type: 'SMS', conversationId: id, message: 'in 4' });
    assert.equal((await conv()).unreadCount, 1);

    const { rows } = await t.charla.ctx.db.query<any>(
      'SELECT seq FROM messages WHERE conversation_id = $1 ORDER BY seq',
      [id],
    );
    assert.deepEqual(
      rows.map((r) => Number(r.seq)),
      [1, 2, 3, 4, 5, 6],
    );
    assert.equal((await conversationRow(id)).last_seq, '6');
    assert.equal(in1.conversationId, id);
  });

  test('the preview keeps the first 500 characters of a long body', async () => {
    const contactId = await contact(t, t.a.locationId);
    const body = 'é'.repeat(300) + 'x'.repeat(300);
    const res = await sent(asA, { type: 'Live_Chat', contactId, message: body });
    const c = (await asA('GET', `/conversations/${res.conversationId}`)).body;
    assert.equal(c.lastMessageBody, body.slice(0, 500));
    assert.equal((await messageRow(res.messageId)).body, body, 'the message keeps all of it');
  });

  test('concurrent messages get gap-free seq 1..n and exact counters', async () => {
    const contactId = await contact(t, t.a.locationId);
    const first = await sent(asA, { type: 'Live_Chat', contactId, message: 'start' });
    const id = first.conversationId;
    const results = await Promise.all([
      ...Array.from({ length: 10 }, (_, i) =>
        send(asA, { type: 'Live_Chat', contactId, message: `out ${i}` }),
      ),
      ...Array.from({ length: 6 }, (_, i) =>
        asA('POST', '/conversations/messages/inbound', {
          type: 'Live_Chat',
          conversationId: id,
          message: `in ${i}`,
        }),
      ),
    ]);
    for (const r of results) assert.equal(r.status, 200, JSON.stringify(r.body));
    const { rows } = await t.charla.ctx.db.query<any>(
      'SELECT seq FROM messages WHERE conversation_id = $1 ORDER BY seq',
      [id],
    );
    assert.deepEqual(
      rows.map((r) => Number(r.seq)),
      Array.from({ length: 17 }, (_, i) => i + 1),
    );
    const conv = await conversationRow(id);
    assert.equal(conv.last_seq, '17');
    assert.equal(conv.unread_count, 6);
  });

  test('a backdated inbound message does not move lastMessageDate back in time', async () => {
    const contactId = await contact(t, t.a.locationId);
    const recent = await inbound(asA, { type: 'SMS', contactId, message: 'recent' });
    await inbound(asA, { type: 'SMS', contactId, message: 'from 2020', date: '2020-01-01T00:00:00.000Z' });
    const c = (await asA('GET', `/conversations/${recent.conversationId}`)).body;
    assert.equal(c.lastMessageDate, Date.parse(recent.dateAdded));
  });
});

describe('POST /conversations/messages/inbound', () => {
  test('by contactId: ProcessMessageResponseDto; stored inbound and delivered in the default conversation', async () => {
    const contactId = await contact(t, t.a.locationId);
    const started = Date.now();
    const res = await asA('POST', '/conversations/messages/inbound', {
      type: 'SMS',
      contactId,
      message: 'Hi from the phone',
      attachments: ['https://x.test/pic.jpg'],
      altId: 'carrier-123',
    });
    expectOk(res);
    assert.deepEqual(Object.keys(res.body).sort(), [
      'contactId',
      'conversationId',
      'dateAdded',
      'message',
      'messageId',
      'success',
    ]);
    assert.equal(res.body.success, true);
    assert.equal(res.body.message, 'Message added successfully');
    assert.equal(res.body.contactId, contactId);
    const at = Date.parse(res.body.dateAdded);
    assert.ok(at >= started - 1000 && at <= Date.now() + 1000);
    const m = await messageRow(res.body.messageId);
    assert.equal(m.direction, 'inbound');
    assert.equal(m.status, 'delivered');
    assert.equal(m.type, 'TYPE_SMS');
    assert.equal(m.alt_id, 'carrier-123');
    assert.deepEqual(m.attachments, ['https://x.test/pic.jpg']);
    assert.equal(await count(t, 'jobs WHERE ref = $1', [res.body.messageId]), 0, 'nothing is delivered');
    const conv = await conversationRow(res.body.conversationId);
    assert.equal(conv.channel, 'default');
    assert.equal(conv.type, 'TYPE_PHONE');

    const byConversation = await inbound(asA, {
      type: 'WhatsApp',
      conversationId: res.body.conversationId,
      message: 'again',
    });
    assert.equal(byConversation.conversationId, res.body.conversationId);
    assert.equal(byConversation.contactId, contactId);
    assert.equal((await messageRow(byConversation.messageId)).type, 'TYPE_WHATSAPP');
  });

  test('needs a conversation or a contact, and the contact must be the conversation’s', async () => {
    const contactId = await contact(t, t.a.locationId);
    const other = await contact(t, t.a.locationId);
    const id = await newConversation(asA, t.a.locationId, contactId);
    const before = await totals();
    expect422(
      await asA('POST', '/conversations/messages/inbound', { type: 'SMS', message: 'x' }),
      /conversationId or contactId is required/,
    );
    expect422(
      await asA('POST', '/conversations/messages/inbound', {
        type: 'SMS',
        conversationId: id,
        contactId: other,
        message: 'x',
      }),
      /contactId is not the contact of that conversation/,
    );
    expect422(
      await asA('POST', '/conversations/messages/inbound', { type: 'Fax', contactId, message: 'x' }),
      /type must be one of the following values/,
    );
    expect422(
      await asA('POST', '/conversations/messages/inbound', {
        type: 'SMS',
        contactId,
        message: 'x',
        extra: 1,
      }),
      /property extra should not exist/,
    );
    assert.deepEqual(await totals(), before);
  });

  test('Email with emailMessageId threads under the parent and answers emailMessageId', async () => {
    const contactId = await contact(t, t.a.locationId);
    const parent = await inbound(asA, { type: 'Email', contactId, message: 'first', subject: 'Topic' });
    assert.equal(parent.emailMessageId, parent.messageId);
    await t.charla.ctx.db.query<any>(
      `UPDATE messages SET email = email || '{"messageIdHeader": "<first@mail.test>"}'::jsonb WHERE id = $1`,
      [parent.messageId],
    );
    const reply = await inbound(asA, {
      type: 'Email',
      contactId,
      message: 'second',
      subject: 'Re: Topic',
      emailMessageId: parent.messageId,
      emailFrom: 'Kim <kim@example.test>',
      emailTo: 'shop@x.test',
    });
    assert.equal(reply.emailMessageId, reply.messageId);
    assert.equal(reply.conversationId, parent.conversationId);
    const m = await messageRow(reply.messageId);
    assert.equal(m.reply_to_id, parent.messageId);
    assert.deepEqual(m.email, {
      from: 'Kim <kim@example.test>',
      to: ['shop@x.test'],
      replyToMessageId: parent.messageId,
      threadId: parent.messageId,
      inReplyTo: '<first@mail.test>',
    });
    const got = (await asA('GET', `/conversations/messages/email/${reply.messageId}`)).body;
    assert.equal(got.threadId, parent.messageId);
    assert.equal(got.from, 'Kim <kim@example.test>');
  });

  test('an emailMessageId of another location or unknown is a 404 and nothing is stored', async () => {
    const bMessage = await inbound(asB, {
      type: 'Email',
      contactId: await contact(t, t.b.locationId),
      message: 'B',
      subject: 'b',
    });
    const contactId = await contact(t, t.a.locationId);
    const before = await totals();
    for (const emailMessageId of [bMessage.messageId, crypto.randomUUID()]) {
      const res = await asA('POST', '/conversations/messages/inbound', {
        type: 'Email',
        contactId,
        message: 'x',
        emailMessageId,
      });
      expectStatus(res, 404, 'Email message not found');
    }
    assert.deepEqual(await totals(), before);
  });

  test('Call with call data: meta.callStatus and callDuration on the message', async () => {
    const contactId = await contact(t, t.a.locationId);
    const res = await inbound(asA, {
      type: 'Call',
      contactId,
      call: { from: '+15550003333', to: '+15550004444', status: 'completed', duration: 120 },
    });
    const m = (await asA('GET', `/conversations/messages/${res.messageId}`)).body;
    assert.equal(m.type, 1);
    assert.equal(m.messageType, 'TYPE_CALL');
    assert.equal(m.direction, 'inbound');
    assert.deepEqual(m.meta, {
      callDuration: '120',
      callStatus: 'completed',
      call: { duration: 120, status: 'completed' },
    });
    expect422(
      await asA('POST', '/conversations/messages/inbound', {
        type: 'Call',
        contactId,
        call: { status: 'ringing' },
      }),
      /call.status must be one of/,
    );
  });

  test('date sets when it happened; a future or malformed date is a 422', async () => {
    const contactId = await contact(t, t.a.locationId);
    const res = await inbound(asA, {
      type: 'SMS',
      contactId,
      message: 'old',
      date: '2024-05-06T07:08:09.123Z',
    });
    assert.equal(res.dateAdded, '2024-05-06T07:08:09.123Z');
    assert.equal((await messageRow(res.messageId)).created_at.toISOString(), '2024-05-06T07:08:09.123Z');
    const before = await totals();
    expect422(
      await asA('POST', '/conversations/messages/inbound', {
        type: 'SMS',
        contactId,
        message: 'x',
        date: new Date(Date.now() + 3 * 86_400_000).toISOString(),
      }),
      /date must not be in the future/,
    );
    expect422(
      await asA('POST', '/conversations/messages/inbound', {
        type: 'SMS',
        contactId,
        message: 'x',
        date: 'soon',
      }),
      /date must be a date-time/,
    );
    assert.deepEqual(await totals(), before);
  });

  test('reviewId files the message in a review conversation of its own', async () => {
    const contactId = await contact(t, t.a.locationId);
    const plain = await inbound(asA, { type: 'SMS', contactId, message: 'plain' });
    const review = await inbound(asA, { type: 'GMB', contactId, message: '★★★★★ great', reviewId: 'rev-1' });
    assert.notEqual(review.conversationId, plain.conversationId);
    const conv = await conversationRow(review.conversationId);
    assert.equal(conv.channel, 'review');
    assert.equal(conv.type, 'TYPE_REVIEW');
    assert.equal(conv.review_id, 'rev-1');
    assert.equal((await asA('GET', `/conversations/${review.conversationId}`)).body.type, 4);
    const m = await messageRow(review.messageId);
    assert.equal(m.type, 'TYPE_REVIEW');
    assert.deepEqual(m.meta, { reviewId: 'rev-1' });
  });

  test('a second review by the same contact gets its own review conversation', async () => {
    const contactId = await contact(t, t.a.locationId);
    const first = await inbound(asA, { type: 'GMB', contactId, message: 'first review', reviewId: 'rev-a' });
    const second = await inbound(asA, {
      type: 'GMB',
      contactId,
      message: 'second review',
      reviewId: 'rev-b',
    });
    assert.notEqual(second.conversationId, first.conversationId);
    assert.equal((await conversationRow(second.conversationId)).review_id, 'rev-b');
  });

  test('Live_Chat inbound goes to the live_chat conversation', async () => {
    const contactId = await contact(t, t.a.locationId);
    const out = await sent(asA, { type: 'Live_Chat', contactId, message: 'hi' });
    const res = await inbound(asA, { type: 'Live_Chat', contactId, message: 'hello' });
    assert.equal(res.conversationId, out.conversationId);
  });

  test("someone else's conversation, contact or provider: 404 and nothing stored", async () => {
    const bContact = await contact(t, t.b.locationId);
    const bConversation = await newConversation(asB, t.b.locationId, bContact);
    const aContact = await contact(t, t.a.locationId);
    const before = await totals();
    for (const body of [
      { type: 'SMS', conversationId: bConversation, message: 'x' },
      { type: 'SMS', contactId: bContact, message: 'x' },
      { type: 'SMS', contactId: aContact, message: 'x', conversationProviderId: bProvider },
      { type: 'SMS', contactId: 'nope', message: 'x' },
      { type: 'SMS', conversationId: 'nope', message: 'x' },
    ]) {
      const res = await asA('POST', '/conversations/messages/inbound', body);
      assert.equal(res.status, 404, `${JSON.stringify(body)} -> ${JSON.stringify(res.body)}`);
    }
    assert.deepEqual(await totals(), before);
  });
});

describe('POST /conversations/messages/outbound', () => {
  test('records an external outbound call', async () => {
    const contactId = await contact(t, t.a.locationId);
    const id = await newConversation(asA, t.a.locationId, contactId);
    const res = await asA('POST', '/conversations/messages/outbound', {
      type: 'Call',
      conversationId: id,
      conversationProviderId: smsProvider,
      altId: 'call-1',
      call: { to: '+15550005555', from: '+15550006666', status: 'answered', duration: 42 },
    });
    expectOk(res);
    assert.equal(res.body.success, true);
    assert.equal(res.body.conversationId, id);
    assert.equal(res.body.contactId, contactId);
    assert.equal(res.body.message, 'Message added successfully');
    assert.equal('emailMessageId' in res.body, false);
    const m = await messageRow(res.body.messageId);
    assert.equal(m.type, 'TYPE_CALL');
    assert.equal(m.direction, 'outbound');
    assert.equal(m.provider_id, smsProvider);
    assert.equal(m.alt_id, 'call-1');
    assert.deepEqual(m.call, { to: '+15550005555', from: '+15550006666', status: 'answered', duration: 42 });
    assert.equal((await conversationRow(id)).unread_count, 0);
  });

  test('only type Call, only by conversationId: 422 otherwise, nothing stored', async () => {
    const contactId = await contact(t, t.a.locationId);
    const id = await newConversation(asA, t.a.locationId, contactId);
    const before = await totals();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ type: 'SMS', conversationId: id }, /type must be one of the following values: Call/],
      [{ type: 'Call' }, /conversationId is required/],
      [{ type: 'Call', contactId }, /property contactId should not exist/],
      [{ type: 'Call', conversationId: id, message: 'x' }, /property message should not exist/],
      [
        {
          type: 'Call',
          conversationId: id,
          attachments: Array.from({ length: 6 }, (_, i) => `https://x.test/${i}`),
        },
        /attachments must contain no more than 5/,
      ],
    ];
    for (const [body, expected] of cases) {
      expect422(await asA('POST', '/conversations/messages/outbound', body), expected, JSON.stringify(body));
    }
    const bConversation = await newConversation(asB, t.b.locationId, await contact(t, t.b.locationId));
    const beforeB = await totals();
    expectStatus(
      await asA('POST', '/conversations/messages/outbound', { type: 'Call', conversationId: bConversation }),
      404,
      'Conversation not found',
    );
    assert.deepEqual(await totals(), beforeB);
    assert.equal(beforeB.messages, before.messages);
  });
});
