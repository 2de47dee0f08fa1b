// The official LeadConnector SDK, unchanged, driving the Conversations API of a running Charla
// end to end: contacts, conversations, sending on every carrier (live chat, the location's SMTP
// server, a conversation provider's HTTP endpoint), reading, searching, exporting, status
// reports and scheduled sends.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  GHLError,
  GHLForbiddenError,
  GHLNotFoundError,
  GHLValidationError,
  HighLevel,
} from '@gohighlevel/api-client';
import { verifyDelivery } from '../../src/jobs/provider-delivery.js';
import { startProviderServer, startSmtp, waitFor } from '../jobs/fixtures.js';
import { startTestCharla, type TestCharla } from '../support/charla.js';
import { client } from '../support/http.js';

type Conversations = HighLevel['conversations'];
type SendBody = Parameters<Conversations['sendANewMessage']>[0];
type MessagesPage = Awaited<ReturnType<Conversations['getMessages']>>;
type SdkMessage = MessagesPage['messages'][number];

const PUBLIC_HOST = 'chat.example.test';
const suffix = randomBytes(4).toString('hex');
const contactEmail = `pat.${suffix}@example.org`;

let t: TestCharla;
let smtp: Awaited<ReturnType<typeof startSmtp>>;
let providerServer: Awaited<ReturnType<typeof startProviderServer>>;
/** A's default Custom provider, and another Custom provider of A. */
let custom: { id: string; secret: string; key: string };
let otherCustom: { id: string; secret: string; key: string };
let asA: HighLevel;
let asProvider: HighLevel;
let asOtherProvider: HighLevel;

const db = () => t.charla.ctx.db;

function sdk(key: string): HighLevel {
  const ghl = new HighLevel({ privateIntegrationToken: key, logLevel: 'none' });
  ghl.getHttpClient().defaults.baseURL = t.url;
  return ghl;
}

/** The error a promise rejects with (fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<GHLError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof GHLError, `expected a GHLError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

/** SendMessageBodyDto declares subType and status required; Charla ignores both. */
function send(ghl: HighLevel, body: Omit<SendBody, 'subType' | 'status'>) {
  return ghl.conversations.sendANewMessage({ subType: undefined, status: 'pending', ...body });
}

/** One page of getMessages. Charla, like the live API, nests it under `messages`; the SDK's type is flat. */
async function messagesPage(
  ghl: HighLevel,
  params: Parameters<Conversations['getMessages']>[0],
): Promise<MessagesPage> {
  const res = (await ghl.conversations.getMessages(params)) as unknown as { messages: MessagesPage };
  assert.ok(res.messages && Array.isArray(res.messages.messages), JSON.stringify(res));
  return res.messages;
}

async function messageRow(id: string) {
  const { rows } = await db().query<any>('SELECT * FROM messages WHERE id = $1', [id]);
  return rows[0];
}

async function jobsOf(messageId: string) {
  const { rows } = await db().query<{ id: string; status: string; attempts: number }>(
    'SELECT id, status, attempts FROM jobs WHERE ref = $1 ORDER BY id',
    [messageId],
  );
  return rows;
}

/** Waits until the message's dispatch job is done. */
function dispatched(messageId: string) {
  return waitFor(`the dispatch job of ${messageId}`, async () => {
    const jobs = await jobsOf(messageId);
    assert.equal(jobs.length, 1);
    assert.notEqual(jobs[0]!.status, 'failed');
    return jobs[0]!.status === 'done' ? jobs[0] : undefined;
  });
}

const deliveriesOf = (messageId: string) =>
  providerServer.deliveries.filter((d) => d.body?.messageId === messageId);
const mailFor = (messageId: string) =>
  smtp.received.filter((r) => r.mail.messageId === `<${messageId}@${PUBLIC_HOST}>`);

/** Every conversation, message and job of a location: what a refused call must leave alone. */
async function locationState(locationId: string) {
  const q = (sql: string) =>
    db()
      .query(sql, [locationId])
      .then((r) => r.rows);
  return {
    contacts: await q('SELECT * FROM contacts WHERE location_id = $1 ORDER BY id'),
    conversations: await q('SELECT * FROM conversations WHERE location_id = $1 ORDER BY id'),
    messages: await q('SELECT * FROM messages WHERE location_id = $1 ORDER BY id'),
    jobs: await q('SELECT id, ref, status, run_at FROM jobs WHERE location_id = $1 ORDER BY id'),
  };
}

