import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { contact, user } from '../leadconnector/messaging-fixtures.js';
import { startTestCharla, type TestCharla } from '../support/charla.js';
import { client } from '../support/http.js';

let t: TestCharla;
let asA: ReturnType<typeof client>;
let asB: ReturnType<typeof client>;

before(async () => {
  t = await startTestCharla();
  // ChatCaptain clients send the key as x-chatcaptain-key.
  asA = client(t.url, { 'x-chatcaptain-key': t.a.key });
  asB = client(t.url, { 'x-chatcaptain-key': t.b.key });
});
after(() => t.close());

const base = (chatbotId: string) => `/v1/inbox/${chatbotId}/widgets`;
const ALL_SCOPES = [
  'chatbots.inbox.widgets.list',
  'chatbots.inbox.widgets.create',
  'chatbots.inbox.widgets.get',
  'chatbots.inbox.widgets.edit',
  'chatbots.inbox.widgets.delete',
  'chatbots.inbox.widgets.content.get',
  'chatbots.inbox.widgets.content.edit',
];

function expectError(res: { status: number; body: any }, status: number, error?: string | RegExp, what = '') {
  assert.equal(res.status, status, `${what} -> ${res.status} ${JSON.stringify(res.body)}`);
  assert.equal(res.body.statusCode, status, what);
  assert.equal(typeof res.body.error, 'string', what);
  if (typeof error === 'string') assert.equal(res.body.error, error, what);
  else if (error) assert.match(res.body.error, error, what);
}

/** A 400 "Invalid input data." whose details have a sentence matching `detail`. */
function expect400(res: { status: number; body: any }, detail: RegExp, what = '') {
  expectError(res, 400, 'Invalid input data.', what);
  assert.ok(Array.isArray(res.body.details), `${what}: details is an array`);
  assert.ok(
    res.body.details.some((d: string) => detail.test(d)),
    `${what}: ${detail} in ${JSON.stringify(res.body.details)}`,
  );
}

