import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setPublicLimits } from '../../src/api/mosend/public/limits.js';
import { appendMessage } from '../../src/core/messages/store.js';
import { signVisitorToken, verifyVisitorToken } from '../../src/core/visitors/token.js';
import { startTestCharla, type TestCharla } from '../support/charla.js';
import {
  api,
  bearer,
  channel,
  expectError,
  ORIGIN,
  RELAXED,
  session,
  type TestChannel,
} from './public-fixtures.js';

let t: TestCharla;
const SECRET = 'test-secret-test-secret-test-secret-0123';

before(async () => {
  t = await startTestCharla();
  setPublicLimits(t.charla.ctx, RELAXED);
});
after(() => t.close());

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

const send = (ch: TestChannel, token: string, body: unknown) =>
  api(t)('POST', `/web-chat/${ch.token}/messages`, body, bearer(token));

const history = (ch: TestChannel, token: string, query = '') =>
  api(t)('GET', `/web-chat/${ch.token}/history?sessionToken=${encodeURIComponent(token)}${query}`);

async function upload(ch: TestChannel, token: string, name: string, data: Buffer, field = 'file') {
  const form = new FormData();
  form.append(field, new Blob([new Uint8Array(data)]), name);
  const res = await fetch(`${t.url}/web-chat/${ch.token}/upload`, {
    method: 'POST',
    headers: { ...bearer(token), origin: ORIGIN },
    body: form,
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

async function agentReply(
  locationId: string,
  conversationId: string,
  type: string,
  extra: Record<string, unknown> = {},
) {
  return appendMessage(t.charla.ctx.db, {
    locationId,
    conversationId,
    type,
    direction: 'outbound',
    status: 'sent',
    body: `agent ${type}`,
    ...extra,
  });
}

describe('messages', () => {
  test('a text message opens the live-chat conversation on this channel and is announced', async () => {
    const ch = await channel(t, t.a.locationId, { departments: [{ id: 'sales', name: 'Sales' }] });
    const s = await session(t, ch, { departmentId: 'sales' });
    const res = await send(ch, s.sessionToken, { body: 'Hello there' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const m = res.body.data;
    assert.equal(m.direction, 'IN');
    assert.equal(m.type, 'text');
    assert.deepEqual(m.payload, { body: 'Hello there' });
    assert.equal(m.seq, 1);
    assert.equal(m.status, 'delivered');
    assert.ok(!Number.isNaN(Date.parse(m.createdAt)));
    const db = t.charla.ctx.db;
    const { rows: convs } = await db.query<any>(
      'SELECT * FROM conversations WHERE location_id = $1 AND id = $2',
      [t.a.locationId, m.conversationId],
    );
    assert.equal(convs[0].channel, 'live_chat');
    assert.equal(convs[0].chat_widget_id, ch.id);
    assert.equal(convs[0].contact_id, s.contactId);
    assert.equal(convs[0].department_id, 'sales');
    const { rows: msgs } = await db.query<any>('SELECT * FROM messages WHERE location_id = $1 AND id = $2', [
      t.a.locationId,
      m.id,
    ]);
    assert.equal(msgs[0].type, 'TYPE_LIVE_CHAT');
    assert.equal(msgs[0].chat_widget_id, ch.id);
    assert.equal(msgs[0].direction, 'inbound');
    const { rows: events } = await db.query<any>(
      "SELECT payload FROM outbox WHERE location_id = $1 AND topic = 'message.created' AND payload->>'messageId' = $2",
      [t.a.locationId, m.id],
    );
    assert.equal(events.length, 1);
    const second = await send(ch, s.sessionToken, { body: 'Anyone?' });
    assert.equal(second.body.data.conversationId, m.conversationId);
    assert.equal(second.body.data.seq, 2);
  });

  test('clientMessageId makes a retry return the first message', async () => {
    const ch = await channel(t, t.a.locationId);
    const s = await session(t, ch);
    const first = await send(ch, s.sessionToken, { body: 'once', clientMessageId: 'c-1' });
    assert.equal(first.status, 201);
    const again = await send(ch, s.sessionToken, { body: 'once', clientMessageId: 'c-1' });
    assert.equal(again.status, 201);
    assert.equal(again.body.data.id, first.body.data.id);
    const racing = await Promise.all(
      Array.from({ length: 10 }, () => send(ch, s.sessionToken, { body: 'race', clientMessageId: 'c-2' })),
    );
    assert.equal(new Set(racing.map((r) => r.body.data.id)).size, 1);
    const { rows } = await t.charla.ctx.db.query<any>(
      'SELECT count(*)::int AS n FROM messages WHERE location_id = $1 AND conversation_id = $2',
      [t.a.locationId, first.body.data.conversationId],
    );
    assert.equal(rows[0].n, 2);
    // Another visitor's same clientMessageId is their own message.
    const other = await session(t, ch);
    const theirs = await send(ch, other.sessionToken, { body: 'mine', clientMessageId: 'c-1' });
    assert.notEqual(theirs.body.data.id, first.body.data.id);
  });

  test('history: the visitor messages and agent replies, nothing internal or scheduled, paged', async () => {
    const ch = await channel(t, t.a.locationId);
    const s = await session(t, ch);
    const ids: string[] = [];
    for (let i = 1; i <= 5; i++) ids.push((await send(ch, s.sessionToken, { body: `m${i}` })).body.data.id);
    const conversationId = (await history(ch, s.sessionToken)).body.data[0].conversationId;
    const reply = await agentReply(t.a.locationId, conversationId, 'TYPE_LIVE_CHAT');
    await agentReply(t.a.locationId, conversationId, 'TYPE_INTERNAL_COMMENT');
    await agentReply(t.a.locationId, conversationId, 'TYPE_LIVE_CHAT', {
      status: 'scheduled',
      scheduledAt: new Date(Date.now() + 3600_000),
    });
    const all = await history(ch, s.sessionToken);
    assert.equal(all.status, 200, JSON.stringify(all.body));
    assert.deepEqual(
      all.body.data.map((m: any) => m.id),
      [...ids, reply.id],
    );
    const out = all.body.data.at(-1);
    assert.equal(out.direction, 'OUT');
    assert.equal(out.payload.body, 'agent TYPE_LIVE_CHAT');
    assert.deepEqual(all.body.pageInfo, { endCursor: null, hasNextPage: false });

    const page1 = await api(t)(
      'GET',
      `/web-chat/${ch.token}/history?limit=4`,
      undefined,
      bearer(s.sessionToken),
    );
    assert.deepEqual(
      page1.body.data.map((m: any) => m.id),
      [...ids.slice(2), reply.id],
    );
    assert.equal(page1.body.pageInfo.hasNextPage, true);
    const page2 = await history(ch, s.sessionToken, `&limit=4&before=${page1.body.pageInfo.endCursor}`);
    assert.deepEqual(
      page2.body.data.map((m: any) => m.id),
      ids.slice(0, 2),
    );
    assert.equal(page2.body.pageInfo.hasNextPage, false);
    expectError(await history(ch, s.sessionToken, '&limit=0'), 400);
    expectError(await history(ch, s.sessionToken, '&limit=abc'), 400);
    expectError(await history(ch, s.sessionToken, '&before=not-an-id'), 404);
  });

  test('upload: sniffed, size-limited, and only the uploader may attach it', async () => {
    const ch = await channel(t, t.a.locationId);
    const s = await session(t, ch);
    const up = await upload(ch, s.sessionToken, 'photo.png', PNG);
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const f = up.body.data;
    assert.equal(f.mediaAssetId, f.mediaId);
    assert.equal(f.mimeType, 'image/png');
    assert.match(f.url, /\/media\//);
    const file = await fetch(f.url);
    assert.equal(file.status, 200);
    assert.deepEqual(Buffer.from(await file.arrayBuffer()), PNG);

    const msg = await send(ch, s.sessionToken, {
      caption: 'look',
      attachment: { mediaAssetId: f.mediaAssetId, kind: 'image' },
    });
    assert.equal(msg.status, 201, JSON.stringify(msg.body));
    assert.equal(msg.body.data.type, 'image');
    assert.equal(msg.body.data.payload.link, f.url);
    assert.equal(msg.body.data.payload.caption, 'look');
    assert.equal(msg.body.data.payload.id, f.mediaAssetId);

    const other = await session(t, ch);
    expectError(
      await send(ch, other.sessionToken, { attachment: { mediaAssetId: f.mediaAssetId } }),
      400,
      /uploaded in this session/,
    );
    expectError(await send(ch, s.sessionToken, { attachment: { mediaAssetId: randomUUID() } }), 400);
    expectError(
      await upload(ch, s.sessionToken, 'page.png', Buffer.from('<html><script>x</script></html>')),
      415,
    );
    expectError(
      await upload(ch, s.sessionToken, 'big.png', Buffer.concat([PNG, Buffer.alloc(5 * 1024 * 1024)])),
      413,
    );
    expectError(await upload(ch, s.sessionToken, 'photo.png', PNG, 'other'), 400, /named file/);
    expectError(
      await api(t)('POST', `/web-chat/${ch.token}/upload`, { file: 'x' }, bearer(s.sessionToken)),
      400,
    );
  });

  test('link-email: the typed email goes on the visitor own contact; a fresh token comes back', async () => {
    const ch = await channel(t, t.a.locationId);
    const s = await session(t, ch);
    const res = await api(t)(
      'POST',
      `/web-chat/${ch.token}/sessions/link-email`,
      { email: 'linked@visitor.example', name: 'Lin' },
      bearer(s.sessionToken),
    );
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.data.contactId, s.contactId);
    assert.equal(res.body.data.identityVerified, false);
    assert.equal(res.body.data.visitorId, s.visitorId);
    assert.ok(verifyVisitorToken(SECRET, res.body.data.sessionToken));
    const { rows } = await t.charla.ctx.db.query<any>(
      'SELECT name, email FROM contacts WHERE location_id = $1 AND id = $2',
      [t.a.locationId, s.contactId],
    );
    assert.deepEqual(rows[0], { name: 'Lin', email: 'linked@visitor.example' });
    expectError(
      await api(t)(
        'POST',
        `/web-chat/${ch.token}/sessions/link-email`,
        { email: 'nope' },
        bearer(s.sessionToken),
      ),
      400,
    );
  });

  test('bad input: 400 in the Mosend shape', async () => {
    const ch = await channel(t, t.a.locationId);
    const s = await session(t, ch);
    for (const body of [
      {},
      { body: '   ' },
      { body: 'x'.repeat(4097) },
      { body: 'a', caption: 'b' },
      { body: 1 },
      { attachment: { mediaAssetId: 'nope' } },
      { attachment: { mediaAssetId: randomUUID(), kind: 'sticker' } },
      { body: 'a', clientMessageId: '' },
      { body: 'a', extra: true },
      [],
    ]) {
      expectError(await send(ch, s.sessionToken, body), 400, undefined, JSON.stringify(body));
    }
  });

  test('messages are rate limited per visitor', async () => {
    const ch = await channel(t, t.a.locationId);
    const s = await session(t, ch);
    setPublicLimits(t.charla.ctx, {
      ...RELAXED,
      messagePerVisitor: { burst: 3, intervalMs: 60_000, daily: 1000 },
    });
    try {
      const statuses: number[] = [];
      let limited: any;
      for (let i = 0; i < 10; i++) {
        const r = await send(ch, s.sessionToken, { body: `n${i}` });
        statuses.push(r.status);
        if (r.status === 429) limited = r;
      }
      assert.ok(limited, `${statuses}`);
      expectError(limited, 429);
      assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    } finally {
      setPublicLimits(t.charla.ctx, RELAXED);
    }
  });
});

describe('upload limits', () => {
  test('uploads have an allowance of their own per visitor, apart from messages', async () => {
    const ch = await channel(t, t.a.locationId);
    const s = await session(t, ch);
    setPublicLimits(t.charla.ctx, {
      ...RELAXED,
      uploadPerVisitor: { burst: 2, intervalMs: 60_000, daily: 1000 },
    });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await upload(ch, s.sessionToken, `p${i}.png`, PNG)).status);
      assert.deepEqual(statuses, [201, 201, 429, 429]);
      // Messages still go through: their allowance is another one.
      assert.equal((await send(ch, s.sessionToken, { body: 'still here' })).status, 201);
      // Another visitor uploads as before.
      const other = await session(t, ch);
      assert.equal((await upload(ch, other.sessionToken, 'q.png', PNG)).status, 201);
    } finally {
      setPublicLimits(t.charla.ctx, RELAXED);
    }
  });
});

describe('isolation between locations and channels', () => {
  test('a visitor token opens and reads only its own channel of its own location', async () => {
    const chA = await channel(t, t.a.locationId);
    const chA2 = await channel(t, t.a.locationId);
    const chB = await channel(t, t.b.locationId);
    const sA = await session(t, chA);
    const sB = await session(t, chB);
    await send(chA, sA.sessionToken, { body: 'secret of A' });
    await send(chB, sB.sessionToken, { body: 'secret of B' });
    const count = async () =>
      (await t.charla.ctx.db.query<any>('SELECT count(*)::int AS n FROM messages')).rows[0].n as number;
    const before = await count();

    // Channel A's session on channel B's (other location) and A2's (same location) paths.
    for (const other of [chB, chA2]) {
      expectError(await send(other, sA.sessionToken, { body: 'x' }), 403, /another chat channel/);
      expectError(await history(other, sA.sessionToken), 403);
      expectError(await upload(other, sA.sessionToken, 'a.png', PNG), 403);
    }
    // Tampered tokens: claims changed without the signature, or signed with another secret.
    const [p, payload, sig] = sA.sessionToken.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const forgedPayload = Buffer.from(
      JSON.stringify({ ...claims, l: t.b.locationId, w: chB.id, c: sB.contactId }),
    ).toString('base64url');
    const tampered = [
      `${p}.${forgedPayload}.${sig}`,
      `${p}.${payload}.${sig!.slice(0, -2)}`,
      `${sA.sessionToken}x`,
      'vt1..',
      'garbage',
      signVisitorToken('another-secret', {
        visitorId: claims.v,
        locationId: t.b.locationId,
        channelId: chB.id,
        contactId: sB.contactId,
        identityVerified: true,
      }).token,
      signVisitorToken(SECRET, {
        visitorId: claims.v,
        locationId: t.a.locationId,
        channelId: chA.id,
        contactId: sA.contactId,
        identityVerified: false,
        exp: Math.floor(Date.now() / 1000) - 1,
      }).token,
    ];
    for (const tok of tampered) {
      expectError(await send(chB, tok, { body: 'x' }), 401, undefined, tok);
      expectError(await history(chB, tok), 401, undefined, tok);
    }
    // A well-signed token naming a visitor that is not on this channel.
    const crossed = signVisitorToken(SECRET, {
      visitorId: claims.v,
      locationId: t.b.locationId,
      channelId: chB.id,
      contactId: sB.contactId,
      identityVerified: false,
    }).token;
    expectError(await send(chB, crossed, { body: 'x' }), 401);
    expectError(await api(t)('GET', `/web-chat/${chA.token}/history`), 401, /token is required/);
    assert.equal(await count(), before, 'nothing was written');

    const histA = await history(chA, sA.sessionToken);
    assert.deepEqual(
      histA.body.data.map((m: any) => m.payload.body),
      ['secret of A'],
    );
    const histB = await history(chB, sB.sessionToken);
    assert.deepEqual(
      histB.body.data.map((m: any) => m.payload.body),
      ['secret of B'],
    );
  });

  test('a visitor quotes a message of their own conversation, never one of another', async () => {
    const ch = await channel(t, t.a.locationId);
    const s = await session(t, ch);
    const first = await send(ch, s.sessionToken, { body: 'first' });
    const quoted = await send(ch, s.sessionToken, {
      body: 'about that',
      replyToMessageId: first.body.data.id,
    });
    assert.equal(quoted.status, 201, JSON.stringify(quoted.body));
    assert.equal(quoted.body.data.replyToMessageId, first.body.data.id);
    const { rows } = await t.charla.ctx.db.query<any>('SELECT reply_to_id FROM messages WHERE id = $1', [
      quoted.body.data.id,
    ]);
    assert.equal(rows[0].reply_to_id, first.body.data.id);
    // Another visitor's message, an unknown id and a malformed one: 400, nothing stored.
    const other = await session(t, ch);
    const theirs = await send(ch, other.sessionToken, { body: 'theirs' });
    for (const replyToMessageId of [theirs.body.data.id, randomUUID(), 'nope']) {
      expectError(
        await send(ch, s.sessionToken, { body: 'x', replyToMessageId }),
        400,
        /replyToMessageId must be a message of this conversation/,
      );
    }
    const hist = await history(ch, s.sessionToken);
    assert.deepEqual(
      hist.body.data.map((m: any) => m.payload.body),
      ['first', 'about that'],
    );
  });

  test('a contact talking through two channels has a conversation on each, never merged', async () => {
    const ch1 = await channel(t, t.a.locationId);
    const ch2 = await channel(t, t.a.locationId);
    const s1 = await session(t, ch1);
    const first = await send(ch1, s1.sessionToken, { body: 'on channel 1' });
    // The same contact on another channel (as a verified identity would be).
    const s2 = await session(t, ch2);
    const visitorId = verifyVisitorToken(SECRET, s2.sessionToken)!.visitorId;
    await t.charla.ctx.db.query(
      'UPDATE visitors SET contact_id = $2, identity_verified = true WHERE id = $1',
      [visitorId, s1.contactId],
    );
    const tok = signVisitorToken(SECRET, {
      visitorId,
      locationId: t.a.locationId,
      channelId: ch2.id,
      contactId: s1.contactId,
      identityVerified: true,
    }).token;
    const second = await send(ch2, tok, { body: 'on channel 2' });
    assert.equal(second.status, 201, JSON.stringify(second.body));
    assert.notEqual(second.body.data.conversationId, first.body.data.conversationId);
    assert.deepEqual(
      (await history(ch2, tok)).body.data.map((m: any) => m.payload.body),
      ['on channel 2'],
    );
    assert.deepEqual(
      (await history(ch1, s1.sessionToken)).body.data.map((m: any) => m.payload.body),
      ['on channel 1'],
    );
  });
});
