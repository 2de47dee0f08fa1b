import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestCharla, type TestCharla } from '../support/charla.js';
import { client, lc } from '../support/http.js';
import {
  type ContactFields,
  contact,
  count,
  expect422,
  expectOk,
  expectStatus,
  freshLocation,
  type Req,
  snapshot,
  user,
} from './messaging-fixtures.js';

let t: TestCharla;
let asA: Req;
let asB: Req;

before(async () => {
  t = await startTestCharla();
  asA = client(t.url, lc(t.a.key));
  asB = client(t.url, lc(t.b.key));
});
after(() => t.close());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const T0 = Date.UTC(2024, 0, 1);

async function createConversation(req: Req, locationId: string, contactId: string) {
  const res = await req('POST', '/conversations/', { locationId, contactId });
  expectOk(res, 201);
  return res.body.conversation as Record<string, any>;
}

/** A contact of A with its default conversation. */
async function aConversation(f: ContactFields = {}) {
  const contactId = await contact(t, t.a.locationId, f);
  const c = await createConversation(asA, t.a.locationId, contactId);
  return { contactId, id: c.id as string, created: c };
}

async function row(id: string) {
  const { rows } = await t.charla.ctx.db.query<any>('SELECT * FROM conversations WHERE id = $1', [id]);
  return rows[0]!;
}

async function inbound(req: Req, body: Record<string, unknown>) {
  const res = await req('POST', '/conversations/messages/inbound', body);
  expectOk(res);
  return res.body;
}

async function search(req: Req, locationId: string, qs = '') {
  const res = await req('GET', `/conversations/search?locationId=${locationId}${qs ? `&${qs}` : ''}`);
  expectOk(res);
  assert.ok(Array.isArray(res.body.conversations), 'conversations is an array');
  assert.equal(typeof res.body.total, 'number');
  return res.body as { conversations: Record<string, any>[]; total: number; traceId: string };
}

const ids = (body: { conversations: Record<string, any>[] }) => body.conversations.map((c) => c.id);
const sorted = (list: string[]) => [...list].sort();

describe('POST /conversations/', () => {
  test('creates the contact’s conversation: 201 with ConversationCreateResponseDto', async () => {
    const contactId = await contact(t, t.a.locationId);
    const started = Date.now();
    const res = await asA('POST', '/conversations/', { locationId: t.a.locationId, contactId });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(Object.keys(res.body).sort(), ['conversation', 'success']);
    assert.equal(res.body.success, true);
    const c = res.body.conversation;
    assert.deepEqual(Object.keys(c).sort(), [
      'contactId',
      'dateAdded',
      'dateUpdated',
      'deleted',
      'id',
      'lastMessageDate',
      'locationId',
    ]);
    assert.match(c.id, UUID);
    assert.equal(c.contactId, contactId);
    assert.equal(c.locationId, t.a.locationId);
    assert.equal(c.deleted, false);
    for (const field of ['dateAdded', 'dateUpdated', 'lastMessageDate']) {
      assert.equal(typeof c[field], 'string', field);
      const ms = Date.parse(c[field]);
      assert.ok(ms >= started - 1000 && ms <= Date.now() + 1000, `${field} is now: ${c[field]}`);
    }
    const r = await row(c.id);
    assert.equal(r.location_id, t.a.locationId);
    assert.equal(r.contact_id, contactId);
    assert.equal(r.channel, 'default');
    assert.equal(r.status, 'open');
    assert.equal(r.deleted_at, null);
  });

  test('the route also answers without the trailing slash', async () => {
    const contactId = await contact(t, t.a.locationId);
    const res = await asA('POST', '/conversations', { locationId: t.a.locationId, contactId });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.conversation.contactId, contactId);
  });

  test('a second conversation for the same contact is a 400 naming the existing one', async () => {
    const { contactId, id } = await aConversation();
    const res = await asA('POST', '/conversations/', { locationId: t.a.locationId, contactId });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, {
      statusCode: 400,
      message: 'Conversation already exists',
      error: 'Bad Request',
      conversationId: id,
    });
    assert.equal(await count(t, 'conversations WHERE contact_id = $1', [contactId]), 1);
  });

  test('concurrent creates for one contact: exactly one conversation, the others name it', async () => {
    const contactId = await contact(t, t.a.locationId);
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        asA('POST', '/conversations/', { locationId: t.a.locationId, contactId }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, 400, 400, 400, 400, 400]);
    const id = results.find((r) => r.status === 201)!.body.conversation.id;
    for (const r of results.filter((x) => x.status === 400)) assert.equal(r.body.conversationId, id);
    assert.equal(await count(t, 'conversations WHERE contact_id = $1', [contactId]), 1);
  });

  test('an unknown contact, or one of another location, is a 404 and nothing is stored', async () => {
    const before = await count(t, 'conversations');
    const bContact = await contact(t, t.b.locationId);
    for (const contactId of [crypto.randomUUID(), bContact]) {
      const res = await asA('POST', '/conversations/', { locationId: t.a.locationId, contactId });
      assert.equal(res.status, 404, contactId);
      assert.deepEqual(res.body, { statusCode: 404, message: 'Contact not found', error: 'Not Found' });
    }
    assert.equal(await count(t, 'conversations'), before);
  });

  test('a contactId or locationId that is not a UUID is a 404, not a 500', async () => {
    const before = await count(t, 'conversations');
    const res = await asA('POST', '/conversations/', { locationId: t.a.locationId, contactId: 'not-a-uuid' });
    assert.equal(res.status, 404, JSON.stringify(res.body));
    assert.deepEqual(res.body, { statusCode: 404, message: 'Contact not found', error: 'Not Found' });
    const agency = client(t.url, lc(t.agencyKey));
    const badLocation = await agency('POST', '/conversations/', {
      locationId: 'not-a-uuid',
      contactId: await contact(t, t.a.locationId),
    });
    assert.equal(badLocation.status, 404, JSON.stringify(badLocation.body));
    assert.equal(await count(t, 'conversations'), before);
  });

  test('bad bodies are 422s', async () => {
    const contactId = await contact(t, t.a.locationId);
    expect422(await asA('POST', '/conversations/', { locationId: t.a.locationId }), /contactId is required/);
    expect422(await asA('POST', '/conversations/', { contactId }), /locationId is required/);
    expect422(
      await asA('POST', '/conversations/', { locationId: t.a.locationId, contactId, extra: 1 }),
      /property extra should not exist/,
    );
    expect422(
      await asA('POST', '/conversations/', { locationId: t.a.locationId, contactId: 42 }),
      /contactId must be string/,
    );
    assert.equal(await count(t, 'conversations WHERE contact_id = $1', [contactId]), 0);
  });
});

