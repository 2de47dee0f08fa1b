import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { identitySecretFor } from '../../src/core/widgets/identity.js';
import { startTestCharla, type TestCharla } from '../support/charla.js';
import { client, lc } from '../support/http.js';

let t: TestCharla;
let asA: ReturnType<typeof client>;
let asB: ReturnType<typeof client>;

before(async () => {
  t = await startTestCharla();
  // Mosend clients send the key as X-Api-Key; tenant B uses Bearer, which works as well.
  asA = client(t.url, { 'x-api-key': t.a.key });
  asB = client(t.url, { authorization: `Bearer ${t.b.key}` });
});
after(() => t.close());

const base = (orgId: string) => `/organizations/${orgId}/web-chat/channels`;

async function createChannel(extra: Record<string, unknown> = {}) {
  const res = await asA('POST', base(t.a.locationId), { name: 'Website', ...extra });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.data;
}

/** The Mosend error shape; `message` is an array on validation errors. */
function assertMosendError(
  res: { status: number; body: any },
  status: number,
  pattern?: RegExp,
  validation = status === 400,
) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  const b = res.body;
  assert.equal(b.statusCode, status);
  assert.equal(typeof b.error, 'string');
  assert.ok(!Number.isNaN(Date.parse(b.timestamp)));
  assert.equal(typeof b.path, 'string');
  if (validation) assert.ok(Array.isArray(b.message), 'validation message is an array');
  if (pattern) {
    const text = [b.message].flat().join(' | ');
    assert.match(text, pattern);
  }
}

async function rows(locationId: string) {
  const { rows } = await t.charla.ctx.db.query(
    'SELECT * FROM chat_widgets WHERE location_id = $1 ORDER BY id',
    [locationId],
  );
  return rows;
}

const full = {
  name: 'Support',
  color: '#0a84ff',
  welcomeMessage: 'Hi! How can we help?',
  allowedDomains: ['shop.example', '*.brand.example', 'localhost:8080'],
  precaptureEnabled: true,
  requireEmailUpfront: true,
  botEnabled: false,
  enabled: true,
  identityRequired: true,
  operatingHours: {
    enabled: true,
    timezone: 'Europe/Madrid',
    days: {
      monday: [
        { open: '09:00', close: '14:00' },
        { open: '16:00', close: '19:00' },
      ],
      friday: [{ open: '09:00', close: '15:00' }],
    },
    holidays: [
      { date: '2026-12-25', name: 'Navidad' },
      { date: '2026-12-24', hours: [{ open: '09:00', close: '12:00' }] },
    ],
  },
  offlineAction: { type: 'MESSAGE_ALLOW', collectEmail: true },
  offlineMessage: 'We are closed; leave your email and we will write back.',
  prechatFields: [
    { id: 'email', type: 'email', label: { en: 'Email', es: 'Correo' }, required: true },
    { id: 'phone', type: 'phone', label: 'Phone' },
    {
      id: 'topic',
      type: 'select',
      label: { en: 'Topic' },
      options: [{ value: 'sales', label: { en: 'Sales', es: 'Ventas' } }, { value: 'support' }],
    },
    { id: 'terms', type: 'checkbox', label: 'I accept the terms', required: true },
    { id: 'notes', type: 'textarea', label: 'Notes', maxLength: 2000 },
    { id: 'order', type: 'text', label: 'Order', regex: '^[A-Z]{2}-[0-9]{6}$' },
  ],
  departments: [
    { id: 'sales', name: 'Sales' },
    {
      id: 'support',
      name: 'Support',
      operatingHours: {
        timezone: 'America/Mexico_City',
        days: { saturday: [{ open: '10:00', close: '14:00' }] },
      },
    },
  ],
  proactiveTriggers: [
    {
      id: 'pricing',
      name: 'Pricing',
      enabled: true,
      match: 'all',
      conditions: [
        { type: 'url', match: 'glob', pattern: '/pricing/**' },
        {
          type: 'group',
          match: 'any',
          conditions: [
            { type: 'time_on_page', seconds: 30 },
            { type: 'page_views', min: 3 },
            { type: 'returning_visitor', value: true },
            { type: 'referrer', match: 'regex', pattern: '^https://(www\\.)?google\\.' },
            { type: 'device', device: 'mobile' },
            { type: 'attribute', key: 'plan', operator: 'eq', value: 'pro' },
            { type: 'attribute', key: 'seats', operator: 'gt', value: 10 },
          ],
        },
      ],
      action: { type: 'message', message: { en: 'Questions about plans?' } },
      frequency: { maxPerVisitor: 2, oncePerSession: true, cooldownMinutes: 1440 },
    },
    {
      id: 'open',
      match: 'any',
      conditions: [{ type: 'url', match: 'regex', pattern: '^/checkout' }],
      action: { type: 'open' },
    },
  ],
  linkEmailBannerEnabled: true,
};

