import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { HighLevel } from '@gohighlevel/api-client';
import { storeMedia } from '../../src/core/media/store.js';
import { mediaUrl } from '../../src/core/media/urls.js';
import { startTestCharla, type TestCharla } from '../support/charla.js';
import { client, lc } from '../support/http.js';
import { seedThread, type Thread } from '../support/threads.js';

let t: TestCharla;
let asA: ReturnType<typeof client>;
let asAgency: ReturnType<typeof client>;
let threadA: Thread;
let threadB: Thread;

let seq = 0;
async function insertMessage(
  th: Thread,
  m: { type: string; call?: Record<string, unknown> | null; attachments?: string[] },
): Promise<string> {
  const id = randomUUID();
  await t.charla.ctx.db.query(
    `INSERT INTO messages (location_id, id, conversation_id, contact_id, seq, type, direction, status, call, attachments)
     VALUES ($1, $2, $3, $4, $5, $6, 'inbound', 'delivered', $7, $8)`,
    [
      th.locationId,
      id,
      th.conversationId,
      th.contactId,
      ++seq,
      m.type,
      m.call === undefined || m.call === null ? null : JSON.stringify(m.call),
      m.attachments ?? [],
    ],
  );
  return id;
}

before(async () => {
  t = await startTestCharla();
  // The node listens on a port chosen at start; file URLs are built on the public URL.
  t.charla.ctx.config.publicUrl = t.url;
  asA = client(t.url, lc(t.a.key));
  asAgency = client(t.url, lc(t.agencyKey));
  threadA = await seedThread(t.charla.ctx.db, t.a.locationId);
  threadB = await seedThread(t.charla.ctx.db, t.b.locationId);
});
after(() => t.close());