describe('GET /conversations/{conversationId}', () => {
  test('answers GetConversationByIdResponse, unwrapped, with epoch-ms dates', async () => {
    const { contactId, id, created } = await aConversation();
    const res = await asA('GET', `/conversations/${id}`);
    expectOk(res);
    assert.deepEqual(res.body, {
      id,
      contactId,
      locationId: t.a.locationId,
      deleted: false,
      inbox: true,
      type: 1,
      unreadCount: 0,
      starred: false,
      dateAdded: Date.parse(created.dateAdded),
      dateUpdated: Date.parse(created.dateUpdated),
      status: 'open',
      channel: 'default',
      followers: [],
      tags: [],
    });
  });

  test('carries the last message once there is one', async () => {
    const { id } = await aConversation();
    const m = await inbound(asA, { type: 'SMS', conversationId: id, message: 'Ping' });
    const res = await asA('GET', `/conversations/${id}`);
    assert.equal(res.body.lastMessageBody, 'Ping');
    assert.equal(res.body.lastMessageType, 'TYPE_SMS');
    assert.equal(res.body.lastMessageDate, Date.parse(m.dateAdded));
    assert.equal(res.body.unreadCount, 1);
  });

  test('an unknown or malformed id is a 404', async () => {
    for (const id of [crypto.randomUUID(), 'nope', '%20']) {
      const res = await asA('GET', `/conversations/${id}`);
      expectStatus(res, 404, 'Conversation not found', id);
    }
  });
});

describe('PUT /conversations/{conversationId}', () => {
  test('locationId is required', async () => {
    const { id } = await aConversation();
    expect422(await asA('PUT', `/conversations/${id}`, { starred: true }), /locationId is required/);
    assert.equal((await row(id)).starred, false);
  });

  test('updates starred, unreadCount, inbox and feedback, and answers {success, conversation}', async () => {
    const { contactId, id } = await aConversation();
    await inbound(asA, { type: 'SMS', conversationId: id, message: 'one' });
    const before = await row(id);
    const res = await asA('PUT', `/conversations/${id}`, {
      locationId: t.a.locationId,
      starred: true,
      unreadCount: 0,
      feedback: 'positive',
      inbox: false,
    });
    expectOk(res);
    assert.deepEqual(Object.keys(res.body).sort(), ['conversation', 'success']);
    assert.equal(res.body.success, true);
    const c = res.body.conversation;
    assert.equal(c.id, id);
    assert.equal(c.locationId, t.a.locationId);
    assert.equal(c.contactId, contactId);
    assert.equal(c.starred, true);
    assert.equal(c.unreadCount, 0);
    assert.equal(c.inbox, false);
    assert.equal(c.feedback, 'positive');
    assert.equal(c.deleted, false);
    assert.equal(c.lastMessageBody, 'one');
    assert.equal(c.lastMessageType, 'TYPE_SMS');
    // ConversationDto's lastMessageDate is an epoch-ms string.
    assert.equal(c.lastMessageDate, String(before.last_message_date.getTime()));
    const after = await row(id);
    assert.equal(after.starred, true);
    assert.equal(after.unread_count, 0);
    assert.equal(after.inbox, false);
    assert.equal(after.feedback, 'positive');
    assert.ok(after.updated_at > before.updated_at, 'updated_at moves');
    const got = (await asA('GET', `/conversations/${id}`)).body;
    assert.equal(got.starred, true);
    assert.equal(got.unreadCount, 0);
    assert.equal(got.dateUpdated, after.updated_at.getTime());
  });

  test('fields left out are left alone; feedback null clears it', async () => {
    const { id } = await aConversation();
    await asA('PUT', `/conversations/${id}`, {
      locationId: t.a.locationId,
      starred: true,
      feedback: 'negative',
    });
    const res = await asA('PUT', `/conversations/${id}`, { locationId: t.a.locationId, feedback: null });
    expectOk(res);
    assert.equal(res.body.conversation.starred, true);
    assert.equal('feedback' in res.body.conversation, false);
    assert.equal((await row(id)).feedback, null);
  });

  test('feedback given as an object (v2 types it as object) comes back as the same object', async () => {
    const { id } = await aConversation();
    const feedback = { rating: 5, note: 'great' };
    const res = await asA('PUT', `/conversations/${id}`, { locationId: t.a.locationId, feedback });
    expectOk(res);
    assert.deepEqual(res.body.conversation.feedback, feedback);
  });

  test('assignedTo must be a user of the location; null unassigns', async () => {
    const { id } = await aConversation();
    const agent = await user(t, t.a.locationId);
    const outsider = await user(t, t.b.locationId);
    const res = await asA('PUT', `/conversations/${id}`, { locationId: t.a.locationId, assignedTo: agent });
    expectOk(res);
    assert.equal(res.body.conversation.assignedTo, agent);
    assert.equal((await asA('GET', `/conversations/${id}`)).body.assignedTo, agent);
    for (const bad of [outsider, crypto.randomUUID(), 'not-a-uuid']) {
      expect422(
        await asA('PUT', `/conversations/${id}`, { locationId: t.a.locationId, assignedTo: bad }),
        /assignedTo must name users of this location/,
        bad,
      );
    }
    assert.equal((await row(id)).assigned_to, agent);
    const cleared = await asA('PUT', `/conversations/${id}`, {
      locationId: t.a.locationId,
      assignedTo: null,
    });
    expectOk(cleared);
    assert.equal('assignedTo' in cleared.body.conversation, false);
    assert.equal((await row(id)).assigned_to, null);
  });

  test('followers must be users of the location and are deduplicated; tags are trimmed and deduplicated', async () => {
    const { id } = await aConversation();
    const [u1, u2] = [await user(t, t.a.locationId), await user(t, t.a.locationId)];
    const outsider = await user(t, t.b.locationId);
    const res = await asA('PUT', `/conversations/${id}`, {
      locationId: t.a.locationId,
      followers: [u1, u2, u1],
      tags: [' vip ', 'vip', 'es', ''],
    });
    expectOk(res);
    assert.deepEqual(sorted(res.body.conversation.followers), sorted([u1, u2]));
    assert.deepEqual(sorted(res.body.conversation.tags), ['es', 'vip']);
    expect422(
      await asA('PUT', `/conversations/${id}`, { locationId: t.a.locationId, followers: [u1, outsider] }),
      /followers must name users of this location/,
    );
    expect422(
      await asA('PUT', `/conversations/${id}`, { locationId: t.a.locationId, followers: ['x'] }),
      /followers must name users/,
    );
    assert.deepEqual(sorted((await row(id)).followers), sorted([u1, u2]));
    const emptied = await asA('PUT', `/conversations/${id}`, {
      locationId: t.a.locationId,
      followers: [],
      tags: [],
    });
    assert.deepEqual(emptied.body.conversation.followers, []);
    assert.deepEqual(emptied.body.conversation.tags, []);
  });

  test('closing frees the contact for a new conversation; reopening then conflicts (409)', async () => {
    const { contactId, id } = await aConversation();
    const closed = await asA('PUT', `/conversations/${id}`, { locationId: t.a.locationId, status: 'closed' });
    expectOk(closed);
    assert.equal(closed.body.conversation.status, 'closed');
    assert.equal((await asA('GET', `/conversations/${id}`)).body.status, 'closed');
    const second = await createConversation(asA, t.a.locationId, contactId);
    assert.notEqual(second.id, id);
    const reopen = await asA('PUT', `/conversations/${id}`, { locationId: t.a.locationId, status: 'open' });
    expectStatus(reopen, 409, /already has an open conversation/);
    assert.equal((await row(id)).status, 'closed');
    await asA('DELETE', `/conversations/${second.id}`);
    const again = await asA('PUT', `/conversations/${id}`, { locationId: t.a.locationId, status: 'open' });
    expectOk(again);
    assert.equal(again.body.conversation.status, 'open');
  });

  test('bad bodies are 422s and change nothing', async () => {
    const { id } = await aConversation();
    const before = await row(id);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ unreadCount: -1 }, /unreadCount must be >= 0/],
      [{ unreadCount: 'many' }, /unreadCount must be integer/],
      [{ starred: 'yes' }, /starred must be boolean/],
      [{ status: 'archived' }, /status must be one of the following values: open, closed/],
      [{ feedback: 'meh' }, /feedback/],
      [{ surprise: 1 }, /property surprise should not exist/],
      [{ tags: 'vip' }, /tags must be array/],
    ];
    for (const [body, expected] of cases) {
      expect422(
        await asA('PUT', `/conversations/${id}`, { locationId: t.a.locationId, ...body }),
        expected,
        JSON.stringify(body),
      );
    }
    assert.deepEqual(await row(id), before);
  });

  test('a locationId that is not the conversation’s is a 404 for a key that reaches both', async () => {
    const { id } = await aConversation();
    const agency = client(t.url, lc(t.agencyKey));
    const res = await agency('PUT', `/conversations/${id}`, { locationId: t.b.locationId, starred: true });
    expectStatus(res, 404, 'Conversation not found');
    assert.equal((await row(id)).starred, false);
  });
});

