// What happens to a message after it is sent: provider status reports, call attachments, email
// delivery events, canceling a scheduled send; and live chat typing and review replies.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type BusMessage, locationChannel } from '../../src/bus/bus.js';
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
  providerKey,
  type Req,
  smtp,
} from './messaging-fixtures.js';

let t: TestCharla;
let asA: Req;
let asB: Req;
/** A's default SMS provider, and a key that speaks for it. */
let smsProvider: string;
let asSms: Req;
/** Another SMS provider of A, with its own key. */
let asOtherSms: Req;
/** A's Email provider and its key. */
let emailProvider: string;
let asEmail: Req;
/** B's SMS provider and its key. */
let asBSms: Req;

before(async () => {
  t = await startTestCharla();
  asA = client(t.url, lc(t.a.key));
  asB = client(t.url, lc(t.b.key));
  smsProvider = await provider(t, t.a.locationId, 'SMS');
  asSms = client(t.url, lc(await providerKey(t, t.a.locationId, smsProvider)));
  const otherSms = await provider(t, t.a.locationId, 'SMS', false);
  asOtherSms = client(t.url, lc(await providerKey(t, t.a.locationId, otherSms)));
  emailProvider = await provider(t, t.a.locationId, 'Email');
  asEmail = client(t.url, lc(await providerKey(t, t.a.locationId, emailProvider)));
  const bSms = await provider(t, t.b.locationId, 'SMS');
  asBSms = client(t.url, lc(await providerKey(t, t.b.locationId, bSms)));
  await smtp(t, t.a.locationId);
  await smtp(t, t.b.locationId);
});
after(() => t.close());

async function messageRow(id: string) {
  const { rows } = await t.charla.ctx.db.query<any>('SELECT * FROM messages WHERE id = $1', [id]);
  return rows[0];
}

async function sent(req: Req, body: Record<string, unknown>) {
  const res = await req('POST', '/conversations/messages', body);
  expectOk(res);
  return res.body as { conversationId: string; messageId: string; status: string };
}

async function added(req: Req, url: 'inbound' | 'outbound', body: Record<string, unknown>) {
  const res = await req('POST', `/conversations/messages/${url}`, body);
  expectOk(res);
  return res.body as { conversationId: string; messageId: string };
}

async function newConversation(req: Req, locationId: string, contactId: string): Promise<string> {
  const res = await req('POST', '/conversations/', { locationId, contactId });
  expectOk(res, 201);
  return res.body.conversation.id;
}

const FORBIDDEN_STATUS = {
  statusCode: 403,
  message: 'Only the conversation provider that sent this message may update it',
  error: 'Forbidden',
};