/** A real (tiny) WAV file. */
const WAV = (() => {
  const samples = Buffer.alloc(32, 0x80);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(36 + samples.length, 4);
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(8000, 24);
  h.writeUInt32LE(8000, 28);
  h.writeUInt16LE(1, 32);
  h.writeUInt16LE(8, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(samples.length, 40);
  return Buffer.concat([h, samples]);
})();
const MP3 = Buffer.concat([
  Buffer.from('ID3\x03\0\0\0\0\0\0', 'latin1'),
  Buffer.from([0xff, 0xfb, 0x90, 0x64]),
  Buffer.alloc(200),
]);
const PDF = Buffer.from('%PDF-1.4\n%%EOF\n');

const recording = (locationId: string, messageId: string, key = t.a.key) =>
  fetch(`${t.url}/conversations/messages/${messageId}/locations/${locationId}/recording`, {
    headers: lc(key),
    redirect: 'manual',
  });

const sentences = [
  {
    mediaChannel: 1,
    sentenceIndex: 1,
    startTime: 65_400,
    endTime: 68_000,
    transcript: 'Sure, I can help.',
    confidence: 0.92,
  },
  {
    mediaChannel: 2,
    sentenceIndex: 0,
    startTime: 3_200,
    endTime: 6_100,
    transcript: 'Hi, I need\nhelp.',
    confidence: 0.87,
  },
];

describe('GET /conversations/messages/:messageId/locations/:locationId/recording', () => {
  test('streams a stored recording (messages.call.recordingMediaId) as audio', async () => {
    const media = await storeMedia(t.charla.ctx, {
      locationId: t.a.locationId,
      conversationId: threadA.conversationId,
      filename: 'call-recording.wav',
      source: WAV,
    });
    const id = await insertMessage(threadA, {
      type: 'TYPE_CALL',
      call: { status: 'completed', recordingMediaId: media.id },
    });
    const res = await recording(t.a.locationId, id);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'audio/wav');
    assert.match(res.headers.get('content-disposition')!, /^attachment; filename="call-recording\.wav"/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('cache-control'), 'private, no-cache');
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), WAV);
  });

  test('redirects to a recording kept elsewhere (messages.call.recordingUrl)', async () => {
    const url = 'https://recordings.example.com/calls/abc.mp3?sig=1';
    const id = await insertMessage(threadA, { type: 'TYPE_CUSTOM_CALL', call: { recordingUrl: url } });
    const res = await recording(t.a.locationId, id);
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), url);
  });

  test('falls back on the first attachment of a call message: own files streamed, others redirected', async () => {
    const media = await storeMedia(t.charla.ctx, {
      locationId: t.a.locationId,
      filename: 'vm.mp3',
      source: MP3,
    });
    const own = await insertMessage(threadA, {
      type: 'TYPE_CAMPAIGN_VOICEMAIL',
      attachments: [mediaUrl(t.charla.ctx, media), 'https://example.com/other.mp3'],
    });
    const streamed = await recording(t.a.locationId, own);
    assert.equal(streamed.status, 200);
    assert.equal(streamed.headers.get('content-type'), 'audio/mpeg');
    assert.deepEqual(Buffer.from(await streamed.arrayBuffer()), MP3);

    for (const type of ['TYPE_CALL', 'TYPE_IVR_CALL', 'TYPE_CAMPAIGN_CALL']) {
      const id = await insertMessage(threadA, { type, attachments: ['https://example.com/rec.wav'] });
      const res = await recording(t.a.locationId, id);
      assert.equal(res.status, 302, type);
      assert.equal(res.headers.get('location'), 'https://example.com/rec.wav');
    }
  });

  test('404 {statusCode, message} when there is no recording', async () => {
    const pdf = await storeMedia(t.charla.ctx, {
      locationId: t.a.locationId,
      filename: 'a.pdf',
      source: PDF,
    });
    const cases = [
      await insertMessage(threadA, { type: 'TYPE_SMS', attachments: ['https://example.com/photo.jpg'] }),
      await insertMessage(threadA, { type: 'TYPE_CALL', call: { status: 'no-answer' } }),
      await insertMessage(threadA, { type: 'TYPE_CALL', call: null }),
      // A stored file that is not audio is no recording; neither is an unknown one.
      await insertMessage(threadA, { type: 'TYPE_CALL', call: { recordingMediaId: pdf.id } }),
      await insertMessage(threadA, { type: 'TYPE_CALL', call: { recordingMediaId: randomUUID() } }),
      await insertMessage(threadA, { type: 'TYPE_CALL', attachments: ['javascript:alert(1)'] }),
      randomUUID(),
      'not-an-id',
    ];
    for (const id of cases) {
      const res = await recording(t.a.locationId, id);
      assert.equal(res.status, 404, id);
      assert.deepEqual(await res.json(), { statusCode: 404, message: 'Recording not found' });
    }
  });

  test('tenancy: another location’s message is 404, another location 403, never its data', async () => {
    const media = await storeMedia(t.charla.ctx, {
      locationId: t.b.locationId,
      filename: 'b.wav',
      source: WAV,
    });
    const idB = await insertMessage(threadB, { type: 'TYPE_CALL', call: { recordingMediaId: media.id } });
    // B's message under A's location (an agency key, too).
    assert.equal((await recording(t.a.locationId, idB)).status, 404);
    assert.equal((await recording(t.a.locationId, idB, t.agencyKey)).status, 404);
    // A's key naming B's location.
    const forbidden = await recording(t.b.locationId, idB);
    assert.equal(forbidden.status, 403);
    assert.equal((await forbidden.json()).error, 'Forbidden');
    // A recording of A's that names B's file is not served either.
    const sneaky = await insertMessage(threadA, { type: 'TYPE_CALL', call: { recordingMediaId: media.id } });
    assert.equal((await recording(t.a.locationId, sneaky)).status, 404);
    // B's own key gets it.
    assert.equal((await recording(t.b.locationId, idB, t.b.key)).status, 200);
  });

  test('needs conversations/message.readonly', async () => {
    const id = await insertMessage(threadA, {
      type: 'TYPE_CALL',
      call: { recordingUrl: 'https://example.com/r.wav' },
    });
    const other = await t.key(['conversations.readonly'], [t.a.locationId]);
    assert.equal((await recording(t.a.locationId, id, other)).status, 401);
    const readonly = await t.key(['conversations/message.readonly'], [t.a.locationId]);
    assert.equal((await recording(t.a.locationId, id, readonly)).status, 302);
  });
});