describe('POST and GET /organizations/:orgId/web-chat/channels', () => {
  test('creates a channel with every field and returns them unchanged, in {data, timestamp}', async () => {
    const res = await asA('POST', base(t.a.locationId), full);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.ok(!Number.isNaN(Date.parse(res.body.timestamp)));
    const c = res.body.data;
    assert.match(c.id, /^[0-9a-f-]{36}$/);
    assert.equal(typeof c.token, 'string');
    assert.ok(c.token.length >= 20);
    assert.equal(c.hasIdentitySecret, false);
    assert.ok(!Number.isNaN(Date.parse(c.createdAt)) && !Number.isNaN(Date.parse(c.updatedAt)));
    for (const [k, v] of Object.entries(full)) assert.deepEqual(c[k], v, k);

    const list = await asA('GET', base(t.a.locationId));
    assert.equal(list.status, 200);
    assert.ok(Array.isArray(list.body.data));
    const listed = list.body.data.find((x: any) => x.id === c.id);
    assert.deepEqual(listed, c);
  });

  test('a bare channel shows every field with its default', async () => {
    const c = await createChannel({ name: 'Bare' });
    assert.deepEqual(
      {
        color: c.color,
        welcomeMessage: c.welcomeMessage,
        allowedDomains: c.allowedDomains,
        enabled: c.enabled,
        botEnabled: c.botEnabled,
        identityRequired: c.identityRequired,
        operatingHours: c.operatingHours,
        offlineAction: c.offlineAction,
        prechatFields: c.prechatFields,
        departments: c.departments,
        proactiveTriggers: c.proactiveTriggers,
      },
      {
        color: null,
        welcomeMessage: null,
        allowedDomains: [],
        enabled: true,
        botEnabled: false,
        identityRequired: false,
        operatingHours: null,
        offlineAction: null,
        prechatFields: [],
        departments: [],
        proactiveTriggers: [],
      },
    );
  });

  test('refuses bad bodies with 400 in the Mosend shape, and stores nothing', async () => {
    const before = await rows(t.a.locationId);
    const hours = (extra: Record<string, unknown>) => ({ timezone: 'Europe/Madrid', ...extra });
    const cases: [Record<string, unknown>, RegExp][] = [
      [{}, /name is required/],
      [{ name: 42 }, /name must be string/],
      [{ name: '' }, /name must be longer than or equal to 1/],
      [{ name: 'x'.repeat(101) }, /name must be shorter than or equal to 100/],
      [{ name: 'a', welcomeMessage: 'x'.repeat(501) }, /welcomeMessage must be shorter than or equal to 500/],
      [{ name: 'a', offlineMessage: 'x'.repeat(501) }, /offlineMessage must be shorter/],
      [{ name: 'a', color: 'red; background: url(x)' }, /color has an invalid format/],
      [{ name: 'a', enabled: 'yes' }, /enabled must be boolean/],
      [{ name: 'a', allowedDomains: 'shop.example' }, /allowedDomains must be array/],
      [{ name: 'a', allowedDomains: ['https://shop.example/x'] }, /allowedDomains.0 has an invalid format/],
      [{ name: 'a', surprise: true }, /property surprise should not exist/],
      [
        { name: 'a', operatingHours: hours({ timezone: 'Mars/Olympus' }) },
        /operatingHours.timezone must be an IANA/,
      ],
      [{ name: 'a', operatingHours: { days: {} } }, /operatingHours.timezone is required/],
      [
        { name: 'a', operatingHours: hours({ days: { monday: [{ open: '18:00', close: '09:00' }] } }) },
        /must open before it closes/,
      ],
      [{ name: 'a', operatingHours: hours({ days: { funday: [] } }) }, /funday should not exist/],
      [{ name: 'a', operatingHours: hours({ holidays: [{ date: '2026-02-30' }] }) }, /must be a real date/],
      [{ name: 'a', offlineAction: { type: 'VANISH' } }, /offlineAction.type must be one of/],
      [{ name: 'a', offlineAction: 'HIDE_LAUNCHER' }, /offlineAction must be object/],
      [
        { name: 'a', prechatFields: [{ id: 'x', type: 'date', label: 'X' }] },
        /prechatFields.0.type must be one of/,
      ],
      [{ name: 'a', prechatFields: [{ id: 'x', type: 'text' }] }, /prechatFields.0.label is required/],
      [{ name: 'a', prechatFields: [{ id: 'x', type: 'select', label: 'X' }] }, /at least one option/],
      [
        { name: 'a', prechatFields: [{ id: 'x', type: 'text', label: 'X', regex: '([a-z' }] },
        /valid regular expression/,
      ],
      [
        { name: 'a', prechatFields: [{ id: 'x', type: 'text', label: 'X', regex: '^(a+)+$' }] },
        /unbounded quantifier/,
      ],
      [
        { name: 'a', prechatFields: [{ id: 'x', type: 'text', label: 'X', regex: '(\\w)\\1' }] },
        /backreferences/,
      ],
      [
        {
          name: 'a',
          prechatFields: [
            { id: 'x', type: 'text', label: 'X' },
            { id: 'x', type: 'email', label: 'Y' },
          ],
        },
        /more than once/,
      ],
      [
        { name: 'a', departments: [{ id: 'has space', name: 'X' }] },
        /departments.0.id has an invalid format/,
      ],
      [
        { name: 'a', departments: [{ id: 'd', name: 'D', agents: ['not-a-uuid'] }] },
        /agents.0 must match format/,
      ],
      [
        {
          name: 'a',
          departments: [{ id: 'd', name: 'D', agents: ['00000000-0000-4000-8000-000000000000'] }],
        },
        /unknown agent/,
      ],
      [
        {
          name: 'a',
          departments: [{ id: 'd', name: 'D', operatingHours: { timezone: 'Nowhere/Land' } }],
        },
        /departments.0.operatingHours.timezone must be an IANA/,
      ],
      [
        {
          name: 'a',
          proactiveTriggers: [
            { id: 't', match: 'all', conditions: [{ type: 'weather' }], action: { type: 'open' } },
          ],
        },
        /conditions.0/,
      ],
      [
        {
          name: 'a',
          proactiveTriggers: [
            {
              id: 't',
              match: 'all',
              conditions: [{ type: 'url', match: 'regex', pattern: '(.*)*x' }],
              action: { type: 'open' },
            },
          ],
        },
        /pattern must not repeat a group/,
      ],
      [
        {
          name: 'a',
          proactiveTriggers: [{ id: 't', match: 'all', conditions: [], action: { type: 'message' } }],
        },
        /action.message is required/,
      ],
      [
        {
          name: 'a',
          proactiveTriggers: [{ id: 't', match: 'either', conditions: [], action: { type: 'open' } }],
        },
        /match must be one of/,
      ],
      [
        {
          name: 'a',
          proactiveTriggers: [
            {
              id: 't',
              match: 'all',
              conditions: [],
              action: { type: 'open' },
              frequency: { maxPerVisitor: 0 },
            },
          ],
        },
        /maxPerVisitor must be >= 1/,
      ],
    ];
    for (const [body, pattern] of cases) {
      const res = await asA('POST', base(t.a.locationId), body);
      assertMosendError(res, 400, pattern);
    }
    const malformed = await asA('POST', base(t.a.locationId), '{"name":', {
      'content-type': 'application/json',
    });
    assertMosendError(malformed, 400, /not valid JSON/, false);
    assert.deepEqual(await rows(t.a.locationId), before);
  });
});

