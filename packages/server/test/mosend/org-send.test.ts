import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openConversation } from '../../src/core/conversations/service.js';
import { startTestCharla, type TestCharla } from '../support/charla.js';
import { client } from '../support/http.js';

let t: TestCharla;
let asA: ReturnType<typeof client>;
let asB: ReturnType<typeof client>;

before(async () => {
  t = await startTestCharla();
  asA = client(t.url, { 'x-api-key': t.a.key });
  asB = client(t.url, { 'x-api-key': t.b.key });
});
after(() => t.close());

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);
const PDF = Buffer.from(
  '%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n',
  'latin1',
);

let serial = 0;

/** A contact and its open conversation on a channel, made directly in the database. */
async function conversation(locationId: string, channel: 'live_chat' | 'default' = 'live_chat') {
  const db = t.charla.ctx.db;
  const n = ++serial;
  const { rows } = await db.query<{ id: string }>(
    'INSERT INTO contacts (location_id, id, name, email) VALUES ($1, gen_random_uuid(), $2, $3) RETURNING id',
    [locationId, `Visitor ${n}`, `v${n}@example.test`],
  );
  const { conversation: c } = await openConversation(db, { locationId, contactId: rows[0]!.id, channel });
  return c.id;
}

const sendPath = (orgId: string, convId: string) =>
  `/organizations/${orgId}/conversations/${convId}/web-chat/send`;
const mediaPath = (orgId: string, convId: string) =>
  `/organizations/${orgId}/conversations/${convId}/web-chat/media`;

async function upload(
  key: string,
  orgId: string,
  convId: string,
  name: string,
  data: Buffer,
  field = 'file',
) {
  const fd = new FormData();
  fd.append(field, new Blob([new Uint8Array(data)]), name);
  const res = await fetch(t.url + mediaPath(orgId, convId), {
    method: 'POST',
    headers: { 'x-api-key': key },
    body: fd,
  });
  return { status: res.status, body: (await res.json()) as any };
}

function assertMosendError(res: { status: number; body: any }, status: number, pattern?: RegExp) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.statusCode, status);
  assert.equal(typeof res.body.error, 'string');
  assert.ok(!Number.isNaN(Date.parse(res.body.timestamp)));
  assert.equal(typeof res.body.path, 'string');
  if (pattern) assert.match([res.body.message].flat().join(' | '), pattern);
}

async function snapshot(locationId: string) {
  const db = t.charla.ctx.db;
  const q = async (sql: string) => (await db.query(sql, [locationId])).rows;
  return {
    messages: await q('SELECT * FROM messages WHERE location_id = $1 ORDER BY id'),
    conversations: await q('SELECT * FROM conversations WHERE location_id = $1 ORDER BY id'),
    media: await q('SELECT * FROM media WHERE location_id = $1 ORDER BY id'),
  };
}

