import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HighLevel } from '@gohighlevel/api-client';
import { sweepTempFiles } from '../../src/core/media/store.js';
import { startTestCharla, type TestCharla } from '../support/charla.js';
import { client, lc } from '../support/http.js';
import { seedThread, type Thread } from '../support/threads.js';

let t: TestCharla;
let asA: ReturnType<typeof client>;
let threadA: Thread;
let threadB: Thread;

before(async () => {
  t = await startTestCharla();
  // The node listens on a port chosen at start; file URLs are built on the public URL.
  t.charla.ctx.config.publicUrl = t.url;
  asA = client(t.url, lc(t.a.key));
  threadA = await seedThread(t.charla.ctx.db, t.a.locationId);
  threadB = await seedThread(t.charla.ctx.db, t.b.locationId);
});
after(() => t.close());

// ---- Tiny files, built byte by byte ----------------------------------------------------------

const MB = 1024 * 1024;
const bytes = (...parts: (string | number[] | Buffer)[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

/** A real 1×1 PNG. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);
const JPEG = bytes([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10], 'JFIF\0', [1, 1, 0, 0, 1, 0, 1, 0, 0], [0xff, 0xd9]);
const PDF = bytes('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
const WAV = (() => {
  const samples = Buffer.alloc(16, 0x80);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(36 + samples.length, 4);
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(8000, 24);
  h.writeUInt32LE(8000, 28);
  h.writeUInt16LE(1, 32);
  h.writeUInt16LE(8, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(samples.length, 40);
  return Buffer.concat([h, samples]);
})();
/** An ID3v2 tag, then one MPEG-1 layer III frame header (128 kbit/s, 44.1 kHz). */
const MP3 = bytes('ID3', [3, 0, 0, 0, 0, 0, 0], [0xff, 0xfb, 0x90, 0x64], Buffer.alloc(413));
/** MP3 without a tag: the frame sync alone. */
const MP3_BARE = bytes([0xff, 0xfb, 0x90, 0x64], Buffer.alloc(413));
const MP4 = bytes([0, 0, 0, 0x18], 'ftypmp42', [0, 0, 0, 0], 'mp42isom', [0, 0, 0, 8], 'free');
const MPEG = bytes([0, 0, 1, 0xba, 0x44, 0, 4, 0, 4, 1, 1, 0x89, 0xc3, 0xf8]);
const RAR = bytes('Rar!', [0x1a, 0x07, 0x01, 0x00], Buffer.alloc(16));
const EXE = bytes(
  'MZ',
  [0x90, 0, 3, 0, 0, 0, 4, 0],
  Buffer.alloc(50),
  'This program cannot be run in DOS mode',
);
const HTML = bytes('<!doctype html><html><script>alert(document.cookie)</script></html>');
const TEXT = Buffer.from('Hola, ¿qué tal? Ünïcödé text.\nSecond line.\n', 'utf8');

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** A real ZIP archive of stored (uncompressed) entries. */
function zip(entries: Record<string, string>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(entries)) {
    const data = Buffer.from(text);
    const fname = Buffer.from(name);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(fname.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(fname.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, fname, data);
    centrals.push(central, fname);
    offset += local.length + fname.length + data.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(centrals.length / 2, 8);
  end.writeUInt16LE(centrals.length / 2, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}
const ZIP = zip({ 'notes.txt': 'hello' });
const DOCX = zip({
  '[Content_Types].xml': '<Types/>',
  '_rels/.rels': '<Relationships/>',
  'word/document.xml': '<w:document/>',
});
/** An OLE2 compound file header, then Word's stream name in a directory entry (UTF-16LE). */
const DOC = bytes(
  [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1],
  Buffer.alloc(504),
  Buffer.from('WordDocument', 'utf16le'),
);
const XLS = bytes(
  [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1],
  Buffer.alloc(504),
  Buffer.from('Workbook', 'utf16le'),
);

// ---- Multipart requests ------------------------------------------------------------------------

interface FilePart {
  name: string;
  data: Buffer;
  field?: string;
}

function form(fields: Record<string, string>, files: FilePart[], filesFirst = false): FormData {
  const fd = new FormData();
  const addFields = () => {
    for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  };
  if (!filesFirst) addFields();
  for (const f of files) fd.append(f.field ?? 'fileAttachment', new Blob([new Uint8Array(f.data)]), f.name);
  if (filesFirst) addFields();
  return fd;
}

const fieldsOf = (th: Thread) => ({
  conversationId: th.conversationId,
  contactId: th.contactId,
  locationId: th.locationId,
});

async function upload(
  files: FilePart[],
  fields: Record<string, string> = fieldsOf(threadA),
  options: { key?: string; filesFirst?: boolean } = {},
) {
  const res = await fetch(`${t.url}/conversations/messages/upload`, {
    method: 'POST',
    headers: lc(options.key ?? t.a.key),
    body: form(fields, files, options.filesFirst),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

async function mediaCount(): Promise<number> {
  return (await t.charla.ctx.db.query('SELECT count(*)::int AS n FROM media')).rows[0]!.n;
}

/** Every stored file, temp files included. */
function filesOnDisk(): string[] {
  const root = path.join(t.charla.ctx.config.dataDir, 'media');
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.join(d.parentPath, d.name));
}

const URL_PATTERN = /^http:\/\/127\.0\.0\.1:\d+\/media\/([0-9a-f-]{36})\/([\w-]{22})\/(.+)$/;

async function fetchFile(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

// ---- Tests -------------------------------------------------------------------------------------

describe('POST /conversations/messages/upload', () => {
  test('stores several files and answers {uploadedFiles: {filename: url}}', async () => {
    const res = await upload([
      { name: 'photo.png', data: PNG },
      { name: 'invoice.pdf', data: PDF },
    ]);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(Object.keys(res.body), ['uploadedFiles']);
    assert.deepEqual(Object.keys(res.body.uploadedFiles).sort(), ['invoice.pdf', 'photo.png']);
    for (const [name, url] of Object.entries<string>(res.body.uploadedFiles)) {
      const m = URL_PATTERN.exec(url);
      assert.ok(m, url);
      assert.equal(decodeURIComponent(m[3]!), name);
      const { rows } = await t.charla.ctx.db.query('SELECT * FROM media WHERE id = $1', [m[1]]);
      const row = rows[0]!;
      assert.equal(row.location_id, t.a.locationId);
      assert.equal(row.conversation_id, threadA.conversationId);
      assert.equal(row.status, 'ready');
      assert.equal(row.filename, name);
      assert.equal(row.content_type, name.endsWith('.png') ? 'image/png' : 'application/pdf');
      assert.equal(Number(row.size), name.endsWith('.png') ? PNG.length : PDF.length);
      // ${dataDir}/media/<locationId>/<mediaId>
      const file = path.join(t.charla.ctx.config.dataDir, 'media', t.a.locationId, m[1]!);
      assert.ok(existsSync(file));
    }
  });

  test('serves the stored bytes with inert headers; images inline, documents as attachments', async () => {
    const res = await upload([
      { name: 'photo.png', data: PNG },
      { name: 'informe año.pdf', data: PDF },
    ]);
    const png = await fetchFile(res.body.uploadedFiles['photo.png']);
    assert.equal(png.status, 200);
    assert.deepEqual(png.bytes, PNG);
    assert.equal(png.headers.get('content-type'), 'image/png');
    assert.equal(png.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(png.headers.get('content-security-policy'), "default-src 'none'; sandbox");
    assert.equal(png.headers.get('cache-control'), 'private, max-age=31536000, immutable');
    assert.equal(png.headers.get('content-length'), String(PNG.length));
    assert.match(png.headers.get('content-disposition')!, /^inline; filename="photo\.png"/);

    const pdf = await fetchFile(res.body.uploadedFiles['informe año.pdf']);
    assert.equal(pdf.status, 200);
    assert.deepEqual(pdf.bytes, PDF);
    assert.equal(pdf.headers.get('content-type'), 'application/pdf');
    assert.equal(
      pdf.headers.get('content-disposition'),
      `attachment; filename="informe a_o.pdf"; filename*=UTF-8''informe%20a%C3%B1o.pdf`,
    );
  });

  test('the URL is stable, ranges and revalidation work, and HEAD answers without a body', async () => {
    const res = await upload([{ name: 'clip.wav', data: WAV }]);
    const url: string = res.body.uploadedFiles['clip.wav'];
    const part = await fetchFile(url, { range: 'bytes=4-11' });
    assert.equal(part.status, 206);
    assert.deepEqual(part.bytes, WAV.subarray(4, 12));
    assert.equal(part.headers.get('content-range'), `bytes 4-11/${WAV.length}`);
    const tail = await fetchFile(url, { range: 'bytes=-4' });
    assert.deepEqual(tail.bytes, WAV.subarray(WAV.length - 4));
    assert.equal((await fetchFile(url, { range: `bytes=${WAV.length}-` })).status, 416);
    const etag = part.headers.get('etag')!;
    assert.equal((await fetchFile(url, { 'if-none-match': etag })).status, 304);
    const head = await fetch(url, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-type'), 'audio/wav');
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    // Audio plays in place.
    assert.match(head.headers.get('content-disposition')!, /^inline;/);
  });

  test('a wrong token, an unknown id or a pending upload is 404', async () => {
    const res = await upload([{ name: 'photo.png', data: PNG }]);
    const url: string = res.body.uploadedFiles['photo.png'];
    const [, id, token] = URL_PATTERN.exec(url)!;
    const flipped = token!.slice(0, -1) + (token!.endsWith('A') ? 'B' : 'A');
    const base = url.slice(0, url.indexOf('/media/'));
    for (const bad of [
      `${base}/media/${id}/${flipped}/photo.png`,
      `${base}/media/${id}/${token!.slice(0, 21)}/photo.png`,
      `${base}/media/${randomUUID()}/${token}/photo.png`,
      `${base}/media/not-a-uuid/${token}/photo.png`,
    ]) {
      const r = await fetchFile(bad);
      assert.equal(r.status, 404, bad);
      assert.equal(JSON.parse(r.bytes.toString()).statusCode, 404);
    }
    // The name segment is cosmetic: the type and disposition never come from it.
    const renamed = await fetchFile(`${base}/media/${id}/${token}/page.html`);
    assert.equal(renamed.status, 200);
    assert.equal(renamed.headers.get('content-type'), 'image/png');
  });

  test('identifies every allowed type by its content', async () => {
    const cases: [string, Buffer, string][] = [
      ['a.jpg', JPEG, 'image/jpeg'],
      ['b.jpeg', JPEG, 'image/jpeg'],
      ['c.png', PNG, 'image/png'],
      ['d.mp4', MP4, 'video/mp4'],
      ['e.mpeg', MPEG, 'video/mpeg'],
      ['f.zip', ZIP, 'application/zip'],
      ['g.rar', RAR, 'application/vnd.rar'],
      ['h.pdf', PDF, 'application/pdf'],
      ['i.doc', DOC, 'application/msword'],
      ['j.docx', DOCX, 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
      ['k.txt', TEXT, 'text/plain; charset=utf-8'],
      ['l.mp3', MP3, 'audio/mpeg'],
      ['m.mp3', MP3_BARE, 'audio/mpeg'],
      ['n.wav', WAV, 'audio/wav'],
      // Names do not decide: a PNG without an extension, a PDF named like a picture.
      ['blob', PNG, 'image/png'],
      ['scan.jpg', PDF, 'application/pdf'],
    ];
    const res = await upload(cases.map(([name, data]) => ({ name, data })).slice(0, 10));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const rest = await upload(cases.map(([name, data]) => ({ name, data })).slice(10));
    assert.equal(rest.status, 200, JSON.stringify(rest.body));
    const urls = { ...res.body.uploadedFiles, ...rest.body.uploadedFiles };
    for (const [name, data, type] of cases) {
      const f = await fetchFile(urls[name]);
      assert.equal(f.headers.get('content-type'), type, name);
      assert.deepEqual(f.bytes, data, name);
      const inline = /^(image|audio|video)\//.test(type);
      assert.match(f.headers.get('content-disposition')!, inline ? /^inline;/ : /^attachment;/, name);
    }
  });

  test('refuses by content with 415 {status, message}, whatever the name, and stores nothing', async () => {
    const count = await mediaCount();
    const files = filesOnDisk().length;
    for (const [name, data] of [
      ['photo.png', EXE],
      ['photo.png', HTML],
      ['notes.txt', EXE], // binary, not text
      ['page.html', HTML],
      ['notes.txt', Buffer.from([0x68, 0x69, 0xc3])], // cut-off UTF-8
      ['notes.txt', Buffer.from('a\0b')],
      ['report.doc', XLS], // an OLE2 file that is not Word's
      ['clip.mp4', bytes([0, 0, 0, 0x14], 'ftypqt  ', [0, 0, 0, 0], 'qt  ')], // QuickTime
    ] as [string, Buffer][]) {
      const res = await upload([{ name, data }]);
      assert.equal(res.status, 415, `${name}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.status, 415);
      assert.match(res.body.message, /not an allowed type/);
    }
    // One refused file refuses the request: the good one next to it is not kept either.
    const mixed = await upload([
      { name: 'ok.png', data: PNG },
      { name: 'bad.png', data: EXE },
    ]);
    assert.equal(mixed.status, 415);
    assert.equal(await mediaCount(), count);
    assert.equal(filesOnDisk().length, files);
  });

  test('a file over 5 MB is 413 {status, message}; 5 MB exactly is accepted', async () => {
    const count = await mediaCount();
    const big = Buffer.concat([PNG, Buffer.alloc(5 * MB + 1 - PNG.length)]);
    const res = await upload([{ name: 'big.png', data: big }]);
    assert.equal(res.status, 413);
    assert.equal(res.body.status, 413);
    assert.match(res.body.message, /too large/);
    assert.match(res.body.message, /5 MB/);
    assert.equal(await mediaCount(), count);
    assert.equal(filesOnDisk().filter((f) => f.includes('.tmp')).length, 0);
    const limit = await upload([{ name: 'limit.png', data: big.subarray(0, 5 * MB) }]);
    assert.equal(limit.status, 200, JSON.stringify(limit.body));
  });

  test('missing files or fields, too many files and a non-multipart body are 400 {status, message}', async () => {
    const count = await mediaCount();
    const noFiles = await upload([]);
    assert.equal(noFiles.status, 400);
    assert.deepEqual(Object.keys(noFiles.body).sort(), ['message', 'status']);
    assert.match(noFiles.body.message, /fileAttachment/);

    const { contactId: _omit, ...noContact } = fieldsOf(threadA);
    const missing = await upload([{ name: 'a.png', data: PNG }], noContact);
    assert.equal(missing.status, 400);
    assert.equal(missing.body.message, 'contactId is required');

    const wrongKey = await upload([{ name: 'a.png', data: PNG, field: 'file' }]);
    assert.equal(wrongKey.status, 400);
    assert.match(wrongKey.body.message, /fileAttachment/);

    const eleven = await upload(Array.from({ length: 11 }, (_, i) => ({ name: `${i}.png`, data: PNG })));
    assert.equal(eleven.status, 400);
    assert.match(eleven.body.message, /at most 10/);

    const json = await asA('POST', '/conversations/messages/upload', fieldsOf(threadA));
    assert.equal(json.status, 400);
    assert.equal(json.body.status, 400);
    assert.equal(await mediaCount(), count);
  });

  test('ten files at once, fields after the files, and repeated names each keep a URL', async () => {
    const res = await upload(
      Array.from({ length: 10 }, () => ({ name: 'image.png', data: PNG })),
      fieldsOf(threadA),
      { filesFirst: true },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const names = Object.keys(res.body.uploadedFiles);
    assert.equal(names.length, 10);
    assert.deepEqual(names.slice(0, 3), ['image.png', 'image (1).png', 'image (2).png']);
    assert.equal(new Set(Object.values(res.body.uploadedFiles)).size, 10);
  });

  test('tenancy: another location is 403, another location’s conversation 404, nothing stored', async () => {
    const count = await mediaCount();
    const files = filesOnDisk().length;
    // A's key, B's location and conversation: refused before any file is read.
    const other = await upload([{ name: 'a.png', data: PNG }], fieldsOf(threadB));
    assert.equal(other.status, 403);
    assert.deepEqual(other.body, {
      statusCode: 403,
      message: 'The token does not have access to this location',
      error: 'Forbidden',
    });
    // Also when the fields come after the files.
    const late = await upload([{ name: 'a.png', data: PNG }], fieldsOf(threadB), { filesFirst: true });
    assert.equal(late.status, 403);
    // A's location, B's conversation.
    const crossed = await upload([{ name: 'a.png', data: PNG }], {
      ...fieldsOf(threadB),
      locationId: t.a.locationId,
    });
    assert.equal(crossed.status, 404);
    assert.equal(crossed.body.statusCode, 404);
    // An agency key naming B's location with A's conversation.
    const agency = await upload(
      [{ name: 'a.png', data: PNG }],
      { ...fieldsOf(threadA), locationId: t.b.locationId },
      {
        key: t.agencyKey,
      },
    );
    assert.equal(agency.status, 404);
    const unknown = await upload([{ name: 'a.png', data: PNG }], {
      ...fieldsOf(threadA),
      conversationId: 'nope',
    });
    assert.equal(unknown.status, 404);
    const wrongContact = await upload([{ name: 'a.png', data: PNG }], {
      ...fieldsOf(threadA),
      contactId: threadB.contactId,
    });
    assert.equal(wrongContact.status, 400);
    assert.equal(await mediaCount(), count);
    assert.equal(filesOnDisk().length, files);
    assert.equal(existsSync(path.join(t.charla.ctx.config.dataDir, 'media', t.b.locationId)), false);
  });

  test('needs the conversations/message.write scope and a Version header', async () => {
    const readonly = await t.key(['conversations/message.readonly'], [t.a.locationId]);
    const res = await upload([{ name: 'a.png', data: PNG }], fieldsOf(threadA), { key: readonly });
    assert.equal(res.status, 401);
    assert.equal(res.body.message, 'The token is not authorized for this scope.');
    const noVersion = await fetch(`${t.url}/conversations/messages/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.a.key}` },
      body: form(fieldsOf(threadA), [{ name: 'a.png', data: PNG }]),
    });
    assert.equal(noVersion.status, 401);
  });

  test('works with the official SDK, given the multipart Content-Type it needs', async () => {
    const ghl = new HighLevel({ privateIntegrationToken: t.a.key, logLevel: 'none' });
    ghl.getHttpClient().defaults.baseURL = t.url;
    const res = await ghl.conversations.uploadFileAttachments(
      form(fieldsOf(threadA), [{ name: 'sdk.png', data: PNG }]),
      { headers: { 'Content-Type': 'multipart/form-data' } },
    );
    assert.match(res.uploadedFiles['sdk.png'], URL_PATTERN);
    // Without it the SDK sends the form as JSON, the file lost: the answer says what to do.
    await assert.rejects(
      ghl.conversations.uploadFileAttachments(form(fieldsOf(threadA), [{ name: 'sdk.png', data: PNG }])),
      (err: any) => err.statusCode === 400 && /Content-Type': 'multipart\/form-data'/.test(err.message),
    );
  });
});

test('the routes are in the OpenAPI document', async () => {
  const res = await fetch(`${t.url}/openapi.json`);
  assert.equal(res.status, 200);
  const doc = await res.json();
  assert.ok(doc.paths['/conversations/messages/upload'].post.requestBody.content['multipart/form-data']);
  assert.ok(doc.paths['/conversations/messages/upload/initiate'].post);
  assert.ok(doc.paths['/conversations/messages/upload/complete'].post);
  assert.ok(doc.paths['/media/{id}/{token}/{name}'].get);
});

test('temp files a crash left behind are swept once a day old', async () => {
  const dir = path.join(t.charla.ctx.config.dataDir, 'media', '.tmp');
  mkdirSync(dir, { recursive: true });
  const old = path.join(dir, 'old.part');
  const fresh = path.join(dir, 'fresh.part');
  writeFileSync(old, 'x');
  writeFileSync(fresh, 'x');
  const twoDaysAgo = new Date(Date.now() - 48 * 3600_000);
  utimesSync(old, twoDaysAgo, twoDaysAgo);
  assert.equal(await sweepTempFiles(t.charla.ctx), 1);
  assert.equal(existsSync(old), false);
  assert.equal(existsSync(fresh), true);
  await sweepTempFiles(t.charla.ctx, 0);
});

describe('direct uploads: initiate, PUT, complete', () => {
  const initiate = (extra: Record<string, unknown> = {}, th: Thread = threadA) =>
    asA('POST', '/conversations/messages/upload/initiate', {
      locationId: th.locationId,
      conversationId: th.conversationId,
      filename: 'video.mp4',
      contentType: 'video/mp4',
      channel: 'SMS',
      ...extra,
    });
  const put = (url: string, data: Buffer, contentType = 'application/octet-stream') =>
    fetch(url, { method: 'PUT', headers: { 'content-type': contentType }, body: new Uint8Array(data) });
  const complete = (init: any, extra: Record<string, unknown> = {}) =>
    asA('POST', '/conversations/messages/upload/complete', {
      uploadId: init.uploadId,
      filePath: init.filePath,
      locationId: t.a.locationId,
      conversationId: threadA.conversationId,
      filename: 'video.mp4',
      ...extra,
    });

  test('initiate answers a signed URL, valid 15 minutes, and the limit of the channel', async () => {
    const before = Date.now();
    const res = await initiate({ fileSize: 1000 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const b = res.body;
    assert.deepEqual(Object.keys(b).sort(), [
      'expiresAt',
      'filePath',
      'maxFileSize',
      'uploadId',
      'uploadUrl',
    ]);
    assert.equal(b.maxFileSize, 5 * MB);
    assert.ok(b.expiresAt >= before + 15 * 60_000 - 1000 && b.expiresAt <= Date.now() + 15 * 60_000 + 1000);
    assert.match(
      b.uploadUrl,
      new RegExp(`^${t.url}/media/uploads/${b.uploadId}\\?expires=${b.expiresAt}&sig=[\\w-]+$`),
    );
    assert.equal(
      b.filePath,
      `location/${t.a.locationId}/conversations/${threadA.conversationId}/${b.uploadId}`,
    );
    const { rows } = await t.charla.ctx.db.query('SELECT status, expires_at FROM media WHERE id = $1', [
      b.uploadId,
    ]);
    assert.equal(rows[0]!.status, 'pending');

    const wa = await initiate({ channel: 'WHATSAPP', fileSize: 50 * MB });
    assert.equal(wa.status, 200);
    assert.equal(wa.body.maxFileSize, 100 * MB);
    const tooBig = await initiate({ fileSize: 5 * MB + 1 });
    assert.equal(tooBig.status, 413);
    assert.equal(tooBig.body.status, 413);
    assert.match(tooBig.body.message, /too large/);
    const waTooBig = await initiate({ channel: 'WHATSAPP', fileSize: 100 * MB + 1 });
    assert.equal(waTooBig.status, 413);
  });

  test('initiate → PUT → complete stores the file; complete again answers the same', async () => {
    const init = (await initiate()).body;
    // Nothing uploaded yet.
    const early = await complete(init);
    assert.equal(early.status, 404);
    assert.equal(early.body.statusCode, 404);

    const put1 = await put(init.uploadUrl, MP4, 'video/mp4');
    assert.equal(put1.status, 200);
    assert.equal(put1.headers.get('access-control-allow-origin'), '*');
    // Not served before completion.
    const pending = await t.charla.ctx.db.query('SELECT status FROM media WHERE id = $1', [init.uploadId]);
    assert.equal(pending.rows[0]!.status, 'pending');

    const done = await complete(init);
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.deepEqual(done.body.metadata, { size: MP4.length, contentType: 'video/mp4' });
    const url = done.body.uploadedFiles['video.mp4'];
    assert.match(url, URL_PATTERN);
    const served = await fetchFile(url);
    assert.deepEqual(served.bytes, MP4);
    assert.equal(served.headers.get('content-type'), 'video/mp4');

    const again = await complete(init);
    assert.deepEqual(again.body, done.body);
    // The URL cannot replace a completed file.
    const late = await put(init.uploadUrl, PNG);
    assert.equal(late.status, 404);
    assert.deepEqual((await fetchFile(url)).bytes, MP4);
  });

  test('the PUT needs the signature and honours the limit; a second PUT replaces the first', async () => {
    const init = (await initiate()).body;
    const u = new URL(init.uploadUrl);
    const badSig = new URL(u);
    badSig.searchParams.set('sig', 'x'.repeat(43));
    assert.equal((await put(badSig.toString(), PNG)).status, 403);
    const longer = new URL(u);
    longer.searchParams.set('expires', String(init.expiresAt + 3_600_000));
    assert.equal((await put(longer.toString(), PNG)).status, 403);
    const other = `${t.url}/media/uploads/${randomUUID()}${u.search}`;
    assert.equal((await put(other, PNG)).status, 403);

    const over = await put(init.uploadUrl, Buffer.concat([MP4, Buffer.alloc(5 * MB)]));
    assert.equal(over.status, 413);
    assert.match((await over.json()).message, /too large/);

    // A body without a declared length is cut off at the limit all the same.
    const chunked = await fetch(init.uploadUrl, {
      method: 'PUT',
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 6; i++) c.enqueue(new Uint8Array(MB));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    assert.equal(chunked.status, 413);
    // No Content-Type at all is fine: the type is sniffed at completion.
    assert.equal((await fetch(init.uploadUrl, { method: 'PUT', body: new Uint8Array(EXE) })).status, 200);
    assert.equal((await put(init.uploadUrl, PDF, 'application/pdf')).status, 200);
    const done = await complete(init);
    assert.equal(done.status, 200);
    assert.deepEqual(done.body.metadata, { size: PDF.length, contentType: 'application/pdf' });
  });

  test('a refused type is 415 at completion, and the upload is deleted', async () => {
    const init = (await initiate({ filename: 'page.png', contentType: 'image/png' })).body;
    assert.equal((await put(init.uploadUrl, HTML, 'image/png')).status, 200);
    const file = path.join(t.charla.ctx.config.dataDir, 'media', t.a.locationId, init.uploadId);
    assert.ok(existsSync(file));
    const res = await complete(init, { filename: 'page.png' });
    assert.equal(res.status, 415);
    assert.equal(res.body.status, 415);
    assert.equal(existsSync(file), false);
    const { rows } = await t.charla.ctx.db.query('SELECT 1 FROM media WHERE id = $1', [init.uploadId]);
    assert.equal(rows.length, 0);
    assert.equal((await complete(init)).status, 404);
  });

  test('an expired upload is refused at PUT and at completion', async () => {
    const init = (await initiate()).body;
    assert.equal((await put(init.uploadUrl, MP4)).status, 200);
    await t.charla.ctx.db.query(`UPDATE media SET expires_at = now() - interval '1 second' WHERE id = $1`, [
      init.uploadId,
    ]);
    const putLate = await put(init.uploadUrl, MP4);
    assert.equal(putLate.status, 403);
    assert.match((await putLate.json()).message, /expired/);
    const res = await complete(init);
    assert.equal(res.status, 404);
    assert.match(res.body.message, /expired/);
    const file = path.join(t.charla.ctx.config.dataDir, 'media', t.a.locationId, init.uploadId);
    assert.equal(existsSync(file), false);

    // A URL whose own expiry has passed is refused before anything is looked up.
    const u = new URL(init.uploadUrl);
    const { uploadSignature } = await import('../../src/core/media/urls.js');
    const past = Date.now() - 1000;
    u.searchParams.set('expires', String(past));
    u.searchParams.set('sig', uploadSignature(t.charla.ctx, init.uploadId, past));
    assert.equal((await put(u.toString(), MP4)).status, 403);
  });

  test('complete checks the path, the conversation and the location', async () => {
    const init = (await initiate()).body;
    assert.equal((await put(init.uploadUrl, MP4)).status, 200);
    assert.equal((await complete(init, { filePath: `${init.filePath}x` })).status, 404);
    assert.equal((await complete(init, { conversationId: threadB.conversationId })).status, 404);
    assert.equal((await complete(init, { locationId: t.b.locationId })).status, 403);
    assert.equal((await complete(init, { uploadId: 'nope' })).status, 404);
    const bad = await complete(init, { filename: 42 });
    assert.equal(bad.status, 422);
    assert.ok(Array.isArray(bad.body.message));
    assert.equal((await complete(init)).status, 200);
  });

  test('initiate checks the location and the conversation', async () => {
    assert.equal((await initiate({}, threadB)).status, 403);
    const crossed = await initiate({ conversationId: threadB.conversationId });
    assert.equal(crossed.status, 404);
    const missing = await asA('POST', '/conversations/messages/upload/initiate', {
      locationId: t.a.locationId,
    });
    assert.equal(missing.status, 422);
  });
});