describe('DELETE /conversations/{conversationId}', () => {
  test('trashes the conversation: 404 afterwards, out of search, and the next message starts a new one', async () => {
    const { contactId, id } = await aConversation();
    await inbound(asA, { type: 'SMS', conversationId: id, message: 'before delete' });
    const del = await asA('DELETE', `/conversations/${id}`);
    expectOk(del);
    assert.deepEqual(del.body, { success: true });
    const r = await row(id);
    assert.ok(r.deleted_at, 'the row is kept, marked deleted');

    expectStatus(await asA('GET', `/conversations/${id}`), 404);
    expectStatus(
      await asA('PUT', `/conversations/${id}`, { locationId: t.a.locationId, starred: true }),
      404,
    );
    expectStatus(await asA('DELETE', `/conversations/${id}`), 404);
    expectStatus(await asA('GET', `/conversations/${id}/messages`), 404);
    expectStatus(
      await asA('POST', '/conversations/messages/inbound', { type: 'SMS', conversationId: id, message: 'x' }),
      404,
    );
    assert.equal((await search(asA, t.a.locationId, `contactId=${contactId}`)).total, 0);
    assert.equal((await search(asA, t.a.locationId, `id=${id}`)).total, 0);
    assert.ok(!ids(await search(asA, t.a.locationId, 'limit=100&query=before%20delete')).includes(id));

    const next = await inbound(asA, { type: 'SMS', contactId, message: 'after delete' });
    assert.notEqual(next.conversationId, id);
    const found = await search(asA, t.a.locationId, `contactId=${contactId}`);
    assert.deepEqual(ids(found), [next.conversationId]);
    assert.equal(found.conversations[0]!.lastMessageBody, 'after delete');
    assert.equal((await row(id)).last_message_body, 'before delete', 'the trashed one is untouched');
  });

  test('after a delete, POST /conversations/ makes a new conversation for the contact', async () => {
    const { contactId, id } = await aConversation();
    expectOk(await asA('DELETE', `/conversations/${id}`));
    const second = await createConversation(asA, t.a.locationId, contactId);
    assert.notEqual(second.id, id);
  });
});

describe('GET /conversations/search: shape', () => {
  test('items carry the live fields, dates as epoch-ms numbers and `sort` = [sort value, id]', async () => {
    const L = await freshLocation(t);
    const contactId = await contact(t, L.locationId, {
      name: 'Ana Pérez',
      email: 'ana@example.test',
      phone: '+15550000001',
    });
    const c = await createConversation(L.req, L.locationId, contactId);
    const m = await inbound(L.req, { type: 'SMS', conversationId: c.id, message: 'Hola' });
    const body = await search(L.req, L.locationId);
    assert.equal(body.total, 1);
    assert.equal(typeof body.traceId, 'string');
    // lastOutboundMessageAction has a test of its own (there is no outbound message here).
    const { lastOutboundMessageAction: _, ...item } = body.conversations[0]!;
    const r = await row(c.id);
    assert.deepEqual(item, {
      id: c.id,
      contactId,
      locationId: L.locationId,
      lastMessageBody: 'Hola',
      lastMessageType: 'TYPE_SMS',
      type: 'TYPE_PHONE',
      unreadCount: 1,
      fullName: 'Ana Pérez',
      contactName: 'Ana Pérez',
      email: 'ana@example.test',
      phone: '+15550000001',
      tags: [],
      dateAdded: r.created_at.getTime(),
      dateUpdated: r.updated_at.getTime(),
      lastMessageDate: Date.parse(m.dateAdded),
      lastMessageDirection: 'inbound',
      isLastMessageInternalComment: false,
      inbox: true,
      starred: false,
      followers: [],
      mentions: [],
      scoring: [],
      sort: [Date.parse(m.dateAdded), c.id],
      status: 'open',
      channel: 'default',
    });
  });

  test('a conversation without messages sorts by its creation and has no lastMessageDate', async () => {
    const L = await freshLocation(t);
    const c = await createConversation(L.req, L.locationId, await contact(t, L.locationId, { email: null }));
    const item = (await search(L.req, L.locationId)).conversations[0]!;
    assert.equal(item.id, c.id);
    assert.equal('lastMessageDate' in item, false);
    assert.equal(item.lastMessageBody, '');
    assert.equal(item.email, '');
    assert.deepEqual(item.sort, [Date.parse(c.dateAdded), c.id]);
  });
});