before(async () => {
  t = await startTestCharla({ PUBLIC_URL: `https://${PUBLIC_HOST}` });
  smtp = await startSmtp();
  providerServer = await startProviderServer();
  const admin = client(t.url, { authorization: `Bearer ${t.agencyKey}` });
  const put = await admin('PUT', `/admin/v1/locations/${t.a.locationId}/smtp`, {
    host: '127.0.0.1',
    port: smtp.port,
    secure: false,
    fromAddress: 'Acme Support <support@acme.example>',
  });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const register = async (name: string, isDefault: boolean) => {
    const res = await admin('POST', `/admin/v1/locations/${t.a.locationId}/providers`, {
      name,
      type: 'Custom',
      deliveryUrl: providerServer.url,
      allowPrivate: true,
      isDefault,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return {
      id: res.body.provider.id as string,
      secret: res.body.signingSecret as string,
      key: res.body.key,
    };
  };
  custom = await register('Local custom channel', true);
  otherCustom = await register('Another custom channel', false);
  asA = sdk(t.a.key);
  asProvider = sdk(custom.key);
  asOtherProvider = sdk(otherCustom.key);
});
after(async () => {
  await t?.close();
  await smtp?.close();
  await providerServer?.close();
});

describe('the official SDK drives the Conversations API of a running Charla', () => {
  let contactId: string;
  /** The conversation createConversation opened (the contact's default channel). */
  let conversationId: string;
  let liveConversationId: string;
  let liveId: string;
  const liveWord = `quokka${suffix}`;
  let email1: string;
  let email2: string;
  const customIds: string[] = [];

  test('contacts.upsertContact creates the contact, then matches it by email and updates it', async () => {
    const created = await asA.contacts.upsertContact({
      locationId: t.a.locationId,
      firstName: 'Pat',
      lastName: 'Quill',
      email: contactEmail,
      phone: '+1 555 010 2030',
      source: 'sdk',
    });
    assert.equal(created.new, true);
    const id = created.contact?.id;
    assert.ok(id);
    assert.equal(created.contact?.email, contactEmail);

    const again = await asA.contacts.upsertContact({
      locationId: t.a.locationId,
      firstName: 'Patricia',
      email: contactEmail,
    });
    assert.equal(again.new, false, 'matched by email');
    assert.equal(again.contact?.id, id);
    assert.equal(again.contact?.firstName, 'Patricia');

    const { rows } = await db().query<any>(
      'SELECT * FROM contacts WHERE location_id = $1 AND lower(email) = $2',
      [t.a.locationId, contactEmail],
    );
    assert.equal(rows.length, 1, 'one contact, not two');
    assert.equal(rows[0].id, id);
    assert.equal(rows[0].first_name, 'Patricia');
    assert.equal(rows[0].last_name, 'Quill', 'what the second upsert left out is kept');
    assert.equal(rows[0].phone, '+15550102030');
    contactId = id;
  });

  test('conversations.createConversation opens one conversation; a second create is refused', async () => {
    const res = await asA.conversations.createConversation({ locationId: t.a.locationId, contactId });
    assert.equal(res.success, true);
    conversationId = res.conversation.id;
    assert.equal(res.conversation.contactId, contactId);
    assert.equal(res.conversation.locationId, t.a.locationId);
    assert.equal(res.conversation.deleted, false);

    const { rows } = await db().query<any>(
      'SELECT * FROM conversations WHERE location_id = $1 AND contact_id = $2',
      [t.a.locationId, contactId],
    );
    assert.deepEqual(
      rows.map((r) => [r.id, r.channel, r.status]),
      [[conversationId, 'default', 'open']],
    );

    const twice = await rejection(
      asA.conversations.createConversation({ locationId: t.a.locationId, contactId }),
    );
    assert.ok(twice instanceof GHLValidationError, twice.constructor.name);
    assert.equal(twice.statusCode, 400);
    assert.equal(twice.message, 'Conversation already exists');
    assert.equal(twice.response.conversationId, conversationId);

    const got = await asA.conversations.getConversation({ conversationId });
    assert.equal(got.id, conversationId);
    assert.equal(got.contactId, contactId);
    assert.equal(got.deleted, false);
  });

  test('sendANewMessage Live_Chat: sent at once, in the contact’s live chat conversation, nothing to dispatch', async () => {
    const res = await send(asA, { type: 'Live_Chat', contactId, message: `Hello from the ${liveWord} team` });
    assert.equal(res.status, 'sent');
    assert.match(res.messageId, /^[0-9a-f-]{36}$/);
    assert.notEqual(res.conversationId, conversationId, 'live chat has a conversation of its own');
    liveId = res.messageId;
    liveConversationId = res.conversationId;

    const row = await messageRow(liveId);
    assert.equal(row.type, 'TYPE_LIVE_CHAT');
    assert.equal(row.direction, 'outbound');
    assert.equal(row.status, 'sent');
    assert.equal(row.conversation_id, liveConversationId);
    assert.equal(row.contact_id, contactId);
    assert.equal(row.provider_id, null);
    const { rows } = await db().query<any>('SELECT channel, contact_id FROM conversations WHERE id = $1', [
      liveConversationId,
    ]);
    assert.deepEqual(rows[0], { channel: 'live_chat', contact_id: contactId });
    assert.deepEqual(await jobsOf(liveId), []);

    const got = await asA.conversations.getMessage({ id: liveId });
    assert.equal(got.messageType, 'TYPE_LIVE_CHAT');
    assert.equal(got.type, 29);
    assert.equal(got.body, `Hello from the ${liveWord} team`);
  });

  test('sendANewMessage Email: the SMTP server receives it; a reply carries In-Reply-To and References', async () => {
    const first = await send(asA, {
      type: 'Email',
      contactId,
      subject: 'Your table for Friday',
      message: 'See you at 8.',
      html: '<p>See you at <b>8</b>.</p>',
    });
    assert.equal(first.status, 'pending');
    assert.equal(first.conversationId, conversationId, 'email goes to the conversation that was created');
    assert.equal(first.emailMessageId, first.messageId);
    email1 = first.messageId;

    await dispatched(email1);
    const [got] = mailFor(email1);
    assert.ok(got, 'the SMTP server received the first email');
    assert.equal(mailFor(email1).length, 1);
    assert.deepEqual(got.envelope, { from: 'support@acme.example', to: [contactEmail] });
    assert.equal(got.mail.from?.text, '"Acme Support" <support@acme.example>');
    assert.equal((got.mail.to as { text: string }).text, contactEmail);
    assert.equal(got.mail.subject, 'Your table for Friday');
    assert.equal(got.mail.text?.trim(), 'See you at 8.');
    assert.match(String(got.mail.html), /<p>See you at <b>8<\/b>\.<\/p>/);
    assert.equal(got.mail.inReplyTo, undefined);
    assert.equal(got.mail.references, undefined);
    const firstRow = await messageRow(email1);
    assert.equal(firstRow.status, 'sent');
    assert.equal(firstRow.email.messageIdHeader, `<${email1}@${PUBLIC_HOST}>`);

    const reply = await send(asA, {
      type: 'Email',
      contactId,
      subject: 'Re: Your table for Friday',
      message: 'Moved to 9.',
      replyMessageId: email1,
    });
    assert.equal(reply.conversationId, conversationId);
    email2 = reply.messageId;
    await dispatched(email2);
    const [threaded] = mailFor(email2);
    assert.ok(threaded, 'the SMTP server received the reply');
    assert.equal(threaded.mail.subject, 'Re: Your table for Friday');
    assert.equal(threaded.mail.text?.trim(), 'Moved to 9.');
    assert.equal(threaded.mail.inReplyTo, `<${email1}@${PUBLIC_HOST}>`);
    assert.deepEqual(([] as string[]).concat(threaded.mail.references ?? []), [`<${email1}@${PUBLIC_HOST}>`]);
    const replyRow = await messageRow(email2);
    assert.equal(replyRow.status, 'sent');
    assert.equal(replyRow.reply_to_id, email1);
    assert.equal(replyRow.email.threadId, email1);
  });

  test('sendANewMessage Custom: the provider’s server receives a delivery signed with its secret', async () => {
    const bodies = ['Your order is ready', 'Pick it up at the front', 'Thanks again'];
    for (const [i, message] of bodies.entries()) {
      const res = await send(asA, {
        type: 'Custom',
        contactId,
        message,
        ...(i === 0 ? { attachments: ['https://files.example/receipt.pdf'] } : {}),
      });
      assert.equal(res.status, 'pending');
      assert.equal(res.conversationId, conversationId);
      customIds.push(res.messageId);
    }
    for (const [i, id] of customIds.entries()) {
      const job = await dispatched(id);
      const ds = deliveriesOf(id);
      assert.equal(ds.length, 1, `one delivery of ${id}`);
      const d = ds[0]!;
      assert.equal(d.method, 'POST');
      assert.equal(d.headers['x-charla-delivery'], String(job.id));
      const signature = String(d.headers['x-charla-signature']);
      assert.match(signature, /^t=\d+,v1=[0-9a-f]{64}$/);
      assert.ok(verifyDelivery(signature, d.raw, custom.secret), 'signed with the provider’s secret');
      assert.ok(!verifyDelivery(signature, d.raw, otherCustom.secret), 'not with another provider’s');
      assert.ok(!verifyDelivery(signature, d.raw.replace(bodies[i]!, 'tampered'), custom.secret));
      assert.deepEqual(d.body, {
        contactId,
        locationId: t.a.locationId,
        messageId: id,
        type: 'Custom',
        phone: '+15550102030',
        message: bodies[i],
        attachments: i === 0 ? ['https://files.example/receipt.pdf'] : [],
        userId: null,
        conversationId,
        conversationProviderId: custom.id,
      });
      const row = await messageRow(id);
      assert.equal(row.type, 'TYPE_CUSTOM_SMS');
      assert.equal(row.provider_id, custom.id);
      assert.equal(row.status, 'pending', 'the provider reports the outcome');
      assert.ok(!Number.isNaN(Date.parse(row.meta.deliveredToProviderAt)));
    }
  });

  test('getMessages pages newest first by lastMessageId and limit until exhausted, each message once', async () => {
    const expected = [...customIds].reverse().concat([email2, email1]);
    const { rows } = await db().query<{ id: string }>(
      'SELECT id FROM messages WHERE conversation_id = $1 ORDER BY seq DESC',
      [conversationId],
    );
    assert.deepEqual(
      rows.map((r) => r.id),
      expected,
    );

    const seen: SdkMessage[] = [];
    const pages: number[] = [];
    let lastMessageId: string | undefined;
    for (let n = 0; ; n++) {
      assert.ok(n < 10, 'paging never ends');
      const page = await messagesPage(asA, {
        conversationId,
        limit: 2,
        ...(lastMessageId ? { lastMessageId } : {}),
      });
      pages.push(page.messages.length);
      seen.push(...page.messages);
      if (page.messages.length) assert.equal(page.lastMessageId, page.messages.at(-1)!.id);
      if (!page.nextPage) break;
      lastMessageId = page.lastMessageId;
    }
    assert.deepEqual(pages, [2, 2, 1]);
    assert.deepEqual(
      seen.map((m) => m.id),
      expected,
      'every message once, newest first',
    );
    for (const m of seen) {
      assert.equal(m.conversationId, conversationId);
      assert.equal(m.contactId, contactId);
      assert.equal(m.locationId, t.a.locationId);
      assert.equal(m.direction, 'outbound');
    }
    assert.deepEqual(
      seen.map((m) => m.messageType),
      ['TYPE_CUSTOM_SMS', 'TYPE_CUSTOM_SMS', 'TYPE_CUSTOM_SMS', 'TYPE_EMAIL', 'TYPE_EMAIL'],
    );
    assert.equal(seen[2]!.conversationProviderId, custom.id);
    assert.deepEqual(seen[2]!.attachments, ['https://files.example/receipt.pdf']);
    assert.equal(seen[4]!.body, 'See you at 8.');

    const emails = await messagesPage(asA, { conversationId, type: 'TYPE_EMAIL' });
    assert.deepEqual(
      emails.messages.map((m) => m.id),
      [email2, email1],
    );
    assert.equal(emails.nextPage, false);

    const live = await messagesPage(asA, { conversationId: liveConversationId, limit: 100 });
    assert.deepEqual(
      live.messages.map((m) => m.id),
      [liveId],
    );
    assert.equal(live.nextPage, false);

    const stranger = await rejection(messagesPage(asA, { conversationId, lastMessageId: liveId }));
    assert.equal(stranger.statusCode, 422, 'a lastMessageId from another conversation is refused');
  });

  test('searchConversation filters by contactId, query, lastMessageType and lastMessageDirection', async () => {
    const search = (params: Omit<Parameters<Conversations['searchConversation']>[0], 'locationId'>) =>
      asA.conversations.searchConversation({ locationId: t.a.locationId, ...params });
    const ids = (r: Awaited<ReturnType<typeof search>>) => r.conversations.map((c) => c.id).sort();
    const both = [conversationId, liveConversationId].sort();

    const byContact = await search({ contactId });
    assert.equal(byContact.total, 2);
    assert.deepEqual(ids(byContact), both);

    const endsOnCustom = await search({ contactId, lastMessageType: 'TYPE_CUSTOM_SMS' });
    assert.equal(endsOnCustom.total, 1);
    const [hit] = endsOnCustom.conversations;
    assert.equal(hit?.id, conversationId);
    assert.equal(hit?.contactId, contactId);
    assert.equal(hit?.locationId, t.a.locationId);
    assert.equal(hit?.lastMessageType, 'TYPE_CUSTOM_SMS');
    assert.equal(hit?.lastMessageBody, 'Thanks again');
    assert.equal(hit?.fullName, 'Patricia Quill');
    assert.equal(hit?.email, contactEmail);
    assert.equal(hit?.phone, '+15550102030');

    const live = await search({ lastMessageType: 'TYPE_LIVE_CHAT' });
    assert.deepEqual(ids(live), [liveConversationId]);
    assert.equal(
      (await search({ lastMessageType: 'TYPE_EMAIL' })).total,
      0,
      'no conversation ends on an email',
    );

    const byBody = await search({ query: liveWord });
    assert.deepEqual(ids(byBody), [liveConversationId], 'a word only the live chat message has');
    const byEmail = await search({ query: `pat.${suffix}` });
    assert.deepEqual(ids(byEmail), both, 'the contact’s email matches all their conversations');
    const byName = await search({ query: 'patricia quill' });
    assert.deepEqual(ids(byName), both);
    const none = await search({ query: `nothing-${suffix}` });
    assert.equal(none.total, 0);
    assert.deepEqual(none.conversations, []);

    assert.deepEqual(ids(await search({ contactId, lastMessageDirection: 'outbound' })), both);
    assert.equal((await search({ contactId, lastMessageDirection: 'inbound' })).total, 0);

    const first = await search({ contactId, limit: 1 });
    assert.equal(first.total, 2);
    assert.equal(first.conversations.length, 1);
  });

  test('updateMessageStatus: only the provider that carried the message may report on it', async () => {
    const id = customIds[0]!;
    const before = await messageRow(id);
    const refused = [
      ['another provider of the location', asOtherProvider],
      ['the location key', asA],
    ] as const;
    for (const [who, ghl] of refused) {
      const err = await rejection(
        ghl.conversations.updateMessageStatus({ messageId: id }, { status: 'delivered' }),
      );
      assert.ok(err instanceof GHLForbiddenError, `${who}: ${err.constructor.name}`);
      assert.equal(err.statusCode, 403, who);
      assert.equal(err.message, 'Only the conversation provider that sent this message may update it', who);
    }
    assert.deepEqual(await messageRow(id), before, 'refused reports change nothing');

    const notCarried = await rejection(
      asProvider.conversations.updateMessageStatus({ messageId: email1 }, { status: 'read' }),
    );
    assert.equal(notCarried.statusCode, 403, 'an email sent over SMTP has no provider to report on it');
    assert.equal((await messageRow(email1)).status, 'sent');

    const delivered = await asProvider.conversations.updateMessageStatus(
      { messageId: id },
      { status: 'delivered' },
    );
    assert.deepEqual(delivered, { conversationId, messageId: id, status: 'delivered' });
    assert.equal((await messageRow(id)).status, 'delivered');
    assert.equal((await asA.conversations.getMessage({ id })).status, 'delivered');

    const error = { code: '30007', type: 'carrier', message: 'Carrier violation' };
    const failed = await asProvider.conversations.updateMessageStatus(
      { messageId: customIds[1]! },
      { status: 'failed', error },
    );
    assert.equal(failed.status, 'failed');
    const row = await messageRow(customIds[1]!);
    assert.equal(row.status, 'failed');
    assert.deepEqual(row.error, error);
    assert.equal((await messageRow(customIds[2]!)).status, 'pending', 'other messages are left alone');
  });

  test('exportMessagesByLocation pages with nextCursor: every non-email message once, in order', async () => {
    // More than one page: the smallest page is 10.
    for (let i = 0; i < 9; i++) {
      const res = await send(asA, { type: 'Live_Chat', contactId, message: `follow-up ${i}` });
      assert.equal(res.conversationId, liveConversationId);
    }
    const { rows } = await db().query<{ id: string }>(
      `SELECT id FROM messages WHERE location_id = $1 AND type <> 'TYPE_EMAIL'
       ORDER BY date_trunc('milliseconds', created_at), id`,
      [t.a.locationId],
    );
    const expected = rows.map((r) => r.id);
    assert.equal(expected.length, 13);

    const exportAll = async (
      params: Omit<Parameters<Conversations['exportMessagesByLocation']>[0], 'locationId'>,
    ) => {
      const seen: string[] = [];
      const sizes: number[] = [];
      let cursor: string | undefined;
      for (let n = 0; ; n++) {
        assert.ok(n < 10, 'paging never ends');
        const page = await asA.conversations.exportMessagesByLocation({
          locationId: t.a.locationId,
          ...params,
          ...(cursor ? { cursor } : {}),
        });
        sizes.push(page.messages.length);
        seen.push(...page.messages.map((m) => m.id));
        for (const m of page.messages) assert.equal(m.locationId, t.a.locationId);
        if (!page.nextCursor) return { seen, sizes, total: page.total };
        cursor = page.nextCursor;
      }
    };

    const asc = await exportAll({ limit: 10, sortOrder: 'asc' });
    assert.deepEqual(asc.sizes, [10, 3]);
    assert.equal(asc.total, 13);
    assert.deepEqual(asc.seen, expected, 'each message once, oldest first');

    const desc = await exportAll({ limit: 10, sortOrder: 'desc' });
    assert.deepEqual(desc.seen, [...expected].reverse());

    const emails = await exportAll({ channel: 'Email', limit: 10 });
    assert.deepEqual(emails.seen.sort(), [email1, email2].sort());
    assert.equal(emails.total, 2);
    const sms = await exportAll({ channel: 'SMS', limit: 10, sortOrder: 'asc' });
    assert.deepEqual(sms.seen, customIds, 'custom messages are SMS-like');
    const ofConversation = await exportAll({ conversationId, limit: 10, sortOrder: 'asc' });
    assert.deepEqual(ofConversation.seen, customIds);
  });

  test('a scheduled message canceled with cancelScheduledMessage is never delivered; its job is canceled', async () => {
    // Both due in two seconds; the control proves the scheduler reached that time.
    const at = Date.now() / 1000 + 2;
    const canceled = await send(asA, {
      type: 'Custom',
      contactId,
      message: 'never goes out',
      scheduledTimestamp: at,
    });
    const canceledEmail = await send(asA, {
      type: 'Email',
      contactId,
      subject: 'Never sent',
      message: 'never goes out',
      scheduledTimestamp: at,
    });
    const control = await send(asA, {
      type: 'Custom',
      contactId,
      message: 'goes out on time',
      scheduledTimestamp: at,
    });
    for (const m of [canceled, canceledEmail, control]) {
      assert.equal(m.status, 'scheduled');
      assert.equal(m.msg, 'Message scheduled successfully.');
      assert.equal((await messageRow(m.messageId)).status, 'scheduled');
      assert.deepEqual(
        (await jobsOf(m.messageId)).map((j) => j.status),
        ['queued'],
      );
    }

    for (const m of [canceled, canceledEmail]) {
      const res = await asA.conversations.cancelScheduledMessage({ messageId: m.messageId });
      assert.deepEqual(res, { status: 200, message: 'Scheduled message cancelled successfully' });
      assert.equal(await messageRow(m.messageId), undefined, 'the message is removed');
      assert.deepEqual(
        (await jobsOf(m.messageId)).map((j) => [j.status, j.attempts]),
        [['canceled', 0]],
      );
    }

    await dispatched(control.messageId);
    assert.equal(deliveriesOf(control.messageId).length, 1, 'the control was delivered when due');
    await sleep(300);
    assert.deepEqual(deliveriesOf(canceled.messageId), [], 'the canceled message never reached the provider');
    assert.deepEqual(
      mailFor(canceledEmail.messageId),
      [],
      'the canceled email never reached the SMTP server',
    );
    for (const m of [canceled, canceledEmail]) {
      assert.deepEqual(
        (await jobsOf(m.messageId)).map((j) => [j.status, j.attempts]),
        [['canceled', 0]],
      );
      const again = await asA.conversations.cancelScheduledMessage({ messageId: m.messageId });
      assert.deepEqual(again, { status: 404, message: 'Failed cancel the scheduled message' });
      const gone = await rejection(asA.conversations.getMessage({ id: m.messageId }));
      assert.ok(gone instanceof GHLNotFoundError, gone.constructor.name);
    }
    const late = await asA.conversations.cancelScheduledMessage({ messageId: control.messageId });
    assert.deepEqual(late, { status: 404, message: 'Failed cancel the scheduled message' }, 'already sent');
    assert.equal((await messageRow(control.messageId)).status, 'pending');
  });

  test("tenant B's key cannot read or change tenant A's conversation or messages", async () => {
    const asB = sdk(t.b.key);
    const scheduled = await send(asA, {
      type: 'Custom',
      contactId,
      message: 'in an hour',
      scheduledTimestamp: Math.floor(Date.now() / 1000) + 3600,
    });
    const before = await locationState(t.a.locationId);
    const c = asB.conversations;
    const notFound: [string, () => Promise<unknown>][] = [
      ['getConversation', () => c.getConversation({ conversationId })],
      ['getMessages', () => c.getMessages({ conversationId })],
      [
        'getMessages of the live chat',
        () => c.getMessages({ conversationId: liveConversationId, limit: 100 }),
      ],
      ['getMessage', () => c.getMessage({ id: customIds[2]! })],
      ['getMessage (email)', () => c.getMessage({ id: email1 })],
      ['updateMessageStatus', () => c.updateMessageStatus({ messageId: customIds[2]! }, { status: 'read' })],
      ['deleteConversation', () => c.deleteConversation({ conversationId })],
      ['sendANewMessage', () => send(asB, { type: 'Live_Chat', contactId, message: 'planted' })],
    ];
    for (const [what, call] of notFound) {
      const err = await rejection(call());
      assert.ok(err instanceof GHLNotFoundError, `${what}: ${err.constructor.name} ${err.statusCode}`);
      assert.equal(err.statusCode, 404, what);
    }
    const forbidden: [string, () => Promise<unknown>][] = [
      ['searchConversation', () => c.searchConversation({ locationId: t.a.locationId, contactId })],
      ['exportMessagesByLocation', () => c.exportMessagesByLocation({ locationId: t.a.locationId })],
      ['createConversation', () => c.createConversation({ locationId: t.a.locationId, contactId })],
      [
        'upsertContact',
        () => asB.contacts.upsertContact({ locationId: t.a.locationId, email: contactEmail }),
      ],
    ];
    for (const [what, call] of forbidden) {
      const err = await rejection(call());
      assert.ok(err instanceof GHLForbiddenError, `${what}: ${err.constructor.name} ${err.statusCode}`);
      assert.equal(err.statusCode, 403, what);
      assert.equal(err.message, 'The token does not have access to this location', what);
    }
    const cancel = await c.cancelScheduledMessage({ messageId: scheduled.messageId });
    assert.deepEqual(cancel, { status: 404, message: 'Failed cancel the scheduled message' });

    // B's own location shows none of it.
    const own = await c.searchConversation({ locationId: t.b.locationId, contactId });
    assert.equal(own.total, 0);
    const exported = await c.exportMessagesByLocation({ locationId: t.b.locationId });
    assert.equal(exported.total, 0);

    assert.deepEqual(await locationState(t.a.locationId), before, "A's data is unchanged");
    assert.equal((await messageRow(scheduled.messageId)).status, 'scheduled');
    assert.deepEqual(
      (await jobsOf(scheduled.messageId)).map((j) => j.status),
      ['queued'],
    );
  });
});