describe('POST /organizations/:orgId/conversations/:convId/web-chat/send', () => {
  test('stores an outbound live-chat message, announced through the outbox, as a Mosend Message', async () => {
    const conv = await conversation(t.a.locationId);
    const res = await asA('POST', sendPath(t.a.locationId, conv), { type: 'text', body: 'Hello there' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.ok(!Number.isNaN(Date.parse(res.body.timestamp)));
    const m = res.body.data;
    assert.match(m.id, /^[0-9a-f-]{36}$/);
    assert.equal(m.conversationId, conv);
    assert.equal(m.direction, 'OUT');
    assert.equal(m.type, 'text');
    assert.equal(m.status, 'sent');
    assert.deepEqual(m.payload, { body: 'Hello there' });
    assert.equal(m.replyToMessageId, null);
    assert.ok(!Number.isNaN(Date.parse(m.createdAt)) && !Number.isNaN(Date.parse(m.updatedAt)));

    const db = t.charla.ctx.db;
    const row = (await db.query('SELECT * FROM messages WHERE id = $1', [m.id])).rows[0]!;
    assert.equal(row.type, 'TYPE_LIVE_CHAT');
    assert.equal(row.direction, 'outbound');
    assert.equal(row.location_id, t.a.locationId);
    const events = await db.query(
      "SELECT payload FROM outbox WHERE location_id = $1 AND topic = 'message.created' AND payload->>'messageId' = $2",
      [t.a.locationId, m.id],
    );
    assert.equal(events.rowCount, 1);
    const jobs = await db.query('SELECT 1 FROM jobs WHERE ref = $1', [m.id]);
    assert.equal(jobs.rowCount, 0, 'live chat goes to the hub, not a delivery job');
    const c = (await db.query('SELECT last_message_body FROM conversations WHERE id = $1', [conv])).rows[0]!;
    assert.equal(c.last_message_body, 'Hello there');
  });

  test('type defaults to text; replies quote a message of the same conversation', async () => {
    const conv = await conversation(t.a.locationId);
    const first = await asA('POST', sendPath(t.a.locationId, conv), { body: 'First' });
    assert.equal(first.status, 201);
    assert.equal(first.body.data.type, 'text');
    const reply = await asA('POST', sendPath(t.a.locationId, conv), {
      body: 'Second',
      replyToMessageId: first.body.data.id,
    });
    assert.equal(reply.status, 201);
    assert.equal(reply.body.data.replyToMessageId, first.body.data.id);

    const other = await conversation(t.a.locationId);
    const before = await snapshot(t.a.locationId);
    const cross = await asA('POST', sendPath(t.a.locationId, other), {
      body: 'x',
      replyToMessageId: first.body.data.id,
    });
    assertMosendError(cross, 400, /replyToMessageId must be a message of this conversation/);
    assert.deepEqual(await snapshot(t.a.locationId), before);
  });

  test('an Idempotency-Key makes a retry answer the first message', async () => {
    const conv = await conversation(t.a.locationId);
    const headers = { 'idempotency-key': `k-${Date.now()}` };
    const one = await asA('POST', sendPath(t.a.locationId, conv), { body: 'Once' }, headers);
    const two = await asA('POST', sendPath(t.a.locationId, conv), { body: 'Once' }, headers);
    assert.equal(one.status, 201);
    assert.equal(two.status, 201);
    assert.equal(two.body.data.id, one.body.data.id);
    const n = await t.charla.ctx.db.query('SELECT 1 FROM messages WHERE conversation_id = $1', [conv]);
    assert.equal(n.rowCount, 1);
  });

  test('refuses bad bodies with 400 in the Mosend shape, and stores nothing', async () => {
    const conv = await conversation(t.a.locationId);
    const media = await upload(t.a.key, t.a.locationId, conv, 'doc.pdf', PDF);
    assert.equal(media.status, 201);
    const before = await snapshot(t.a.locationId);
    const cases: [unknown, RegExp][] = [
      [{}, /body should not be empty/],
      [{ type: 'text', body: '   ' }, /body should not be empty/],
      [{ type: 'text', body: 'x'.repeat(4097) }, /body must be shorter than or equal to 4096/],
      [
        { type: 'sticker', body: 'x' },
        /type must be one of the following values: text, image, video, audio, document/,
      ],
      [{ type: 'text', body: 42 }, /body must be string/],
      [{ type: 'image' }, /mediaAssetId is required when type is image/],
      [{ type: 'image', mediaAssetId: 'nope' }, /mediaAssetId must be a UUID/],
      [{ type: 'document', mediaAssetId: '00000000-0000-4000-8000-000000000000' }, /names no uploaded file/],
      [
        { type: 'image', mediaAssetId: media.body.data.mediaAssetId },
        /application\/pdf, not a file of type image/,
      ],
      [{ type: 'text', body: 'x', replyToMessageId: 'abc' }, /replyToMessageId must be a UUID/],
      [{ body: 'x', extra: 1 }, /property extra should not exist/],
      [[], /must be object/],
      [undefined, /body should not be empty|must be object/],
    ];
    for (const [body, pattern] of cases) {
      const res = await asA('POST', sendPath(t.a.locationId, conv), body);
      assertMosendError(res, 400, pattern);
      assert.ok(Array.isArray(res.body.message));
    }
    assert.deepEqual(await snapshot(t.a.locationId), before);
  });

  test('only web-chat conversations take web-chat messages', async () => {
    const conv = await conversation(t.a.locationId, 'default');
    assertMosendError(
      await asA('POST', sendPath(t.a.locationId, conv), { body: 'x' }),
      400,
      /not a web-chat conversation/,
    );
    assertMosendError(
      await asA('POST', sendPath(t.a.locationId, '00000000-0000-4000-8000-000000000000'), { body: 'x' }),
      404,
    );
    assertMosendError(await asA('POST', sendPath(t.a.locationId, 'not-a-uuid'), { body: 'x' }), 404);
  });
});

describe('POST /organizations/:orgId/conversations/:convId/web-chat/media', () => {
  test('stores a file sniffed by content and sends it as an image with a caption', async () => {
    const conv = await conversation(t.a.locationId);
    const up = await upload(t.a.key, t.a.locationId, conv, 'photo.png', PNG);
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const d = up.body.data;
    assert.match(d.mediaAssetId, /^[0-9a-f-]{36}$/);
    assert.equal(d.mediaId, d.mediaAssetId);
    assert.equal(d.mimeType, 'image/png');
    const file = await fetch(d.url);
    assert.equal(file.status, 200);
    assert.deepEqual(Buffer.from(await file.arrayBuffer()), PNG);

    const sent = await asA('POST', sendPath(t.a.locationId, conv), {
      type: 'image',
      mediaAssetId: d.mediaAssetId,
      body: 'Our logo',
    });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    assert.equal(sent.body.data.type, 'image');
    assert.deepEqual(sent.body.data.payload, { link: d.url, caption: 'Our logo', filename: 'photo.png' });

    const doc = await upload(t.a.key, t.a.locationId, conv, 'terms.pdf', PDF);
    const asDoc = await asA('POST', sendPath(t.a.locationId, conv), {
      type: 'document',
      mediaAssetId: doc.body.data.mediaId,
    });
    assert.equal(asDoc.status, 201);
    assert.deepEqual(asDoc.body.data.payload, { link: doc.body.data.url, filename: 'terms.pdf' });
  });

  test('refuses disallowed content, oversize and malformed uploads, storing nothing', async () => {
    const conv = await conversation(t.a.locationId);
    const before = await snapshot(t.a.locationId);
    const html = Buffer.from('<html><script>alert(1)</script></html>');
    assertMosendError(
      await upload(t.a.key, t.a.locationId, conv, 'photo.png', html),
      415,
      /not an allowed type/,
    );
    assertMosendError(
      await upload(
        t.a.key,
        t.a.locationId,
        conv,
        'big.pdf',
        Buffer.concat([PDF, Buffer.alloc(10 * 1024 * 1024)]),
      ),
      413,
    );
    assertMosendError(await upload(t.a.key, t.a.locationId, conv, 'empty.pdf', Buffer.alloc(0)), 400);
    assertMosendError(
      await upload(t.a.key, t.a.locationId, conv, 'a.png', PNG, 'attachment'),
      400,
      /under "file"/,
    );
    const json = await asA('POST', mediaPath(t.a.locationId, conv), { file: 'x' });
    assertMosendError(json, 400, /multipart\/form-data/);
    assert.deepEqual(await snapshot(t.a.locationId), before);
  });
});

describe('isolation and scopes', () => {
  test("another location's conversations and files are never reachable, and nothing changes", async () => {
    const convA = await conversation(t.a.locationId);
    const convB = await conversation(t.b.locationId);
    const mediaA = (await upload(t.a.key, t.a.locationId, convA, 'photo.png', PNG)).body.data.mediaAssetId;
    const msgA = (await asA('POST', sendPath(t.a.locationId, convA), { body: 'hi' })).body.data.id;
    const before = await snapshot(t.a.locationId);
    const beforeB = await snapshot(t.b.locationId);

    assertMosendError(await asB('POST', sendPath(t.a.locationId, convA), { body: 'x' }), 403);
    assertMosendError(await upload(t.b.key, t.a.locationId, convA, 'photo.png', PNG), 403);
    assertMosendError(await asB('POST', sendPath(t.b.locationId, convA), { body: 'x' }), 404);
    assertMosendError(await upload(t.b.key, t.b.locationId, convA, 'photo.png', PNG), 404);
    // A's file or message named from B's own conversation.
    assertMosendError(
      await asB('POST', sendPath(t.b.locationId, convB), { type: 'image', mediaAssetId: mediaA }),
      400,
      /names no uploaded file/,
    );
    assertMosendError(
      await asB('POST', sendPath(t.b.locationId, convB), { body: 'x', replyToMessageId: msgA }),
      400,
      /replyToMessageId must be a message of this conversation/,
    );
    assert.deepEqual(await snapshot(t.a.locationId), before);
    assert.deepEqual(await snapshot(t.b.locationId), beforeB);
  });

  test('send and media need conversations/message.write', async () => {
    const conv = await conversation(t.a.locationId);
    const widgetKey = await t.key(['chat-widget.write', 'conversations/message.readonly'], [t.a.locationId]);
    const asWidget = client(t.url, { authorization: `Bearer ${widgetKey}` });
    assertMosendError(await asWidget('POST', sendPath(t.a.locationId, conv), { body: 'x' }), 403);
    assertMosendError(await upload(widgetKey, t.a.locationId, conv, 'photo.png', PNG), 403);
    const writer = await t.key(['conversations/message.write'], [t.a.locationId]);
    const res = await client(t.url, { 'x-api-key': writer })('POST', sendPath(t.a.locationId, conv), {
      body: 'ok',
    });
    assert.equal(res.status, 201);
    assertMosendError(await client(t.url)('POST', sendPath(t.a.locationId, conv), { body: 'x' }), 401);
  });
});