describe('GET /conversations/search: filters', () => {
  let L: Awaited<ReturnType<typeof freshLocation>>;
  let u1: string;
  let u2: string;
  let u3: string;
  const c: Record<'ana' | 'bob' | 'cyd' | 'dee' | 'eve', { id: string; contactId: string }> = {} as never;

  before(async () => {
    L = await freshLocation(t);
    const db = t.charla.ctx.db;
    [u1, u2, u3] = [await user(t, L.locationId), await user(t, L.locationId), await user(t, L.locationId)];
    const make = async (f: ContactFields) => {
      const contactId = await contact(t, L.locationId, f);
      return { contactId, id: (await createConversation(L.req, L.locationId, contactId)).id as string };
    };
    const put = async (id: string, body: Record<string, unknown>) =>
      expectOk(await L.req('PUT', `/conversations/${id}`, { locationId: L.locationId, ...body }));

    // Ana: an inbound SMS, assigned, followed, mentioned, tagged, starred, scored.
    c.ana = await make({ name: 'Ana Pérez', email: 'ana.perez@example.test', phone: '+15550100001' });
    await inbound(L.req, { type: 'SMS', conversationId: c.ana.id, message: 'Hola, necesito ayuda' });
    await put(c.ana.id, { assignedTo: u1, followers: [u2], tags: ['vip', 'es'], starred: true });
    await db.query<any>('UPDATE conversations SET mentions = $2, score = 80 WHERE id = $1', [c.ana.id, [u3]]);

    // Bob: an outbound call (read), assigned to u2.
    c.bob = await make({ name: 'Bob Stone', email: 'bob@example.test', phone: '+15550100002' });
    expectOk(
      await L.req('POST', '/conversations/messages/outbound', {
        type: 'Call',
        conversationId: c.bob.id,
        call: { status: 'completed', duration: 30 },
      }),
    );
    await put(c.bob.id, { assignedTo: u2, tags: ['b2b'] });
    await db.query<any>('UPDATE conversations SET score = 20 WHERE id = $1', [c.bob.id]);

    // Cyd: a manual live chat message (its own live_chat conversation) with LIKE wildcards in it.
    const cydContact = await contact(t, L.locationId, { name: 'Cyd Lane', phone: '+15550100003' });
    const sent = await L.req('POST', '/conversations/messages', {
      type: 'Live_Chat',
      contactId: cydContact,
      message: 'Discount 50% off_today',
      userId: u1,
    });
    expectOk(sent);
    c.cyd = { contactId: cydContact, id: sent.body.conversationId };

    // Dee: an inbound email whose text would match the wildcards if they were not escaped; closed.
    c.dee = await make({ name: 'Dee Moss', email: 'dee@example.test', phone: '+15550100004' });
    await inbound(L.req, {
      type: 'Email',
      conversationId: c.dee.id,
      message: 'save 50 now and offXtoday',
      subject: 'Hi',
    });
    await put(c.dee.id, { status: 'closed' });
    await db.query<any>('UPDATE conversations SET score = 50 WHERE id = $1', [c.dee.id]);

    // Eve: no messages, no email or phone.
    c.eve = await make({ name: 'Eve Null', email: null, phone: null });

    // Creation times one second apart, in that order.
    for (const [i, k] of (['ana', 'bob', 'cyd', 'dee', 'eve'] as const).entries()) {
      await db.query<any>('UPDATE conversations SET created_at = $2 WHERE id = $1', [
        c[k].id,
        new Date(T0 + i * 1000),
      ]);
    }
  });

  /** The conversations (by name) a query finds; checks `total` agrees. */
  async function names(qs: string): Promise<string[]> {
    const body = await search(L.req, L.locationId, `limit=100&${qs}`);
    assert.equal(body.total, body.conversations.length, `total for ${qs}`);
    const byId = new Map(Object.entries(c).map(([k, v]) => [v.id, k]));
    return body.conversations.map((x) => byId.get(x.id) ?? `unknown ${x.id}`).sort();
  }

  test('without filters: every conversation of the location', async () => {
    assert.deepEqual(await names(''), ['ana', 'bob', 'cyd', 'dee', 'eve']);
    assert.deepEqual(await names('status=all'), ['ana', 'bob', 'cyd', 'dee', 'eve']);
  });

  test('contactId and id', async () => {
    assert.deepEqual(await names(`contactId=${c.ana.contactId}`), ['ana']);
    assert.deepEqual(await names(`id=${c.bob.id}`), ['bob']);
    assert.deepEqual(await names(`id=${crypto.randomUUID()}`), []);
    assert.deepEqual(await names('id=not-a-uuid'), []);
    assert.deepEqual(await names('contactId=not-a-uuid'), []);
  });

  test('assignedTo: one user, a comma list, "unassigned", and both', async () => {
    assert.deepEqual(await names(`assignedTo=${u1}`), ['ana']);
    assert.deepEqual(await names(`assignedTo=${u1},${u2}`), ['ana', 'bob']);
    assert.deepEqual(await names('assignedTo=unassigned'), ['cyd', 'dee', 'eve']);
    assert.deepEqual(await names(`assignedTo=unassigned,${u2}`), ['bob', 'cyd', 'dee', 'eve']);
    assert.deepEqual(await names(`assignedTo=${u3}`), []);
  });

  test('followers and mentions', async () => {
    assert.deepEqual(await names(`followers=${u2}`), ['ana']);
    assert.deepEqual(await names(`followers=${u3},${u2}`), ['ana']);
    assert.deepEqual(await names(`followers=${u1}`), []);
    assert.deepEqual(await names(`mentions=${u3}`), ['ana']);
    assert.deepEqual(await names(`mentions=${u1}`), []);
  });

  test('query: contact name, email and phone, and message bodies, case-insensitively', async () => {
    assert.deepEqual(await names('query=stone'), ['bob']);
    assert.deepEqual(await names('query=ANA.PEREZ%40'), ['ana']);
    assert.deepEqual(await names('query=0100002'), ['bob']);
    assert.deepEqual(await names('query=necesito'), ['ana']);
    assert.deepEqual(await names('query=%20Necesito%20AYUDA%20'), ['ana']);
    assert.deepEqual(await names('query=eve%20null'), ['eve']);
    assert.deepEqual(await names('query=nothing-like-this'), []);
  });

  test('query: LIKE wildcards typed by the user match literally', async () => {
    assert.deepEqual(await names(`query=${encodeURIComponent('50%')}`), ['cyd']);
    assert.deepEqual(await names(`query=${encodeURIComponent('off_today')}`), ['cyd']);
    assert.deepEqual(await names(`query=${encodeURIComponent('%')}`), ['cyd']);
    assert.deepEqual(await names(`query=${encodeURIComponent('_')}`), ['cyd']);
    assert.deepEqual(await names(`query=${encodeURIComponent('\\')}`), []);
  });

  test('status: read, unread, starred; recents is accepted', async () => {
    assert.deepEqual(await names('status=unread'), ['ana', 'dee']);
    assert.deepEqual(await names('status=read'), ['bob', 'cyd', 'eve']);
    assert.deepEqual(await names('status=starred'), ['ana']);
    const recents = await names('status=recents');
    assert.ok(recents.length > 0 && recents.every((n) => !n.startsWith('unknown')), recents.join());
  });

  test('lastMessageType, lastMessageAction and lastMessageDirection', async () => {
    assert.deepEqual(await names('lastMessageType=TYPE_SMS'), ['ana']);
    assert.deepEqual(await names('lastMessageType=TYPE_CALL'), ['bob']);
    assert.deepEqual(await names('lastMessageType=TYPE_LIVE_CHAT'), ['cyd']);
    assert.deepEqual(await names('lastMessageType=TYPE_EMAIL'), ['dee']);
    assert.deepEqual(await names('lastMessageType=TYPE_WHATSAPP'), []);
    assert.deepEqual(await names('lastMessageAction=manual'), ['cyd']);
    const automated = await names('lastMessageAction=automated');
    assert.ok(
      automated.includes('bob') && !automated.includes('cyd') && !automated.includes('eve'),
      automated.join(),
    );
    assert.deepEqual(await names('lastMessageDirection=inbound'), ['ana', 'dee']);
    assert.deepEqual(await names('lastMessageDirection=outbound'), ['bob', 'cyd']);
  });

  test('startDate and endDate (epoch ms) bound the creation time, inclusively', async () => {
    assert.deepEqual(await names(`startDate=${T0 + 1000}`), ['bob', 'cyd', 'dee', 'eve']);
    assert.deepEqual(await names(`endDate=${T0 + 1000}`), ['ana', 'bob']);
    assert.deepEqual(await names(`startDate=${T0 + 1000}&endDate=${T0 + 3000}`), ['bob', 'cyd', 'dee']);
    assert.deepEqual(await names(`startDate=${T0 + 4001}`), []);
  });

  test('scoreProfileMin and scoreProfileMax', async () => {
    assert.deepEqual(await names('scoreProfileMin=50'), ['ana', 'dee']);
    assert.deepEqual(await names('scoreProfileMax=50'), ['bob', 'dee']);
    assert.deepEqual(await names('scoreProfileMin=30&scoreProfileMax=60'), ['dee']);
    assert.deepEqual(await names('scoreProfileMin=50.5'), ['ana']);
    const ana = (await search(L.req, L.locationId, `id=${c.ana.id}`)).conversations[0]!;
    assert.deepEqual(ana.scoring, [{ score: 80 }]);
  });

  test('Charla’s filters: conversationStatus, channel, tags', async () => {
    assert.deepEqual(await names('conversationStatus=closed'), ['dee']);
    assert.deepEqual(await names('conversationStatus=open'), ['ana', 'bob', 'cyd', 'eve']);
    assert.deepEqual(await names('channel=live_chat'), ['cyd']);
    assert.deepEqual(await names('channel=default'), ['ana', 'bob', 'dee', 'eve']);
    assert.deepEqual(await names('channel=review'), []);
    assert.deepEqual(await names('tags=vip'), ['ana']);
    assert.deepEqual(await names('tags=b2b,es'), ['ana', 'bob']);
    assert.deepEqual(await names('tags=none'), []);
  });

  test('filters combine', async () => {
    assert.deepEqual(await names('assignedTo=unassigned&channel=default'), ['dee', 'eve']);
    assert.deepEqual(await names(`status=unread&assignedTo=${u1}`), ['ana']);
    assert.deepEqual(await names('lastMessageDirection=inbound&conversationStatus=open'), ['ana']);
  });

  test('lastMessageAction is the action of the last outbound message, not of an inbound reply', async () => {
    const contactId = await contact(t, L.locationId);
    const sent = await L.req('POST', '/conversations/messages', {
      type: 'Live_Chat',
      contactId,
      message: 'Agent here',
      userId: u2,
    });
    expectOk(sent);
    await inbound(L.req, { type: 'Live_Chat', conversationId: sent.body.conversationId, message: 'thanks' });
    const found = await search(L.req, L.locationId, `id=${sent.body.conversationId}`);
    assert.equal(found.conversations[0]!.lastOutboundMessageAction, 'manual');
    const manual = await search(L.req, L.locationId, 'limit=100&lastMessageAction=manual');
    assert.ok(ids(manual).includes(sent.body.conversationId));
  });
});

