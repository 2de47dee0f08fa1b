import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { displayName } from '../../src/core/contacts/service.js';
import { mediaFilePath } from '../../src/core/media/store.js';
import { startTestCharla, type TestCharla } from '../support/charla.js';
import { client, lc } from '../support/http.js';

let t: TestCharla;
let asA: ReturnType<typeof client>;
let asB: ReturnType<typeof client>;

before(async () => {
  t = await startTestCharla();
  asA = client(t.url, lc(t.a.key));
  asB = client(t.url, lc(t.b.key));
});
after(() => t.close());

let seq = 0;
/** A unique email and phone per call, so tests never collide on the duplicate rule. */
const unique = () => {
  seq++;
  return { email: `person${seq}@example.com`, phone: `+3460000${String(seq).padStart(4, '0')}` };
};

async function create(body: Record<string, unknown> = {}, as = asA, locationId = t.a.locationId) {
  const res = await as('POST', '/contacts/', { locationId, ...unique(), ...body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.contact;
}

const db = () => t.charla.ctx.db;

async function contactRow(id: string) {
  const { rows } = await db().query('SELECT * FROM contacts WHERE id = $1', [id]);
  return rows[0];
}

async function count(table: string) {
  return (await db().query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n as number;
}

const NOT_FOUND = { statusCode: 404, message: 'Contact not found', error: 'Not Found' };

describe('POST /contacts/', () => {
  test('creates a contact and answers {contact} in the ContactDTO shape', async () => {
    const res = await asA('POST', '/contacts/', {
      locationId: t.a.locationId,
      firstName: '  Rosa ',
      lastName: 'Parks',
      name: 'Rosa Parks',
      email: 'Rosa@Example.com',
      phone: '+1 (555) 010-0001',
      companyName: 'Montgomery Co',
      tags: ['vip', ' vip ', 'lead', ''],
      customFields: [
        { id: 'plan', field_value: 'gold' },
        { key: 'contact.seats', value: 12 },
        { id: 'interests', field_value: ['chat', 'email'] },
        { id: 'opt_in', field_value: true },
      ],
      source: 'website',
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const c = res.body.contact;
    assert.match(c.id, /^[0-9a-f-]{36}$/);
    assert.ok(!Number.isNaN(Date.parse(c.dateAdded)));
    assert.equal(c.dateUpdated, c.dateAdded);
    assert.deepEqual(res.body, {
      contact: {
        id: c.id,
        locationId: t.a.locationId,
        firstName: 'Rosa',
        lastName: 'Parks',
        name: 'Rosa Parks',
        contactName: 'Rosa Parks',
        firstNameRaw: 'Rosa',
        lastNameRaw: 'Parks',
        email: 'Rosa@Example.com',
        phone: '+15550100001',
        companyName: 'Montgomery Co',
        tags: ['vip', 'lead'],
        customFields: c.customFields,
        source: 'website',
        dateAdded: c.dateAdded,
        dateUpdated: c.dateAdded,
      },
    });
    const byId = Object.fromEntries(
      c.customFields.map((f: { id: string; value: unknown }) => [f.id, f.value]),
    );
    assert.deepEqual(byId, { plan: 'gold', 'contact.seats': 12, interests: ['chat', 'email'], opt_in: true });
    assert.equal(c.customFields.length, 4);

    const row = (await contactRow(c.id))!;
    assert.equal(row.location_id, t.a.locationId);
    assert.equal(row.phone, '+15550100001');

    const { rows: events } = await db().query(
      "SELECT location_id, payload FROM outbox WHERE topic = 'contact.created' AND payload->>'contactId' = $1",
      [c.id],
    );
    assert.equal(events.length, 1);
    assert.equal(events[0]!.location_id, t.a.locationId);
    assert.deepEqual(events[0]!.payload, { contactId: c.id }, 'events carry ids only');
  });

  test('a minimal contact: unset fields are null, contactName falls back to first and last name', async () => {
    const res = await asA('POST', '/contacts', {
      locationId: t.a.locationId,
      firstName: 'Ada',
      lastName: 'L',
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const c = res.body.contact;
    assert.equal(c.name, null);
    assert.equal(c.contactName, 'Ada L');
    assert.equal(c.email, null);
    assert.equal(c.phone, null);
    assert.equal(c.companyName, null);
    assert.equal(c.source, null);
    assert.deepEqual(c.tags, []);
    assert.deepEqual(c.customFields, []);
    const bare = await asA('POST', '/contacts/', { locationId: t.a.locationId });
    assert.equal(bare.status, 201);
    assert.equal(bare.body.contact.contactName, null);
    assert.equal('firstNameRaw' in bare.body.contact, false);
  });

  test('phone numbers are normalised to + and digits', async () => {
    const cases: [string, string][] = [
      ['+44 20 7946 0958', '+442079460958'],
      ['0049 30 1234567', '+49301234567'],
      ['1.555.010.0002', '+15550100002'],
      ['+52 (55) 1234-5678', '+525512345678'],
    ];
    for (const [given, stored] of cases) {
      const c = await create({ phone: given });
      assert.equal(c.phone, stored, given);
    }
  });

  test('a duplicate email (any case) or phone (any formatting) is a 400 naming the contact', async () => {
    const first = await create({ email: 'dup@example.com', phone: '+15550100100' });
    const before = await count('contacts');
    const byEmail = await asA('POST', '/contacts/', {
      locationId: t.a.locationId,
      email: 'DUP@example.COM',
      phone: '+15550100999',
    });
    assert.equal(byEmail.status, 400);
    assert.deepEqual(byEmail.body, {
      statusCode: 400,
      message: 'This location does not allow duplicated contacts.',
      error: 'Bad Request',
      meta: { contactId: first.id, matchingField: 'email' },
    });
    const byPhone = await asA('POST', '/contacts/', {
      locationId: t.a.locationId,
      email: 'other@example.com',
      phone: '+1 555 010 0100',
    });
    assert.equal(byPhone.status, 400);
    assert.deepEqual(byPhone.body.meta, { contactId: first.id, matchingField: 'phone' });
    assert.equal(await count('contacts'), before);
    // Another location may hold the same person.
    const elsewhere = await create({ email: 'dup@example.com', phone: '+15550100100' }, asB, t.b.locationId);
    assert.notEqual(elsewhere.id, first.id);
  });

  test('concurrent creates of the same email: exactly one wins, the others are duplicates', async () => {
    const email = 'race@example.com';
    const results = await Promise.all(
      Array.from({ length: 6 }, () => asA('POST', '/contacts/', { locationId: t.a.locationId, email })),
    );
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, 400, 400, 400, 400, 400]);
    const winner = results.find((r) => r.status === 201)!.body.contact.id;
    for (const r of results.filter((x) => x.status === 400)) {
      assert.deepEqual(r.body.meta, { contactId: winner, matchingField: 'email' });
    }
  });

  test('refuses bad bodies with 422 and a message array, and stores nothing', async () => {
    const before = await count('contacts');
    const loc = t.a.locationId;
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ locationId: loc, firstName: 42 }, /firstName must be string/],
      [{ locationId: loc, tags: 'vip' }, /tags must be array/],
      [{ locationId: loc, tags: [1] }, /tags.0 must be string/],
      [{ locationId: loc, email: 'not-an-email' }, /email must be an email/],
      [{ locationId: loc, email: 'a@b' }, /email must be an email/],
      [{ locationId: loc, phone: '+1 555 CALL NOW' }, /phone must be a phone number/],
      [{ locationId: loc, phone: '12' }, /phone must be a phone number/],
      [{ locationId: loc, phone: '0612345678' }, /phone must be a phone number/],
      [{ locationId: loc, firstName: 'x'.repeat(201) }, /firstName must be shorter than or equal to 200/],
      [{ locationId: loc, companyName: 'x'.repeat(201) }, /companyName must be shorter/],
      [{ locationId: loc, source: 'x'.repeat(201) }, /source must be shorter/],
      [{ locationId: loc, email: `${'x'.repeat(250)}@example.com` }, /email must be shorter/],
      [{ locationId: loc, phone: '1'.repeat(41) }, /phone must be shorter/],
      [{ locationId: 'x'.repeat(101) }, /locationId must be shorter/],
      [
        { locationId: loc, tags: Array.from({ length: 101 }, (_, i) => `t${i}`) },
        /tags must contain no more/,
      ],
      [{ locationId: loc, tags: ['x'.repeat(101)] }, /tags.0 must be shorter/],
      [
        {
          locationId: loc,
          customFields: Array.from({ length: 101 }, (_, i) => ({ id: `f${i}`, field_value: 'v' })),
        },
        /customFields must contain no more than 100/,
      ],
      [{ locationId: loc, customFields: [{ id: 'f', field_value: { a: 1 } }] }, /field_value must be/],
      [{ locationId: loc, customFields: [{ id: 'f', field_value: [1, 2] }] }, /field_value.0 must be string/],
      [{ locationId: loc, customFields: [{ field_value: 'v' }] }, /must have an id or a key/],
      [{ locationId: loc, customFields: [{ id: 'f' }] }, /must have a field_value/],
      [
        {
          locationId: loc,
          customFields: [
            { id: 'f', field_value: 'a' },
            { key: 'f', value: 'b' },
          ],
        },
        /repeats the field f/,
      ],
      [{ locationId: loc, customFields: [{ id: 'f', field_value: 'v', extra: 1 }] }, /customFields.0.extra/],
      [{ locationId: loc, address1: '1 Main St' }, /property address1 should not exist/],
      [{ locationId: loc, surprise: true }, /property surprise should not exist/],
      [{ firstName: 'No location' }, /locationId is required/],
    ];
    for (const [body, expected] of cases) {
      const res = await asA('POST', '/contacts/', body);
      assert.equal(res.status, 422, `${JSON.stringify(body).slice(0, 200)} -> ${res.status}`);
      assert.equal(res.body.statusCode, 422);
      assert.equal(res.body.error, 'Unprocessable Entity');
      assert.ok(Array.isArray(res.body.message), 'message is an array');
      assert.ok(
        res.body.message.some((m: string) => expected.test(m)),
        `${expected} in ${JSON.stringify(res.body.message)}`,
      );
    }
    assert.equal(await count('contacts'), before);
  });

  test('a key for another location is a 403; an unknown location is a 404', async () => {
    const before = await count('contacts');
    const other = await asA('POST', '/contacts/', { locationId: t.b.locationId, firstName: 'x' });
    assert.equal(other.status, 403);
    assert.deepEqual(other.body, {
      statusCode: 403,
      message: 'The token does not have access to this location',
      error: 'Forbidden',
    });
    const agency = client(t.url, lc(t.agencyKey));
    for (const locationId of [crypto.randomUUID(), 'nope']) {
      const res = await agency('POST', '/contacts/', { locationId, firstName: 'x' });
      assert.equal(res.status, 404, JSON.stringify(res.body));
      assert.equal(res.body.message, 'Location not found');
    }
    assert.equal(await count('contacts'), before);
  });
});

describe('GET /contacts/{contactId}', () => {
  test('answers {contact} exactly as creation did', async () => {
    const c = await create({ firstName: 'Get', tags: ['a'], customFields: [{ id: 'x', field_value: 1 }] });
    const res = await asA('GET', `/contacts/${c.id}`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { contact: c });
  });

  test('an unknown or malformed id is a 404', async () => {
    for (const id of [crypto.randomUUID(), 'not-an-id', '1']) {
      const res = await asA('GET', `/contacts/${id}`);
      assert.equal(res.status, 404, id);
      assert.deepEqual(res.body, NOT_FOUND);
    }
  });
});

describe('PUT /contacts/{contactId}', () => {
  test('changes only the fields given: tags replaced, custom fields merged, null clears', async () => {
    const c = await create({
      firstName: 'Before',
      lastName: 'Name',
      companyName: 'Old Co',
      tags: ['one', 'two'],
      customFields: [
        { id: 'keep', field_value: 'k' },
        { id: 'change', field_value: 'c' },
        { id: 'drop', field_value: 'd' },
      ],
    });
    await new Promise((r) => setTimeout(r, 5));
    const res = await asA('PUT', `/contacts/${c.id}`, {
      firstName: 'After',
      companyName: null,
      email: 'UPDATED@example.com',
      phone: '+34 600 999 111',
      tags: ['three'],
      customFields: [
        { id: 'change', field_value: 'C' },
        { id: 'drop', field_value: null },
        { key: 'added', value: ['x', 'y'] },
      ],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.succeded, true);
    const u = res.body.contact;
    assert.deepEqual(
      { ...u, customFields: undefined, dateUpdated: undefined },
      {
        ...c,
        firstName: 'After',
        firstNameRaw: 'After',
        contactName: 'After Name',
        companyName: null,
        email: 'UPDATED@example.com',
        phone: '+34600999111',
        tags: ['three'],
        customFields: undefined,
        dateUpdated: undefined,
      },
    );
    assert.ok(Date.parse(u.dateUpdated) > Date.parse(c.dateUpdated), 'dateUpdated moves');
    const fields = Object.fromEntries(
      u.customFields.map((f: { id: string; value: unknown }) => [f.id, f.value]),
    );
    assert.deepEqual(fields, { keep: 'k', change: 'C', added: ['x', 'y'] });
    assert.deepEqual((await asA('GET', `/contacts/${c.id}`)).body.contact, u);

    const { rows: events } = await db().query(
      "SELECT payload FROM outbox WHERE topic = 'contact.updated' AND payload->>'contactId' = $1",
      [c.id],
    );
    assert.deepEqual(
      events.map((e) => e.payload),
      [{ contactId: c.id }],
    );
  });

  test('an empty change keeps everything; "" clears a field like null', async () => {
    const c = await create({ firstName: 'Same', source: 'ads' });
    const same = await asA('PUT', `/contacts/${c.id}`, {});
    assert.equal(same.status, 200);
    assert.deepEqual({ ...same.body.contact, dateUpdated: c.dateUpdated }, c);
    const cleared = await asA('PUT', `/contacts/${c.id}`, { source: '', email: '  ' });
    assert.equal(cleared.body.contact.source, null);
    assert.equal(cleared.body.contact.email, null);
  });

  test('taking another contact’s email or phone is a 400; keeping one’s own is fine', async () => {
    const a = await create({ email: 'taken@example.com', phone: '+15550100777' });
    const b = await create();
    const before = await contactRow(b.id);
    const byEmail = await asA('PUT', `/contacts/${b.id}`, { email: 'Taken@Example.com' });
    assert.equal(byEmail.status, 400);
    assert.deepEqual(byEmail.body.meta, { contactId: a.id, matchingField: 'email' });
    const byPhone = await asA('PUT', `/contacts/${b.id}`, { phone: '+1-555-010-0777' });
    assert.equal(byPhone.status, 400);
    assert.deepEqual(byPhone.body.meta, { contactId: a.id, matchingField: 'phone' });
    assert.deepEqual(await contactRow(b.id), before);
    const own = await asA('PUT', `/contacts/${a.id}`, { email: 'TAKEN@example.com', phone: '+15550100777' });
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.equal(own.body.contact.email, 'TAKEN@example.com');
  });

  test('bad bodies are a 422 and change nothing; an unknown id is a 404', async () => {
    const c = await create();
    const before = await contactRow(c.id);
    for (const body of [
      { email: 'nope' },
      { tags: [true] },
      { lastName: 'x'.repeat(201) },
      { locationId: t.a.locationId },
      { phone: 'call me' },
    ]) {
      const res = await asA('PUT', `/contacts/${c.id}`, body);
      assert.equal(res.status, 422, JSON.stringify(body));
      assert.ok(Array.isArray(res.body.message));
    }
    assert.deepEqual(await contactRow(c.id), before);
    for (const id of [crypto.randomUUID(), 'bad']) {
      const res = await asA('PUT', `/contacts/${id}`, { firstName: 'x' });
      assert.equal(res.status, 404);
      assert.deepEqual(res.body, NOT_FOUND);
    }
  });

  test('a contact holds at most 100 custom fields, however they are added', async () => {
    const c = await create({
      customFields: Array.from({ length: 100 }, (_, i) => ({ id: `f${i}`, field_value: i })),
    });
    const res = await asA('PUT', `/contacts/${c.id}`, { customFields: [{ id: 'one-more', field_value: 1 }] });
    assert.equal(res.status, 422);
    assert.deepEqual(res.body.message, ['a contact may hold at most 100 custom fields']);
    const swap = await asA('PUT', `/contacts/${c.id}`, {
      customFields: [
        { id: 'f0', field_value: null },
        { id: 'one-more', field_value: 1 },
      ],
    });
    assert.equal(swap.status, 200);
    assert.equal(swap.body.contact.customFields.length, 100);
  });
});

describe('POST /contacts/upsert', () => {
  test('creates when nothing matches: 201 {new: true, contact, traceId}', async () => {
    const res = await asA('POST', '/contacts/upsert', {
      locationId: t.a.locationId,
      email: 'fresh@example.com',
      firstName: 'Fresh',
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.new, true);
    assert.equal(typeof res.body.traceId, 'string');
    assert.deepEqual(Object.keys(res.body).sort(), ['contact', 'new', 'traceId']);
    assert.deepEqual((await asA('GET', `/contacts/${res.body.contact.id}`)).body.contact, res.body.contact);
  });

  test('matches by email, case-insensitively, and updates that contact', async () => {
    const c = await create({ email: 'Match.Me@example.com', firstName: 'Old', tags: ['old'] });
    const before = await count('contacts');
    const res = await asA('POST', '/contacts/upsert', {
      locationId: t.a.locationId,
      email: 'match.me@EXAMPLE.com',
      firstName: 'New',
      tags: ['new'],
      createNewIfDuplicateAllowed: true,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.new, false);
    assert.equal(res.body.contact.id, c.id);
    assert.equal(res.body.contact.firstName, 'New');
    assert.equal(res.body.contact.email, 'match.me@EXAMPLE.com');
    assert.equal(res.body.contact.phone, c.phone, 'fields not given stay');
    assert.deepEqual(res.body.contact.tags, ['new']);
    assert.equal(await count('contacts'), before);
  });

  test('matches by phone when the email matches nobody, and takes the new email', async () => {
    const c = await create({ phone: '+15550100555', email: 'phone.owner@example.com' });
    const res = await asA('POST', '/contacts/upsert', {
      locationId: t.a.locationId,
      email: 'new.address@example.com',
      phone: '1 (555) 010-0555',
      lastName: 'Phoned',
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.new, false);
    assert.equal(res.body.contact.id, c.id);
    assert.equal(res.body.contact.email, 'new.address@example.com');
    assert.equal(res.body.contact.lastName, 'Phoned');
  });

  test('email matching one contact and phone another is a duplicate phone (400)', async () => {
    const byEmail = await create();
    const byPhone = await create();
    const res = await asA('POST', '/contacts/upsert', {
      locationId: t.a.locationId,
      email: byEmail.email,
      phone: byPhone.phone,
    });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body.meta, { contactId: byPhone.id, matchingField: 'phone' });
    assert.equal((await contactRow(byEmail.id))!.phone, byEmail.phone);
  });

  test('concurrent upserts of one new email make one contact', async () => {
    const email = 'upsert.race@example.com';
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        asA('POST', '/contacts/upsert', { locationId: t.a.locationId, email, firstName: `w${i}` }),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.status).sort(),
      [200, 200, 200, 200, 200, 201],
      JSON.stringify(results.map((r) => r.body)),
    );
    assert.equal(new Set(results.map((r) => r.body.contact.id)).size, 1);
  });

  test('validates like creation and refuses another location', async () => {
    const bad = await asA('POST', '/contacts/upsert', { locationId: t.a.locationId, email: 'x' });
    assert.equal(bad.status, 422);
    const other = await asA('POST', '/contacts/upsert', { locationId: t.b.locationId, email: 'a@b.example' });
    assert.equal(other.status, 403);
  });
});

describe('DELETE /contacts/{contactId}', () => {
  test('answers {succeded: true}; the contact is gone', async () => {
    const c = await create();
    const res = await asA('DELETE', `/contacts/${c.id}`, undefined, { 'content-type': 'application/json' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { succeded: true });
    assert.equal(await contactRow(c.id), undefined);
    assert.equal((await asA('GET', `/contacts/${c.id}`)).status, 404);
    const again = await asA('DELETE', `/contacts/${c.id}`);
    assert.equal(again.status, 404);
    assert.deepEqual(again.body, NOT_FOUND);
    // The email and phone are free again.
    await create({ email: c.email, phone: c.phone });
  });

  test('erases conversations, messages, media (files too) and cancels queued deliveries', async () => {
    const loc = t.a.locationId;
    const c = await create();
    const other = await create();
    const conv = crypto.randomUUID();
    const otherConv = crypto.randomUUID();
    const q = db();
    for (const [id, contactId] of [
      [conv, c.id],
      [otherConv, other.id],
    ]) {
      await q.query('INSERT INTO conversations (location_id, id, contact_id) VALUES ($1, $2, $3)', [
        loc,
        id,
        contactId,
      ]);
    }
    const msg = async (conversationId: string, contactId: string, n: number) => {
      const id = crypto.randomUUID();
      await q.query(
        `INSERT INTO messages (location_id, id, conversation_id, contact_id, seq, type, direction, status, body)
         VALUES ($1, $2, $3, $4, $5, 'TYPE_SMS', 'outbound', 'pending', 'personal words')`,
        [loc, id, conversationId, contactId, n],
      );
      // A scheduled send, an hour away: still queued when the contact is erased.
      await q.query(
        `INSERT INTO jobs (location_id, kind, payload, ref, run_at)
         VALUES ($1, 'message.dispatch', $2, $3, now() + interval '1 hour')`,
        [loc, JSON.stringify({ messageId: id }), id],
      );
      return id;
    };
    const mine = [await msg(conv, c.id, 1), await msg(conv, c.id, 2)];
    const theirs = await msg(otherConv, other.id, 1);
    const media = async (conversationId: string, withFile: boolean) => {
      const id = crypto.randomUUID();
      await q.query(
        `INSERT INTO media (location_id, id, conversation_id, filename, content_type, size, path)
         VALUES ($1, $2, $3, 'photo.png', 'image/png', 3, $4)`,
        [loc, id, conversationId, `${loc}/${id}`],
      );
      const file = mediaFilePath(t.charla.ctx, { locationId: loc, id });
      if (withFile) {
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, 'png');
      }
      return { id, file };
    };
    const photo = await media(conv, true);
    const missingFile = await media(conv, false);
    const keptPhoto = await media(otherConv, true);

    const res = await asA('DELETE', `/contacts/${c.id}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { succeded: true });

    const ids = (sql: string, params: unknown[]) => q.query(sql, params).then((r) => r.rows.length);
    assert.equal(await ids('SELECT 1 FROM contacts WHERE id = $1', [c.id]), 0);
    assert.equal(await ids('SELECT 1 FROM conversations WHERE id = $1', [conv]), 0);
    assert.equal(await ids('SELECT 1 FROM messages WHERE id = ANY($1::uuid[])', [mine]), 0);
    assert.equal(
      await ids('SELECT 1 FROM media WHERE id = ANY($1::uuid[])', [[photo.id, missingFile.id]]),
      0,
    );
    assert.equal(existsSync(photo.file), false, 'the file is removed');
    const { rows: jobs } = await q.query('SELECT ref, status FROM jobs WHERE ref = ANY($1::text[])', [
      [...mine, theirs],
    ]);
    const status = Object.fromEntries(jobs.map((j) => [j.ref, j.status]));
    assert.deepEqual(status, { [mine[0]!]: 'canceled', [mine[1]!]: 'canceled', [theirs]: 'queued' });

    // Someone else's conversation, message, media and file are untouched.
    assert.equal(await ids('SELECT 1 FROM conversations WHERE id = $1', [otherConv]), 1);
    assert.equal(await ids('SELECT 1 FROM messages WHERE id = $1', [theirs]), 1);
    assert.equal(await ids('SELECT 1 FROM media WHERE id = $1', [keptPhoto.id]), 1);
    assert.equal(existsSync(keptPhoto.file), true);

    const { rows: events } = await q.query(
      "SELECT location_id, payload FROM outbox WHERE topic = 'contact.deleted' AND payload->>'contactId' = $1",
      [c.id],
    );
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]!.payload, { contactId: c.id, conversationIds: [conv] });
    const text = JSON.stringify(events[0]!.payload);
    for (const personal of [c.email, c.phone, 'personal words']) assert.ok(!text.includes(personal));
  });
});

describe('scopes', () => {
  test('a key without the route’s scope is a 401 and changes nothing', async () => {
    const c = await create({ firstName: 'Scoped' });
    const before = await contactRow(c.id);
    const count0 = await count('contacts');
    const reader = client(t.url, lc(await t.key(['contacts.readonly'], [t.a.locationId])));
    assert.equal((await reader('GET', `/contacts/${c.id}`)).status, 200);
    const unauthorized = {
      statusCode: 401,
      message: 'The token is not authorized for this scope.',
      error: 'Unauthorized',
    };
    const writes = [
      await reader('POST', '/contacts/', { locationId: t.a.locationId, firstName: 'x' }),
      await reader('POST', '/contacts/upsert', { locationId: t.a.locationId, email: c.email }),
      await reader('PUT', `/contacts/${c.id}`, { firstName: 'x' }),
      await reader('DELETE', `/contacts/${c.id}`),
    ];
    for (const res of writes) {
      assert.equal(res.status, 401);
      assert.deepEqual(res.body, unauthorized);
    }
    const widgetOnly = client(t.url, lc(await t.key(['chat-widget.readonly'], [t.a.locationId])));
    const read = await widgetOnly('GET', `/contacts/${c.id}`);
    assert.equal(read.status, 401);
    assert.deepEqual(read.body, unauthorized);
    const writer = client(t.url, lc(await t.key(['contacts.write'], [t.a.locationId])));
    assert.equal((await writer('GET', `/contacts/${c.id}`)).status, 401, 'write does not imply read');
    assert.deepEqual(await contactRow(c.id), before);
    assert.equal(await count('contacts'), count0);
  });

  test('no key or no Version header is a 401', async () => {
    const c = await create();
    assert.equal((await client(t.url)('GET', `/contacts/${c.id}`)).status, 401);
    assert.equal(
      (await client(t.url, { authorization: `Bearer ${t.a.key}` })('GET', `/contacts/${c.id}`)).status,
      401,
    );
  });
});

describe("someone else's contacts", () => {
  test('tenant B can neither read nor change nor delete A’s contact, and nothing changes', async () => {
    const c = await create({ firstName: 'A only', tags: ['a'] });
    const conv = crypto.randomUUID();
    await db().query('INSERT INTO conversations (location_id, id, contact_id) VALUES ($1, $2, $3)', [
      t.a.locationId,
      conv,
      c.id,
    ]);
    const before = await contactRow(c.id);
    const attempts = [
      await asB('GET', `/contacts/${c.id}`),
      await asB('PUT', `/contacts/${c.id}`, { firstName: 'pwned' }),
      await asB('DELETE', `/contacts/${c.id}`),
    ];
    for (const r of attempts) {
      assert.equal(r.status, 404, JSON.stringify(r.body));
      assert.deepEqual(r.body, NOT_FOUND);
    }
    const naming = [
      await asB('POST', '/contacts/', { locationId: t.a.locationId, email: 'b@b.example' }),
      await asB('POST', '/contacts/upsert', {
        locationId: t.a.locationId,
        email: c.email,
        firstName: 'pwned',
      }),
    ];
    for (const r of naming) assert.equal(r.status, 403, JSON.stringify(r.body));
    // B upserting A's email in its own location makes B's own contact, never touches A's.
    const own = await asB('POST', '/contacts/upsert', { locationId: t.b.locationId, email: c.email });
    assert.equal(own.status, 201);
    assert.notEqual(own.body.contact.id, c.id);
    assert.equal(own.body.contact.locationId, t.b.locationId);

    assert.deepEqual(await contactRow(c.id), before);
    assert.equal((await db().query('SELECT 1 FROM conversations WHERE id = $1', [conv])).rowCount, 1);
  });

  test('an agency-wide key reaches every location', async () => {
    const c = await create();
    const res = await client(t.url, lc(t.agencyKey))('GET', `/contacts/${c.id}`);
    assert.equal(res.status, 200);
    assert.equal(res.body.contact.id, c.id);
  });
});

describe('displayName', () => {
  test('name, else first and last name, else email, else phone', () => {
    const none = { name: null, firstName: null, lastName: null, email: null, phone: null };
    assert.equal(displayName({ ...none, name: 'Full', firstName: 'F', email: 'e@x' }), 'Full');
    assert.equal(displayName({ ...none, firstName: 'F', lastName: 'L', email: 'e@x' }), 'F L');
    assert.equal(displayName({ ...none, lastName: 'L' }), 'L');
    assert.equal(displayName({ ...none, email: 'e@x', phone: '+1' }), 'e@x');
    assert.equal(displayName({ ...none, phone: '+1' }), '+1');
    assert.equal(displayName(none), '');
  });
});
