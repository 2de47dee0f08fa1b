// Reading messages: a conversation's pages, one message, one email, and the location export.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestCharla, type TestCharla } from '../support/charla.js';
import { client, lc } from '../support/http.js';
import {
  contact,
  expect422,
  expectOk,
  expectStatus,
  freshLocation,
  type Req,
  smtp,
} from './messaging-fixtures.js';

let t: TestCharla;
let asA: Req;
let asB: Req;

before(async () => {
  t = await startTestCharla();
  asA = client(t.url, lc(t.a.key));
  asB = client(t.url, lc(t.b.key));
  await smtp(t, t.a.locationId);
});
after(() => t.close());

async function inbound(req: Req, body: Record<string, unknown>) {
  const res = await req('POST', '/conversations/messages/inbound', body);
  expectOk(res);
  return res.body as { conversationId: string; messageId: string; dateAdded: string };
}

async function newConversation(req: Req, locationId: string, contactId: string): Promise<string> {
  const res = await req('POST', '/conversations/', { locationId, contactId });
  expectOk(res, 201);
  return res.body.conversation.id;
}

/** An internal comment, which no API route makes: written as the message path would. */
async function internalComment(locationId: string, conversationId: string, body: string): Promise<string> {
  const db = t.charla.ctx.db;
  const { rows } = await db.query<any>(
    'UPDATE conversations SET last_seq = last_seq + 1 WHERE location_id = $1 AND id = $2 RETURNING last_seq, contact_id',
    [locationId, conversationId],
  );
  const { rows: m } = await db.query<any>(
    `INSERT INTO messages (location_id, id, conversation_id, contact_id, seq, type, direction, status, body)
     VALUES ($1, gen_random_uuid(), $2, $3, $4, 'TYPE_INTERNAL_COMMENT', 'outbound', 'sent', $5) RETURNING id`,
    [locationId, conversationId, rows[0].contact_id, rows[0].last_seq, body],
  );
  return m[0].id;
}

async function page(req: Req, conversationId: string, qs = '') {
  const res = await req('GET', `/conversations/${conversationId}/messages${qs ? `?${qs}` : ''}`);
  expectOk(res);
  assert.deepEqual(Object.keys(res.body).sort(), ['messages', 'traceId']);
  assert.deepEqual(Object.keys(res.body.messages).sort(), ['lastMessageId', 'messages', 'nextPage']);
  return res.body.messages as { lastMessageId: string | null; nextPage: boolean; messages: any[] };
}