describe('GET /conversations/search: order and limit', () => {
  test('sort desc (default) and asc, by last_message_date and last_manual_message_date, and limit', async () => {
    const L = await freshLocation(t);
    const db = t.charla.ctx.db;
    const made: string[] = [];
    for (let i = 0; i < 4; i++) {
      made.push((await createConversation(L.req, L.locationId, await contact(t, L.locationId))).id);
    }
    const [c1, c2, c3, c4] = made as [string, string, string, string];
    const set = (id: string, last: number | null, manual: number | null, created: number) =>
      db.query(
        'UPDATE conversations SET last_message_date = $2, last_manual_message_date = $3, created_at = $4 WHERE id = $1',
        [
          id,
          last === null ? null : new Date(last),
          manual === null ? null : new Date(manual),
          new Date(created),
        ],
      );
    await set(c1, T0 + 3000, T0 + 100, T0);
    await set(c2, T0 + 1000, T0 + 5000, T0);
    await set(c3, null, null, T0 + 2000);
    await set(c4, T0 + 4000, null, T0);

    const desc = await search(L.req, L.locationId);
    assert.deepEqual(ids(desc), [c4, c1, c3, c2]);
    assert.deepEqual(
      desc.conversations.map((x) => x.sort[0]),
      [T0 + 4000, T0 + 3000, T0 + 2000, T0 + 1000],
    );
    assert.equal(desc.conversations[1]!.lastMessageDate, T0 + 3000);
    assert.equal(desc.conversations[1]!.lastManualMessageDate, T0 + 100);
    assert.equal(desc.conversations[2]!.lastMessageDate, undefined);
    assert.deepEqual(ids(await search(L.req, L.locationId, 'sort=desc&sortBy=last_message_date')), [
      c4,
      c1,
      c3,
      c2,
    ]);
    assert.deepEqual(ids(await search(L.req, L.locationId, 'sort=asc')), [c2, c3, c1, c4]);

    const manual = ids(await search(L.req, L.locationId, 'sortBy=last_manual_message_date'));
    assert.deepEqual(manual.slice(0, 2), [c2, c1]);
    assert.deepEqual(sorted(manual.slice(2)), sorted([c3, c4]));
    const manualAsc = ids(await search(L.req, L.locationId, 'sortBy=last_manual_message_date&sort=asc'));
    assert.deepEqual(manualAsc.slice(2), [c1, c2]);

    const limited = await search(L.req, L.locationId, 'limit=2');
    assert.deepEqual(ids(limited), [c4, c1]);
    assert.equal(limited.total, 4, 'total counts every match, not the page');
    assert.equal((await search(L.req, L.locationId, 'limit=1')).conversations.length, 1);
    assert.equal((await search(L.req, L.locationId, 'limit=100')).conversations.length, 4);
  });

  test('the default limit is 20', async () => {
    const L = await freshLocation(t);
    for (let i = 0; i < 21; i++)
      await createConversation(L.req, L.locationId, await contact(t, L.locationId));
    const body = await search(L.req, L.locationId);
    assert.equal(body.conversations.length, 20);
    assert.equal(body.total, 21);
  });
});