describe('PUT /conversations/messages/{messageId}/status', () => {
  test('the provider that carried the message reports delivered, then failed with an error', async () => {
    const contactId = await contact(t, t.a.locationId);
    const m = await sent(asA, { type: 'SMS', contactId, message: 'track me' });
    assert.equal(m.status, 'pending');
    assert.equal((await messageRow(m.messageId)).provider_id, smsProvider);

    const delivered = await asSms('PUT', `/conversations/messages/${m.messageId}/status`, {
      status: 'delivered',
    });
    expectOk(delivered);
    assert.deepEqual(delivered.body, {
      conversationId: m.conversationId,
      messageId: m.messageId,
      status: 'delivered',
    });
    let row = await messageRow(m.messageId);
    assert.equal(row.status, 'delivered');
    assert.equal(row.error, null);

    const error = { code: '30007', type: 'carrier', message: 'Carrier violation' };
    const failed = await asSms('PUT', `/conversations/messages/${m.messageId}/status`, {
      status: 'failed',
      error,
    });
    expectOk(failed);
    assert.equal(failed.body.status, 'failed');
    row = await messageRow(m.messageId);
    assert.equal(row.status, 'failed');
    assert.deepEqual(row.error, error);
    const got = (await asA('GET', `/conversations/messages/${m.messageId}`)).body;
    assert.equal(got.status, 'failed');
    assert.deepEqual(got.error, error);

    const read = await asSms('PUT', `/conversations/messages/${m.messageId}/status`, { status: 'read' });
    expectOk(read);
    assert.equal((await messageRow(m.messageId)).error, null, 'the error goes with the failure');
  });

  test('late reports never move a message back: pending after delivered, delivered after read', async () => {
    const contactId = await contact(t, t.a.locationId);
    const m = await sent(asA, { type: 'SMS', contactId, message: 'out of order' });
    const report = (status: string) =>
      asSms('PUT', `/conversations/messages/${m.messageId}/status`, { status });
    expectOk(await report('delivered'));
    const late = await report('pending');
    expectOk(late);
    assert.equal(late.body.status, 'delivered');
    assert.equal((await messageRow(m.messageId)).status, 'delivered');
    expectOk(await report('read'));
    expectOk(await report('delivered'));
    assert.equal((await messageRow(m.messageId)).status, 'read');
    // A failure is still taken, and a recovery from it.
    expectOk(await report('failed'));
    assert.equal((await messageRow(m.messageId)).status, 'failed');
    expectOk(await report('delivered'));
    assert.equal((await messageRow(m.messageId)).status, 'delivered');
  });

  test('any other key is a 403 and the message is unchanged', async () => {
    const contactId = await contact(t, t.a.locationId);
    const m = await sent(asA, { type: 'SMS', contactId, message: 'mine' });
    // Settle it first, so a delivery attempt cannot change it under the test.
    expectOk(await asSms('PUT', `/conversations/messages/${m.messageId}/status`, { status: 'delivered' }));
    const before = await messageRow(m.messageId);
    for (const [who, req] of [
      ['the location key', asA],
      ['another provider of the location', asOtherSms],
      ['the email provider', asEmail],
      ['an agency key', client(t.url, lc(t.agencyKey))],
    ] as const) {
      const res = await req('PUT', `/conversations/messages/${m.messageId}/status`, { status: 'failed' });
      assert.equal(res.status, 403, `${who}: ${JSON.stringify(res.body)}`);
      assert.deepEqual(res.body, FORBIDDEN_STATUS, who);
    }
    assert.deepEqual(await messageRow(m.messageId), before);
  });

  test('a message no provider carried (live chat, inbound) is a 403 even for a provider key', async () => {
    const contactId = await contact(t, t.a.locationId);
    const live = await sent(asA, { type: 'Live_Chat', contactId, message: 'hi' });
    const inbound = await added(asA, 'inbound', { type: 'SMS', contactId, message: 'in' });
    for (const id of [live.messageId, inbound.messageId]) {
      const before = await messageRow(id);
      const res = await asSms('PUT', `/conversations/messages/${id}/status`, { status: 'read' });
      assert.deepEqual(res.body, FORBIDDEN_STATUS);
      assert.deepEqual(await messageRow(id), before);
    }
  });

  test("someone else's, unknown or malformed message: 404; bad bodies: 422", async () => {
    const contactId = await contact(t, t.a.locationId);
    const m = await sent(asA, { type: 'SMS', contactId, message: 'A only' });
    expectOk(await asSms('PUT', `/conversations/messages/${m.messageId}/status`, { status: 'delivered' }));
    const before = await messageRow(m.messageId);
    for (const req of [asB, asBSms]) {
      const res = await req('PUT', `/conversations/messages/${m.messageId}/status`, { status: 'failed' });
      expectStatus(res, 404, 'Message not found');
    }
    for (const id of [crypto.randomUUID(), 'nope']) {
      expectStatus(await asSms('PUT', `/conversations/messages/${id}/status`, { status: 'read' }), 404);
    }
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ status: 'sent' }, /status must be one of the following values: delivered, failed, pending, read/],
      [{}, /status is required/],
      [{ status: 'failed', error: { code: '1', oops: 1 } }, /property error.oops should not exist/],
      [{ status: 'read', extra: 1 }, /property extra should not exist/],
    ];
    for (const [body, expected] of bad) {
      expect422(await asSms('PUT', `/conversations/messages/${m.messageId}/status`, body), expected);
    }
    assert.deepEqual(await messageRow(m.messageId), before);
  });
});

