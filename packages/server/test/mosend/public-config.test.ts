import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setAgentPresence } from '../../src/core/presence/service.js';
import { channelOpenNow } from '../../src/core/visitors/hours.js';
import { startTestCharla, type TestCharla } from '../support/charla.js';
import { api, channel, expectError, ORIGIN, user } from './public-fixtures.js';

let t: TestCharla;

before(async () => {
  t = await startTestCharla();
});
after(() => t.close());

describe('config', () => {
  test('public settings only: no agents, no secrets', async () => {
    const agent = await user(t, t.a.locationId);
    const ch = await channel(t, t.a.locationId, {
      widgetPrimaryColor: '#0a84ff',
      liveChatIntroMsg: 'Hola',
      identityRequired: true,
      prechatFields: [{ id: 'name', type: 'text', label: 'Name', required: true }],
      departments: [{ id: 'sales', name: 'Sales', agents: [agent] }],
      offlineAction: { type: 'MESSAGE_ALLOW', collectEmail: true },
      offlineMessage: 'We are away',
    });
    await t.charla.ctx.db.query<any>("UPDATE chat_widgets SET identity_secret = 'v1.sealed' WHERE id = $1", [
      ch.id,
    ]);
    // Within hours (none set) but no agent online: open, not online.
    const away = (await api(t)('GET', `/web-chat/${ch.token}/config`)).body.data;
    assert.deepEqual([away.open, away.agentsOnline, away.online], [true, false, false]);
    assert.deepEqual(away.departments, [{ id: 'sales', name: 'Sales', online: false }]);
    await setAgentPresence(t.charla.ctx.db, {
      locationId: t.a.locationId,
      agentId: agent,
      nodeId: 'test-node',
      status: 'online',
    });
    const res = await api(t)('GET', `/web-chat/${ch.token}/config`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const c = res.body.data;
    assert.equal(c.agentsOnline, true);
    assert.equal(c.name, 'Website chat');
    assert.equal(c.color, '#0a84ff');
    assert.equal(c.welcomeMessage, 'Hola');
    assert.equal(c.identityRequired, true);
    assert.equal(c.enabled, true);
    assert.equal(c.online, true);
    assert.deepEqual(c.departments, [{ id: 'sales', name: 'Sales', online: true }]);
    assert.equal(c.prechatFields.length, 1);
    assert.deepEqual(c.offlineAction, { type: 'MESSAGE_ALLOW', collectEmail: true });
    const text = JSON.stringify(res.body);
    assert.ok(!text.includes(agent), 'no agent ids');
    assert.ok(!text.includes('v1.sealed') && !text.includes(ch.token), 'no secrets');
    assert.equal(res.headers.get('access-control-allow-origin'), ORIGIN);

    const off = await channel(t, t.a.locationId, { enabled: false });
    const offRes = await api(t)('GET', `/web-chat/${off.token}/config`);
    assert.equal(offRes.status, 200);
    assert.equal(offRes.body.data.enabled, false);
    assert.equal(offRes.body.data.online, false);
    expectError(await api(t)('GET', '/web-chat/unknown-token-123/config'), 404);
  });

  test('online follows the operating hours in their time zone', async () => {
    const ch = await channel(t, t.a.locationId, {
      operatingHours: { timezone: 'Pacific/Kiritimati', days: {}, holidays: [] },
    });
    const res = await api(t)('GET', `/web-chat/${ch.token}/config`);
    assert.equal(res.body.data.open, false);
    assert.equal(res.body.data.online, false);
  });

  test("another location's agents online do not make this channel online", async () => {
    const ch = await channel(t, t.b.locationId);
    const res = await api(t)('GET', `/web-chat/${ch.token}/config`);
    assert.equal(res.body.data.agentsOnline, false);
    assert.equal(res.body.data.online, false);
  });
});

describe('channelOpenNow', () => {
  const hours = (extra: Record<string, unknown> = {}) => ({
    operatingHours: {
      timezone: 'Europe/Madrid',
      days: { monday: [{ open: '09:00', close: '17:00' }], friday: [{ open: '22:00', close: '02:00' }] },
      holidays: [{ date: '2026-12-07', name: 'Puente' }],
      ...extra,
    },
  });
  test('intervals in the zone, overnight intervals, holidays, disabled hours', () => {
    // Monday 2026-11-30, 08:30 UTC = 09:30 in Madrid.
    assert.equal(channelOpenNow(hours(), new Date('2026-11-30T08:30:00Z')), true);
    assert.equal(channelOpenNow(hours(), new Date('2026-11-30T07:30:00Z')), false);
    assert.equal(channelOpenNow(hours(), new Date('2026-11-30T16:00:00Z')), false, '17:00 closes');
    // Friday 22:00 to Saturday 02:00.
    assert.equal(channelOpenNow(hours(), new Date('2026-12-04T22:30:00Z')), true);
    assert.equal(channelOpenNow(hours(), new Date('2026-12-05T00:30:00Z')), true, 'after midnight');
    assert.equal(channelOpenNow(hours(), new Date('2026-12-05T01:30:00Z')), false);
    // A holiday on a Monday: closed all day.
    assert.equal(channelOpenNow(hours(), new Date('2026-12-07T10:00:00Z')), false);
    assert.equal(channelOpenNow(hours({ enabled: false }), new Date('2026-12-07T10:00:00Z')), true);
    assert.equal(channelOpenNow({}, new Date()), true);
    // A department's own hours.
    const s = {
      ...hours(),
      departments: [
        {
          id: 'night',
          name: 'Night',
          operatingHours: { timezone: 'UTC', days: { monday: [{ open: '00:00', close: '24:00' }] } },
        },
      ],
    };
    assert.equal(channelOpenNow(s, new Date('2026-11-30T05:00:00Z'), 'night'), true);
    assert.equal(channelOpenNow(s, new Date('2026-11-30T05:00:00Z')), false);
  });
});

describe('allowed domains and CORS', () => {
  test('a foreign or missing Origin is refused when allowedDomains is set; allowed ones get CORS', async () => {
    const ch = await channel(t, t.a.locationId, { allowedDomains: ['shop.example', '*.brand.example'] });
    const body = { visitorId: randomUUID(), mode: 'anonymous' };
    for (const origin of ['https://evil.example', 'https://shop.example.evil.example', 'null']) {
      expectError(
        await api(t, origin)('POST', `/web-chat/${ch.token}/sessions`, body),
        403,
        /may not be used/,
        origin,
      );
      expectError(await api(t, origin)('GET', `/web-chat/${ch.token}/config`), 403, undefined, origin);
    }
    expectError(await api(t, null)('POST', `/web-chat/${ch.token}/sessions`, body), 403, /no Origin/);
    const { rows } = await t.charla.ctx.db.query<any>(
      'SELECT count(*)::int AS n FROM visitors WHERE channel_id = $1',
      [ch.id],
    );
    assert.equal(rows[0].n, 0);

    for (const origin of [ORIGIN, 'https://eu.brand.example', 'http://brand.example']) {
      const ok = await api(t, origin)('POST', `/web-chat/${ch.token}/sessions`, {
        ...body,
        visitorId: randomUUID(),
      });
      assert.equal(ok.status, 201, `${origin} ${JSON.stringify(ok.body)}`);
      assert.equal(ok.headers.get('access-control-allow-origin'), origin);
      assert.match(ok.headers.get('vary') ?? '', /Origin/);
    }

    const preflight = await fetch(`${t.url}/web-chat/${ch.token}/messages`, {
      method: 'OPTIONS',
      headers: {
        origin: ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), ORIGIN);
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Authorization/i);
    const foreign = await fetch(`${t.url}/web-chat/${ch.token}/sessions`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(foreign.status, 403);

    // No list: any origin, and no Origin at all (server-side callers).
    const open = await channel(t, t.a.locationId);
    assert.equal((await api(t, 'https://any.example')('GET', `/web-chat/${open.token}/config`)).status, 200);
    assert.equal((await api(t, null)('GET', `/web-chat/${open.token}/config`)).status, 200);
  });
});
