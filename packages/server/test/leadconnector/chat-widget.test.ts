import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
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

const newWidget = (locationId: string, extra: Record<string, unknown> = {}) => ({
  version: 2,
  chatType: 'liveChat',
  name: 'Website chat',
  locationId,
  ...extra,
});

async function create(extra: Record<string, unknown> = {}) {
  const res = await asA('POST', '/chat-widget/', newWidget(t.a.locationId, extra));
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

async function widgetRow(id: string) {
  const { rows } = await t.charla.ctx.db.query('SELECT * FROM chat_widgets WHERE id = $1', [id]);
  return rows[0]!;
}

describe('POST /chat-widget/', () => {
  test('creates a widget in the ChatWidgetDTO shape; the first one is the default', async () => {
    const res = await asA(
      'POST',
      '/chat-widget/',
      newWidget(t.a.locationId, { settings: { heading: 'Hola' } }),
    );
    assert.equal(res.status, 201);
    const w = res.body;
    assert.match(w._id, /^[0-9a-f-]{36}$/);
    assert.equal(w.version, 2);
    assert.equal(w.chatType, 'liveChat');
    assert.equal(w.name, 'Website chat');
    assert.equal(w.locationId, t.a.locationId);
    assert.equal(w.deleted, false);
    assert.equal(w.default, true);
    assert.equal(w.settings.heading, 'Hola');
    assert.equal(w.settings.chatType, 'liveChat');
    assert.equal(w.creationSource, 'api');
    assert.ok(!Number.isNaN(Date.parse(w.createdAt)) && !Number.isNaN(Date.parse(w.updatedAt)));
    const second = await create({ name: 'Second' });
    assert.equal(second.default, false);
  });

  test('tolerates the trailing slash, and also the route without it', async () => {
    const res = await asA('POST', '/chat-widget', newWidget(t.a.locationId));
    assert.equal(res.status, 201);
  });

  test('stores every part of the settings object and returns it unchanged', async () => {
    const settings = {
      chatIcon: 'messageChatCircle',
      widgetPrimaryColor: '#4285F4',
      theme: { name: 'theme1', colors: { chatBubbleColor: '#fffff', headerColor: '#123' } },
      dimensions: { position: 'left', sizes: { width: 360, height: 600 } },
      advanceSettings: {
        enableContactForm: true,
        businessOfficeHours: {
          enableBusinessHours: true,
          timezone: 'UTC',
          openHours: [{ day: 'monday', openHour: '09:00', closeHour: '17:00' }],
        },
        allInOneChatTypes: ['liveChat', 'waChat'],
      },
      allowedDomains: ['example.com', '*.example.org', 'localhost:8080'],
      identityRequired: true,
      operatingHours: {
        enabled: true,
        timezone: 'America/Mexico_City',
        days: {
          monday: [
            { open: '09:00', close: '13:00' },
            { open: '15:00', close: '19:00' },
          ],
        },
        holidays: [{ date: '2026-12-25', name: 'Navidad' }],
      },
      offlineAction: { type: 'OFFLINE_FORM', formFieldIds: ['email'] },
      offlineMessage: 'Back soon',
      prechatFields: [
        { id: 'email', type: 'email', label: { en: 'Email', es: 'Correo' }, required: true },
        {
          id: 'topic',
          type: 'select',
          label: 'Topic',
          options: [{ value: 'sales', label: { en: 'Sales', es: 'Ventas' } }],
        },
        { id: 'order', type: 'text', label: 'Order', regex: '^[0-9]{6}$' },
      ],
      departments: [{ id: 'sales', name: 'Sales' }],
      proactiveTriggers: [
        {
          id: 'pricing',
          name: 'Pricing page',
          enabled: true,
          match: 'all',
          conditions: [
            { type: 'url', match: 'glob', pattern: '/pricing*' },
            {
              type: 'group',
              match: 'any',
              conditions: [
                { type: 'time_on_page', seconds: 20 },
                { type: 'returning_visitor', value: true },
              ],
            },
          ],
          action: { type: 'message', message: { en: 'Questions?', es: '¿Dudas?' } },
          frequency: { maxPerVisitor: 2, cooldownMinutes: 60 },
        },
      ],
    };
    const w = await create({ settings });
    assert.deepEqual(w.settings, { ...settings, chatType: 'liveChat' });
    const got = await asA('GET', `/chat-widget/data/${t.a.locationId}/${w._id}`);
    assert.deepEqual(got.body.settings, w.settings);
  });

  test('refuses bad bodies with 422 and a message array, and stores nothing', async () => {
    const before = (await t.charla.ctx.db.query('SELECT count(*)::int AS n FROM chat_widgets')).rows[0]!.n;
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...newWidget(t.a.locationId), name: 42 }, /name must be string/],
      [{ ...newWidget(t.a.locationId), chatType: 'smokeSignals' }, /chatType must be one of/],
      [{ ...newWidget(t.a.locationId), name: 'x'.repeat(201) }, /name must be shorter than or equal to 200/],
      [{ ...newWidget(t.a.locationId), version: '2' }, /version must be integer/],
      [{ chatType: 'liveChat', name: 'x', locationId: t.a.locationId }, /version is required/],
      [{ ...newWidget(t.a.locationId), surprise: true }, /property surprise should not exist/],
      [
        { ...newWidget(t.a.locationId), settings: { heading: 'x'.repeat(5000) } },
        /settings.heading must be shorter/,
      ],
      [
        { ...newWidget(t.a.locationId), settings: { widgetPrimaryColor: 'red;}' } },
        /widgetPrimaryColor has an invalid/,
      ],
      [
        { ...newWidget(t.a.locationId), settings: { mystery: 1 } },
        /property settings.mystery should not exist/,
      ],
      [
        {
          ...newWidget(t.a.locationId),
          settings: { prechatFields: [{ id: 'a', type: 'select', label: 'A' }] },
        },
        /must list at least one option/,
      ],
      [
        {
          ...newWidget(t.a.locationId),
          settings: {
            operatingHours: {
              timezone: 'Mars/Olympus',
              days: { monday: [{ open: '10:00', close: '09:00' }] },
            },
          },
        },
        /timezone must be an IANA time zone/,
      ],
      [
        {
          ...newWidget(t.a.locationId),
          settings: {
            proactiveTriggers: [
              {
                id: 't',
                match: 'all',
                conditions: [{ type: 'url', match: 'regex', pattern: '(' }],
                action: { type: 'open' },
              },
            ],
          },
        },
        /must be a valid regular expression/,
      ],
      [
        {
          ...newWidget(t.a.locationId),
          settings: { departments: [{ id: 'd', name: 'D', agents: [crypto.randomUUID()] }] },
        },
        /unknown agent/,
      ],
    ];
    for (const [body, expected] of cases) {
      const res = await asA('POST', '/chat-widget/', body);
      assert.equal(res.status, 422, `${JSON.stringify(body).slice(0, 200)} -> ${res.status}`);
      assert.equal(res.body.statusCode, 422);
      assert.equal(res.body.error, 'Unprocessable Entity');
      assert.ok(Array.isArray(res.body.message), 'message is an array');
      assert.ok(
        res.body.message.some((m: string) => expected.test(m)),
        `${expected} in ${JSON.stringify(res.body.message)}`,
      );
    }
    const afterCount = (await t.charla.ctx.db.query('SELECT count(*)::int AS n FROM chat_widgets')).rows[0]!
      .n;
    assert.equal(afterCount, before);
  });

  test('malformed JSON is a 400 in the same error shape', async () => {
    const res = await asA('POST', '/chat-widget/', '{"version": 2,');
    assert.equal(res.status, 400);
    assert.equal(res.body.statusCode, 400);
    assert.equal(typeof res.body.message, 'string');
  });
});