describe('GET /conversations/{conversationId}/messages', () => {
  let contactId: string;
  let conversationId: string;
  /** Oldest first. */
  const made: { id: string; type: string }[] = [];

  before(async () => {
    contactId = await contact(t, t.a.locationId);
    conversationId = await newConversation(asA, t.a.locationId, contactId);
    const add = async (body: Record<string, unknown>, type: string, url = 'inbound') => {
      const res = await asA('POST', `/conversations/messages/${url}`, { conversationId, ...body });
      expectOk(res);
      made.push({ id: res.body.messageId, type });
    };
    await add({ type: 'SMS', message: 'sms 1' }, 'TYPE_SMS');
    await add({ type: 'Email', message: 'email 1', subject: 's' }, 'TYPE_EMAIL');
    await add({ type: 'Call', call: { status: 'completed', duration: 3 } }, 'TYPE_CALL', 'outbound');
    made.push({
      id: await internalComment(t.a.locationId, conversationId, 'note'),
      type: 'TYPE_INTERNAL_COMMENT',
    });
    await add({ type: 'SMS', message: 'sms 2' }, 'TYPE_SMS');
    await add({ type: 'WhatsApp', message: 'wa 1' }, 'TYPE_WHATSAPP');
    await add({ type: 'SMS', message: 'sms 3' }, 'TYPE_SMS');
  });

  test('the live nested shape, newest first', async () => {
    const p = await page(asA, conversationId);
    assert.equal(p.nextPage, false);
    assert.deepEqual(
      p.messages.map((m) => m.id),
      made.map((m) => m.id).reverse(),
    );
    assert.equal(p.lastMessageId, made[0]!.id);
    const seqs = p.messages.map((m) => m.seq);
    assert.deepEqual(seqs, [7, 6, 5, 4, 3, 2, 1]);
    const newest = p.messages[0];
    const { rows } = await t.charla.ctx.db.query<any>('SELECT * FROM messages WHERE id = $1', [newest.id]);
    assert.deepEqual(newest, {
      id: made[6]!.id,
      type: 2,
      messageType: 'TYPE_SMS',
      locationId: t.a.locationId,
      contactId,
      conversationId,
      dateAdded: rows[0].created_at.toISOString(),
      dateUpdated: rows[0].updated_at.toISOString(),
      body: 'sms 3',
      direction: 'inbound',
      status: 'delivered',
      contentType: 'text/plain',
      attachments: [],
      meta: {},
      source: 'api',
      seq: 7,
    });
  });

  test('lastMessageId pages through every message exactly once', async () => {
    for (const limit of [1, 2, 3, 7]) {
      const seen: string[] = [];
      let qs = `limit=${limit}`;
      for (let n = 0; n < 20; n++) {
        const p = await page(asA, conversationId, qs);
        assert.ok(p.messages.length <= limit);
        seen.push(...p.messages.map((m) => m.id));
        if (p.messages.length) assert.equal(p.lastMessageId, p.messages[p.messages.length - 1].id);
        if (!p.nextPage) break;
        qs = `limit=${limit}&lastMessageId=${p.lastMessageId}`;
      }
      assert.deepEqual(seen, made.map((m) => m.id).reverse(), `limit ${limit}`);
    }
    const p = await page(asA, conversationId, `limit=3&lastMessageId=${made[0]!.id}`);
    assert.deepEqual(p, { lastMessageId: null, nextPage: false, messages: [] });
  });

  test('limit is 1 to 100, default 20', async () => {
    for (const limit of ['0', '101', 'abc', '-1', '1.5']) {
      expect422(await asA('GET', `/conversations/${conversationId}/messages?limit=${limit}`), /limit/, limit);
    }
    assert.equal((await page(asA, conversationId, 'limit=100')).messages.length, 7);
    const many = await newConversation(asA, t.a.locationId, await contact(t, t.a.locationId));
    for (let i = 0; i < 21; i++) await inbound(asA, { type: 'SMS', conversationId: many, message: `m${i}` });
    const first = await page(asA, many);
    assert.equal(first.messages.length, 20);
    assert.equal(first.nextPage, true);
  });

  test('type filters by a comma list; TYPE_INTERNAL_COMMENTS names internal comments', async () => {
    const only = async (qs: string) =>
      (await page(asA, conversationId, qs)).messages.map((m) => m.messageType);
    assert.deepEqual(await only('type=TYPE_SMS'), ['TYPE_SMS', 'TYPE_SMS', 'TYPE_SMS']);
    assert.deepEqual(await only('type=TYPE_CALL,TYPE_EMAIL'), ['TYPE_CALL', 'TYPE_EMAIL']);
    assert.deepEqual(await only('type=TYPE_INTERNAL_COMMENTS'), ['TYPE_INTERNAL_COMMENT']);
    assert.deepEqual(await only('type=TYPE_INTERNAL_COMMENT'), ['TYPE_INTERNAL_COMMENT']);
    assert.deepEqual(await only('type=TYPE_SMS,%20TYPE_WHATSAPP'), [
      'TYPE_SMS',
      'TYPE_WHATSAPP',
      'TYPE_SMS',
      'TYPE_SMS',
    ]);
    assert.deepEqual(await only('type=TYPE_LIVE_CHAT'), []);
    // Paging within a filter.
    const p1 = await page(asA, conversationId, 'type=TYPE_SMS&limit=2');
    assert.equal(p1.nextPage, true);
    const p2 = await page(asA, conversationId, `type=TYPE_SMS&limit=2&lastMessageId=${p1.lastMessageId}`);
    assert.deepEqual(
      [...p1.messages, ...p2.messages].map((m) => m.body),
      ['sms 3', 'sms 2', 'sms 1'],
    );
    assert.equal(p2.nextPage, false);
    expect422(
      await asA('GET', `/conversations/${conversationId}/messages?type=TYPE_SMS,TYPE_PIGEON`),
      /type has unknown values: TYPE_PIGEON/,
    );
  });

  test('a lastMessageId that is not a message of this conversation is a 422', async () => {
    const other = await inbound(asA, {
      type: 'SMS',
      contactId: await contact(t, t.a.locationId),
      message: 'x',
    });
    const bMessage = await inbound(asB, {
      type: 'SMS',
      contactId: await contact(t, t.b.locationId),
      message: 'x',
    });
    for (const lastMessageId of [other.messageId, bMessage.messageId, crypto.randomUUID(), 'nope']) {
      expect422(
        await asA('GET', `/conversations/${conversationId}/messages?lastMessageId=${lastMessageId}`),
        /lastMessageId must be the id of a message of this conversation/,
        lastMessageId,
      );
    }
  });

  test('an empty conversation has an empty page', async () => {
    const empty = await newConversation(asA, t.a.locationId, await contact(t, t.a.locationId));
    assert.deepEqual(await page(asA, empty), { lastMessageId: null, nextPage: false, messages: [] });
  });

  test("someone else's, unknown or deleted conversation: 404", async () => {
    const res = await asB('GET', `/conversations/${conversationId}/messages`);
    expectStatus(res, 404, 'Conversation not found');
    assert.ok(!JSON.stringify(res.body).includes('sms'));
    expectStatus(await asA('GET', `/conversations/${crypto.randomUUID()}/messages`), 404);
    expectStatus(await asA('GET', '/conversations/nope/messages'), 404);
    const gone = await newConversation(asA, t.a.locationId, await contact(t, t.a.locationId));
    await inbound(asA, { type: 'SMS', conversationId: gone, message: 'x' });
    expectOk(await asA('DELETE', `/conversations/${gone}`));
    expectStatus(await asA('GET', `/conversations/${gone}/messages`), 404);
  });
});