describe('PUT /conversations/messages/{messageId}/attachments', () => {
  test('replaces a call message’s attachments, up to five', async () => {
    const contactId = await contact(t, t.a.locationId);
    const id = await newConversation(asA, t.a.locationId, contactId);
    const call = await added(asA, 'outbound', {
      type: 'Call',
      conversationId: id,
      call: { status: 'completed', duration: 60 },
    });
    const urls = (n: number) => Array.from({ length: n }, (_, i) => `https://rec.test/${i}.mp3`);
    const res = await asA('PUT', `/conversations/messages/${call.messageId}/attachments`, {
      attachments: urls(2),
    });
    expectOk(res);
    assert.deepEqual(res.body, { success: true, messageId: call.messageId, attachments: urls(2) });
    assert.deepEqual((await messageRow(call.messageId)).attachments, urls(2));
    const five = await asA('PUT', `/conversations/messages/${call.messageId}/attachments`, {
      attachments: urls(5),
    });
    expectOk(five);
    const one = await asA('PUT', `/conversations/messages/${call.messageId}/attachments`, {
      attachments: ['https://rec.test/only.mp3'],
    });
    expectOk(one);
    assert.deepEqual(
      (await messageRow(call.messageId)).attachments,
      ['https://rec.test/only.mp3'],
      'replaced',
    );

    const before = await messageRow(call.messageId);
    expect422(
      await asA('PUT', `/conversations/messages/${call.messageId}/attachments`, { attachments: urls(6) }),
      /attachments must contain no more than 5 elements/,
    );
    expect422(
      await asA('PUT', `/conversations/messages/${call.messageId}/attachments`, {}),
      /attachments is required/,
    );
    expect422(
      await asA('PUT', `/conversations/messages/${call.messageId}/attachments`, { attachments: 'https://x' }),
      /attachments must be array/,
    );
    assert.deepEqual(await messageRow(call.messageId), before);

    const inboundCall = await added(asA, 'inbound', {
      type: 'Call',
      contactId,
      call: { status: 'answered' },
    });
    expectOk(
      await asA('PUT', `/conversations/messages/${inboundCall.messageId}/attachments`, {
        attachments: urls(1),
      }),
    );
  });

  test('a message that is not a call is a 403 and keeps its attachments', async () => {
    const contactId = await contact(t, t.a.locationId);
    const sms = await added(asA, 'inbound', {
      type: 'SMS',
      contactId,
      message: 'pic',
      attachments: ['https://x.test/p.jpg'],
    });
    const live = await sent(asA, { type: 'Live_Chat', contactId, message: 'hi' });
    for (const id of [sms.messageId, live.messageId]) {
      const before = await messageRow(id);
      const res = await asA('PUT', `/conversations/messages/${id}/attachments`, {
        attachments: ['https://x.test/new.mp3'],
      });
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assert.deepEqual(res.body, {
        statusCode: 403,
        message: 'Attachments can only be set on custom-provider or external call messages',
        error: 'Forbidden',
      });
      assert.deepEqual(await messageRow(id), before);
    }
  });

  test('an external call logged without call data still takes attachments', async () => {
    const contactId = await contact(t, t.a.locationId);
    const id = await newConversation(asA, t.a.locationId, contactId);
    const call = await added(asA, 'outbound', { type: 'Call', conversationId: id });
    const res = await asA('PUT', `/conversations/messages/${call.messageId}/attachments`, {
      attachments: ['https://rec.test/a.mp3'],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });

  test("someone else's or unknown message: 404 and nothing changes", async () => {
    const contactId = await contact(t, t.a.locationId);
    const id = await newConversation(asA, t.a.locationId, contactId);
    const call = await added(asA, 'outbound', {
      type: 'Call',
      conversationId: id,
      call: { status: 'completed' },
    });
    const before = await messageRow(call.messageId);
    const res = await asB('PUT', `/conversations/messages/${call.messageId}/attachments`, {
      attachments: ['https://evil.test/x.mp3'],
    });
    expectStatus(res, 404, 'Message not found');
    assert.deepEqual(await messageRow(call.messageId), before);
    for (const mid of [crypto.randomUUID(), 'nope']) {
      expectStatus(
        await asA('PUT', `/conversations/messages/${mid}/attachments`, { attachments: ['https://x.test/a'] }),
        404,
      );
    }
  });
});

describe('PUT /conversations/messages/email/{id}/status', () => {
  /** An email carried by A's Email provider. */
  async function providerEmail() {
    const contactId = await contact(t, t.a.locationId);
    const m = await sent(asA, {
      type: 'Email',
      contactId,
      message: 'Newsletter',
      subject: 'News',
      conversationProviderId: emailProvider,
    });
    assert.equal(m.status, 'pending');
    assert.equal((await messageRow(m.messageId)).provider_id, emailProvider);
    return m.messageId;
  }

  const report = (req: Req, id: string, body: Record<string, unknown>) =>
    req('PUT', `/conversations/messages/email/${id}/status`, body);

  test('counters add up, implied events are inferred and first times are kept', async () => {
    const id = await providerEmail();
    const r1 = await report(asEmail, id, { status: 'delivered', events: { delivered: 1 } });
    expectOk(r1);
    assert.deepEqual(r1.body, { success: true, message: 'Updated email message successfully' });
    let e = (await messageRow(id)).email;
    assert.deepEqual(e.events, { delivered: 1, accepted: 1 }, 'delivered ⇒ accepted');
    assert.ok(!Number.isNaN(Date.parse(e.firstEventAt.delivered)));
    assert.equal((await messageRow(id)).status, 'delivered');
    const firstDelivered = e.firstEventAt.delivered;

    await sleep(5);
    expectOk(await report(asEmail, id, { status: 'clicked', events: { clicked: 2, opened: 0 } }));
    e = (await messageRow(id)).email;
    assert.deepEqual(e.events, { delivered: 1, accepted: 1, clicked: 2, opened: 1 }, 'clicked ⇒ opened');
    assert.equal(e.firstEventAt.delivered, firstDelivered, 'the first delivery time is kept');
    assert.ok(e.firstEventAt.opened && e.firstEventAt.clicked);
    assert.ok(e.firstEventAt.clicked > firstDelivered);
    assert.equal((await messageRow(id)).status, 'clicked');
    const firstClicked = e.firstEventAt.clicked;

    await sleep(5);
    expectOk(
      await report(asEmail, id, { status: 'opened', events: { delivered: 2, clicked: 1, replied: 0 } }),
    );
    e = (await messageRow(id)).email;
    assert.deepEqual(e.events, { delivered: 3, accepted: 1, clicked: 3, opened: 1 }, '0 is a no-op');
    assert.equal(e.firstEventAt.delivered, firstDelivered);
    assert.equal(e.firstEventAt.clicked, firstClicked);
    // What the email had before the reports is kept.
    assert.equal(e.from, 'shop@x.test');
    assert.equal(e.to.length, 1);
  });

  test('each inference on a fresh email', async () => {
    const cases: [Record<string, unknown>, Record<string, number>][] = [
      [{ status: 'opened' }, { opened: 1, delivered: 1, accepted: 1 }],
      [{ status: 'clicked' }, { clicked: 1, opened: 1, delivered: 1, accepted: 1 }],
      [
        { status: 'sent', events: { complained: 1 } },
        { complained: 1, opened: 1, delivered: 1, accepted: 1 },
      ],
      [
        { status: 'sent', events: { unsubscribed: 2 } },
        { unsubscribed: 2, opened: 1, delivered: 1, accepted: 1 },
      ],
      [
        { status: 'failed', events: { permanent_fail: 1 } },
        { permanent_fail: 1, failed: 1, accepted: 1 },
      ],
      [
        { status: 'sent', events: { temporary_fail: 1 } },
        { temporary_fail: 1, accepted: 1 },
      ],
      [{ status: 'sent' }, {}],
      [{ status: 'sent', events: { stored: 0 } }, {}],
    ];
    for (const [body, events] of cases) {
      const id = await providerEmail();
      expectOk(await report(asEmail, id, body));
      assert.deepEqual((await messageRow(id)).email.events, events, JSON.stringify(body));
    }
  });

  test('recipients are upserted per address, case-insensitively', async () => {
    const id = await providerEmail();
    expectOk(
      await report(asEmail, id, {
        status: 'delivered',
        recipients: [
          { emailId: 'Ana@Example.test', status: 'delivered' },
          { emailId: 'bob@example.test', status: 'failed', failReason: 'mailbox full' },
        ],
      }),
    );
    expectOk(
      await report(asEmail, id, {
        status: 'opened',
        recipients: [
          { emailId: 'ana@example.TEST', status: 'opened' },
          { emailId: 'cy@example.test', status: 'delivered' },
        ],
      }),
    );
    const recipients = (await messageRow(id)).email.recipients as { emailId: string; status: string }[];
    assert.equal(recipients.length, 3);
    const byAddress = new Map(recipients.map((r) => [r.emailId.toLowerCase(), r]));
    assert.equal(byAddress.get('ana@example.test')?.status, 'opened');
    assert.equal(byAddress.get('bob@example.test')?.status, 'failed');
    assert.equal((byAddress.get('bob@example.test') as any)?.failReason, 'mailbox full');
    assert.equal(byAddress.get('cy@example.test')?.status, 'delivered');
  });

  test('an email its provider did not send is a 403 and nothing changes', async () => {
    const id = await providerEmail();
    expectOk(await report(asEmail, id, { status: 'delivered' }));
    const before = await messageRow(id);
    for (const req of [asA, asSms, asOtherSms, client(t.url, lc(t.agencyKey))]) {
      const res = await report(req, id, { status: 'opened', events: { opened: 5 } });
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assert.deepEqual(res.body, FORBIDDEN_STATUS);
    }
    assert.deepEqual(await messageRow(id), before);

    // Sent through the location's mail server: no provider may report on it.
    const smtpEmail = await sent(asA, {
      type: 'Email',
      contactId: await contact(t, t.a.locationId),
      message: 'via smtp',
      subject: 's',
      scheduledTimestamp: Math.floor(Date.now() / 1000) + 3600,
    });
    const smtpBefore = await messageRow(smtpEmail.messageId);
    assert.deepEqual(
      (await report(asEmail, smtpEmail.messageId, { status: 'delivered' })).body,
      FORBIDDEN_STATUS,
    );
    assert.deepEqual(await messageRow(smtpEmail.messageId), smtpBefore);
  });

  test("not an email, someone else's, unknown: 404; bad bodies: 422", async () => {
    const id = await providerEmail();
    expectOk(await report(asEmail, id, { status: 'delivered' }));
    const before = await messageRow(id);
    const sms = await added(asA, 'inbound', {
      type: 'SMS',
      contactId: await contact(t, t.a.locationId),
      message: 'x',
    });
    expectStatus(
      await report(asEmail, sms.messageId, { status: 'delivered' }),
      404,
      'Email message not found',
    );
    for (const req of [asB, asBSms]) {
      expectStatus(await report(req, id, { status: 'opened' }), 404, 'Message not found');
    }
    for (const mid of [crypto.randomUUID(), 'nope']) {
      expectStatus(await report(asEmail, mid, { status: 'opened' }), 404);
    }
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ status: 'bounced' }, /status must be one of/],
      [{}, /status is required/],
      [{ status: 'opened', events: { opened: -1 } }, /events.opened must be >= 0/],
      [{ status: 'opened', events: { opened: 1.5 } }, /events.opened must be integer/],
      [{ status: 'opened', recipients: [{ emailId: 'a@example.test' }] }, /recipients.0.status is required/],
      [
        { status: 'opened', recipients: [{ emailId: 'a@example.test', status: 'gone' }] },
        /recipients.0.status must be one of/,
      ],
      [{ status: 'opened', extra: true }, /property extra should not exist/],
    ];
    for (const [body, expected] of bad)
      expect422(await report(asEmail, id, body), expected, JSON.stringify(body));
    assert.deepEqual(await messageRow(id), before);
  });
});