describe('GET /conversations/search: the total of a full-text query', () => {
  test('is exact below 1,000 matches; from there a lower bound, flagged in a header', async () => {
    const L = await freshLocation(t);
    // 1,005 contacts named "Capybara n" with one conversation each, and 3 named "Okapi n".
    await t.charla.ctx.db.query(
      `WITH k AS (
         INSERT INTO contacts (location_id, id, name)
         SELECT $1, gen_random_uuid(), CASE WHEN i <= 1005 THEN 'Capybara ' ELSE 'Okapi ' END || i
         FROM generate_series(1, 1008) AS i RETURNING id)
       INSERT INTO conversations (location_id, id, contact_id, channel, type)
       SELECT $1, gen_random_uuid(), id, 'default', 'TYPE_PHONE' FROM k`,
      [L.locationId],
    );
    const many = await L.req(
      'GET',
      `/conversations/search?locationId=${L.locationId}&query=capybara&limit=5`,
    );
    expectOk(many);
    assert.equal(many.body.total, 1000);
    assert.equal(many.body.conversations.length, 5);
    assert.equal(many.headers.get('x-charla-total-is-lower-bound'), 'true');
    const few = await L.req('GET', `/conversations/search?locationId=${L.locationId}&query=okapi`);
    expectOk(few);
    assert.equal(few.body.total, 3);
    assert.equal(few.headers.get('x-charla-total-is-lower-bound'), null);
    // Without a query every match is counted.
    const all = await search(L.req, L.locationId, 'limit=1');
    assert.equal(all.total, 1008);
  });

  test('a word in most messages: the same pages; the total exact up to 100 conversations, else a lower bound', async () => {
    // 150 conversations, every one with a message saying "hello", every third also "wombat".
    const L = await freshLocation(t);
    await t.charla.ctx.db.query(
      `WITH k AS (
         INSERT INTO contacts (location_id, id, name)
         SELECT $1, gen_random_uuid(), 'Person ' || i FROM generate_series(1, 150) AS i RETURNING id, name),
       c AS (
         INSERT INTO conversations (location_id, id, contact_id, channel, type, last_message_date)
         SELECT $1, gen_random_uuid(), id, 'default', 'TYPE_PHONE',
           -- Whole milliseconds, as Charla writes every date it sorts by (sort values are epoch ms).
           date_trunc('milliseconds', now()) - split_part(name, ' ', 2)::int * interval '1 minute'
         FROM k RETURNING id, contact_id, last_message_date)
       INSERT INTO messages (location_id, id, conversation_id, contact_id, seq, type, direction, status, body, created_at)
       SELECT $1, gen_random_uuid(), c.id, c.contact_id, 1, 'TYPE_SMS', 'inbound', 'delivered',
         'hello' || CASE WHEN row_number() OVER (ORDER BY c.last_message_date DESC) % 3 = 0 THEN ' wombat' ELSE '' END,
         c.last_message_date
       FROM c`,
      [L.locationId],
    );
    const newest = (await search(L.req, L.locationId, 'limit=100')).conversations.map((c: any) => c.id);
    const hello = await L.req('GET', `/conversations/search?locationId=${L.locationId}&query=hello&limit=20`);
    expectOk(hello);
    assert.deepEqual(
      hello.body.conversations.map((c: any) => c.id),
      newest.slice(0, 20),
    );
    // The first 100 conversations all match: a lower bound, said so.
    assert.equal(hello.body.total, 100);
    assert.equal(hello.headers.get('x-charla-total-is-lower-bound'), 'true');
    const wombat = await L.req(
      'GET',
      `/conversations/search?locationId=${L.locationId}&query=wombat&limit=5`,
    );
    expectOk(wombat);
    assert.deepEqual(
      wombat.body.conversations.map((c: any) => c.id),
      newest.filter((_: string, i: number) => (i + 1) % 3 === 0).slice(0, 5),
    );
    assert.equal(wombat.body.total, 50);
    assert.equal(wombat.headers.get('x-charla-total-is-lower-bound'), null);
    // Paging on through a dense word's matches finds each once, in order.
    const seen: string[] = [];
    let after = '';
    for (let i = 0; i < 10 && seen.length < 150; i++) {
      const page = await search(L.req, L.locationId, `query=hello&limit=20${after}`);
      seen.push(...page.conversations.map((c: any) => c.id));
      const last = page.conversations.at(-1);
      if (!last) break;
      after = `&startAfterDate[]=${last.sort[0]}&startAfterDate[]=${last.sort[1]}`;
    }
    assert.deepEqual(seen.slice(0, 100), newest);
    assert.equal(new Set(seen).size, 150);
  });
});

