import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CLOSE } from '@charla/protocol';
import { setPublicLimits } from '../../src/api/mosend/public/limits.js';
import { contact } from '../leadconnector/messaging-fixtures.js';
import { api, bearer, channel, RELAXED, session } from '../mosend/public-fixtures.js';
import { WsClient } from '../realtime/support.js';
import { startTestCharla, type TestCharla } from '../support/charla.js';
import { client, lc } from '../support/http.js';
import { agent, browser, PASSWORD } from './support.js';

let t: TestCharla;
let ana: { id: string; email: string };

before(async () => {
  t = await startTestCharla();
  setPublicLimits(t.charla.ctx, RELAXED);
  ana = await agent(t, [t.a.locationId]);
});
after(() => t.close());

/** A live-chat conversation of location A with one inbound message. */
async function liveChat(locationId = t.a.locationId, key = t.a.key) {
  const contactId = await contact(t, locationId, { name: 'Vera Visitor' });
  const res = await client(t.url, lc(key))('POST', '/conversations/messages/inbound', {
    type: 'Live_Chat',
    contactId,
    message: 'Hola',
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return { contactId, conversationId: res.body.conversationId as string };
}

describe('login', () => {
  test('signs in with email and password: an http-only SameSite=Lax cookie and a CSRF token', async () => {
    const b = browser(t);
    const res = await b.request('POST', '/inbox/api/login', {
      email: ana.email.toUpperCase(),
      password: 'correct horse battery',
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const cookie = res.headers.get('set-cookie')!;
    assert.match(cookie, /^charla_session=[A-Za-z0-9_-]{43}; /);
    assert.match(cookie, /; HttpOnly/);
    assert.match(cookie, /; SameSite=Lax/);
    assert.match(cookie, /; Path=\//);
    assert.doesNotMatch(cookie, /Secure/, 'not over plain http');
    assert.equal(res.body.user.id, ana.id);
    assert.equal(typeof res.body.csrfToken, 'string');
    assert.deepEqual(
      res.body.locations.map((l: { id: string }) => l.id),
      [t.a.locationId],
    );
    assert.equal(res.headers.get('cache-control'), 'no-store');

    // Only a hash of the cookie is stored.
    const { rows } = await t.charla.ctx.db.query<{ id_hash: Buffer }>(
      'SELECT id_hash FROM user_sessions WHERE user_id = $1',
      [ana.id],
    );
    const token = cookie.split(';')[0]!.split('=')[1]!;
    assert.ok(rows.length >= 1);
    assert.ok(rows.every((r) => !r.id_hash.toString('utf8').includes(token)));

    const me = await b.request('GET', '/inbox/api/me');
    assert.equal(me.status, 200);
    assert.equal(me.body.user.email, ana.email);
    assert.equal(me.body.csrfToken, res.body.csrfToken);
  });

  test('a wrong password, an unknown user and a user without a password get the same 401', async () => {
    const noPassword = await t.charla.ctx.db.query<{ email: string }>(
      `INSERT INTO users (id, email, name, role) VALUES (gen_random_uuid(), 'nopass@example.com', 'N', 'agent')
       RETURNING email`,
    );
    for (const [email, password] of [
      [ana.email, 'wrong password!'],
      ['nobody@example.com', 'correct horse battery'],
      [noPassword.rows[0]!.email, 'correct horse battery'],
    ]) {
      const res = await browser(t).request('POST', '/inbox/api/login', { email, password });
      assert.equal(res.status, 401, `${email}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.message, 'Wrong email or password');
      assert.equal(res.headers.get('set-cookie'), null);
    }
  });

  test('password guessing is slowed down: 10 tries a minute per email', async () => {
    const target = await agent(t, [t.a.locationId]);
    const tries = [];
    for (let i = 0; i < 11; i++) {
      tries.push(
        (
          await browser(t).request('POST', '/inbox/api/login', {
            email: target.email,
            password: `guess ${i}…`,
          })
        ).status,
      );
    }
    assert.deepEqual(tries, [...Array(10).fill(401), 429]);
    const right = await browser(t).request('POST', '/inbox/api/login', {
      email: target.email,
      password: PASSWORD,
    });
    assert.equal(right.status, 429, 'not even with the right password, for now');
  });

  test('a login from another site is refused', async () => {
    const res = await browser(t, 'https://evil.example').request('POST', '/inbox/api/login', {
      email: ana.email,
      password: 'correct horse battery',
    });
    assert.equal(res.status, 403);
  });

  test('without a session, me is 401 and the APIs want a key', async () => {
    const b = browser(t);
    assert.equal((await b.request('GET', '/inbox/api/me')).status, 401);
    b.cookie = 'charla_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    assert.equal((await b.request('GET', '/inbox/api/me')).status, 401);
    const search = await b.request('GET', `/conversations/search?locationId=${t.a.locationId}`);
    assert.equal(search.status, 401);
  });
});

describe('a session where a key goes', () => {
  test("reads the user's locations, and nothing of other locations", async () => {
    const mine = await liveChat();
    const theirs = await liveChat(t.b.locationId, t.b.key);
    const b = browser(t);
    await b.login(ana.email);

    const search = await b.request('GET', `/conversations/search?locationId=${t.a.locationId}`);
    assert.equal(search.status, 200, JSON.stringify(search.body));
    assert.ok(search.body.conversations.some((c: { id: string }) => c.id === mine.conversationId));
    assert.equal(search.headers.get('x-ratelimit-limit') !== null, true);

    assert.equal((await b.request('GET', `/conversations/search?locationId=${t.b.locationId}`)).status, 403);
    assert.equal((await b.request('GET', `/conversations/${theirs.conversationId}`)).status, 404);
    assert.equal((await b.request('GET', `/conversations/${theirs.conversationId}/messages`)).status, 404);
    assert.equal((await b.request('GET', `/contacts/${theirs.contactId}`)).status, 404);
    assert.equal(
      (await b.request('GET', `/inbox/api/conversations/${theirs.conversationId}/visitor`)).status,
      404,
    );
    const note = await b.request('POST', `/inbox/api/conversations/${theirs.conversationId}/notes`, {
      body: 'x',
    });
    assert.equal(note.status, 404);
    assert.equal((await b.request('GET', `/v1/inbox/${t.b.locationId}/widgets`)).status, 403);
    assert.equal((await b.request('GET', `/v1/inbox/${t.a.locationId}/widgets`)).status, 200);
    // Agents are not admins.
    assert.equal((await b.request('GET', '/admin/v1/locations')).status, 403);
  });

  test('unsafe requests need the CSRF header and our own Origin', async () => {
    const { conversationId, contactId } = await liveChat();
    const b = browser(t);
    await b.login(ana.email);
    const csrf = b.csrf;
    const put = (headers: Record<string, string>) =>
      b.request(
        'PUT',
        `/conversations/${conversationId}`,
        { locationId: t.a.locationId, starred: true },
        headers,
      );

    b.csrf = '';
    const missing = await put({});
    assert.equal(missing.status, 403, JSON.stringify(missing.body));
    assert.equal((await put({ 'x-charla-csrf': 'A'.repeat(43) })).status, 403);
    b.csrf = csrf;
    assert.equal((await put({ origin: 'https://evil.example' })).status, 403);
    const ok = await put({});
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.conversation.starred, true);

    // Sending as the agent: the message is theirs.
    const sent = await b.request('POST', '/conversations/messages', {
      type: 'Live_Chat',
      contactId,
      message: 'Hi, how can I help?',
      userId: ana.id,
    });
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    const m = await b.request('GET', `/conversations/messages/${sent.body.messageId}`);
    assert.equal(m.body.message?.userId ?? m.body.userId, ana.id);

    // Contacts too.
    b.csrf = '';
    assert.equal((await b.request('PUT', `/contacts/${contactId}`, { name: 'X' })).status, 403);
    b.csrf = csrf;
    const renamed = await b.request('PUT', `/contacts/${contactId}`, { name: 'Vera V.' });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
  });

  test('an expired session is refused', async () => {
    const b = browser(t);
    await b.login(ana.email);
    const token = b.cookie.split('=')[1]!;
    const { createHash } = await import('node:crypto');
    await t.charla.ctx.db.query(
      "UPDATE user_sessions SET expires_at = now() - interval '1 second' WHERE id_hash = $1",
      [createHash('sha256').update(token).digest()],
    );
    assert.equal((await b.request('GET', '/inbox/api/me')).status, 401);
    assert.equal((await b.request('GET', `/conversations/search?locationId=${t.a.locationId}`)).status, 401);
  });

  test('logout ends the session (and needs the CSRF header)', async () => {
    const b = browser(t);
    await b.login(ana.email);
    const cookie = b.cookie;
    const csrf = b.csrf;
    b.csrf = '';
    assert.equal((await b.request('POST', '/inbox/api/logout')).status, 403);
    b.csrf = csrf;
    const out = await b.request('POST', '/inbox/api/logout');
    assert.equal(out.status, 204);
    assert.match(out.headers.get('set-cookie')!, /^charla_session=; .*Max-Age=0/);
    b.cookie = cookie;
    assert.equal((await b.request('GET', '/inbox/api/me')).status, 401);
    assert.equal((await b.request('GET', `/conversations/search?locationId=${t.a.locationId}`)).status, 401);
  });

  test('a key wins over a cookie, and keys work as before', async () => {
    const b = browser(t);
    await b.login(ana.email);
    // No CORS: another site cannot read the session's CSRF token.
    const me = await b.request('GET', '/inbox/api/me', undefined, { origin: 'https://evil.example' });
    assert.equal(me.headers.get('access-control-allow-origin'), null);
    const res = await b.request('GET', `/conversations/search?locationId=${t.b.locationId}`, undefined, {
      authorization: `Bearer ${t.b.key}`,
    });
    assert.equal(res.status, 200);
  });
});

describe('notes and visitor details', () => {
  test('an internal note reaches agents, never the visitor', async () => {
    const ch = await channel(t, t.a.locationId);
    const s = await session(t, ch, {
      url: 'https://shop.example/pricing',
      title: 'Pricing',
      lang: 'es-ES',
      attributes: { plan: 'gold' },
    });
    const visitor = api(t);
    const sent = await visitor(
      'POST',
      `/web-chat/${ch.token}/messages`,
      { body: 'Hola' },
      bearer(s.sessionToken),
    );
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    const convs = await client(t.url, lc(t.a.key))(
      'GET',
      `/conversations/search?locationId=${t.a.locationId}&contactId=${s.contactId}`,
    );
    const conversationId = convs.body.conversations[0].id as string;

    const b = browser(t);
    await b.login(ana.email);
    const note = await b.request('POST', `/inbox/api/conversations/${conversationId}/notes`, {
      body: 'VIP customer, be nice',
    });
    assert.equal(note.status, 201, JSON.stringify(note.body));
    assert.equal(note.body.message.messageType, 'TYPE_INTERNAL_COMMENT');
    assert.equal(note.body.message.userId, ana.id);
    const blank = await b.request('POST', `/inbox/api/conversations/${conversationId}/notes`, { body: '  ' });
    assert.equal(blank.status, 422);

    const agentView = await b.request('GET', `/conversations/${conversationId}/messages`);
    assert.ok(
      agentView.body.messages.messages.some((m: { body: string }) => m.body === 'VIP customer, be nice'),
    );
    const history = await visitor('GET', `/web-chat/${ch.token}/history`, undefined, bearer(s.sessionToken));
    assert.equal(history.status, 200);
    assert.ok(!JSON.stringify(history.body).includes('VIP customer'));

    // The visitor's socket does not get it either.
    const ws = await WsClient.open(t.url, { headers: { origin: 'https://shop.example' } });
    ws.hello({ token: s.sessionToken });
    await ws.ready();
    await b.request('POST', `/inbox/api/conversations/${conversationId}/notes`, {
      body: 'second secret note',
    });
    await b.request('POST', '/conversations/messages', {
      type: 'Live_Chat',
      contactId: s.contactId,
      message: 'public reply',
      userId: ana.id,
    });
    await ws.next((f) => f.type === 'message' && f.message.body === 'public reply', 'the reply');
    assert.ok(!JSON.stringify(ws.frames).includes('secret note'));
    ws.ws.close();

    const info = await b.request('GET', `/inbox/api/conversations/${conversationId}/visitor`);
    assert.equal(info.status, 200, JSON.stringify(info.body));
    assert.equal(info.body.visitor.pageUrl, 'https://shop.example/pricing');
    assert.equal(info.body.visitor.pageTitle, 'Pricing');
    assert.equal(info.body.visitor.lang, 'es-ES');
    assert.equal(info.body.visitor.channel.name, 'Website chat');
    assert.deepEqual(info.body.visitor.attributes, { plan: 'gold' });

    const agents = await b.request('GET', `/inbox/api/locations/${t.a.locationId}/agents`);
    assert.equal(agents.status, 200);
    assert.ok(agents.body.agents.some((a: { id: string }) => a.id === ana.id));
    assert.equal((await b.request('GET', `/inbox/api/locations/${t.b.locationId}/agents`)).status, 403);
  });
});

describe('real time', () => {
  test("an agent's socket authenticates with the session cookie, on Charla's own origin only", async () => {
    const b = browser(t);
    await b.login(ana.email);
    const ws = await WsClient.open(t.url, { headers: { cookie: b.cookie, origin: t.url } });
    ws.hello({});
    const { welcome } = await ws.ready();
    assert.equal(welcome.role, 'agent');
    assert.equal(welcome.agentId, ana.id);
    assert.deepEqual(welcome.locations, [t.a.locationId]);
    ws.ws.close();

    // Behind a proxy that rewrites Host.
    const proxied = await WsClient.open(t.url, {
      headers: { cookie: b.cookie, origin: 'https://charla.example', 'x-forwarded-host': 'charla.example' },
    });
    proxied.hello({});
    assert.equal((await proxied.ready()).welcome.agentId, ana.id);
    proxied.ws.close();

    const foreign = await WsClient.open(t.url, {
      headers: { cookie: b.cookie, origin: 'https://evil.example' },
    });
    foreign.hello({});
    await foreign.expectClose(CLOSE.UNAUTHENTICATED);

    const other = await WsClient.open(t.url, { headers: { cookie: b.cookie, origin: t.url } });
    other.hello({ locations: [t.b.locationId] });
    await other.expectClose(CLOSE.FORBIDDEN);

    const impostor = await WsClient.open(t.url, { headers: { cookie: b.cookie, origin: t.url } });
    impostor.hello({ userId: '0190a0a0-0000-7000-8000-000000000000' });
    await impostor.expectClose(CLOSE.FORBIDDEN);

    // The marker cannot be sent as a key.
    const token = b.cookie.split('=')[1]!;
    const forged = await WsClient.open(t.url);
    forged.hello({ key: `session\n${token}` });
    await forged.expectClose(CLOSE.UNAUTHENTICATED);
  });

  test('logging out closes the sockets the session opened, and only those', async () => {
    // A user of its own: sign-ins are limited per email.
    const bea = await agent(t, [t.a.locationId]);
    const mine = browser(t);
    await mine.login(bea.email);
    const theirs = browser(t);
    await theirs.login(bea.email);
    const ws = await WsClient.open(t.url, { headers: { cookie: mine.cookie, origin: t.url } });
    ws.hello({});
    await ws.ready();
    const other = await WsClient.open(t.url, { headers: { cookie: theirs.cookie, origin: t.url } });
    other.hello({});
    await other.ready();
    assert.equal((await mine.request('POST', '/inbox/api/logout')).status, 204);
    await ws.expectClose(CLOSE.REVOKED);
    // The same agent's other session (another device) stays connected.
    other.send({ type: 'ping' });
    await other.next((f: any) => f.type === 'pong', 'pong on the other session');
    other.ws.close();
  });
});

describe('https', () => {
  test('over https the cookie is Secure and __Host- prefixed', async () => {
    const s = await startTestCharla({ PUBLIC_URL: 'https://inbox.example' });
    try {
      const u = await agent(s, [s.a.locationId]);
      const res = await browser(s).request('POST', '/inbox/api/login', {
        email: u.email,
        password: 'correct horse battery',
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.match(res.headers.get('set-cookie')!, /^__Host-charla_session=.*; Secure$/);
      // Behind a proxy that passes neither the original Host nor X-Forwarded-Host, the page's
      // origin is the public URL: its socket may use the cookie; another origin's may not.
      const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
      const ws = await WsClient.open(s.url, { headers: { cookie, origin: 'https://inbox.example' } });
      ws.hello({});
      assert.equal((await ws.ready()).welcome.agentId, u.id);
      ws.ws.close();
      const foreign = await WsClient.open(s.url, { headers: { cookie, origin: 'https://evil.example' } });
      foreign.hello({});
      await foreign.expectClose(CLOSE.UNAUTHENTICATED);
    } finally {
      await s.close();
    }
  });
});