describe('DELETE /conversations/messages/{id}/schedule and /email/{id}/schedule', () => {
  const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;
  const CANCELED = { status: 200, message: 'Scheduled message cancelled successfully' };
  const NOT_CANCELED = { status: 404, message: 'Failed cancel the scheduled message' };

  async function jobOf(messageId: string) {
    const { rows } = await t.charla.ctx.db.query<any>('SELECT status FROM jobs WHERE ref = $1', [messageId]);
    assert.equal(rows.length, 1);
    return rows[0].status as string;
  }

  test('cancels a scheduled message: 200 {status: 200}, the message is gone and its job canceled', async () => {
    const contactId = await contact(t, t.a.locationId);
    const m = await sent(asA, { type: 'SMS', contactId, message: 'later', scheduledTimestamp: inAnHour() });
    assert.equal(m.status, 'scheduled');
    const res = await asA('DELETE', `/conversations/messages/${m.messageId}/schedule`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, CANCELED);
    assert.equal(await messageRow(m.messageId), undefined);
    assert.equal(await jobOf(m.messageId), 'canceled');
    const again = await asA('DELETE', `/conversations/messages/${m.messageId}/schedule`);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, NOT_CANCELED);
    expectStatus(await asA('GET', `/conversations/messages/${m.messageId}`), 404);
  });

  test('a message that is not scheduled, unknown or malformed: 200 {status: 404}, nothing changes', async () => {
    const contactId = await contact(t, t.a.locationId);
    const live = await sent(asA, { type: 'Live_Chat', contactId, message: 'now' });
    const before = await messageRow(live.messageId);
    for (const id of [live.messageId, crypto.randomUUID(), 'nope']) {
      const res = await asA('DELETE', `/conversations/messages/${id}/schedule`);
      assert.equal(res.status, 200, id);
      assert.deepEqual(res.body, NOT_CANCELED, id);
    }
    assert.deepEqual(await messageRow(live.messageId), before);
  });

  test('the email route cancels scheduled emails only', async () => {
    const contactId = await contact(t, t.a.locationId);
    const email = await sent(asA, {
      type: 'Email',
      contactId,
      message: 'later',
      subject: 's',
      scheduledTimestamp: inAnHour(),
    });
    const sms = await sent(asA, { type: 'SMS', contactId, message: 'later', scheduledTimestamp: inAnHour() });
    const refused = await asA('DELETE', `/conversations/messages/email/${sms.messageId}/schedule`);
    assert.equal(refused.status, 200);
    assert.deepEqual(refused.body, NOT_CANCELED);
    assert.equal((await messageRow(sms.messageId)).status, 'scheduled');
    assert.equal(await jobOf(sms.messageId), 'queued');

    const res = await asA('DELETE', `/conversations/messages/email/${email.messageId}/schedule`);
    assert.deepEqual(res.body, CANCELED);
    assert.equal(await messageRow(email.messageId), undefined);
    assert.equal(await jobOf(email.messageId), 'canceled');
    // The general route cancels emails too.
    const email2 = await sent(asA, {
      type: 'Email',
      contactId,
      message: 'later 2',
      subject: 's',
      scheduledTimestamp: inAnHour(),
    });
    assert.deepEqual(
      (await asA('DELETE', `/conversations/messages/${email2.messageId}/schedule`)).body,
      CANCELED,
    );
    assert.deepEqual(
      (await asA('DELETE', `/conversations/messages/${sms.messageId}/schedule`)).body,
      CANCELED,
    );
  });

  test("someone else's scheduled message: 200 {status: 404}, and it stays scheduled", async () => {
    const bContact = await contact(t, t.b.locationId);
    await provider(t, t.b.locationId, 'Custom');
    const m = await sent(asB, {
      type: 'Custom',
      contactId: bContact,
      message: 'B later',
      scheduledTimestamp: inAnHour(),
    });
    const email = await sent(asB, {
      type: 'Email',
      contactId: bContact,
      message: 'B later',
      subject: 's',
      scheduledTimestamp: inAnHour(),
    });
    for (const id of [m.messageId, email.messageId]) {
      const before = await messageRow(id);
      for (const url of [
        `/conversations/messages/${id}/schedule`,
        `/conversations/messages/email/${id}/schedule`,
      ]) {
        const res = await asA('DELETE', url);
        assert.equal(res.status, 200);
        assert.deepEqual(res.body, NOT_CANCELED);
      }
      assert.deepEqual(await messageRow(id), before);
      assert.equal(await jobOf(id), 'queued');
    }
  });

  test('after a cancel the conversation no longer shows the canceled message as its last', async () => {
    const contactId = await contact(t, t.a.locationId);
    const first = await sent(asA, { type: 'Live_Chat', contactId, message: 'delivered one' });
    const later = await sent(asA, {
      type: 'Live_Chat',
      contactId,
      message: 'canceled one',
      scheduledTimestamp: inAnHour(),
    });
    assert.deepEqual(
      (await asA('DELETE', `/conversations/messages/${later.messageId}/schedule`)).body,
      CANCELED,
    );
    const c = (await asA('GET', `/conversations/${first.conversationId}`)).body;
    assert.equal(c.lastMessageBody, 'delivered one');
    const { rows } = await t.charla.ctx.db.query<any>(
      'SELECT last_message_id FROM conversations WHERE id = $1',
      [first.conversationId],
    );
    assert.equal(rows[0].last_message_id, first.messageId);
  });
});

