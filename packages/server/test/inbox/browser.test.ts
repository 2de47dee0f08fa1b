import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { setPublicLimits } from '../../src/api/mosend/public/limits.js';
import { api, bearer, channel, RELAXED, session, type TestChannel } from '../mosend/public-fixtures.js';
import { WsClient } from '../realtime/support.js';
import { startTestCharla, type TestCharla } from '../support/charla.js';
import { client, lc } from '../support/http.js';
import { launch } from './browser.js';
import { ensureInboxBuilt } from './build.js';
import { agent, PASSWORD } from './support.js';

let t: TestCharla;
let browser: Browser;
let ch: TestChannel;
let ana: { id: string; email: string };
let bob: { id: string; email: string };

before(async () => {
  await ensureInboxBuilt();
  t = await startTestCharla();
  setPublicLimits(t.charla.ctx, RELAXED);
  ana = await agent(t, [t.a.locationId], 'Ana Agent');
  bob = await agent(t, [t.a.locationId], 'Bob Agent');
  ch = await channel(t, t.a.locationId);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await t?.close();
});

const asA = () => client(t.url, lc(t.a.key));

/** A page with a trap for injected script: every call and every dialog is recorded. */
async function inboxPage(viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport, locale: 'en-US' });
  const page = await context.newPage();
  const xss: unknown[] = [];
  const errors: string[] = [];
  await page.exposeFunction('__xss', (v: unknown) => xss.push(v ?? 'called'));
  page.on('dialog', (d) => {
    xss.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  return { page, context, xss, errors };
}

async function login(page: Page, email: string) {
  await page.goto(`${t.url}/inbox`);
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.click('#sign-in');
  await page.waitForSelector('.list .tabs');
}

/** A visitor starts a chat through the public visitor API. */
async function visitorChat(body: string, session_: Record<string, unknown> = {}) {
  const s = await session(t, ch, session_);
  const res = await api(t)('POST', `/web-chat/${ch.token}/messages`, { body }, bearer(s.sessionToken));
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const found = await asA()(
    'GET',
    `/conversations/search?locationId=${t.a.locationId}&contactId=${s.contactId}`,
  );
  return { ...s, conversationId: found.body.conversations[0].id as string };
}

const conversation = async (id: string) => (await asA()('GET', `/conversations/${id}`)).body;

/** Waits until the conversation, as the API has it, passes `check`. */
async function until(id: string, check: (c: any) => boolean, what: string) {
  for (let i = 0; i < 100; i++) {
    const c = await conversation(id);
    if (check(c)) return c;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}: ${JSON.stringify(await conversation(id))}`);
}

describe('the inbox in a browser', () => {
  test('serves the app with a strict CSP and small cacheable assets', async () => {
    const res = await fetch(`${t.url}/inbox`, { headers: { 'accept-encoding': 'br' } });
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy')!;
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const html = await res.text();
    const js = /src="(\/inbox\/assets\/app-\w+\.js)"/.exec(html)![1]!;
    const asset = await fetch(t.url + js, { headers: { 'accept-encoding': 'br' } });
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('cache-control')!, /immutable/);
    assert.equal((await fetch(`${t.url}/inbox/assets/..%2fbuild.mjs`)).status, 404);
  });

  test('an agent signs in, gets a new chat live, replies, assigns, closes and reopens', async () => {
    const { page, context, xss, errors } = await inboxPage();
    try {
      await page.goto(`${t.url}/inbox`);
      await page.fill('#email', ana.email);
      await page.fill('#password', 'not the password');
      await page.click('#sign-in');
      await page.waitForSelector('.login .error:text("Wrong email or password")');
      await page.fill('#password', PASSWORD);
      await page.click('#sign-in');
      await page.waitForSelector('.list .tabs');
      // The socket is up before the visitor writes.
      await page.waitForFunction(() => document.querySelector('#conn')?.textContent === '');
      await new Promise((r) => setTimeout(r, 300));

      const v = await visitorChat('Hola, necesito ayuda con mi pedido', {
        mode: 'identified',
        name: 'Vera Visitor',
        url: 'https://shop.example/checkout',
        title: 'Checkout',
        attributes: { plan: 'gold' },
      });
      // The values an integration wrote, shown in the side panel.
      const widget = await client(t.url, { 'x-chatcaptain-key': t.a.key })(
        'POST',
        `/v1/inbox/${t.a.locationId}/widgets`,
        {
          title: 'Order',
          fields: [
            { label: 'Order total', variable: 'order.total', type: 'number' },
            { label: 'Customer email', variable: 'contact.email', type: 'text' },
          ],
        },
      );
      assert.equal(widget.status, 201, JSON.stringify(widget.body));
      const put = await client(t.url, { 'x-chatcaptain-key': t.a.key })(
        'PUT',
        `/v1/inbox/${t.a.locationId}/widgets/${widget.body.inboxWidget.id}/values`,
        { conversationId: v.conversationId, values: { 'order.total': 99.5 } },
      );
      assert.equal(put.status, 200, JSON.stringify(put.body));

      const row = page.locator(`.conv[data-id="${v.conversationId}"]`);
      await row.waitFor();
      assert.match(String(await row.textContent()), /Vera Visitor/);
      assert.match(String(await row.textContent()), /necesito ayuda/);
      assert.equal(String(await row.locator('.badge').textContent()), '1');

      // The visitor is watching on their socket.
      const ws = await WsClient.open(t.url, { headers: { origin: 'https://shop.example' } });
      ws.hello({ token: v.sessionToken });
      await ws.ready();

      await row.click();
      await page.locator('.msg.in .body', { hasText: 'necesito ayuda' }).waitFor();
      // Opening it sends a read receipt to the visitor and clears the badge.
      await ws.next((f) => f.type === 'read' && f.by === 'agent', 'the read receipt');
      await page.waitForFunction(
        (id) => !document.querySelector(`.conv[data-id="${id}"] .badge`),
        v.conversationId,
      );

      // Side panel: the visitor, the contact and the widget's values.
      const panel = page.locator('.panel');
      await panel.locator('.widget', { hasText: 'Order total' }).waitFor();
      assert.match(String(await panel.locator('.widget').textContent()), /Order total\s*99\.5/);
      assert.match(String(await panel.textContent()), /Checkout/);
      assert.match(String(await panel.textContent()), /gold/);

      // Typing reaches the visitor; the visitor's typing shows in the inbox.
      await page.click('#reply');
      await page.keyboard.type('Claro, ');
      await ws.next((f) => f.type === 'typing' && f.from === 'agent' && f.isTyping, 'agent typing');
      ws.send({ type: 'typing', conversationId: v.conversationId, isTyping: true });
      await page.locator('.typing-line', { hasText: 'typing' }).waitFor();
      await page.keyboard.type('te ayudo ahora mismo 👍');
      await page.keyboard.press('Enter');
      await page.locator('.msg.out .body', { hasText: 'te ayudo ahora mismo' }).waitFor();
      const reply = await ws.next(
        (f) => f.type === 'message' && f.message.body === 'Claro, te ayudo ahora mismo 👍',
        'the reply on the visitor socket',
      );
      assert.equal(reply.message.userId, ana.id);
      const history = await api(t)('GET', `/web-chat/${ch.token}/history`, undefined, bearer(v.sessionToken));
      assert.ok(
        JSON.stringify(history.body).includes('te ayudo ahora mismo'),
        'the visitor history has the reply',
      );

      // An internal note: agents only.
      await page.click('#mode-note');
      await page.keyboard.type('Cliente VIP: revisar pedido');
      await page.keyboard.press('Enter');
      await page.locator('.msg.note .body', { hasText: 'Cliente VIP' }).waitFor();
      const history2 = await api(t)(
        'GET',
        `/web-chat/${ch.token}/history`,
        undefined,
        bearer(v.sessionToken),
      );
      assert.ok(!JSON.stringify(history2.body).includes('Cliente VIP'));
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(!JSON.stringify(ws.frames).includes('Cliente VIP'), 'no note on the visitor socket');

      // Assign to another agent, then to me (keyboard), star, close and reopen.
      await page.waitForFunction(() => document.querySelectorAll('#assign option').length >= 3);
      await page.selectOption('#assign', bob.id);
      await until(v.conversationId, (c) => c.assignedTo === bob.id, 'assigned to Bob');
      await page.locator('#assign-me').waitFor();
      await page.click('.messages');
      await page.keyboard.press('a');
      await page.waitForFunction(() => !document.querySelector('#assign-me'));
      assert.equal((await conversation(v.conversationId)).assignedTo, ana.id);
      await page.click('#star');
      await page.locator('#star[aria-pressed="true"]').waitFor();
      assert.equal((await conversation(v.conversationId)).starred, true);
      await page.click('#follow');
      await page.locator('#follow[aria-pressed="true"]').waitFor();
      assert.deepEqual((await conversation(v.conversationId)).followers, [ana.id]);

      await page.click('#close');
      await page.locator('.pill.closed').waitFor();
      assert.equal((await conversation(v.conversationId)).status, 'closed');
      await ws.next(
        (f) => f.type === 'conversation.status' && f.status === 'closed',
        'closed, for the visitor',
      );
      await page.click('#close');
      await page.locator('.pill.open').waitFor();
      assert.equal((await conversation(v.conversationId)).status, 'open');

      await page.fill('#tags', 'vip, pedidos');
      await page.press('#tags', 'Enter');
      await until(v.conversationId, (c) => c.tags.join() === 'vip,pedidos', 'the tags');

      // Filters: mine shows it; unassigned does not; the tag filter and search find it.
      await page.click('[data-assign="unassigned"]');
      await page.locator('.list-status', { hasText: 'No conversations' }).waitFor();
      await page.click('[data-assign="mine"]');
      await row.waitFor();
      await page.fill('#search', 'pedido');
      await page.waitForTimeout(400);
      await row.waitFor();
      await page.fill('#search', 'zzz-nothing');
      await page.locator('.list-status', { hasText: 'No conversations' }).waitFor();
      await page.fill('#search', '');

      ws.ws.close();
      assert.deepEqual(xss, []);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('history paging, infinite scroll, quotes, attachments, departments and the contact', async () => {
    const sales = await channel(t, t.a.locationId, { departments: [{ id: 'sales', name: 'Ventas' }] });
    const s = await session(t, sales, { mode: 'identified', name: 'Paula Paging' });
    const send = (body: string) =>
      api(t)('POST', `/web-chat/${sales.token}/messages`, { body }, bearer(s.sessionToken));
    assert.equal((await send('message 1')).status, 201);
    const found = await asA()(
      'GET',
      `/conversations/search?locationId=${t.a.locationId}&contactId=${s.contactId}`,
    );
    const id = found.body.conversations[0].id as string;
    // The rest through the integrators' API: the visitor API limits a visitor's pace.
    for (let i = 2; i <= 35; i++) {
      const res = await asA()('POST', '/conversations/messages/inbound', {
        type: 'Live_Chat',
        conversationId: id,
        message: `message ${i}`,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    // Enough older conversations for a second page of the list.
    await t.charla.ctx.db.query(
      `WITH c AS (
         INSERT INTO contacts (location_id, id, name, company_name) SELECT $1, gen_random_uuid(), 'Old ' || i, i::text
         FROM generate_series(1, 40) AS i RETURNING id, company_name
       )
       INSERT INTO conversations (location_id, id, contact_id, channel, last_message_body, last_message_date)
       SELECT $1, gen_random_uuid(), c.id, 'live_chat', 'old',
         now() - interval '400 days' - c.company_name::int * interval '1 minute' FROM c`,
      [t.a.locationId],
    );

    const { page, context, xss, errors } = await inboxPage();
    try {
      await login(page, ana.email);
      await page.locator('.conv').first().waitFor();
      const before = await page.locator('.conv').count();
      assert.equal(before, 30, 'one page');
      await page.locator('.conv').last().scrollIntoViewIfNeeded();
      await page.waitForFunction((n) => document.querySelectorAll('.conv').length > n, before);

      await page.click(`.conv[data-id="${id}"]`);
      await page.locator('.msg.in .body', { hasText: 'message 35' }).waitFor();
      assert.equal(await page.locator('.msg.in').count(), 30);
      await page.click('.older');
      await page.locator('.msg.in .body', { hasText: /^message 1$/ }).waitFor();
      assert.equal(await page.locator('.msg.in').count(), 35);

      // Quote a message and attach an image.
      const third = page.locator('.msg.in', { has: page.locator('.body', { hasText: /^message 3$/ }) });
      await third.hover();
      await third.locator('.quote-btn').click();
      await page.locator('.quoted', { hasText: 'message 3' }).waitFor();
      const png = Buffer.from(
        'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
        'base64',
      );
      await page.setInputFiles('#file', { name: 'dot.png', mimeType: 'image/png', buffer: png });
      await page.locator('.pending .chip', { hasText: 'dot.png' }).waitFor();
      await page.fill('#reply', 'See the picture');
      await page.click('#send');
      await page.locator('.msg.out .attachment img').waitFor();
      const history = await api(t)(
        'GET',
        `/web-chat/${sales.token}/history`,
        undefined,
        bearer(s.sessionToken),
      );
      const last = JSON.stringify(history.body);
      assert.ok(last.includes('> message 3\\n\\nSee the picture'), 'the quote goes with the reply');
      assert.ok(last.includes('dot.png'), 'and the attachment');

      // Department, from the channel's departments.
      await page.selectOption('#department', 'sales');
      await until(id, (c) => c.departmentId === 'sales', 'the department');

      // Edit the contact in the side panel.
      const form = page.locator('.contact-form');
      await form.waitFor();
      await form.locator('input[name="name"]').fill('Paula Pérez');
      await form.locator('input[name="email"]').fill('paula@example.com');
      await form.locator('button', { hasText: 'Add field' }).click();
      await form.locator('.cf-id').last().fill('plan');
      await form.locator('.cf-value').last().fill('gold');
      await form.locator('button[type="submit"]').click();
      await form.locator('.saved', { hasText: 'Saved' }).waitFor();
      const contact = (await asA()('GET', `/contacts/${s.contactId}`)).body.contact;
      assert.equal(contact.name, 'Paula Pérez');
      assert.equal(contact.email, 'paula@example.com');
      assert.deepEqual(contact.customFields, [{ id: 'plan', value: 'gold' }]);

      // Keyboard: j/k move through the list, ? shows the help.
      await page.click('.messages');
      await page.keyboard.press('?');
      await page.locator('#help').waitFor();
      await page.keyboard.press('Escape');
      assert.deepEqual(xss, []);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('nothing a visitor writes runs as script in the inbox', async () => {
    const corpus = [
      '<img src=x onerror="window.__xss(1)">',
      '<svg onload=window.__xss(2)>',
      '"><script>window.__xss(3)</script>',
      'javascript:window.__xss(4)',
      '<iframe src="javascript:window.__xss(5)"></iframe>',
      '<a href="javascript:window.__xss(6)" id="xss-link">click</a>',
      "{{constructor.constructor('window.__xss(7)')()}}",
      '<details open ontoggle=window.__xss(8)>',
      "'-window.__xss(9)-'",
      '<math><mtext><table><mglyph><style><img src=x onerror=window.__xss(10)>',
      '<img src="x` `<script>window.__xss(11)</script>"` `>',
      '<body onload=window.__xss(12)>',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a payload, not a template
      '${alert(13)}<script>alert(14)</script>',
    ];
    const { page, context, xss, errors } = await inboxPage();
    try {
      await login(page, ana.email);
      const ids: string[] = [];
      for (const [i, payload] of corpus.entries()) {
        const v = await visitorChat(payload, {
          mode: 'identified',
          name: payload.slice(0, 200),
          url:
            i % 2 ? 'javascript:window.__xss(20)' : `https://shop.example/?q=${encodeURIComponent(payload)}`,
          title: payload.slice(0, 200),
          attributes: { [`k${i}`]: payload, html: '<img src=x onerror=window.__xss(21)>' },
        }).catch(async () =>
          // A URL the session refuses: the same payloads without it.
          visitorChat(payload, {
            mode: 'identified',
            name: payload.slice(0, 200),
            title: payload,
            attributes: { p: payload },
          }),
        );
        ids.push(v.conversationId);
      }
      for (const id of ids) await page.locator(`.conv[data-id="${id}"]`).waitFor();
      for (const [i, id] of ids.entries()) {
        await page.click(`.conv[data-id="${id}"]`);
        // Shown as text, exactly as written.
        await page.waitForFunction(
          (text) => [...document.querySelectorAll('.msg.in .body')].some((b) => b.textContent === text),
          corpus[i],
        );
        await page.locator('.panel .card').first().waitFor();
        await page.waitForTimeout(50);
      }
      const injected = await page.evaluate(
        () =>
          document.querySelectorAll(
            '.layout script, .layout iframe, .layout svg, .layout img[src="x"], .layout details, .layout math, #xss-link',
          ).length,
      );
      assert.equal(injected, 0, 'no element came from a visitor');
      const hrefs = await page.evaluate(() => [...document.querySelectorAll('a')].map((a) => a.href));
      assert.ok(
        hrefs.every((h) => h.startsWith('http')),
        `only http(s) links: ${hrefs}`,
      );
      await page.waitForTimeout(300);
      assert.deepEqual(xss, []);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('works on a phone-sized screen, in Spanish', async () => {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      locale: 'es-ES',
      isMobile: true,
    });
    const page = await context.newPage();
    try {
      const v = await visitorChat('Hola desde el móvil');
      await page.goto(`${t.url}/inbox`);
      assert.equal(String(await page.locator('#sign-in').textContent()), 'Iniciar sesión');
      await page.fill('#email', bob.email);
      await page.fill('#password', PASSWORD);
      await page.click('#sign-in');
      const row = page.locator(`.conv[data-id="${v.conversationId}"]`);
      await row.waitFor();
      assert.ok(await page.locator('[data-assign="mine"]', { hasText: 'Mías' }).isVisible());
      await row.click();
      await page.locator('.msg.in .body', { hasText: 'Hola desde el móvil' }).waitFor();
      assert.equal(await page.locator('.list').isVisible(), false, 'one pane at a time');
      await page.click('.back');
      await row.waitFor({ state: 'visible' });
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 390, `no horizontal scroll (${width})`);
      await page.click('#sign-out');
      await page.locator('#sign-in').waitFor();
      const me = await page.evaluate(async () => (await fetch('/inbox/api/me')).status);
      assert.equal(me, 401);
    } finally {
      await context.close();
    }
  });
});