describe('transcriptions', () => {
  const path = (locationId: string, messageId: string) =>
    `/conversations/locations/${locationId}/messages/${messageId}/transcription`;
  const adminPath = (locationId: string, messageId: string) =>
    `/admin/v1/locations/${locationId}/messages/${messageId}/transcript`;
  const admin = (key: string) => client(t.url, { authorization: `Bearer ${key}` });

  test('the admin API sets a transcript; the API answers the array of sentences in order', async () => {
    const id = await insertMessage(threadA, {
      type: 'TYPE_CALL',
      call: { status: 'completed', duration: 70 },
    });
    assert.equal((await asA('GET', path(t.a.locationId, id))).status, 404);

    const set = await admin(t.a.key)('PUT', adminPath(t.a.locationId, id), { sentences });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.equal(set.body.transcript[0].sentenceIndex, 0);

    const res = await asA('GET', path(t.a.locationId, id));
    assert.equal(res.status, 200);
    assert.ok(Array.isArray(res.body));
    assert.deepEqual(res.body, [sentences[1], sentences[0]]);
    // The rest of the call data is kept.
    const { rows } = await t.charla.ctx.db.query('SELECT call FROM messages WHERE id = $1', [id]);
    assert.equal(rows[0]!.call.status, 'completed');
    assert.equal(rows[0]!.call.duration, 70);
  });

  test('the download is text, one "[mm:ss] transcript" line per sentence', async () => {
    const id = await insertMessage(threadA, { type: 'TYPE_IVR_CALL', call: { transcript: sentences } });
    const res = await fetch(`${t.url}${path(t.a.locationId, id)}/download`, { headers: lc(t.a.key) });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(res.headers.get('content-disposition'), 'attachment; filename="transcription.txt"');
    assert.equal(await res.text(), '[00:03] Hi, I need help.\n[01:05] Sure, I can help.\n');
    const none = await insertMessage(threadA, { type: 'TYPE_CALL' });
    const missing = await asA('GET', `${path(t.a.locationId, none)}/download`);
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { statusCode: 404, message: 'Transcription not found' });
  });

  test('the official SDK reads the transcription', async () => {
    const id = await insertMessage(threadA, { type: 'TYPE_CALL', call: { transcript: sentences } });
    const ghl = new HighLevel({ privateIntegrationToken: t.a.key, logLevel: 'none' });
    ghl.getHttpClient().defaults.baseURL = t.url;
    const got: unknown = await ghl.conversations.getMessageTranscription({
      locationId: t.a.locationId,
      messageId: id,
    });
    assert.deepEqual(got, [sentences[1], sentences[0]]);
  });

  test('the admin API validates sentences and only takes call messages', async () => {
    const id = await insertMessage(threadA, { type: 'TYPE_CALL' });
    const put = admin(t.a.key);
    const bad = [
      { sentences: [{ ...sentences[0], confidence: 2 }] },
      { sentences: [{ ...sentences[0], transcript: 42 }] },
      { sentences: [{ ...sentences[0], extra: true }] },
      { sentences: [{ ...sentences[0], startTime: 5000, endTime: 4000 }] },
      { sentences: [sentences[0], sentences[0]] },
      { sentences: 'hello' },
      {},
    ];
    for (const body of bad) {
      const res = await put('PUT', adminPath(t.a.locationId, id), body);
      assert.equal(res.status, 422, JSON.stringify(body));
      assert.equal(res.body.error.code, 'validation');
    }
    const sms = await insertMessage(threadA, { type: 'TYPE_SMS' });
    const notCall = await put('PUT', adminPath(t.a.locationId, sms), { sentences });
    assert.equal(notCall.status, 400);
    assert.equal(notCall.body.error.message, 'Only call messages have transcripts');
  });

  test('an empty list removes the transcript', async () => {
    const id = await insertMessage(threadA, {
      type: 'TYPE_CALL',
      call: { transcript: sentences, status: 'completed' },
    });
    const res = await admin(t.a.key)('PUT', adminPath(t.a.locationId, id), { sentences: [] });
    assert.equal(res.status, 200);
    assert.equal((await asA('GET', path(t.a.locationId, id))).status, 404);
    const { rows } = await t.charla.ctx.db.query('SELECT call FROM messages WHERE id = $1', [id]);
    assert.deepEqual(rows[0]!.call, { status: 'completed' });
  });

  test('tenancy: another location’s message is 404 and untouched; another location is 403', async () => {
    const idB = await insertMessage(threadB, { type: 'TYPE_CALL', call: { transcript: sentences } });
    const viaA = await asA('GET', path(t.a.locationId, idB));
    assert.equal(viaA.status, 404);
    assert.equal(JSON.stringify(viaA.body).includes('help'), false);
    assert.equal((await asAgency('GET', path(t.a.locationId, idB))).status, 404);
    assert.equal((await asA('GET', `${path(t.a.locationId, idB)}/download`)).status, 404);
    assert.equal((await asA('GET', path(t.b.locationId, idB))).status, 403);

    const adminA = admin(t.a.key);
    assert.equal((await adminA('PUT', adminPath(t.b.locationId, idB), { sentences: [] })).status, 403);
    const crossed = await admin(t.agencyKey)('PUT', adminPath(t.a.locationId, idB), { sentences: [] });
    assert.equal(crossed.status, 404);
    const { rows } = await t.charla.ctx.db.query('SELECT call FROM messages WHERE id = $1', [idB]);
    assert.equal(rows[0]!.call.transcript.length, 2);
    // Only keys with the admin scope set transcripts.
    const reader = await t.key(['conversations/message.readonly'], [t.a.locationId]);
    const idA = await insertMessage(threadA, { type: 'TYPE_CALL' });
    assert.equal((await admin(reader)('PUT', adminPath(t.a.locationId, idA), { sentences })).status, 403);
  });
});