describe('POST /conversations/providers/live-chat/typing', () => {
  /** Subscribes to a location's events; resolves once the subscription carries events. */
  async function listen(locationId: string) {
    const events: BusMessage[] = [];
    const unsubscribe = t.charla.ctx.bus.subscribe(locationChannel(locationId), (m) => events.push(m));
    // With Redis the subscription is asynchronous: wait until a probe comes through.
    for (let i = 0; ; i++) {
      await t.charla.ctx.bus.publish(locationChannel(locationId), {
        id: null,
        topic: 'test.probe',
        locationId,
        payload: {},
        at: new Date().toISOString(),
      });
      await sleep(20);
      if (events.some((e) => e.topic === 'test.probe')) break;
      assert.ok(i < 100, 'the bus subscription never became ready');
    }
    const typing = () => events.filter((e) => e.topic === 'typing');
    return { typing, unsubscribe };
  }

  async function waitForTyping(get: () => BusMessage[], n: number) {
    for (let i = 0; i < 200 && get().length < n; i++) await sleep(10);
    return get();
  }

  test('201 {success: true}, and a typing event reaches the location’s subscribers', async () => {
    const contactId = await contact(t, t.a.locationId);
    const live = await sent(asA, { type: 'Live_Chat', contactId, message: 'hi' });
    const bus = await listen(t.a.locationId);
    try {
      const values: [string | boolean, boolean][] = [
        ['true', true],
        ['false', false],
        [true, true],
        [false, false],
      ];
      for (const [i, [isTyping, expected]] of values.entries()) {
        const res = await asA('POST', '/conversations/providers/live-chat/typing', {
          locationId: t.a.locationId,
          isTyping,
          visitorId: 'visitor-1',
          conversationId: live.conversationId,
        });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        assert.deepEqual(res.body, { success: true });
        const events = await waitForTyping(bus.typing, i + 1);
        assert.equal(events.length, i + 1);
        const e = events[i]!;
        assert.equal(e.id, null);
        assert.equal(e.locationId, t.a.locationId);
        assert.deepEqual(e.payload, {
          conversationId: live.conversationId,
          visitorId: 'visitor-1',
          isTyping: expected,
          from: 'agent',
        });
      }
      assert.equal(await count(t, "outbox WHERE topic = 'typing'"), 0, 'typing is never stored');
    } finally {
      bus.unsubscribe();
    }
  });

  test('a conversation that is not live chat is a 400 and nothing is published', async () => {
    const contactId = await contact(t, t.a.locationId);
    const id = await newConversation(asA, t.a.locationId, contactId);
    const bus = await listen(t.a.locationId);
    try {
      const res = await asA('POST', '/conversations/providers/live-chat/typing', {
        locationId: t.a.locationId,
        isTyping: 'true',
        visitorId: 'v',
        conversationId: id,
      });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, {
        statusCode: 400,
        message: 'Typing applies to live chat conversations only',
        error: 'Bad Request',
      });
      await sleep(100);
      assert.deepEqual(bus.typing(), []);
    } finally {
      bus.unsubscribe();
    }
  });

  test('bad bodies are 422s; other locations 403/404; the scope is conversations/livechat.write', async () => {
    const contactId = await contact(t, t.a.locationId);
    const live = await sent(asA, { type: 'Live_Chat', contactId, message: 'hi' });
    const body = {
      locationId: t.a.locationId,
      isTyping: 'true',
      visitorId: 'v',
      conversationId: live.conversationId,
    };
    const url = '/conversations/providers/live-chat/typing';
    expect422(await asA('POST', url, { ...body, isTyping: 'yes' }), /isTyping/);
    expect422(await asA('POST', url, { ...body, isTyping: 1 }), /isTyping/);
    const { visitorId: _, ...noVisitor } = body;
    expect422(await asA('POST', url, noVisitor), /visitorId is required/);
    expect422(await asA('POST', url, { ...body, extra: 1 }), /property extra should not exist/);

    const forbidden = await asB('POST', url, body);
    assert.equal(forbidden.status, 403);
    expectStatus(
      await asB('POST', url, { ...body, locationId: t.b.locationId }),
      404,
      'Conversation not found',
    );
    expectStatus(await asA('POST', url, { ...body, conversationId: crypto.randomUUID() }), 404);

    const typist = client(t.url, lc(await t.key(['conversations/livechat.write'], [t.a.locationId])));
    assert.equal((await typist('POST', url, body)).status, 201);
    const writer = client(t.url, lc(await t.key(['conversations/message.write'], [t.a.locationId])));
    const denied = await writer('POST', url, body);
    assert.equal(denied.status, 401);
    assert.equal(denied.body.message, 'The token is not authorized for this scope.');
  });
});