describe('GET /conversations/search: keyset paging with startAfterDate', () => {
  /** A location whose conversations have these last-message times (ms offsets from T0). */
  async function withDates(offsets: number[]) {
    const L = await freshLocation(t);
    const made: string[] = [];
    for (const offset of offsets) {
      const id = (await createConversation(L.req, L.locationId, await contact(t, L.locationId))).id as string;
      await t.charla.ctx.db.query<any>('UPDATE conversations SET last_message_date = $2 WHERE id = $1', [
        id,
        new Date(T0 + offset),
      ]);
      made.push(id);
    }
    return { L, made };
  }

  async function pageThrough(
    L: Awaited<ReturnType<typeof freshLocation>>,
    base: string,
    after: (sort: [number, string]) => string,
  ) {
    const seen: string[] = [];
    let qs = base;
    for (let pages = 0; pages < 50; pages++) {
      const body = await search(L.req, L.locationId, qs);
      assert.ok(body.conversations.length <= 2);
      seen.push(...ids(body));
      if (body.conversations.length < 2) return { seen, pages: pages + 1 };
      const last = body.conversations[body.conversations.length - 1]!;
      qs = `${base}&${after(last.sort)}`;
    }
    assert.fail('paging did not end');
  }

  test('the full sort array pages through ties on the same millisecond, desc and asc', async () => {
    // Four share one millisecond, two share another.
    const { L, made } = await withDates([5000, 5000, 1000, 5000, 3000, 2000, 5000, 3000, 4000]);
    for (const sort of ['desc', 'asc']) {
      const all = ids(await search(L.req, L.locationId, `limit=100&sort=${sort}`));
      assert.deepEqual(sorted(all), sorted(made));
      for (const [form, after] of [
        ['brackets', (s: [number, string]) => `startAfterDate[]=${s[0]}&startAfterDate[]=${s[1]}`],
        ['repeated', (s: [number, string]) => `startAfterDate=${s[0]}&startAfterDate=${s[1]}`],
      ] as const) {
        const { seen, pages } = await pageThrough(L, `limit=2&sort=${sort}`, after);
        assert.deepEqual(seen, all, `${sort}, ${form}: every conversation once, in order`);
        assert.equal(pages, 5, `${sort}, ${form}`);
      }
    }
  });

  test('dates written by SQL with microseconds page through exactly too: they are stored in whole milliseconds', async () => {
    const L = await freshLocation(t);
    await t.charla.ctx.db.query(
      `WITH k AS (
         INSERT INTO contacts (location_id, id, name)
         SELECT $1, gen_random_uuid(), 'Tie ' || i FROM generate_series(1, 7) AS i RETURNING id)
       INSERT INTO conversations (location_id, id, contact_id, channel, type, last_message_date)
       SELECT $1, gen_random_uuid(), id, 'default', 'TYPE_PHONE', clock_timestamp() FROM k`,
      [L.locationId],
    );
    const all = ids(await search(L.req, L.locationId, 'limit=100'));
    assert.equal(all.length, 7);
    const { seen } = await pageThrough(
      L,
      'limit=2',
      (s) => `startAfterDate[]=${s[0]}&startAfterDate[]=${s[1]}`,
    );
    assert.deepEqual(seen, all);
  });

  test('sortBy=score_profile pages through fractional scores, each once', async () => {
    const { L, made } = await withDates([1000, 2000, 3000, 4000]);
    const scores = [4.5, 4.5, 3.25, 4.75];
    for (const [i, id] of made.entries()) {
      await t.charla.ctx.db.query('UPDATE conversations SET score = $2 WHERE id = $1', [id, scores[i]]);
    }
    const all = ids(await search(L.req, L.locationId, 'limit=100&sortBy=score_profile'));
    assert.equal(all[0], made[3], 'highest score first');
    const { seen } = await pageThrough(
      L,
      'limit=2&sortBy=score_profile',
      (s) => `startAfterDate[]=${s[0]}&startAfterDate[]=${s[1]}`,
    );
    assert.deepEqual(seen, all);
  });

  test('a single number pages through distinct last-message times', async () => {
    const { L, made } = await withDates([1000, 2000, 3000, 4000, 5000]);
    const { seen } = await pageThrough(L, 'limit=2', (s) => `startAfterDate=${s[0]}`);
    assert.deepEqual(seen, [...made].reverse());
    const asc = await pageThrough(L, 'limit=2&sort=asc', (s) => `startAfterDate=${s[0]}`);
    assert.deepEqual(asc.seen, made);
    const page = await search(L.req, L.locationId, `limit=100&startAfterDate=${T0 + 3000}`);
    assert.deepEqual(ids(page), [made[1], made[0]]);
    assert.equal(page.total, 5, 'total ignores the page position');
  });

  test('a single number over conversations sharing its millisecond skips none of them', {
    todo: 'limitation: with only the number (as a LeadConnector client passing lastMessageDate sends it) the ties at the page boundary are skipped; only the full `sort` array pages exactly',
  }, async () => {
    const { L, made } = await withDates([2000, 2000, 2000, 1000]);
    const { seen } = await pageThrough(L, 'limit=2', (s) => `startAfterDate=${s[0]}`);
    assert.deepEqual(sorted(seen), sorted(made));
  });

  test('paging by last_manual_message_date with the sort array', async () => {
    const L = await freshLocation(t);
    const made: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = (await createConversation(L.req, L.locationId, await contact(t, L.locationId))).id as string;
      await t.charla.ctx.db.query<any>(
        'UPDATE conversations SET last_manual_message_date = $2 WHERE id = $1',
        [id, i < 3 ? new Date(T0 + 7000) : null],
      );
      made.push(id);
    }
    const base = 'limit=2&sortBy=last_manual_message_date';
    const all = ids(await search(L.req, L.locationId, 'limit=100&sortBy=last_manual_message_date'));
    const { seen } = await pageThrough(L, base, (s) => `startAfterDate[]=${s[0]}&startAfterDate[]=${s[1]}`);
    assert.deepEqual(seen, all);
    assert.deepEqual(sorted(seen), sorted(made));
  });
});