describe('GET /conversations/messages/{id}', () => {
  test('GetMessageResponseDto; email messages carry meta.email.messageIds', async () => {
    const contactId = await contact(t, t.a.locationId);
    const email = await inbound(asA, {
      type: 'Email',
      contactId,
      message: 'text',
      html: '<b>text</b>',
      subject: 'Subject',
      attachments: ['https://x.test/f.pdf'],
      altId: 'ext-1',
    });
    const res = await asA('GET', `/conversations/messages/${email.messageId}`);
    expectOk(res);
    const { rows } = await t.charla.ctx.db.query<any>('SELECT * FROM messages WHERE id = $1', [
      email.messageId,
    ]);
    assert.deepEqual(res.body, {
      id: email.messageId,
      type: 3,
      messageType: 'TYPE_EMAIL',
      locationId: t.a.locationId,
      contactId,
      conversationId: email.conversationId,
      dateAdded: email.dateAdded,
      dateUpdated: rows[0].updated_at.toISOString(),
      body: 'text',
      subject: 'Subject',
      direction: 'inbound',
      status: 'delivered',
      contentType: 'text/html',
      attachments: ['https://x.test/f.pdf'],
      meta: { email: { messageIds: [email.messageId] } },
      source: 'api',
      altId: 'ext-1',
      seq: 1,
    });
    const live = await asA('POST', '/conversations/messages', {
      type: 'Live_Chat',
      contactId,
      message: 'hi',
    });
    const got = (await asA('GET', `/conversations/messages/${live.body.messageId}`)).body;
    assert.equal(got.type, 29);
    assert.equal(got.messageType, 'TYPE_LIVE_CHAT');
    assert.equal(got.direction, 'outbound');
  });

  test("someone else's, unknown or malformed id: 404", async () => {
    const aMessage = await inbound(asA, {
      type: 'SMS',
      contactId: await contact(t, t.a.locationId),
      message: 'A only',
    });
    const res = await asB('GET', `/conversations/messages/${aMessage.messageId}`);
    expectStatus(res, 404, 'Message not found');
    assert.ok(!JSON.stringify(res.body).includes('A only'));
    for (const id of [crypto.randomUUID(), 'nope']) {
      expectStatus(await asA('GET', `/conversations/messages/${id}`), 404, 'Message not found', id);
    }
    expectOk(await client(t.url, lc(t.agencyKey))('GET', `/conversations/messages/${aMessage.messageId}`));
  });
});