describe('PATCH and DELETE /organizations/:orgId/web-chat/channels/:id', () => {
  test('changes only the fields sent; null removes a setting; lists are replaced whole', async () => {
    const c = await createChannel(full);
    const res = await asA('PATCH', `${base(t.a.locationId)}/${c.id}`, {
      name: 'Renamed',
      welcomeMessage: null,
      prechatFields: [{ id: 'name', type: 'text', label: 'Name' }],
      operatingHours: null,
      botEnabled: true,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const u = res.body.data;
    assert.equal(u.name, 'Renamed');
    assert.equal(u.welcomeMessage, null);
    assert.equal(u.operatingHours, null);
    assert.equal(u.botEnabled, true);
    assert.deepEqual(u.prechatFields, [{ id: 'name', type: 'text', label: 'Name' }]);
    assert.deepEqual(u.departments, full.departments);
    assert.equal(u.color, full.color);
    assert.equal(u.token, c.token);
    assert.ok(Date.parse(u.updatedAt) >= Date.parse(c.updatedAt));
  });

  test('refuses bad changes with 400 and leaves the channel alone', async () => {
    const c = await createChannel({ operatingHours: { timezone: 'UTC' } });
    const before = await rows(t.a.locationId);
    for (const [body, pattern] of [
      [{ name: null }, /name must be string/],
      [{ operatingHours: { timezone: 'Not/AZone' } }, /timezone must be an IANA/],
      [{ identityRequired: 1 }, /identityRequired must be boolean/],
      [{ offlineAction: { type: 'HIDE_LAUNCHER', extra: 1 } }, /extra should not exist/],
    ] as [Record<string, unknown>, RegExp][]) {
      assertMosendError(await asA('PATCH', `${base(t.a.locationId)}/${c.id}`, body), 400, pattern);
    }
    // No body at all, or JSON that is not an object: 400, not a crash.
    const none = await asA('PATCH', `${base(t.a.locationId)}/${c.id}`);
    assertMosendError(none, 400, /the body must be object/);
    assertMosendError(
      await asA('PATCH', `${base(t.a.locationId)}/${c.id}`, 'null', { 'content-type': 'application/json' }),
      400,
    );
    assertMosendError(await asA('PATCH', `${base(t.a.locationId)}/${c.id}`, [1]), 400);
    assertMosendError(await asA('POST', base(t.a.locationId)), 400);
    assert.deepEqual(await rows(t.a.locationId), before);
  });

  test('deletes a channel: it leaves the list, and a second delete is 404', async () => {
    const c = await createChannel({ name: 'Doomed' });
    const res = await asA('DELETE', `${base(t.a.locationId)}/${c.id}`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.data, { id: c.id, deleted: true });
    const list = await asA('GET', base(t.a.locationId));
    assert.ok(!list.body.data.some((x: any) => x.id === c.id));
    assertMosendError(await asA('DELETE', `${base(t.a.locationId)}/${c.id}`), 404);
    assertMosendError(await asA('PATCH', `${base(t.a.locationId)}/${c.id}`, { name: 'x' }), 404);
    assertMosendError(await asA('PATCH', `${base(t.a.locationId)}/not-a-uuid`, { name: 'x' }), 404);
  });
});

describe('one entity, two faces', () => {
  test('a channel created here is a LeadConnector live-chat widget, with the same settings', async () => {
    const c = await createChannel(full);
    const lcA = client(t.url, lc(t.a.key));
    const list = await lcA('GET', `/chat-widget/list?locationId=${t.a.locationId}&offset=0&limit=100`);
    assert.equal(list.status, 200);
    const w = list.body.chatWidgets.find((x: any) => x._id === c.id);
    assert.ok(w, 'listed by the LeadConnector face');
    assert.equal(w.name, full.name);
    assert.equal(w.chatType, 'liveChat');
    assert.equal(w.settings.widgetPrimaryColor, full.color);
    assert.equal(w.settings.liveChatIntroMsg, full.welcomeMessage);
    assert.deepEqual(w.settings.operatingHours, full.operatingHours);
    assert.deepEqual(w.settings.prechatFields, full.prechatFields);
    // A change made through LeadConnector shows here.
    const patched = await lcA('PATCH', `/chat-widget/data/${t.a.locationId}/${c.id}`, {
      version: w.version,
      settings: { liveChatIntroMsg: 'Changed in LC', botEnabled: true },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const again = (await asA('GET', base(t.a.locationId))).body.data.find((x: any) => x.id === c.id);
    assert.equal(again.welcomeMessage, 'Changed in LC');
    assert.equal(again.botEnabled, true);
  });

  test('a live-chat widget created by LeadConnector is a channel here; other widget types are not', async () => {
    const lcA = client(t.url, lc(t.a.key));
    const made = await lcA('POST', '/chat-widget/', {
      version: 1,
      chatType: 'liveChat',
      name: 'From LC',
      locationId: t.a.locationId,
      settings: { widgetPrimaryColor: '#123456', allowedDomains: ['lc.example'], identityRequired: true },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const wa = await lcA('POST', '/chat-widget/', {
      version: 1,
      chatType: 'waChat',
      name: 'WhatsApp button',
      locationId: t.a.locationId,
    });
    assert.equal(wa.status, 201);
    const list = (await asA('GET', base(t.a.locationId))).body.data;
    const c = list.find((x: any) => x.id === made.body._id);
    assert.ok(c, 'listed as a channel');
    assert.equal(c.name, 'From LC');
    assert.equal(c.color, '#123456');
    assert.deepEqual(c.allowedDomains, ['lc.example']);
    assert.equal(c.identityRequired, true);
    assert.ok(!list.some((x: any) => x.id === wa.body._id));
    assertMosendError(await asA('PATCH', `${base(t.a.locationId)}/${wa.body._id}`, { name: 'x' }), 404);
    // And a change made here shows through LeadConnector.
    const p = await asA('PATCH', `${base(t.a.locationId)}/${c.id}`, { welcomeMessage: 'Hola' });
    assert.equal(p.status, 200);
    const got = await lcA('GET', `/chat-widget/data/${t.a.locationId}/${c.id}`);
    assert.equal(got.body.settings.liveChatIntroMsg, 'Hola');
  });
});

describe('snippet', () => {
  test('is a short async snippet loading /widget/loader.js with the channel token', async () => {
    const c = await createChannel();
    const res = await asA('GET', `${base(t.a.locationId)}/${c.id}/snippet`);
    assert.equal(res.status, 200);
    const html: string = res.body.data.html;
    assert.ok(html.length < 600, `${html.length} bytes`);
    assert.match(html, /<script async src="([^"]+)\/widget\/loader\.js" data-token="([^"]+)"><\/script>/);
    assert.ok(html.includes(`src="${t.url}/widget/loader.js"`));
    assert.ok(html.includes(`data-token="${c.token}"`));
  });
});

describe('identity secret', () => {
  test('is generated, shown once, rotated (the old one stops working) and revoked', async () => {
    const c = await createChannel({ identityRequired: true });
    const { db, secret: serverSecret } = t.charla.ctx;
    assert.equal(await identitySecretFor(db, serverSecret, c.id), null);

    const first = await asA('POST', `${base(t.a.locationId)}/${c.id}/identity-secret`);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const s1: string = first.body.data.secret;
    assert.ok(s1.length >= 32);
    assert.ok(!Number.isNaN(Date.parse(first.body.data.rotatedAt)));
    assert.equal(await identitySecretFor(db, serverSecret, c.id), s1);

    // Not stored in plaintext, never shown again.
    const row = (await db.query('SELECT identity_secret FROM chat_widgets WHERE id = $1', [c.id])).rows[0]!;
    assert.ok(!row.identity_secret.includes(s1));
    const list = await asA('GET', base(t.a.locationId));
    const listed = list.body.data.find((x: any) => x.id === c.id);
    assert.equal(listed.hasIdentitySecret, true);
    assert.ok(!JSON.stringify(list.body).includes(s1));
    const lcList = await client(t.url, lc(t.a.key))('GET', `/chat-widget/list?locationId=${t.a.locationId}`);
    assert.ok(!JSON.stringify(lcList.body).includes(s1));
    // Sealed under another server secret, it cannot be opened.
    assert.equal(await identitySecretFor(db, 'another-server-secret-0123456789abcdef', c.id), null);

    const second = await asA('POST', `${base(t.a.locationId)}/${c.id}/identity-secret`);
    assert.equal(second.status, 201);
    const s2: string = second.body.data.secret;
    assert.notEqual(s2, s1);
    const current = await identitySecretFor(db, serverSecret, c.id);
    assert.equal(current, s2);
    // A host hash made with the old secret no longer matches.
    const sign = (key: string) => createHmac('sha256', key).update('user-42').digest('hex');
    assert.notEqual(sign(s1), sign(current!));

    const revoked = await asA('DELETE', `${base(t.a.locationId)}/${c.id}/identity-secret`);
    assert.equal(revoked.status, 200);
    assert.equal(revoked.body.data.revoked, true);
    assert.equal(await identitySecretFor(db, serverSecret, c.id), null);
    const after = (await asA('GET', base(t.a.locationId))).body.data.find((x: any) => x.id === c.id);
    assert.equal(after.hasIdentitySecret, false);
    assert.equal(after.identityRequired, true);
  });
});

describe('isolation and scopes', () => {
  test("another location's channels are never reachable, and nothing changes", async () => {
    const c = await createChannel({ name: 'Private' });
    await asA('POST', `${base(t.a.locationId)}/${c.id}/identity-secret`);
    const before = await rows(t.a.locationId);
    const secretBefore = await identitySecretFor(t.charla.ctx.db, t.charla.ctx.secret, c.id);

    // B's key on A's organisation: 403.
    assertMosendError(await asB('GET', base(t.a.locationId)), 403);
    assertMosendError(await asB('POST', base(t.a.locationId), { name: 'Intruder' }), 403);
    assertMosendError(await asB('PATCH', `${base(t.a.locationId)}/${c.id}`, { name: 'Pwned' }), 403);
    assertMosendError(await asB('DELETE', `${base(t.a.locationId)}/${c.id}`), 403);
    assertMosendError(await asB('GET', `${base(t.a.locationId)}/${c.id}/snippet`), 403);
    assertMosendError(await asB('POST', `${base(t.a.locationId)}/${c.id}/identity-secret`), 403);
    assertMosendError(await asB('DELETE', `${base(t.a.locationId)}/${c.id}/identity-secret`), 403);
    // B's key on its own organisation, naming A's channel: 404.
    assertMosendError(await asB('PATCH', `${base(t.b.locationId)}/${c.id}`, { name: 'Pwned' }), 404);
    assertMosendError(await asB('DELETE', `${base(t.b.locationId)}/${c.id}`), 404);
    assertMosendError(await asB('GET', `${base(t.b.locationId)}/${c.id}/snippet`), 404);
    assertMosendError(await asB('POST', `${base(t.b.locationId)}/${c.id}/identity-secret`), 404);
    assertMosendError(await asB('DELETE', `${base(t.b.locationId)}/${c.id}/identity-secret`), 404);
    const listB = await asB('GET', base(t.b.locationId));
    assert.equal(listB.status, 200);
    assert.ok(!listB.body.data.some((x: any) => x.id === c.id));

    assert.deepEqual(await rows(t.a.locationId), before);
    assert.equal(await identitySecretFor(t.charla.ctx.db, t.charla.ctx.secret, c.id), secretBefore);
  });

  test('keys need the chat-widget scopes; no key is 401', async () => {
    const c = await createChannel({ name: 'Scoped' });
    const readOnly = client(t.url, { 'x-api-key': await t.key(['chat-widget.readonly'], [t.a.locationId]) });
    const other = client(t.url, { 'x-api-key': await t.key(['contacts.readonly'], [t.a.locationId]) });
    assert.equal((await readOnly('GET', base(t.a.locationId))).status, 200);
    assert.equal((await readOnly('GET', `${base(t.a.locationId)}/${c.id}/snippet`)).status, 200);
    assertMosendError(await readOnly('POST', base(t.a.locationId), { name: 'x' }), 403);
    assertMosendError(await readOnly('PATCH', `${base(t.a.locationId)}/${c.id}`, { name: 'x' }), 403);
    assertMosendError(await readOnly('DELETE', `${base(t.a.locationId)}/${c.id}`), 403);
    assertMosendError(await readOnly('POST', `${base(t.a.locationId)}/${c.id}/identity-secret`), 403);
    assertMosendError(await other('GET', base(t.a.locationId)), 403);
    assertMosendError(await client(t.url)('GET', base(t.a.locationId)), 401);
    assertMosendError(await client(t.url, { 'x-api-key': 'ck_live_nope' })('GET', base(t.a.locationId)), 401);
    const agency = client(t.url, { 'x-api-key': t.agencyKey });
    assertMosendError(await agency('GET', base('00000000-0000-4000-8000-000000000000')), 404);
  });
});

describe('API description', () => {
  test('the OpenAPI document describes the web-chat routes', async () => {
    const res = await client(t.url)('GET', '/openapi.json');
    assert.equal(res.status, 200);
    for (const p of [
      '/organizations/{orgId}/web-chat/channels',
      '/organizations/{orgId}/web-chat/channels/{id}',
      '/organizations/{orgId}/web-chat/channels/{id}/snippet',
      '/organizations/{orgId}/web-chat/channels/{id}/identity-secret',
      '/organizations/{orgId}/conversations/{convId}/web-chat/send',
      '/organizations/{orgId}/conversations/{convId}/web-chat/media',
    ]) {
      assert.ok(res.body.paths[p], p);
    }
  });
});