async function createWidget(req = asA, chatbotId = t.a.locationId, body: Record<string, unknown> = {}) {
  const res = await req('POST', base(chatbotId), { title: 'Customer Info', ...body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.inboxWidget;
}

async function conversation(
  locationId: string,
  contactId: string,
  extra: { tags?: string[]; assignedTo?: string; status?: string; channel?: string } = {},
): Promise<string> {
  const { rows } = await t.charla.ctx.db.query<{ id: string }>(
    `INSERT INTO conversations (location_id, id, contact_id, channel, status, tags, assigned_to)
     VALUES ($1, gen_random_uuid(), $2, $3, $4, $5, $6) RETURNING id`,
    [
      locationId,
      contactId,
      extra.channel ?? 'live_chat',
      extra.status ?? 'open',
      extra.tags ?? [],
      extra.assignedTo ?? null,
    ],
  );
  return rows[0]!.id;
}

async function setCustomFields(locationId: string, contactId: string, fields: Record<string, unknown>) {
  await t.charla.ctx.db.query('UPDATE contacts SET custom_fields = $3 WHERE location_id = $1 AND id = $2', [
    locationId,
    contactId,
    JSON.stringify(fields),
  ]);
}

/** Everything this face stores for a location, plus its events: refused calls leave it as it was. */
async function state(locationId: string) {
  const db = t.charla.ctx.db;
  const widgets = await db.query('SELECT * FROM inbox_widgets WHERE location_id = $1 ORDER BY id', [
    locationId,
  ]);
  const values = await db.query(
    'SELECT * FROM inbox_widget_values WHERE location_id = $1 ORDER BY conversation_id, variable',
    [locationId],
  );
  const events = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM outbox WHERE location_id = $1 AND topic LIKE 'inbox-widget.%'",
    [locationId],
  );
  return { widgets: widgets.rows, values: values.rows, events: events.rows[0]!.n };
}

async function events(locationId: string, topic: string) {
  const { rows } = await t.charla.ctx.db.query<{ payload: Record<string, unknown> }>(
    'SELECT payload FROM outbox WHERE location_id = $1 AND topic = $2 ORDER BY id',
    [locationId, topic],
  );
  return rows.map((r) => r.payload);
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('widgets CRUD', () => {
  test('create answers 201 with the InboxWidgetDto and records inbox-widget.created', async () => {
    const fields = [
      { label: 'Email', variable: 'contact.email', type: 'text' },
      { label: 'Plan', variable: 'crm.plan', type: 'text' },
    ];
    const res = await asA('POST', base(t.a.locationId), { title: '  Customer Info ', fields });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const w = res.body.inboxWidget;
    assert.deepEqual(Object.keys(w).sort(), ['created', 'fields', 'id', 'title', 'updated']);
    assert.equal(w.title, 'Customer Info');
    assert.deepEqual(w.fields, fields);
    assert.match(w.created, ISO);
    assert.match(w.updated, ISO);
    assert.equal(typeof w.id, 'string');
    const created = await events(t.a.locationId, 'inbox-widget.created');
    assert.ok(created.some((p) => p.widgetId === w.id));
  });

  test('fields default to none; title alone, as ChatCaptain documents it, is enough', async () => {
    const w = await createWidget(asA, t.a.locationId, { title: 'Only a title' });
    assert.deepEqual(w.fields, []);
  });

  test('list, get, patch and delete', async () => {
    const w = await createWidget(asA, t.a.locationId, { title: 'Lifecycle' });

    const list = await asA('GET', base(t.a.locationId));
    assert.equal(list.status, 200);
    assert.deepEqual(Object.keys(list.body), ['inboxWidgets']);
    assert.deepEqual(
      list.body.inboxWidgets.find((x: any) => x.id === w.id),
      w,
    );

    const got = await asA('GET', `${base(t.a.locationId)}/${w.id}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, { inboxWidget: w });

    await new Promise((r) => setTimeout(r, 5));
    const patched = await asA('PATCH', `${base(t.a.locationId)}/${w.id}`, { title: 'Updated Customer Info' });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.inboxWidget.title, 'Updated Customer Info');
    assert.deepEqual(patched.body.inboxWidget.fields, []);
    assert.equal(patched.body.inboxWidget.created, w.created);
    assert.ok(patched.body.inboxWidget.updated > w.updated);

    const fields = [{ label: 'Status', variable: 'conversation.status', type: 'text' }];
    const withFields = await asA('PATCH', `${base(t.a.locationId)}/${w.id}`, { fields });
    assert.equal(withFields.status, 200);
    assert.equal(withFields.body.inboxWidget.title, 'Updated Customer Info', 'title kept');
    assert.deepEqual(withFields.body.inboxWidget.fields, fields);
    const cleared = await asA('PATCH', `${base(t.a.locationId)}/${w.id}`, { fields: [] });
    assert.deepEqual(cleared.body.inboxWidget.fields, []);
    assert.ok(
      (await events(t.a.locationId, 'inbox-widget.updated')).filter((p) => p.widgetId === w.id).length >= 3,
    );

    const del = await asA('DELETE', `${base(t.a.locationId)}/${w.id}`);
    assert.equal(del.status, 200);
    assert.deepEqual(del.body, { deleted: true });
    assert.ok((await events(t.a.locationId, 'inbox-widget.deleted')).some((p) => p.widgetId === w.id));

    expectError(await asA('GET', `${base(t.a.locationId)}/${w.id}`), 404, 'Widget not found.');
    expectError(await asA('DELETE', `${base(t.a.locationId)}/${w.id}`), 404, 'Widget not found.');
    expectError(await asA('PATCH', `${base(t.a.locationId)}/${w.id}`, { title: 'x' }), 404);
    const after = await asA('GET', base(t.a.locationId));
    assert.ok(!after.body.inboxWidgets.some((x: any) => x.id === w.id));
  });

  test('the key is accepted as Bearer and X-Api-Key too; no key or a bad key is 401', async () => {
    const bearer = client(t.url, { authorization: `Bearer ${t.a.key}` });
    assert.equal((await bearer('GET', base(t.a.locationId))).status, 200);
    const apiKey = client(t.url, { 'x-api-key': t.a.key });
    assert.equal((await apiKey('GET', base(t.a.locationId))).status, 200);
    expectError(
      await client(t.url)('GET', base(t.a.locationId)),
      401,
      'Invalid token: access token is invalid.',
    );
    expectError(
      await client(t.url, { 'x-chatcaptain-key': 'CCSB-a1b2c3d4-e5f6g7h8i9j0' })('GET', base(t.a.locationId)),
      401,
    );
  });
});

describe('values', () => {
  let widgetId: string;
  let contactId: string;
  let conversationId: string;
  let agentId: string;

  const FIELDS = [
    { label: 'Email', variable: 'contact.email', type: 'text' },
    { label: 'Name', variable: 'contact.name', type: 'text' },
    { label: 'Phone', variable: 'contact.phone', type: 'text' },
    { label: 'Contact tags', variable: 'contact.tags', type: 'list' },
    { label: 'Customer since', variable: 'contact.customFields.customer_since', type: 'date' },
    { label: 'Lifetime value', variable: 'contact.customFields.ltv', type: 'number' },
    { label: 'VIP', variable: 'contact.customFields.vip', type: 'boolean' },
    { label: 'Profile', variable: 'contact.customFields.profile', type: 'url' },
    { label: 'Broken date', variable: 'contact.customFields.bad_date', type: 'date' },
    { label: 'Broken number', variable: 'contact.customFields.bad_number', type: 'number' },
    { label: 'Broken boolean', variable: 'contact.customFields.bad_bool', type: 'boolean' },
    { label: 'Broken url', variable: 'contact.customFields.bad_url', type: 'url' },
    { label: 'Missing', variable: 'contact.customFields.nothing', type: 'text' },
    { label: 'Status', variable: 'conversation.status', type: 'text' },
    { label: 'Assigned to', variable: 'conversation.assignedTo', type: 'text' },
    { label: 'Tags', variable: 'conversation.tags', type: 'list' },
    { label: 'Tags as text', variable: 'conversation.tags', type: 'text' },
    { label: 'Channel', variable: 'conversation.channel', type: 'text' },
    { label: 'Opened', variable: 'conversation.createdAt', type: 'date' },
    { label: 'Unread', variable: 'conversation.unreadCount', type: 'number' },
    { label: 'Starred', variable: 'conversation.starred', type: 'boolean' },
    { label: 'Order', variable: 'order.id', type: 'text' },
    { label: 'Order total', variable: 'order.total', type: 'number' },
    { label: 'Delivery', variable: 'order.delivery', type: 'date' },
    { label: 'Shipped at', variable: 'order.shippedAt', type: 'date' },
    { label: 'Tracking', variable: 'order.tracking', type: 'url' },
    { label: 'Paid', variable: 'order.paid', type: 'boolean' },
    { label: 'Items', variable: 'order.items', type: 'list' },
  ];

  before(async () => {
    // "Tags as text" repeats a variable, which a widget refuses: it goes in a second widget.
    const fields = FIELDS.filter((f) => f.label !== 'Tags as text');
    widgetId = (await createWidget(asA, t.a.locationId, { title: 'Order', fields })).id;
    contactId = await contact(t, t.a.locationId, {
      name: 'Ana Ruiz',
      email: 'ana@shop.example',
      phone: '+15550001111',
    });
    await t.charla.ctx.db.query("UPDATE contacts SET tags = '{lead,es}' WHERE id = $1", [contactId]);
    await setCustomFields(t.a.locationId, contactId, {
      customer_since: '2024-02-29',
      ltv: '1234.50',
      vip: 'TRUE',
      profile: 'https://crm.example/contacts/7',
      bad_date: '2024-02-30',
      bad_number: 'twelve',
      bad_bool: 'maybe',
      bad_url: 'javascript:alert(1)',
    });
    agentId = await user(t, t.a.locationId);
    conversationId = await conversation(t.a.locationId, contactId, {
      tags: ['vip', 'billing'],
      assignedTo: agentId,
    });
  });

  const valuesUrl = (q: string, id = widgetId) => `${base(t.a.locationId)}/${id}/values?${q}`;
  const byLabel = (fieldValues: any[]) => Object.fromEntries(fieldValues.map((v) => [v.label, v.value]));

  test('write own variables, then every field resolves and is formatted per type', async () => {
    const put = await asA('PUT', `${base(t.a.locationId)}/${widgetId}/values`, {
      conversationId,
      values: {
        'order.id': 'A-1001',
        'order.total': 99.5,
        'order.delivery': '2026-03-01',
        'order.shippedAt': '2026-03-01T10:30:00+02:00',
        'order.tracking': 'https://track.example/A-1001?x=1',
        'order.paid': true,
        'order.items': ['Mug', 'Tea'],
      },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(Object.keys(put.body), ['fieldValues']);
    const written = await events(t.a.locationId, 'inbox-widget.values');
    const last = written.at(-1)!;
    assert.equal(last.widgetId, widgetId);
    assert.equal(last.conversationId, conversationId);
    assert.ok(!JSON.stringify(last).includes('A-1001'), 'no values in events');

    const res = await asA('GET', valuesUrl(`conversationId=${conversationId}&contactId=${contactId}`));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(Object.keys(res.body), ['fieldValues']);
    const fv = res.body.fieldValues;
    assert.deepEqual(
      fv.map((v: any) => v.variable),
      FIELDS.filter((f) => f.label !== 'Tags as text').map((f) => f.variable),
      'one entry per field, in field order',
    );
    for (const v of fv) assert.deepEqual(Object.keys(v).sort(), ['label', 'type', 'value', 'variable']);
    const v = byLabel(fv);
    assert.equal(v.Email, 'ana@shop.example');
    assert.equal(v.Name, 'Ana Ruiz');
    assert.equal(v.Phone, '+15550001111');
    assert.deepEqual(v['Contact tags'], ['lead', 'es']);
    assert.equal(v['Customer since'], '2024-02-29', 'calendar dates stay calendar dates');
    assert.equal(v['Lifetime value'], 1234.5, 'numeric text reads as a JSON number');
    assert.equal(v.VIP, true);
    assert.equal(v.Profile, 'https://crm.example/contacts/7');
    assert.equal(v['Broken date'], null);
    assert.equal(v['Broken number'], null);
    assert.equal(v['Broken boolean'], null);
    assert.equal(v['Broken url'], null, 'never a javascript: link');
    assert.equal(v.Missing, null);
    assert.equal(v.Status, 'open');
    assert.equal(v['Assigned to'], agentId);
    assert.deepEqual(v.Tags, ['vip', 'billing']);
    assert.equal(v.Channel, 'live_chat');
    assert.match(v.Opened, ISO);
    assert.equal(v.Unread, 0);
    assert.equal(v.Starred, false);
    assert.equal(v.Order, 'A-1001');
    assert.equal(v['Order total'], 99.5);
    assert.equal(v.Delivery, '2026-03-01');
    assert.equal(v['Shipped at'], '2026-03-01T08:30:00.000Z', 'date-times in UTC');
    assert.equal(v.Tracking, 'https://track.example/A-1001?x=1');
    assert.equal(v.Paid, true);
    assert.deepEqual(v.Items, ['Mug', 'Tea']);
    assert.deepEqual(byLabel(put.body.fieldValues), v, 'PUT answers the same values');

    // Only the conversation: its contact is used.
    const onlyConversation = await asA('GET', valuesUrl(`conversationId=${conversationId}`));
    assert.deepEqual(onlyConversation.body, res.body);
  });

  test('a list as text is joined; numbers and booleans as text are strings', async () => {
    const w = await createWidget(asA, t.a.locationId, {
      fields: [
        { label: 'Tags', variable: 'conversation.tags', type: 'text' },
        { label: 'Total', variable: 'order.total', type: 'text' },
        { label: 'Paid', variable: 'order.paid', type: 'text' },
        { label: 'Opened', variable: 'conversation.createdAt', type: 'text' },
      ],
    });
    const res = await asA('GET', valuesUrl(`conversationId=${conversationId}`, w.id));
    const v = byLabel(res.body.fieldValues);
    assert.equal(v.Tags, 'vip, billing');
    assert.equal(v.Total, '99.5');
    assert.equal(v.Paid, 'true');
    assert.match(v.Opened, ISO);
  });

  test('a stored value that no longer fits its field type reads as null, never a 500', async () => {
    const w = await createWidget(asA, t.a.locationId, {
      fields: [
        { label: 'Ref', variable: 'ticket.ref', type: 'text' },
        { label: 'Count', variable: 'ticket.count', type: 'number' },
      ],
    });
    const url = `${base(t.a.locationId)}/${w.id}`;
    const put = await asA('PUT', `${url}/values`, {
      conversationId,
      values: { 'ticket.ref': 'abc', 'ticket.count': 3 },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const retyped = [
      { label: 'Ref', variable: 'ticket.ref', type: 'number' },
      { label: 'Count', variable: 'ticket.count', type: 'url' },
    ];
    assert.equal((await asA('PATCH', url, { fields: retyped })).status, 200);
    const res = await asA('GET', `${url}/values?conversationId=${conversationId}`);
    assert.equal(res.status, 200);
    assert.deepEqual(byLabel(res.body.fieldValues), { Ref: null, Count: null });
    // A value corrupted behind the API's back reads as null too.
    await t.charla.ctx.db.query(
      `UPDATE inbox_widget_values SET value = '{"nested": [1]}' WHERE conversation_id = $1 AND variable = 'ticket.ref'`,
      [conversationId],
    );
    const text = [{ label: 'Ref', variable: 'ticket.ref', type: 'text' }];
    await asA('PATCH', url, { fields: text });
    const again = await asA('GET', `${url}/values?conversationId=${conversationId}`);
    assert.deepEqual(byLabel(again.body.fieldValues), { Ref: null });
  });

  test('null removes a value; other values stay', async () => {
    const url = `${base(t.a.locationId)}/${widgetId}/values`;
    const res = await asA('PUT', url, { conversationId, values: { 'order.paid': null } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const v = byLabel(res.body.fieldValues);
    assert.equal(v.Paid, null);
    assert.equal(v.Order, 'A-1001');
    await asA('PUT', url, { conversationId, values: { 'order.paid': true } });
  });

  test('values belong to the conversation: another conversation, or the contact alone, has none', async () => {
    const other = await conversation(t.a.locationId, contactId, { channel: 'default' });
    const res = await asA('GET', valuesUrl(`conversationId=${other}`));
    const v = byLabel(res.body.fieldValues);
    assert.equal(v.Order, null);
    assert.equal(v.Email, 'ana@shop.example');
    assert.equal(v.Channel, 'default');

    const contactOnly = await asA('GET', valuesUrl(`contactId=${contactId}`));
    assert.equal(contactOnly.status, 200);
    const c = byLabel(contactOnly.body.fieldValues);
    assert.equal(c.Email, 'ana@shop.example');
    assert.equal(c.Status, null, 'no conversation named: conversation fields are null');
    assert.equal(c.Order, null);
  });

  test('a deleted conversation has no values; erasing the contact erases them', async () => {
    const w = await createWidget(asA, t.a.locationId, {
      fields: [{ label: 'Note', variable: 'note', type: 'text' }],
    });
    const url = `${base(t.a.locationId)}/${w.id}/values`;
    const someone = await contact(t, t.a.locationId);
    const trashed = await conversation(t.a.locationId, someone);
    const kept = await conversation(t.a.locationId, someone, { channel: 'default' });
    assert.equal((await asA('PUT', url, { conversationId: kept, values: { note: 'x' } })).status, 200);
    await t.charla.ctx.db.query('UPDATE conversations SET deleted_at = now() WHERE id = $1', [trashed]);
    expectError(await asA('GET', `${url}?conversationId=${trashed}`), 404, 'Conversation not found.');
    expectError(
      await asA('PUT', url, { conversationId: trashed, values: { note: 'x' } }),
      404,
      'Conversation not found.',
    );
    await t.charla.ctx.db.query('DELETE FROM contacts WHERE id = $1', [someone]);
    const { rows } = await t.charla.ctx.db.query(
      'SELECT 1 FROM inbox_widget_values WHERE conversation_id = $1',
      [kept],
    );
    assert.equal(rows.length, 0);
  });

  test('the values endpoint refuses what it cannot resolve', async () => {
    expect400(await asA('GET', valuesUrl('')), /conversationId or contactId is required/);
    const stranger = await contact(t, t.a.locationId);
    expect400(
      await asA('GET', valuesUrl(`conversationId=${conversationId}&contactId=${stranger}`)),
      /contactId is not the contact of conversationId/,
    );
    expectError(await asA('GET', valuesUrl('conversationId=not-a-uuid')), 404, 'Conversation not found.');
    expectError(await asA('GET', valuesUrl('contactId=12')), 404, 'Contact not found.');
    expectError(await asA('GET', valuesUrl(`conversationId=${crypto.randomUUID()}`)), 404);
    expect400(
      await asA('GET', valuesUrl(`conversationId=${conversationId}&conversationId=${conversationId}`)),
      /must be string/,
    );
    expect400(
      await asA('GET', valuesUrl(`conversationId=${'a'.repeat(5000)}`)),
      /shorter than or equal to 100/,
    );
    expectError(
      await asA('GET', `${base(t.a.locationId)}/nope/values?conversationId=${conversationId}`),
      404,
      'Widget not found.',
    );
  });

  test('writes are refused, and nothing stored, for bad values', async () => {
    const url = `${base(t.a.locationId)}/${widgetId}/values`;
    const before = await state(t.a.locationId);
    const cases: [unknown, RegExp][] = [
      [{ conversationId, values: { 'order.total': '12' } }, /values\.order\.total must be a number/],
      [
        { conversationId, values: { 'order.delivery': 'tomorrow' } },
        /values\.order\.delivery must be an ISO 8601 date/,
      ],
      [
        { conversationId, values: { 'order.delivery': '2026-13-01' } },
        /values\.order\.delivery must be an ISO 8601/,
      ],
      [{ conversationId, values: { 'order.shippedAt': '2026-03-01T10:30:00' } }, /time zone/],
      [
        { conversationId, values: { 'order.tracking': 'javascript:alert(1)' } },
        /must be an http or https URL/,
      ],
      [{ conversationId, values: { 'order.tracking': 'not a url' } }, /must be an http or https URL/],
      [{ conversationId, values: { 'order.paid': 'yes' } }, /values\.order\.paid must be true or false/],
      [{ conversationId, values: { 'order.items': 'Mug' } }, /must be a list/],
      [{ conversationId, values: { 'order.items': [1, 2] } }, /must be a list of strings/],
      [{ conversationId, values: { 'order.id': 42 } }, /values\.order\.id must be a string/],
      [{ conversationId, values: { 'order.id': 'x'.repeat(10_001) } }, /at most 10000 characters/],
      [{ conversationId, values: { 'order.unknown': 'x' } }, /is not a field of this widget/],
      [{ conversationId, values: { 'contact.email': 'x@y.z' } }, /cannot be written here/],
      [{ conversationId, values: { 'conversation.status': 'closed' } }, /cannot be written here/],
      [{ conversationId, values: {} }, /at least one variable/],
      [
        { conversationId, values: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`v${i}`, 'x'])) },
        /more than 50 properties/,
      ],
      [{ conversationId }, /values is required/],
      [{ values: { 'order.id': 'x' } }, /conversationId is required/],
      [{ conversationId: 7, values: { 'order.id': 'x' } }, /conversationId must be string/],
      [{ conversationId, values: ['x'] }, /values must be object/],
      [{ conversationId, values: { 'order.id': 'x' }, extra: 1 }, /property extra should not exist/],
    ];
    for (const [body, detail] of cases)
      expect400(await asA('PUT', url, body), detail, JSON.stringify(body).slice(0, 80));
    expectError(
      await asA('PUT', url, { conversationId: 'nope', values: { 'order.id': 'x' } }),
      404,
      'Conversation not found.',
    );
    expectError(await asA('PUT', url, '{"conversationId":'), 400, 'Invalid input data.');
    assert.deepEqual(await state(t.a.locationId), before);
  });
});

describe('permissions', () => {
  test('each endpoint needs its own permission; a key with all the others gets 403', async () => {
    const w = await createWidget();
    const contactId = await contact(t, t.a.locationId);
    const conversationId = await conversation(t.a.locationId, contactId);
    await asA('PATCH', `${base(t.a.locationId)}/${w.id}`, {
      fields: [{ label: 'Note', variable: 'note', type: 'text' }],
    });
    const url = `${base(t.a.locationId)}/${w.id}`;
    const calls: [string, string, string, unknown, number][] = [
      ['chatbots.inbox.widgets.list', 'GET', base(t.a.locationId), undefined, 200],
      ['chatbots.inbox.widgets.create', 'POST', base(t.a.locationId), { title: 'Scoped' }, 201],
      ['chatbots.inbox.widgets.get', 'GET', url, undefined, 200],
      ['chatbots.inbox.widgets.edit', 'PATCH', url, { title: 'Scoped edit' }, 200],
      [
        'chatbots.inbox.widgets.content.get',
        'GET',
        `${url}/values?conversationId=${conversationId}`,
        undefined,
        200,
      ],
      [
        'chatbots.inbox.widgets.content.edit',
        'PUT',
        `${url}/values`,
        { conversationId, values: { note: 'hi' } },
        200,
      ],
      ['chatbots.inbox.widgets.delete', 'DELETE', url, undefined, 200],
    ];
    for (const [scope, method, path, body, ok] of calls) {
      const others = [
        ...ALL_SCOPES.filter((s) => s !== scope),
        'chat-widget.write',
        'conversations.readonly',
        'contacts.readonly',
      ];
      const without = client(t.url, { 'x-chatcaptain-key': await t.key(others, [t.a.locationId]) });
      const before = await state(t.a.locationId);
      expectError(
        await without(method, path, body),
        403,
        'Insufficient permissions.',
        `${method} ${path} without ${scope}`,
      );
      assert.deepEqual(await state(t.a.locationId), before, `${scope}: nothing changed`);
      // A refused key never gets as far as reading the body.
      if (body !== undefined)
        expectError(await without(method, path, { bogus: true }), 403, undefined, scope);

      const only = client(t.url, { 'x-chatcaptain-key': await t.key([scope], [t.a.locationId]) });
      const res = await only(method, path, body);
      assert.equal(res.status, ok, `${method} ${path} with only ${scope}: ${JSON.stringify(res.body)}`);
    }
  });

  test('an agency-wide key reaches every chatbot; an unknown chatbot is 404', async () => {
    const agency = client(t.url, { 'x-chatcaptain-key': t.agencyKey });
    assert.equal((await agency('GET', base(t.b.locationId))).status, 200);
    expectError(await agency('GET', base(crypto.randomUUID())), 404, 'Chatbot not found.');
    expectError(await agency('POST', base(crypto.randomUUID()), { title: 'x' }), 404, 'Chatbot not found.');
    expectError(await agency('GET', base('not-a-uuid')), 404, 'Chatbot not found.');
    expectError(
      await agency('GET', `${base('not-a-uuid')}/${crypto.randomUUID()}`),
      404,
      'Widget not found.',
    );
  });
});

describe('another location', () => {
  test("B never sees, changes or deletes A's widgets, conversations or contacts", async () => {
    const w = await createWidget(asA, t.a.locationId, {
      fields: [
        { label: 'Email', variable: 'contact.email', type: 'text' },
        { label: 'Note', variable: 'note', type: 'text' },
      ],
    });
    const contactA = await contact(t, t.a.locationId, { email: 'secret@a.example' });
    const convA = await conversation(t.a.locationId, contactA);
    assert.equal(
      (
        await asA('PUT', `${base(t.a.locationId)}/${w.id}/values`, {
          conversationId: convA,
          values: { note: 'private' },
        })
      ).status,
      200,
    );
    const wB = await createWidget(asB, t.b.locationId, {
      fields: [
        { label: 'Email', variable: 'contact.email', type: 'text' },
        { label: 'Note', variable: 'note', type: 'text' },
      ],
    });
    const beforeA = await state(t.a.locationId);
    const beforeB = await state(t.b.locationId);

    // A's chatbot in the path: 403, whatever the body.
    const a = base(t.a.locationId);
    const underA: [string, string, unknown][] = [
      ['GET', a, undefined],
      ['POST', a, { title: 'Intruder' }],
      ['POST', a, { title: 7 }],
      ['GET', `${a}/${w.id}`, undefined],
      ['PATCH', `${a}/${w.id}`, { title: 'Hacked' }],
      ['DELETE', `${a}/${w.id}`, undefined],
      ['GET', `${a}/${w.id}/values?conversationId=${convA}`, undefined],
      ['PUT', `${a}/${w.id}/values`, { conversationId: convA, values: { note: 'x' } }],
    ];
    for (const [method, path, body] of underA) {
      expectError(await asB(method, path, body), 403, 'Insufficient permissions.', `${method} ${path}`);
    }

    // A's ids under B's own chatbot: not found.
    const b = base(t.b.locationId);
    expectError(await asB('GET', `${b}/${w.id}`), 404, 'Widget not found.');
    expectError(await asB('PATCH', `${b}/${w.id}`, { title: 'Hacked' }), 404);
    expectError(await asB('DELETE', `${b}/${w.id}`), 404);
    expectError(await asB('GET', `${b}/${w.id}/values?conversationId=${convA}`), 404);
    expectError(
      await asB('GET', `${b}/${wB.id}/values?conversationId=${convA}`),
      404,
      'Conversation not found.',
    );
    expectError(await asB('GET', `${b}/${wB.id}/values?contactId=${contactA}`), 404, 'Contact not found.');
    expectError(
      await asB('PUT', `${b}/${wB.id}/values`, { conversationId: convA, values: { note: 'x' } }),
      404,
      'Conversation not found.',
    );
    const list = await asB('GET', b);
    assert.ok(!list.body.inboxWidgets.some((x: any) => x.id === w.id));

    assert.deepEqual(await state(t.a.locationId), beforeA);
    assert.deepEqual(await state(t.b.locationId), beforeB);
  });
});

describe('malformed input', () => {
  test('bad widget bodies are 400 in the error shape, never 500, and store nothing', async () => {
    const w = await createWidget();
    const before = await state(t.a.locationId);
    const field = (f: Record<string, unknown>) => ({ label: 'L', variable: 'v', type: 'text', ...f });
    const create: [unknown, RegExp][] = [
      [{}, /title is required/],
      [{ title: 42 }, /title must be string/],
      [{ title: null }, /title must be string/],
      [{ title: '' }, /title must be longer than or equal to 1/],
      [{ title: '   ' }, /title must not be blank/],
      [{ title: 'x'.repeat(201) }, /title must be shorter than or equal to 200/],
      [{ title: 'x'.repeat(900_000) }, /title must be shorter than or equal to 200/],
      [{ title: 'ok', name: 'extra' }, /property name should not exist/],
      [{ title: 'ok', fields: 'email' }, /fields must be array/],
      [
        { title: 'ok', fields: [field({ type: 'color' })] },
        /fields\.0\.type must be one of the following values: text, number, date, url, boolean, list/,
      ],
      [{ title: 'ok', fields: [field({ type: 3 })] }, /fields\.0\.type must be string/],
      [{ title: 'ok', fields: [{ label: 'L', type: 'text' }] }, /fields\.0\.variable is required/],
      [{ title: 'ok', fields: [field({ label: 'x'.repeat(201) })] }, /fields\.0\.label must be shorter/],
      [
        { title: 'ok', fields: [field({ variable: 'x'.repeat(201) })] },
        /fields\.0\.variable must be shorter/,
      ],
      [{ title: 'ok', fields: [field({ color: 'red' })] }, /property fields\.0\.color should not exist/],
      [
        { title: 'ok', fields: [field({ variable: 'contact.password' })] },
        /fields\.0\.variable must be contact\./,
      ],
      [{ title: 'ok', fields: [field({ variable: 'conversation.secret' })] }, /fields\.0\.variable must be/],
      [
        { title: 'ok', fields: [field({ variable: 'contact.customFields.' })] },
        /fields\.0\.variable must be/,
      ],
      [{ title: 'ok', fields: [field({ variable: 'has space' })] }, /fields\.0\.variable must be/],
      [{ title: 'ok', fields: [field({ variable: '9lives' })] }, /fields\.0\.variable must be/],
      [{ title: 'ok', fields: [field({}), field({ label: 'Again' })] }, /fields\.1\.variable repeats v/],
      [{ title: 'ok', fields: [field({ label: '  ' })] }, /fields\.0\.label must not be blank/],
      [
        { title: 'ok', fields: Array.from({ length: 51 }, (_, i) => field({ variable: `v${i}` })) },
        /fields must contain no more than 50/,
      ],
    ];
    for (const [body, detail] of create) {
      expect400(await asA('POST', base(t.a.locationId), body), detail, JSON.stringify(body).slice(0, 80));
    }
    const url = `${base(t.a.locationId)}/${w.id}`;
    expect400(await asA('PATCH', url, {}), /must NOT have fewer than 1 properties|fewer than 1/);
    expect400(await asA('PATCH', url, { title: ['x'] }), /title must be string/);
    expect400(
      await asA('PATCH', url, { fields: [field({ type: 'html' })] }),
      /fields\.0\.type must be one of/,
    );
    expect400(await asA('PATCH', url, { fields: null }), /fields must be array/);
    expect400(await asA('PATCH', url, { id: 'other' }), /property id should not exist/);

    // The framework's own refusals keep the shape.
    const raw = await asA('POST', base(t.a.locationId), '{"title":');
    expectError(raw, 400, 'Invalid input data.');
    const huge = await asA('POST', base(t.a.locationId), { title: 'x'.repeat(2 * 1024 * 1024) });
    expectError(huge, 413, 'Request body is too large.');
    // text/plain parses as a string, which is not an object.
    expect400(
      await asA('POST', base(t.a.locationId), 'x', { 'content-type': 'text/plain' }),
      /must be object/,
    );
    const text = await asA('POST', base(t.a.locationId), 'title=x', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expectError(text, 415, /^Unsupported Media Type/);

    // Ids that are not UUIDs name nothing.
    expectError(await asA('GET', `${base(t.a.locationId)}/not-a-uuid`), 404, 'Widget not found.');
    expectError(await asA('PATCH', `${base(t.a.locationId)}/1'--`, { title: 'x' }), 404);
    expectError(await asA('DELETE', `${base(t.a.locationId)}/${'z'.repeat(100)}`), 404);
    // Longer path segments stop at the router (414), before any face.
    assert.equal((await asA('GET', `${base(t.a.locationId)}/${'z'.repeat(101)}`)).status, 414);
    // A chatbot id that is not the key's (a UUID or not) is the key's problem: 403.
    expectError(await asA('GET', base('not-a-uuid')), 403, 'Insufficient permissions.');

    assert.deepEqual(await state(t.a.locationId), before);
  });

  test('a chatbot holds at most 100 widgets', async () => {
    const { rows } = await t.charla.ctx.db.query<{ id: string }>(
      "INSERT INTO locations (id, name) VALUES (gen_random_uuid(), 'Busy') RETURNING id",
    );
    const loc = rows[0]!.id;
    const req = client(t.url, { 'x-chatcaptain-key': await t.key(['*'], [loc]) });
    await t.charla.ctx.db.query(
      `INSERT INTO inbox_widgets (location_id, id, title)
       SELECT $1, gen_random_uuid(), 'W' || n FROM generate_series(1, 99) AS n`,
      [loc],
    );
    await createWidget(req, loc, { title: 'The hundredth' });
    expect400(await req('POST', base(loc), { title: 'One too many' }), /at most 100 inbox widgets/);
    assert.equal((await req('GET', base(loc))).body.inboxWidgets.length, 100);
  });
});

test('the routes are described in the OpenAPI document', async () => {
  const res = await client(t.url)('GET', '/openapi.json');
  assert.equal(res.status, 200);
  for (const path of [
    '/v1/inbox/{chatbotId}/widgets',
    '/v1/inbox/{chatbotId}/widgets/{widgetId}',
    '/v1/inbox/{chatbotId}/widgets/{widgetId}/values',
  ]) {
    assert.ok(res.body.paths[path], path);
  }
  assert.deepEqual(Object.keys(res.body.paths['/v1/inbox/{chatbotId}/widgets/{widgetId}/values']).sort(), [
    'get',
    'put',
  ]);
});