describe('POST /conversations/messages/review-reply', () => {
  test('needs a review conversation and a Review provider (400 otherwise, nothing stored); then pending', async () => {
    const L = await freshLocation(t);
    const contactId = await contact(t, L.locationId);
    const review = await added(L.req, 'inbound', {
      type: 'GMB',
      contactId,
      message: '★★☆☆☆ slow service',
      reviewId: 'google-review-9',
    });
    const before = await count(t, 'messages WHERE location_id = $1', [L.locationId]);
    const body = {
      locationId: L.locationId,
      conversationId: review.conversationId,
      message: 'Sorry about that',
    };
    const noProvider = await L.req('POST', '/conversations/messages/review-reply', body);
    assert.equal(noProvider.status, 400);
    assert.deepEqual(noProvider.body, {
      statusCode: 400,
      message: 'No conversation provider is registered for reviews in this location.',
      error: 'Bad Request',
    });
    const plain = await newConversation(L.req, L.locationId, await contact(t, L.locationId));
    const notReview = await L.req('POST', '/conversations/messages/review-reply', {
      ...body,
      conversationId: plain,
    });
    assert.equal(notReview.status, 400);
    assert.equal(notReview.body.message, 'This conversation is not about a review: it has no reviewId');
    assert.equal(await count(t, 'messages WHERE location_id = $1', [L.locationId]), before);

    const reviewProvider = await provider(t, L.locationId, 'Review');
    const res = await L.req('POST', '/conversations/messages/review-reply', body);
    expectOk(res);
    assert.deepEqual(res.body, {
      conversationId: review.conversationId,
      messageId: res.body.messageId,
      status: 'pending',
    });
    const m = await messageRow(res.body.messageId);
    assert.equal(m.type, 'TYPE_REVIEW');
    assert.equal(m.direction, 'outbound');
    assert.equal(m.body, 'Sorry about that');
    assert.equal(m.provider_id, reviewProvider);
    assert.deepEqual(m.meta, { reviewId: 'google-review-9' });
    assert.equal(
      await count(t, "jobs WHERE ref = $1 AND kind = 'message.dispatch'", [res.body.messageId]),
      1,
    );
  });

  test("bad bodies: 422; someone else's: 403 by location, 404 by conversation", async () => {
    const contactId = await contact(t, t.a.locationId);
    await provider(t, t.a.locationId, 'Review');
    const review = await added(asA, 'inbound', { type: 'GMB', contactId, message: 'ok', reviewId: 'r-1' });
    const body = { locationId: t.a.locationId, conversationId: review.conversationId, message: 'Thanks!' };
    const url = '/conversations/messages/review-reply';
    const before = await count(t, 'messages');
    expect422(await asA('POST', url, { ...body, message: '' }), /message must be longer than or equal to 1/);
    expect422(
      await asA('POST', url, { locationId: t.a.locationId, message: 'x' }),
      /conversationId is required/,
    );
    expect422(await asA('POST', url, { ...body, stars: 5 }), /property stars should not exist/);
    assert.equal((await asB('POST', url, body)).status, 403);
    expectStatus(
      await asB('POST', url, { ...body, locationId: t.b.locationId }),
      404,
      'Conversation not found',
    );
    expectStatus(await asA('POST', url, { ...body, conversationId: crypto.randomUUID() }), 404);
    assert.equal(await count(t, 'messages'), before);
  });
});