describe('GET /chat-widget/list', () => {
  test('pages with offset and limit and reports totalCount', async () => {
    const fresh = await t.key(['*'], [t.b.locationId]);
    const asFresh = client(t.url, lc(fresh));
    for (const name of ['one', 'two', 'three']) {
      const r = await asFresh('POST', '/chat-widget/', newWidget(t.b.locationId, { name }));
      assert.equal(r.status, 201);
    }
    const page1 = await asFresh('GET', `/chat-widget/list?locationId=${t.b.locationId}&offset=0&limit=2`);
    assert.equal(page1.status, 200);
    assert.equal(page1.body.totalCount, 3);
    assert.equal(page1.body.chatWidgets.length, 2);
    assert.equal(page1.body.chatWidgets[0].name, 'one', 'the default widget comes first');
    const page2 = await asFresh('GET', `/chat-widget/list?locationId=${t.b.locationId}&offset=2&limit=2`);
    assert.equal(page2.body.chatWidgets.length, 1);
    const seen = new Set(
      [...page1.body.chatWidgets, ...page2.body.chatWidgets].map((w: { _id: string }) => w._id),
    );
    assert.equal(seen.size, 3);
    const item = page1.body.chatWidgets[0];
    for (const field of ['_id', 'name', 'chatType', 'default', 'settings', 'createdAt', 'updatedAt']) {
      assert.ok(field in item, `list item has ${field}`);
    }
  });

  test('filters by chatType, the webChat umbrella, excludeChatType and allInOneChatTypes', async () => {
    const loc = (
      await t.charla.ctx.db.query(
        "INSERT INTO locations (id, name) VALUES (gen_random_uuid(), 'F') RETURNING id",
      )
    ).rows[0]!.id as string;
    const req = client(t.url, lc(await t.key(['chat-widget.write', 'chat-widget.readonly'], [loc])));
    const make = async (chatType: string, settings: Record<string, unknown> = {}) => {
      const r = await req('POST', '/chat-widget/', {
        version: 1,
        chatType,
        name: chatType,
        locationId: loc,
        settings,
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    };
    await make('liveChat');
    await make('waChat');
    await make('facebookChat');
    await make('allInOneChat', { advanceSettings: { allInOneChatTypes: ['liveChat', 'waChat'] } });
    await make('allInOneChat', { advanceSettings: { allInOneChatTypes: ['emailChat'] } });
    const names = async (qs: string) => {
      const r = await req('GET', `/chat-widget/list?locationId=${loc}&offset=0&limit=50&${qs}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.chatWidgets.map((w: { chatType: string }) => w.chatType).sort();
    };
    assert.deepEqual(await names('chatType=liveChat'), ['liveChat']);
    assert.deepEqual(await names('chatType=webChat'), ['facebookChat', 'waChat']);
    assert.deepEqual(await names('excludeChatType=allInOneChat'), ['facebookChat', 'liveChat', 'waChat']);
    assert.deepEqual(await names('chatType=allInOneChat&allInOneChatTypes=waChat'), ['allInOneChat']);
    assert.deepEqual(await names('chatType=allInOneChat&allInOneChatTypes=webChat'), [
      'allInOneChat',
      'allInOneChat',
    ]);
    const bad = await req('GET', `/chat-widget/list?locationId=${loc}&chatType=pigeon`);
    assert.equal(bad.status, 422);
  });

  test('requires locationId and a key for that location', async () => {
    const missing = await asA('GET', '/chat-widget/list?offset=0&limit=10');
    assert.equal(missing.status, 422);
    const other = await asA('GET', `/chat-widget/list?locationId=${t.b.locationId}&offset=0&limit=10`);
    assert.equal(other.status, 403);
    assert.deepEqual(other.body, {
      statusCode: 403,
      message: 'The token does not have access to this location',
      error: 'Forbidden',
    });
  });
});

describe('GET, PUT, PATCH /chat-widget/data/{locationId}/{id}', () => {
  test('gets one widget; an unknown or malformed id is a 404', async () => {
    const w = await create();
    const got = await asA('GET', `/chat-widget/data/${t.a.locationId}/${w._id}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, w);
    for (const id of [crypto.randomUUID(), 'not-an-id']) {
      const missing = await asA('GET', `/chat-widget/data/${t.a.locationId}/${id}`);
      assert.equal(missing.status, 404);
      assert.equal(missing.body.statusCode, 404);
    }
  });

  test('PATCH merges settings, bumps the version and can change the chat type through settings', async () => {
    const w = await create({ settings: { heading: 'Hi', advanceSettings: { enableContactForm: true } } });
    const res = await asA('PATCH', `/chat-widget/data/${t.a.locationId}/${w._id}`, {
      settings: { chatType: 'emailChat', advanceSettings: { playNotificationSound: true } },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.version, w.version + 1);
    assert.equal(res.body.chatType, 'emailChat');
    assert.equal(res.body.settings.heading, 'Hi');
    assert.deepEqual(res.body.settings.advanceSettings, {
      enableContactForm: true,
      playNotificationSound: true,
    });
    assert.equal(res.body.name, w.name);
  });

  test('PUT replaces the whole widget and needs name and chatType', async () => {
    const w = await create({ settings: { heading: 'Hi', subHeading: 'There' } });
    const partial = await asA('PUT', `/chat-widget/data/${t.a.locationId}/${w._id}`, { name: 'Only name' });
    assert.equal(partial.status, 422);
    assert.ok(partial.body.message.includes('chatType is required for a full update'));
    const res = await asA('PUT', `/chat-widget/data/${t.a.locationId}/${w._id}`, {
      name: 'Renamed Chat Widget',
      chatType: 'liveChat',
      settings: { heading: 'New' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.name, 'Renamed Chat Widget');
    assert.equal(res.body.settings.heading, 'New');
    assert.equal(res.body.settings.subHeading, undefined);
  });

  test('a PUT of what GET returned (read-only fields included) is accepted', async () => {
    const w = await create();
    const res = await asA('PUT', `/chat-widget/data/${t.a.locationId}/${w._id}`, {
      ...w,
      name: 'Round trip',
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.name, 'Round trip');
    assert.equal(res.body._id, w._id);
  });

  test('a stale version is refused with 409 and leaves the widget unchanged', async () => {
    const w = await create();
    const ok = await asA('PATCH', `/chat-widget/data/${t.a.locationId}/${w._id}`, {
      version: w.version,
      name: 'v',
    });
    assert.equal(ok.status, 200);
    const stale = await asA('PATCH', `/chat-widget/data/${t.a.locationId}/${w._id}`, {
      version: w.version,
      name: 'x',
    });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.statusCode, 409);
    assert.match(stale.body.message, /version/);
    assert.equal((await widgetRow(w._id)).name, 'v');
  });

  test('concurrent PATCHes with the same version: exactly one wins', async () => {
    const w = await create();
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        asA('PATCH', `/chat-widget/data/${t.a.locationId}/${w._id}`, {
          version: w.version,
          name: `writer ${i}`,
        }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 409, 409, 409, 409, 409, 409, 409]);
    const winner = results.find((r) => r.status === 200)!;
    const row = await widgetRow(w._id);
    assert.equal(row.name, winner.body.name);
    assert.equal(row.revision, w.version + 1);
  });

  test('null removes a setting; LeadConnector groups merge, Charla objects are replaced whole', async () => {
    const w = await create({
      settings: {
        heading: 'Hi',
        theme: { name: 't', colors: { headerColor: '#111' } },
        operatingHours: { timezone: 'UTC', days: { monday: [{ open: '09:00', close: '17:00' }] } },
      },
    });
    const res = await asA('PATCH', `/chat-widget/data/${t.a.locationId}/${w._id}`, {
      settings: {
        heading: null,
        theme: { colors: { buttonColor: '#222' } },
        operatingHours: { timezone: 'UTC', days: { tuesday: [{ open: '10:00', close: '12:00' }] } },
      },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal('heading' in res.body.settings, false);
    assert.deepEqual(res.body.settings.theme, {
      name: 't',
      colors: { headerColor: '#111', buttonColor: '#222' },
    });
    assert.deepEqual(res.body.settings.operatingHours, {
      timezone: 'UTC',
      days: { tuesday: [{ open: '10:00', close: '12:00' }] },
    });
  });

  test('an id or location that is not a UUID is a 404 on every write, never a 500', async () => {
    const agency = client(t.url, lc(t.agencyKey));
    const w = await create();
    for (const [method, path, body] of [
      ['PATCH', `/chat-widget/data/nope/${w._id}`, { default: true }],
      ['PUT', `/chat-widget/data/nope/${w._id}`, { name: 'x', chatType: 'liveChat', default: true }],
      ['DELETE', `/chat-widget/nope/${w._id}`, undefined],
      ['PATCH', `/chat-widget/data/${t.a.locationId}/nope`, { default: true }],
      ['POST', '/chat-widget/', newWidget('nope')],
    ] as const) {
      const res = await agency(method, path, body);
      assert.equal(res.status, 404, `${method} ${path}: ${JSON.stringify(res.body)}`);
    }
  });

  test('making a widget the default takes the flag from the previous default', async () => {
    const loc = (
      await t.charla.ctx.db.query(
        "INSERT INTO locations (id, name) VALUES (gen_random_uuid(), 'D') RETURNING id",
      )
    ).rows[0]!.id as string;
    const req = client(t.url, lc(await t.key(['*'], [loc])));
    const first = (
      await req('POST', '/chat-widget/', { version: 1, chatType: 'liveChat', name: '1', locationId: loc })
    ).body;
    const second = (
      await req('POST', '/chat-widget/', { version: 1, chatType: 'liveChat', name: '2', locationId: loc })
    ).body;
    assert.equal(first.default, true);
    const res = await req('PATCH', `/chat-widget/data/${loc}/${second._id}`, { default: true });
    assert.equal(res.body.default, true);
    const previous = (await req('GET', `/chat-widget/data/${loc}/${first._id}`)).body;
    assert.equal(previous.default, false);
    // Losing the flag is a change: a client holding the old version cannot take the flag back.
    assert.equal(previous.version, first.version + 1);
    const stale = await req('PATCH', `/chat-widget/data/${loc}/${first._id}`, {
      version: first.version,
      default: true,
    });
    assert.equal(stale.status, 409);
  });
});

describe('DELETE /chat-widget/{locationId}/{id}', () => {
  test('soft-deletes, hides the widget, and promotes another to default', async () => {
    const loc = (
      await t.charla.ctx.db.query(
        "INSERT INTO locations (id, name) VALUES (gen_random_uuid(), 'X') RETURNING id",
      )
    ).rows[0]!.id as string;
    const req = client(t.url, lc(await t.key(['*'], [loc])));
    const first = (
      await req('POST', '/chat-widget/', { version: 1, chatType: 'liveChat', name: '1', locationId: loc })
    ).body;
    const second = (
      await req('POST', '/chat-widget/', { version: 1, chatType: 'liveChat', name: '2', locationId: loc })
    ).body;
    const del = await req('DELETE', `/chat-widget/${loc}/${first._id}`, undefined, {
      'content-type': 'application/json',
    });
    assert.equal(del.status, 200);
    assert.equal(del.body.deleted, true);
    assert.equal((await req('GET', `/chat-widget/data/${loc}/${first._id}`)).status, 404);
    assert.equal((await req('DELETE', `/chat-widget/${loc}/${first._id}`)).status, 404);
    const row = await widgetRow(first._id);
    assert.ok(row.deleted_at, 'the row is kept, marked deleted');
    const list = await req('GET', `/chat-widget/list?locationId=${loc}&offset=0&limit=10`);
    assert.deepEqual(
      list.body.chatWidgets.map((w: { _id: string; default: boolean }) => [w._id, w.default]),
      [[second._id, true]],
    );
  });
});

describe('POST /chat-widget/clone', () => {
  test('copies name and settings into a new, non-default widget', async () => {
    const w = await create({ settings: { heading: 'Copied' } });
    const res = await asA('POST', '/chat-widget/clone', { locationId: t.a.locationId, chatWidgetId: w._id });
    assert.equal(res.status, 201);
    assert.notEqual(res.body._id, w._id);
    assert.equal(res.body.name, `${w.name} (copy)`);
    assert.equal(res.body.settings.heading, 'Copied');
    assert.equal(res.body.default, false);
    assert.equal(res.body.originId, w._id);
    const named = await asA('POST', '/chat-widget/clone', {
      locationId: t.a.locationId,
      chatWidgetId: w._id,
      name: 'B',
    });
    assert.equal(named.body.name, 'B');
    const missing = await asA('POST', '/chat-widget/clone', {
      locationId: t.a.locationId,
      chatWidgetId: crypto.randomUUID(),
    });
    assert.equal(missing.status, 404);
  });
});

describe('GET /chat-widget/public/config/{id}', () => {
  test('needs no key and shows no secret or internal field', async () => {
    const agent = (
      await t.charla.ctx.db.query(
        "INSERT INTO users (id, email, name, role) VALUES (gen_random_uuid(), 'agent@a.test', 'Agent', 'agent') RETURNING id",
      )
    ).rows[0]!.id;
    await t.charla.ctx.db.query('INSERT INTO location_users (location_id, user_id) VALUES ($1, $2)', [
      t.a.locationId,
      agent,
    ]);
    const w = await create({
      settings: { heading: 'Public', departments: [{ id: 'd', name: 'Sales', agents: [agent] }] },
    });
    await t.charla.ctx.db.query("UPDATE chat_widgets SET identity_secret = 'topsecret' WHERE id = $1", [
      w._id,
    ]);
    const res = await client(t.url)('GET', `/chat-widget/public/config/${w._id}`);
    assert.equal(res.status, 200);
    assert.equal(res.body._id, w._id);
    assert.equal(res.body.settings.heading, 'Public');
    assert.deepEqual(res.body.settings.departments, [{ id: 'd', name: 'Sales' }]);
    const text = JSON.stringify(res.body);
    for (const hidden of ['topsecret', agent, 'updatedBy', 'public_token', 'identity']) {
      assert.ok(!text.includes(hidden), `public config leaks ${hidden}`);
    }
  });

  test('honours allowedDomains through the Origin header', async () => {
    const w = await create({ settings: { allowedDomains: ['shop.example', '*.brand.example'] } });
    const get = (origin?: string) =>
      client(t.url)('GET', `/chat-widget/public/config/${w._id}`, undefined, origin ? { origin } : {});
    assert.equal((await get('https://shop.example')).status, 200);
    assert.equal((await get('https://eu.brand.example')).status, 200);
    assert.equal((await get('https://evil.example')).status, 403);
    assert.equal((await get()).status, 403);
  });

  test('answers preflight requests, and every answer (errors too) is readable cross-origin', async () => {
    const w = await create();
    const pre = await fetch(`${t.url}/chat-widget/public/config/${w._id}`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'version',
      },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://shop.example');
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /Version/);
    const missing = await client(t.url)(
      'GET',
      `/chat-widget/public/config/${crypto.randomUUID()}`,
      undefined,
      {
        origin: 'https://shop.example',
      },
    );
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('access-control-allow-origin'), 'https://shop.example');
  });

  test('a deleted or unknown widget is a 404', async () => {
    const w = await create();
    await asA('DELETE', `/chat-widget/${t.a.locationId}/${w._id}`);
    assert.equal((await client(t.url)('GET', `/chat-widget/public/config/${w._id}`)).status, 404);
    assert.equal(
      (await client(t.url)('GET', `/chat-widget/public/config/${crypto.randomUUID()}`)).status,
      404,
    );
  });
});

describe("someone else's widgets", () => {
  test('tenant B can neither read nor change nor clone nor delete A’s widget, and nothing changes', async () => {
    const w = await create({ name: 'A only' });
    const before = await widgetRow(w._id);
    const attempts = [
      await asB('GET', `/chat-widget/data/${t.a.locationId}/${w._id}`),
      await asB('PATCH', `/chat-widget/data/${t.a.locationId}/${w._id}`, { name: 'pwned' }),
      await asB('PUT', `/chat-widget/data/${t.a.locationId}/${w._id}`, {
        name: 'pwned',
        chatType: 'liveChat',
      }),
      await asB('DELETE', `/chat-widget/${t.a.locationId}/${w._id}`),
      await asB('POST', '/chat-widget/clone', { locationId: t.a.locationId, chatWidgetId: w._id }),
      await asB('POST', '/chat-widget/', newWidget(t.a.locationId)),
    ];
    for (const r of attempts) assert.equal(r.status, 403, JSON.stringify(r.body));
    // B naming its own location but A's widget id: the widget does not exist there.
    const sneaky = [
      await asB('GET', `/chat-widget/data/${t.b.locationId}/${w._id}`),
      await asB('PATCH', `/chat-widget/data/${t.b.locationId}/${w._id}`, { name: 'pwned' }),
      await asB('DELETE', `/chat-widget/${t.b.locationId}/${w._id}`),
      await asB('POST', '/chat-widget/clone', { locationId: t.b.locationId, chatWidgetId: w._id }),
    ];
    for (const r of sneaky) assert.equal(r.status, 404, JSON.stringify(r.body));
    const list = await asB('GET', `/chat-widget/list?locationId=${t.b.locationId}&offset=0&limit=100`);
    assert.ok(!list.body.chatWidgets.some((x: { _id: string }) => x._id === w._id));
    assert.deepEqual(await widgetRow(w._id), before);
  });

  test('an agency-wide key reaches every location', async () => {
    const w = await create();
    const res = await client(t.url, lc(t.agencyKey))('GET', `/chat-widget/data/${t.a.locationId}/${w._id}`);
    assert.equal(res.status, 200);
  });
});
