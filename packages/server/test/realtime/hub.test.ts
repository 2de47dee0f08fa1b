// The real-time hub on one node: real sockets, real PostgreSQL (and Redis when REDIS_URL is set).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BEARER_SUBPROTOCOL_PREFIX, CLOSE, MAX_CLIENT_FRAME_BYTES, SUBPROTOCOL } from '@charla/protocol';
import { appendMessage } from '../../src/core/messages/store.js';
import {
  locationAgentsOnline,
  renewNodePresence,
  setAgentPresence,
} from '../../src/core/presence/service.js';
import { contact } from '../leadconnector/messaging-fixtures.js';
import { startTestCharla, type TestCharla } from '../support/charla.js';
import { client } from '../support/http.js';
import {
  type Api,
  agentSays,
  api,
  expectNothing,
  ORIGIN,
  visitorSays,
  visitorToken,
  WsClient,
  widget,
} from './support.js';

let t: TestCharla;
let asA: Api;
let asB: Api;
let widgetA: string;
let widgetB: string;
const open: WsClient[] = [];

async function connect(opts: Parameters<typeof WsClient.open>[1] = {}): Promise<WsClient> {
  const c = await WsClient.open(t.url, opts);
  open.push(c);
  return c;
}

/** A visitor of location A (contact made here), with a conversation an agent opened. */
async function visitorA(): Promise<{ contactId: string; conversationId: string; token: string }> {
  const contactId = await contact(t, t.a.locationId);
  const sent = await agentSays(asA, contactId, 'Hi, how can I help?');
  return {
    contactId,
    conversationId: sent.conversationId,
    token: visitorToken({ locationId: t.a.locationId, channelId: widgetA, contactId }),
  };
}

async function agent(key = t.a.key, extra: Record<string, unknown> = {}): Promise<WsClient> {
  const c = await connect();
  c.hello({ key, ...extra });
  await c.ready();
  return c;
}

async function visitor(token: string, extra: Record<string, unknown> = {}): Promise<WsClient> {
  const c = await connect({ headers: ORIGIN });
  c.hello({ token, ...extra });
  return c;
}

before(async () => {
  t = await startTestCharla();
  asA = api(t.url, t.a.key);
  asB = api(t.url, t.b.key);
  widgetA = await widget(asA, t.a.locationId);
  widgetB = await widget(asB, t.b.locationId);
});
after(async () => {
  for (const c of open) c.ws.terminate();
  await t.close();
});