describe('GET /conversations/search: bad requests', () => {
  test('bad values are 422s with a message array, never 500s', async () => {
    const cases: [string, RegExp][] = [
      ['limit=0', /limit/],
      ['limit=1000', /limit/],
      ['limit=101', /limit/],
      ['limit=abc', /limit/],
      ['limit=-1', /limit/],
      ['sort=up', /sort/],
      ['sortBy=name', /sortBy/],
      ['status=archived', /status/],
      ['lastMessageType=TYPE_PIGEON', /lastMessageType/],
      ['lastMessageAction=robot', /lastMessageAction/],
      ['lastMessageDirection=sideways', /lastMessageDirection/],
      ['conversationStatus=pending', /conversationStatus/],
      ['channel=sms', /channel/],
      ['startAfterDate=abc', /startAfterDate/],
      ['startAfterDate[]=abc&startAfterDate[]=x', /startAfterDate/],
      ['startAfterDate=1&startAfterDate=2&startAfterDate=3', /startAfterDate/],
      ['startDate=yesterday', /startDate/],
      ['endDate=1e3', /endDate/],
      ['scoreProfileMin=high', /scoreProfileMin/],
      ['scoreProfileMax=', /scoreProfileMax/],
      ['assignedTo=not-a-uuid', /assignedTo/],
      [`assignedTo=unassigned,${'x'.repeat(5)}`, /assignedTo/],
      ['followers=nope', /followers/],
      ['mentions=nope', /mentions/],
      [`query=${'q'.repeat(201)}`, /query/],
    ];
    for (const [qs, expected] of cases) {
      const res = await asA('GET', `/conversations/search?locationId=${t.a.locationId}&${qs}`);
      expect422(res, expected, qs);
    }
    expect422(await asA('GET', '/conversations/search'), /locationId is required/);
  });

  test('numbers beyond the representable dates are 422s, not 500s', async () => {
    for (const qs of [
      'startDate=99999999999999999999',
      'endDate=-99999999999999999999',
      'startAfterDate=99999999999999999999',
    ]) {
      const res = await asA('GET', `/conversations/search?locationId=${t.a.locationId}&${qs}`);
      assert.equal(res.status, 422, `${qs} -> ${res.status} ${JSON.stringify(res.body)}`);
    }
  });
});

describe("someone else's conversations", () => {
  test('tenant B gets 404 on A’s conversations by id, 403 naming A’s location, and nothing changes', async () => {
    const { contactId, id } = await aConversation();
    await inbound(asA, { type: 'SMS', conversationId: id, message: 'private' });
    const before = await snapshot(t, t.a.locationId);

    for (const res of [
      await asB('GET', `/conversations/${id}`),
      await asB('PUT', `/conversations/${id}`, { locationId: t.b.locationId, starred: true }),
      await asB('DELETE', `/conversations/${id}`),
      await asB('GET', `/conversations/${id}/messages`),
      await asB('POST', '/conversations/', { locationId: t.b.locationId, contactId }),
    ]) {
      assert.equal(res.status, 404, JSON.stringify(res.body));
      assert.equal(res.body.statusCode, 404);
      assert.ok(!JSON.stringify(res.body).includes('private'));
    }
    const forbidden = {
      statusCode: 403,
      message: 'The token does not have access to this location',
      error: 'Forbidden',
    };
    for (const res of [
      await asB('PUT', `/conversations/${id}`, { locationId: t.a.locationId, starred: true }),
      await asB('POST', '/conversations/', { locationId: t.a.locationId, contactId }),
      await asB('GET', `/conversations/search?locationId=${t.a.locationId}`),
      await asB('GET', `/conversations/search?locationId=${t.a.locationId}&id=${id}`),
    ]) {
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assert.deepEqual(res.body, forbidden);
    }
    const own = await search(asB, t.b.locationId, `limit=100&id=${id}`);
    assert.equal(own.total, 0);
    const byContact = await search(asB, t.b.locationId, `contactId=${contactId}`);
    assert.equal(byContact.total, 0);
    const byText = await search(asB, t.b.locationId, 'limit=100&query=private');
    assert.ok(!ids(byText).includes(id));
    assert.deepEqual(await snapshot(t, t.a.locationId), before);
  });

  test('an agency-wide key reaches every location', async () => {
    const { id } = await aConversation();
    const agency = client(t.url, lc(t.agencyKey));
    expectOk(await agency('GET', `/conversations/${id}`));
    const found = await search(agency, t.a.locationId, `id=${id}`);
    assert.deepEqual(ids(found), [id]);
  });
});

describe('scopes and the Version header', () => {
  test('conversations.readonly reads but cannot write or send', async () => {
    const { contactId, id } = await aConversation();
    const ro = client(t.url, lc(await t.key(['conversations.readonly'], [t.a.locationId])));
    expectOk(await ro('GET', `/conversations/${id}`));
    expectOk(await ro('GET', `/conversations/search?locationId=${t.a.locationId}`));
    const scope = {
      statusCode: 401,
      message: 'The token is not authorized for this scope.',
      error: 'Unauthorized',
    };
    const before = await snapshot(t, t.a.locationId);
    for (const res of [
      await ro('PUT', `/conversations/${id}`, { locationId: t.a.locationId, starred: true }),
      await ro('DELETE', `/conversations/${id}`),
      await ro('POST', '/conversations/', {
        locationId: t.a.locationId,
        contactId: await contact(t, t.a.locationId),
      }),
      await ro('POST', '/conversations/messages', { type: 'Live_Chat', contactId, message: 'hi' }),
      await ro('POST', '/conversations/messages/inbound', { type: 'SMS', contactId, message: 'hi' }),
      await ro('GET', `/conversations/${id}/messages`),
    ]) {
      assert.equal(res.status, 401, JSON.stringify(res.body));
      assert.deepEqual(res.body, scope);
    }
    assert.deepEqual(await snapshot(t, t.a.locationId), before);
  });

  test('conversations/message.write sends but cannot manage conversations', async () => {
    const { contactId, id } = await aConversation();
    const writer = client(t.url, lc(await t.key(['conversations/message.write'], [t.a.locationId])));
    expectOk(
      await writer('POST', '/conversations/messages', { type: 'Live_Chat', contactId, message: 'hi' }),
    );
    assert.equal((await writer('PUT', `/conversations/${id}`, { locationId: t.a.locationId })).status, 401);
    assert.equal((await writer('GET', `/conversations/${id}`)).status, 401);
  });

  test('a missing or unknown Version is a 401', async () => {
    const { id } = await aConversation();
    const noVersion = await client(t.url)('GET', `/conversations/${id}`, undefined, {
      authorization: `Bearer ${t.a.key}`,
    });
    assert.deepEqual(noVersion.body, {
      statusCode: 401,
      message: 'version header was not found.',
      error: 'Unauthorized',
    });
    const bad = await client(t.url, lc(t.a.key, '1999-01-01'))('GET', `/conversations/${id}`);
    assert.equal(bad.status, 401);
    for (const version of ['2021-04-15', '2021-07-28', '2023-02-21', 'v3']) {
      expectOk(await client(t.url, lc(t.a.key, version))('GET', `/conversations/${id}`));
    }
  });
});