describe('GET /conversations/messages/email/{id}', () => {
  test('the email shape: from, to, cc, bcc, threadId, subject, body', async () => {
    const contactId = await contact(t, t.a.locationId, { email: 'lee@example.test' });
    const sent = await asA('POST', '/conversations/messages', {
      type: 'Email',
      contactId,
      subject: 'Welcome',
      html: '<h1>Welcome</h1>',
      message: 'Welcome',
      emailCc: ['cc@example.test'],
      emailBcc: ['bcc@example.test'],
    });
    expectOk(sent);
    const res = await asA('GET', `/conversations/messages/email/${sent.body.messageId}`);
    expectOk(res);
    const { status, ...rest } = res.body;
    assert.equal(typeof status, 'string');
    const { rows } = await t.charla.ctx.db.query<any>('SELECT created_at FROM messages WHERE id = $1', [
      sent.body.messageId,
    ]);
    assert.deepEqual(rest, {
      id: sent.body.messageId,
      threadId: sent.body.messageId,
      locationId: t.a.locationId,
      contactId,
      conversationId: sent.body.conversationId,
      dateAdded: rows[0].created_at.toISOString(),
      subject: 'Welcome',
      body: '<h1>Welcome</h1>',
      direction: 'outbound',
      contentType: 'text/html',
      attachments: [],
      provider: 'smtp',
      from: 'shop@x.test',
      to: ['lee@example.test'],
      cc: ['cc@example.test'],
      bcc: ['bcc@example.test'],
      source: 'api',
    });

    const received = await inbound(asA, {
      type: 'Email',
      contactId,
      message: 'Thanks',
      subject: 'Re: Welcome',
      emailFrom: 'Lee <lee@example.test>',
      emailTo: 'shop@x.test',
    });
    const r = (await asA('GET', `/conversations/messages/email/${received.messageId}`)).body;
    assert.equal(r.from, 'Lee <lee@example.test>');
    assert.deepEqual(r.to, ['shop@x.test']);
    assert.deepEqual(r.cc, []);
    assert.deepEqual(r.bcc, []);
    assert.equal(r.body, 'Thanks');
    assert.equal(r.contentType, 'text/plain');
    assert.equal(r.status, 'delivered');
  });

  test('a message that is not an email, someone else’s email, or an unknown id: 404', async () => {
    const sms = await inbound(asA, {
      type: 'SMS',
      contactId: await contact(t, t.a.locationId),
      message: 'x',
    });
    expectStatus(
      await asA('GET', `/conversations/messages/email/${sms.messageId}`),
      404,
      'Email message not found',
    );
    const aEmail = await inbound(asA, {
      type: 'Email',
      contactId: await contact(t, t.a.locationId),
      message: 'A only',
      subject: 'A',
    });
    const res = await asB('GET', `/conversations/messages/email/${aEmail.messageId}`);
    expectStatus(res, 404, 'Email message not found');
    assert.ok(!JSON.stringify(res.body).includes('A only'));
    for (const id of [crypto.randomUUID(), 'nope']) {
      expectStatus(await asA('GET', `/conversations/messages/email/${id}`), 404, 'Email message not found');
    }
  });
});