describe('real-time hub, one node', () => {
  test('a visitor and an agent exchange messages, typing and read receipts', async () => {
    const v = await visitorA();
    const ag = await agent();
    const vis = await visitor(v.token);
    const { welcome, synced } = await vis.ready();
    assert.equal(welcome.role, 'visitor');
    assert.equal(welcome.contactId, v.contactId);
    // Recent history first: the agent's greeting, replayed.
    const history = vis.messages(v.conversationId);
    assert.equal(history.length, 1);
    assert.equal(history[0].replay, true);
    assert.equal(history[0].message.body, 'Hi, how can I help?');
    assert.deepEqual(synced.since, [{ conversationId: v.conversationId, seq: 1 }]);
    const presence = await vis.next((f) => f.type === 'presence', 'presence');
    assert.equal(presence.agentsOnline, true);

    // Visitor → agent.
    await visitorSays(asA, v.conversationId, 'My order is late');
    const atAgent = await ag.next(
      (f) => f.type === 'message' && f.message.body === 'My order is late',
      'the visitor message at the agent',
    );
    assert.equal(atAgent.event, 'created');
    assert.equal(atAgent.message.direction, 'inbound');
    assert.equal(atAgent.message.seq, 2);
    await vis.next((f) => f.type === 'message' && f.message.seq === 2, 'the echo at the visitor');

    // Agent → visitor.
    await agentSays(asA, v.contactId, 'Let me check');
    const atVisitor = await vis.next(
      (f) => f.type === 'message' && f.message.body === 'Let me check',
      'the agent message at the visitor',
    );
    assert.equal(atVisitor.message.direction, 'outbound');
    assert.equal(atVisitor.message.seq, 3);
    assert.equal(atVisitor.replay, undefined);

    // Typing, both ways.
    vis.send({ type: 'typing', conversationId: v.conversationId, isTyping: true });
    const typing = await ag.next((f) => f.type === 'typing', 'visitor typing at the agent');
    assert.deepEqual(
      { from: typing.from, isTyping: typing.isTyping, conversationId: typing.conversationId },
      { from: 'visitor', isTyping: true, conversationId: v.conversationId },
    );
    const rest = await asA('POST', '/conversations/providers/live-chat/typing', {
      locationId: t.a.locationId,
      isTyping: 'true',
      visitorId: 'v',
      conversationId: v.conversationId,
    });
    assert.equal(rest.status, 201);
    const agentTyping = await vis.next((f) => f.type === 'typing', 'agent typing at the visitor');
    assert.equal(agentTyping.from, 'agent');
    assert.equal(agentTyping.isTyping, true);
    ag.send({ type: 'typing', conversationId: v.conversationId, isTyping: false });
    await vis.next((f) => f.type === 'typing' && f.isTyping === false, 'typing off at the visitor');
    // Repeats of the same state are throttled.
    for (let i = 0; i < 5; i++)
      vis.send({ type: 'typing', conversationId: v.conversationId, isTyping: true });
    await sleep(300);
    assert.equal(ag.frames.filter((f) => f.type === 'typing' && f.isTyping).length <= 2, true);

    // The visitor reads up to seq 3: the agent's messages become read, and agents hear of it.
    vis.send({ type: 'read', conversationId: v.conversationId, seq: 3 });
    const read = await ag.next(
      (f) => f.type === 'message' && f.event === 'updated' && f.message.seq === 3,
      'message.updated read',
    );
    assert.equal(read.message.status, 'read');
    const { rows } = await t.charla.ctx.db.query<{ seq: string; status: string }>(
      'SELECT seq, status FROM messages WHERE conversation_id = $1 ORDER BY seq',
      [v.conversationId],
    );
    assert.deepEqual(
      rows.map((r) => [Number(r.seq), r.status]),
      [
        [1, 'read'],
        [2, 'delivered'],
        [3, 'read'],
      ],
    );

    // The agent reads the conversation: unread count 0, the visitor is told.
    ag.send({ type: 'read', conversationId: v.conversationId });
    const agentRead = await vis.next((f) => f.type === 'read', 'read by agent at the visitor');
    assert.deepEqual(
      { by: agentRead.by, seq: agentRead.seq, conversationId: agentRead.conversationId },
      { by: 'agent', seq: 3, conversationId: v.conversationId },
    );
    const unread = await t.charla.ctx.db.query<{ unread_count: number }>(
      'SELECT unread_count FROM conversations WHERE id = $1',
      [v.conversationId],
    );
    assert.equal(unread.rows[0]!.unread_count, 0);

    // Closing the conversation reaches the visitor (status) and the agent (conversation event).
    const closed = await asA('PUT', `/conversations/${v.conversationId}`, {
      locationId: t.a.locationId,
      status: 'closed',
    });
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    const st = await vis.next((f) => f.type === 'conversation.status', 'status at the visitor');
    assert.equal(st.status, 'closed');
    const conv = await ag.next((f) => f.type === 'conversation' && f.statusChanged, 'conversation at agent');
    assert.equal(conv.status, 'closed');

    // No message arrived twice at either end.
    for (const c of [vis, ag]) {
      const created = c.messages(v.conversationId).filter((f) => f.event === 'created');
      assert.equal(new Set(created.map((f) => f.message.seq)).size, created.length);
    }
  });

  test('message frames carry the quoted message and what the attachment is', async () => {
    const v = await visitorA();
    const vis = await visitor(v.token);
    await vis.ready();
    const greeting = vis.messages(v.conversationId)[0].message;
    assert.equal(greeting.replyToId, null);
    assert.equal(greeting.media, null);
    await appendMessage(t.charla.ctx.db, {
      locationId: t.a.locationId,
      conversationId: v.conversationId,
      type: 'TYPE_LIVE_CHAT',
      direction: 'outbound',
      status: 'sent',
      body: 'the label',
      attachments: ['https://files.example/label.png'],
      replyToId: greeting.id,
      meta: { mediaType: 'image', filename: 'label.png', mimeType: 'image/png' },
    });
    const frame = await vis.next((f) => f.type === 'message' && f.message.body === 'the label', 'the image');
    assert.equal(frame.message.replyToId, greeting.id);
    assert.deepEqual(frame.message.media, { kind: 'image', filename: 'label.png', mimeType: 'image/png' });
  });

  test('a reconnecting visitor catches up from its last seq, with nothing missing or doubled', async () => {
    const v = await visitorA();
    const first = await visitor(v.token);
    await first.ready();
    first.close();
    for (let i = 1; i <= 5; i++) await agentSays(asA, v.contactId, `while away ${i}`);

    // Messages keep coming while the visitor reconnects: the switch-over from replay to live.
    let sending = true;
    const sender = (async () => {
      let n = 0;
      while (sending && n < 30) await agentSays(asA, v.contactId, `during ${++n}`);
    })();
    await sleep(30);
    const again = await visitor(v.token, { since: [{ conversationId: v.conversationId, seq: 1 }] });
    await again.ready();
    await sleep(100);
    sending = false;
    await sender;
    const { rows } = await t.charla.ctx.db.query<{ n: string }>(
      'SELECT max(seq) AS n FROM messages WHERE conversation_id = $1',
      [v.conversationId],
    );
    const last = Number(rows[0]!.n);
    await again.next((f) => f.type === 'message' && f.message.seq === last, 'the last message');
    const seqs = again.messages(v.conversationId).map((f) => f.message.seq);
    assert.deepEqual(
      seqs,
      Array.from({ length: last - 1 }, (_, i) => i + 2),
    );
  });

  test('an agent catches up the conversations it names; others arrive live only', async () => {
    const v = await visitorA();
    await visitorSays(asA, v.conversationId, 'one');
    await visitorSays(asA, v.conversationId, 'two');
    const ag = await connect();
    ag.hello({ key: t.a.key, since: [{ conversationId: v.conversationId, seq: 1 }] });
    const { synced } = await ag.ready();
    assert.deepEqual(
      ag.messages(v.conversationId).map((f) => f.message.body),
      ['one', 'two'],
    );
    assert.deepEqual(synced.since, [{ conversationId: v.conversationId, seq: 3 }]);
    // A later `sync` replays again from the seq given.
    ag.send({ type: 'sync', since: [{ conversationId: v.conversationId, seq: 2 }] });
    await ag.next((f) => f.type === 'synced', 'synced again');
    assert.deepEqual(
      ag.messages(v.conversationId).map((f) => f.message.body),
      ['one', 'two', 'two'],
    );
  });

  test('visitors see only their own Live_Chat messages; agents only their locations', async () => {
    const v1 = await visitorA();
    const v2 = await visitorA();
    const contactB = await contact(t, t.b.locationId);
    const convB = (await agentSays(asB, contactB, 'B greets')).conversationId;
    const tokenB = visitorToken({ locationId: t.b.locationId, channelId: widgetB, contactId: contactB });

    const agA = await agent(t.a.key);
    const agB = await agent(t.b.key);
    const vis1 = await visitor(v1.token);
    await vis1.ready();
    const visB = await visitor(tokenB);
    await visB.ready();

    await agentSays(asA, v2.contactId, 'for visitor 2 only');
    await visitorSays(asB, convB, 'B visitor speaks');
    await agentSays(asA, v1.contactId, 'for visitor 1');
    // An internal comment in visitor 1's conversation: agents see it, the visitor never does.
    await t.charla.ctx.db.tx(async (tx) => {
      const { appendMessage } = await import('../../src/core/messages/store.js');
      await appendMessage(tx, {
        locationId: t.a.locationId,
        conversationId: v1.conversationId,
        type: 'TYPE_INTERNAL_COMMENT',
        direction: 'outbound',
        status: 'sent',
        body: 'internal note',
      });
    });
    await vis1.next((f) => f.type === 'message' && f.message.body === 'for visitor 1', 'own message');
    await agA.next((f) => f.type === 'message' && f.message.body === 'internal note', 'note at agent A');
    await agB.next((f) => f.type === 'message' && f.message.body === 'B visitor speaks', 'B at agent B');
    await sleep(300);

    const bodies = (c: WsClient) => c.messages().map((f) => f.message.body);
    assert.ok(!bodies(vis1).includes('for visitor 2 only'));
    assert.ok(!bodies(vis1).includes('internal note'));
    assert.ok(!bodies(vis1).includes('B visitor speaks'));
    assert.ok(!bodies(visB).includes('for visitor 1'));
    assert.ok(!bodies(agA).includes('B visitor speaks'));
    assert.ok(!bodies(agB).some((b) => b === 'for visitor 1' || b === 'internal note'));
    assert.ok(bodies(agA).includes('for visitor 2 only'));

    // Acting on another contact's or location's conversation is refused, not performed.
    vis1.send({ type: 'typing', conversationId: v2.conversationId, isTyping: true });
    vis1.send({ type: 'read', conversationId: convB });
    const e1 = await vis1.next((f) => f.type === 'error', 'error for typing');
    const e2 = await vis1.next((f) => f.type === 'error', 'error for read');
    assert.equal(e1.code, 'not_found');
    assert.equal(e2.code, 'not_found');
    await expectNothing(agA, (f) => f.type === 'typing' && f.conversationId === v2.conversationId);
    // A visitor's catch-up never includes another contact's conversation, even when named.
    const nosy = await visitor(v1.token, { since: [{ conversationId: v2.conversationId, seq: 0 }] });
    await nosy.ready();
    assert.ok(nosy.messages().every((f) => f.message.contactId === v1.contactId));
  });

  test('credentials: bad, tampered, expired, revoked, wrong origin, wrong location', async () => {
    const v = await visitorA();
    const closeOf = async (opts: Parameters<typeof WsClient.open>[1], hello: Record<string, unknown>) => {
      const c = await connect(opts);
      c.hello(hello);
      return c;
    };
    await (await closeOf({ headers: ORIGIN }, { token: 'vt1.nope.nope' })).expectClose(CLOSE.UNAUTHENTICATED);
    const [p, payload, sig] = v.token.split('.') as [string, string, string];
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), c: randomUUID() }),
    ).toString('base64url');
    await (await closeOf({ headers: ORIGIN }, { token: `${p}.${forged}.${sig}` })).expectClose(
      CLOSE.UNAUTHENTICATED,
    );
    const otherSecret = visitorToken(
      { locationId: t.a.locationId, channelId: widgetA, contactId: v.contactId },
      { secret: 'another-secret' },
    );
    await (await closeOf({ headers: ORIGIN }, { token: otherSecret })).expectClose(CLOSE.UNAUTHENTICATED);
    const expired = visitorToken(
      { locationId: t.a.locationId, channelId: widgetA, contactId: v.contactId },
      { exp: Math.floor(Date.now() / 1000) - 10 },
    );
    await (await closeOf({ headers: ORIGIN }, { token: expired })).expectClose(CLOSE.TOKEN_EXPIRED);
    await (await closeOf({ headers: { origin: 'https://evil.example' } }, { token: v.token })).expectClose(
      CLOSE.FORBIDDEN,
    );
    await (await closeOf({}, { token: v.token })).expectClose(CLOSE.FORBIDDEN);
    await (await closeOf({}, { key: 'ck_live_nope' })).expectClose(CLOSE.UNAUTHENTICATED);
    await (await closeOf({}, {})).expectClose(CLOSE.UNAUTHENTICATED);
    await (await closeOf({}, { key: t.b.key, locations: [t.a.locationId] })).expectClose(CLOSE.FORBIDDEN);
    await (await closeOf({}, { key: t.agencyKey })).expectClose(CLOSE.FORBIDDEN);
    const readOnlyWidgets = await t.key(['chat-widget.readonly'], [t.a.locationId]);
    await (await closeOf({}, { key: readOnlyWidgets })).expectClose(CLOSE.FORBIDDEN);
    const wrongVersion = await connect();
    wrongVersion.send({ type: 'hello', v: 99, key: t.a.key });
    await wrongVersion.expectClose(CLOSE.UNSUPPORTED_VERSION);
    const early = await connect();
    early.send({ type: 'typing', conversationId: v.conversationId, isTyping: true });
    await early.expectClose(CLOSE.PROTOCOL_ERROR);
    const garbage = await connect();
    garbage.send('not json');
    await garbage.expectClose(CLOSE.PROTOCOL_ERROR);

    // A revoked key: refused when connecting, and cut when revoked while connected.
    const admin = client(t.url, { authorization: `Bearer ${t.agencyKey}` });
    const made = await admin('POST', '/admin/v1/keys', {
      name: 'agent',
      scopes: ['conversations/message.readonly'],
      locationIds: [t.a.locationId],
    });
    assert.equal(made.status, 201);
    const live = await agent(made.body.key);
    const revoked = await admin('DELETE', `/admin/v1/keys/${made.body.apiKey.id}`);
    assert.equal(revoked.status, 200);
    await live.expectClose(CLOSE.REVOKED);
    await (await closeOf({}, { key: made.body.key })).expectClose(CLOSE.UNAUTHENTICATED);
  });

  test('credentials may ride in Authorization or in the bearer subprotocol', async () => {
    const v = await visitorA();
    const byHeader = await connect({ headers: { authorization: `Bearer ${t.a.key}` } });
    byHeader.hello({});
    assert.equal((await byHeader.ready()).welcome.role, 'agent');
    const byProtocol = await connect({
      headers: ORIGIN,
      protocols: [SUBPROTOCOL, `${BEARER_SUBPROTOCOL_PREFIX}${v.token}`],
    });
    // The server answers with charla.v1, never with the credential.
    assert.equal(byProtocol.ws.protocol, SUBPROTOCOL);
    byProtocol.hello({});
    assert.equal((await byProtocol.ready()).welcome.role, 'visitor');
  });

  test('limits: frame size, frame rate, bad frames after hello', async () => {
    const ag = await agent();
    ag.send({ type: 'nope' });
    assert.equal((await ag.next((f) => f.type === 'error', 'error')).code, 'bad_frame');
    ag.send({ type: 'ping', id: 'x' });
    assert.deepEqual(await ag.next((f) => f.type === 'pong', 'pong'), { type: 'pong', id: 'x' });
    ag.send({ type: 'ping', id: 'y'.repeat(MAX_CLIENT_FRAME_BYTES) });
    await ag.expectClose(1009);

    // Acting needs the scopes the REST routes ask for: a read-only agent may only listen.
    const v = await visitorA();
    const reader = await agent(await t.key(['conversations/message.readonly'], [t.a.locationId]));
    reader.send({ type: 'typing', conversationId: v.conversationId, isTyping: true });
    reader.send({ type: 'read', conversationId: v.conversationId });
    assert.equal((await reader.next((f) => f.type === 'error', 'typing refused')).code, 'forbidden');
    assert.equal((await reader.next((f) => f.type === 'error', 'read refused')).code, 'forbidden');

    const spammer = await agent();
    for (let i = 0; i < 100; i++) spammer.send({ type: 'ping' });
    await spammer.expectClose(CLOSE.RATE_LIMITED);
  });

  test('presence: visitors learn whether agents are online; dead nodes expire', async () => {
    // A location of its own, so that other tests' agents do not count.
    const { createLocation } = await import('../../src/core/locations/service.js');
    const loc = (await createLocation(t.charla.ctx.db, { name: 'Presence' })).id;
    const key = await t.key(['*'], [loc]);
    const w = await widget(api(t.url, key), loc);
    const contactId = await contact(t, loc);
    const vis = await visitor(visitorToken({ locationId: loc, channelId: w, contactId }));
    await vis.ready();
    assert.equal((await vis.next((f) => f.type === 'presence', 'presence')).agentsOnline, false);
    const ag = await agent(key);
    assert.equal((await vis.next((f) => f.type === 'presence', 'online')).agentsOnline, true);
    ag.send({ type: 'presence', status: 'away' });
    assert.equal((await vis.next((f) => f.type === 'presence', 'away')).agentsOnline, false);
    ag.send({ type: 'presence', status: 'online' });
    assert.equal((await vis.next((f) => f.type === 'presence', 'back')).agentsOnline, true);
    ag.close();
    assert.equal((await vis.next((f) => f.type === 'presence', 'gone')).agentsOnline, false);

    // A node that stops renewing its rows (it died) takes its agents offline when they expire.
    const db = t.charla.ctx.db;
    await setAgentPresence(
      db,
      { locationId: loc, agentId: 'someone', nodeId: 'dead-node', status: 'online' },
      300,
    );
    await renewNodePresence(db, 'live-node', 300);
    assert.equal(await locationAgentsOnline(db, loc), true);
    await sleep(400);
    assert.equal(await locationAgentsOnline(db, loc), false);
  });

  test('stopping a node closes its sockets with 1001 (going away)', async () => {
    const { startTestNode } = await import('../support/charla.js');
    const { createTestDatabase } = await import('../support/db.js');
    const database = await createTestDatabase();
    const node = await startTestNode(database.url);
    try {
      const { createLocation } = await import('../../src/core/locations/service.js');
      const { createKey } = await import('../../src/core/keys/service.js');
      const loc = (await createLocation(node.charla.ctx.db, { name: 'Stop' })).id;
      const { key } = await createKey(node.charla.ctx.db, { name: 'k', scopes: ['*'], locationIds: [loc] });
      const c = await WsClient.open(node.url);
      open.push(c);
      c.hello({ key });
      await c.ready();
      const stopped = node.close();
      await c.expectClose(CLOSE.GOING_AWAY);
      await stopped;
    } finally {
      await node.close().catch(() => {});
      await database.drop();
    }
  });
});