describe('GET /conversations/messages/export', () => {
  let L: Awaited<ReturnType<typeof freshLocation>>;
  const BASE = Date.UTC(2025, 5, 1);
  const sms: string[] = [];
  const calls: string[] = [];
  const emails: string[] = [];
  let firstConversation: string;
  let firstContact: string;

  before(async () => {
    L = await freshLocation(t);
    const contacts = [
      await contact(t, L.locationId),
      await contact(t, L.locationId),
      await contact(t, L.locationId),
    ];
    firstContact = contacts[0]!;
    // 20 SMS, four to a millisecond, so cursors must break ties.
    for (let i = 0; i < 20; i++) {
      const m = await inbound(L.req, {
        type: 'SMS',
        contactId: contacts[i % 3],
        message: `sms ${i}`,
        date: new Date(BASE + Math.floor(i / 4) * 1000).toISOString(),
      });
      sms.push(m.messageId);
      if (i === 0) firstConversation = m.conversationId;
    }
    for (let i = 0; i < 3; i++) {
      const conversationId = (
        await L.req('GET', `/conversations/search?locationId=${L.locationId}&contactId=${contacts[i]}`)
      ).body.conversations[0].id;
      const res = await L.req('POST', '/conversations/messages/outbound', {
        type: 'Call',
        conversationId,
        date: new Date(BASE + 10_000 + i).toISOString(),
        call: { status: 'completed' },
      });
      expectOk(res);
      calls.push(res.body.messageId);
    }
    for (let i = 0; i < 3; i++) {
      const m = await inbound(L.req, {
        type: 'Email',
        contactId: contacts[0],
        message: `email ${i}`,
        subject: 's',
        date: new Date(BASE + 20_000).toISOString(),
      });
      emails.push(m.messageId);
    }
  });

  async function exportPage(qs: string, req: Req = L.req) {
    const res = await req('GET', `/conversations/messages/export?locationId=${L.locationId}&${qs}`);
    expectOk(res);
    assert.deepEqual(Object.keys(res.body).sort(), ['messages', 'nextCursor', 'total']);
    return res.body as { messages: any[]; nextCursor: string | null; total: number };
  }

  async function exportAll(qs: string) {
    const seen: any[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const p = await exportPage(`${qs}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      pages++;
      seen.push(...p.messages);
      cursor = p.nextCursor;
      assert.ok(pages < 50, 'export paging ends');
      if (cursor) assert.equal(typeof cursor, 'string');
    } while (cursor);
    return { seen, pages };
  }

  test('pages with a cursor over more than two pages: no repeats, total, newest first', async () => {
    const first = await exportPage('limit=10');
    assert.equal(first.messages.length, 10);
    assert.equal(first.total, 23, 'without a channel: everything but email');
    assert.ok(first.nextCursor);
    const { seen, pages } = await exportAll('limit=10');
    assert.equal(pages, 3);
    const ids = seen.map((m) => m.id);
    assert.equal(new Set(ids).size, ids.length, 'no repeats');
    assert.deepEqual([...ids].sort(), [...sms, ...calls].sort());
    for (let i = 1; i < seen.length; i++) {
      assert.ok(Date.parse(seen[i - 1].dateAdded) >= Date.parse(seen[i].dateAdded), 'newest first');
    }
    for (const m of seen) {
      assert.equal(m.locationId, L.locationId);
      assert.notEqual(m.messageType, 'TYPE_EMAIL');
    }
  });

  test('sortOrder asc and sortBy updatedAt page just as exactly', async () => {
    for (const qs of [
      'limit=10&sortOrder=asc',
      'limit=10&sortBy=updatedAt',
      'limit=10&sortBy=updatedAt&sortOrder=asc',
    ]) {
      const { seen } = await exportAll(qs);
      const ids = seen.map((m) => m.id);
      assert.equal(new Set(ids).size, 23, qs);
      assert.deepEqual([...ids].sort(), [...sms, ...calls].sort(), qs);
      if (qs.includes('asc') && !qs.includes('updatedAt')) {
        for (let i = 1; i < seen.length; i++) {
          assert.ok(Date.parse(seen[i - 1].dateAdded) <= Date.parse(seen[i].dateAdded), 'oldest first');
        }
      }
    }
  });

  test('channel: Email only with channel=Email; SMS and Call by their types', async () => {
    const email = await exportPage('channel=Email&limit=100');
    assert.deepEqual(email.messages.map((m) => m.id).sort(), [...emails].sort());
    assert.equal(email.total, 3);
    assert.ok(email.messages.every((m) => m.messageType === 'TYPE_EMAIL'));
    assert.equal(email.nextCursor, null);
    const s = await exportPage('channel=SMS&limit=100');
    assert.deepEqual(s.messages.map((m) => m.id).sort(), [...sms].sort());
    const c = await exportPage('channel=Call&limit=100');
    assert.deepEqual(c.messages.map((m) => m.id).sort(), [...calls].sort());
    assert.equal((await exportPage('channel=WhatsApp')).total, 0);
  });

  test('conversationId, contactId and date filters', async () => {
    const byConversation = await exportPage(`conversationId=${firstConversation}&limit=100`);
    assert.ok(byConversation.messages.length > 0);
    assert.ok(byConversation.messages.every((m) => m.conversationId === firstConversation));
    assert.equal(byConversation.total, byConversation.messages.length);
    const byContact = await exportPage(`contactId=${firstContact}&limit=100&channel=Email`);
    assert.equal(byContact.total, 3);
    const none = await exportPage(`contactId=${crypto.randomUUID()}`);
    assert.deepEqual(none, { messages: [], nextCursor: null, total: 0 });
    const from = new Date(BASE + 2000).toISOString();
    const to = new Date(BASE + 3000).toISOString();
    const ranged = await exportPage(`startDate=${from}&endDate=${to}&limit=100`);
    assert.deepEqual(
      ranged.messages.map((m) => m.id).sort(),
      sms.slice(8, 16).sort(),
      'both ends are inclusive',
    );
    const later = await exportPage(`startDate=${new Date(BASE + 10_000).toISOString()}&limit=100`);
    assert.deepEqual(later.messages.map((m) => m.id).sort(), [...calls].sort());
  });

  test('limit is 10 to 500; a cursor must be one the API returned; bad values are 422s', async () => {
    assert.equal((await exportPage('limit=10')).messages.length, 10);
    assert.equal((await exportPage('limit=500')).messages.length, 23);
    assert.equal((await exportPage('')).messages.length, 23, 'default 100');
    const bad: [string, RegExp][] = [
      ['limit=9', /limit must be between 10 and 500/],
      ['limit=501', /limit must be between 10 and 500/],
      ['limit=0', /limit/],
      ['limit=ten', /limit/],
      ['cursor=garbage', /cursor is not a cursor this API returned/],
      [`cursor=${Buffer.from('{"t":"x","id":"y"}').toString('base64url')}`, /cursor is not a cursor/],
      [`cursor=${Buffer.from('{"t":1,"id":"not-a-uuid"}').toString('base64url')}`, /cursor is not a cursor/],
      ['channel=Pigeon', /channel/],
      ['sortBy=size', /sortBy/],
      ['sortOrder=random', /sortOrder/],
      ['startDate=yesterday', /startDate/],
    ];
    for (const [qs, expected] of bad) {
      expect422(
        await L.req('GET', `/conversations/messages/export?locationId=${L.locationId}&${qs}`),
        expected,
        qs,
      );
    }
    expect422(await L.req('GET', '/conversations/messages/export'), /locationId is required/);
  });

  test("someone else's location: 403, and A's export never shows another location's messages", async () => {
    const res = await asB('GET', `/conversations/messages/export?locationId=${L.locationId}`);
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, {
      statusCode: 403,
      message: 'The token does not have access to this location',
      error: 'Forbidden',
    });
    const a = await asA('GET', `/conversations/messages/export?locationId=${t.a.locationId}&limit=500`);
    expectOk(a);
    const mine = new Set([...sms, ...calls, ...emails]);
    assert.ok(a.body.messages.every((m: any) => m.locationId === t.a.locationId && !mine.has(m.id)));
  });
});
