// The embeddable widget in a real browser, on a host site of another origin than Charla's: the
// snippet, the pre-chat form, messages and images both ways, typing, history after a reload,
// catch-up after going offline, Spanish, a strict CSP, an unreachable Charla, and XSS payloads
// in every text the widget shows.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { appendMessage } from '../../src/core/messages/store.js';
import { createWidget } from '../../src/core/widgets/service.js';
import { startSmtp, waitFor } from '../jobs/fixtures.js';
import { WsClient } from '../realtime/support.js';
import { startTestCharla, type TestCharla } from '../support/charla.js';
import { client, lc } from '../support/http.js';
import {
  type HostSite,
  hostSite,
  page as html,
  launch,
  PNG,
  skipBrowser,
  snippet,
  stored,
  strictCsp,
  watch,
} from './support.js';

let t: TestCharla;
let site: HostSite;
let browser: Browser;

async function channel(settings: Record<string, unknown>, name = 'Website chat') {
  const w = await createWidget(t.charla.ctx.db, 'test', {
    locationId: t.a.locationId,
    name,
    chatType: 'liveChat',
    settings,
  });
  return w.publicToken;
}

const agent = () => {
  const call = client(t.url, lc(t.a.key));
  return {
    send: (contactId: string, message: string, extra: Record<string, unknown> = {}) =>
      call('POST', '/conversations/messages', { type: 'Live_Chat', contactId, message, ...extra }),
    typing: (conversationId: string, isTyping: boolean) =>
      call('POST', '/conversations/providers/live-chat/typing', {
        locationId: t.a.locationId,
        conversationId,
        visitorId: 'v',
        isTyping,
      }),
  };
};

/** A visitor's message the server took (live-chat messages from visitors are stored delivered). */
const SENT = /^(Sent|Delivered)$/;
const widget = (p: Page) => p.locator('#charla-widget');
const launcher = (p: Page) => widget(p).locator('button.l');
const log = (p: Page) => widget(p).locator('.log');

/** Requests the page made for a widget file. */
function requests(p: Page): string[] {
  const seen: string[] = [];
  p.on('request', (r) => {
    const m = /\/widget\/([a-z]+\.(js|css))/.exec(r.url());
    if (m) seen.push(m[1]!);
  });
  return seen;
}

before(async () => {
  t = await startTestCharla();
  site = await hostSite();
});
after(async () => {
  await site?.close();
  await t?.close();
});

test('serves the loader, the app and the demo page with the right headers', async () => {
  const get = (path: string, headers: Record<string, string> = {}) => fetch(t.url + path, { headers });
  const loader = await get('/widget/loader.js', { 'accept-encoding': 'br' });
  assert.equal(loader.status, 200);
  assert.match(loader.headers.get('content-type')!, /^text\/javascript/);
  assert.match(loader.headers.get('cache-control')!, /max-age=300/);
  const etag = loader.headers.get('etag')!;
  assert.ok(etag);
  assert.equal(loader.headers.get('content-encoding'), 'br');
  const body = await loader.text(); // fetch decodes it
  assert.equal((await get('/widget/loader.js', { 'if-none-match': etag })).status, 304);
  // The loader names the files it loads by their content hash.
  const hash = /\?v=([\w-]+)/.exec(body)?.[1];
  assert.ok(hash, 'the loader carries the app hash');
  const app = await get(`/widget/app.js?v=${hash}`);
  assert.equal(app.status, 200);
  assert.match(app.headers.get('cache-control')!, /immutable/);
  const css = await get(`/widget/app.css?v=${hash}`);
  assert.match(css.headers.get('content-type')!, /^text\/css/);
  assert.doesNotMatch((await get('/widget/app.js?v=old')).headers.get('cache-control')!, /immutable/);
  assert.equal((await get('/widget/nope.js')).status, 404);

  // The demo page: a strict CSP, the snippet, and one channel made on the first visit.
  const demo = await get('/demo');
  assert.equal(demo.status, 200);
  assert.match(demo.headers.get('content-security-policy')!, /script-src 'self';/);
  const tokenOf = (html: string) => /\/widget\/loader\.js" data-token="([\w-]+)"/.exec(html)?.[1];
  const demoToken = tokenOf(await demo.text());
  assert.ok(demoToken);
  assert.equal(tokenOf(await (await get('/demo')).text()), demoToken);
  const { rows } = await t.charla.ctx.db.query(
    "SELECT count(*)::int AS n FROM chat_widgets WHERE name = 'Demo chat'",
  );
  assert.equal(rows[0]!.n, 1);

  const token = await channel({ dimensions: { position: 'left' } });
  const cfg = await (await get(`/web-chat/${token}/config`)).json();
  assert.equal(cfg.data.position, 'left');
  assert.equal(cfg.data.sound, true);
});

describe('embeddable widget (browser)', { skip: skipBrowser }, () => {
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  test('a visitor chats from another origin under a strict CSP', async () => {
    const token = await channel({
      heading: 'Ayuda',
      liveChatIntroMsg: 'Welcome to the shop',
      widgetPrimaryColor: '#0a7d52',
      prechatFields: [
        { id: 'name', type: 'text', label: { en: 'Your name', es: 'Tu nombre' }, required: true },
        { id: 'email', type: 'email', label: { en: 'Email', es: 'Correo' }, required: true },
      ],
    });
    site.pages.set('/chat', { body: html('', snippet(t.url, token)), csp: strictCsp(t.url) });
    const context = await browser.newContext();
    const p = await context.newPage();
    const { problems } = watch(p);
    const files = requests(p);
    await p.goto(`${site.url}/chat`);
    await launcher(p).waitFor();
    assert.deepEqual(files, ['loader.js'], 'only the loader before any interaction');
    assert.equal(await launcher(p).getAttribute('aria-label'), 'Chat');
    assert.equal(
      await widget(p)
        .locator('.w')
        .evaluate((e) => e.style.getPropertyValue('--c')),
      '#0a7d52',
    );

    await launcher(p).click();
    const form = widget(p).locator('form.form');
    await form.waitFor();
    assert.ok(files.includes('app.js') && files.includes('app.css'));
    await form.locator('button[type=submit]').click();
    assert.equal(await form.locator('#cf-name').getAttribute('aria-invalid'), 'true');
    assert.match((await form.locator('#cf-name-e').textContent()) ?? '', /required/);
    await form.locator('#cf-name').fill('Ana');
    await form.locator('#cf-email').fill('not-an-email');
    await form.locator('button[type=submit]').click();
    assert.match((await form.locator('#cf-email-e').textContent()) ?? '', /valid email/);
    await form.locator('#cf-email').fill('ana@shop.example');
    await form.locator('button[type=submit]').click();

    const input = widget(p).locator('textarea');
    await input.waitFor();
    await log(p).getByText('Welcome to the shop').waitFor();
    await input.fill('Hola, need help https://example.com/x');
    await input.press('Enter');
    const mine = log(p).locator('.row.me', { hasText: 'need help' });
    await mine.getByText(SENT).waitFor();
    assert.equal(await mine.locator('a').getAttribute('href'), 'https://example.com/x');

    await widget(p)
      .locator('input[type=file]')
      .setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: PNG });
    const image = log(p).locator('.row.me img[alt="photo.png"]');
    await image.waitFor();
    await log(p)
      .locator('.row.me', { has: p.locator('img') })
      .getByText(SENT)
      .waitFor();
    assert.match((await image.getAttribute('src'))!, new RegExp(`^${t.url}/media/`));

    const session = await stored(p, token, 's');
    const conversationId = await stored(p, token, 'cur');
    assert.ok(session.contactId && conversationId);
    const ag = agent();
    assert.equal((await ag.typing(conversationId, true)).status, 201);
    await widget(p).locator('.ty').getByText('Typing…').waitFor();
    const sent = await ag.send(session.contactId, 'Hi Ana, agent here');
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    await log(p).locator('.row.them', { hasText: 'Hi Ana, agent here' }).waitFor();
    assert.equal(await widget(p).locator('.ty').textContent(), '', 'typing ends with the message');

    // Reload: the same conversation comes back from the history.
    await p.reload();
    await launcher(p).waitFor();
    if (!(await widget(p).locator('.p').isVisible())) await launcher(p).click();
    await log(p).locator('.row.them', { hasText: 'Hi Ana, agent here' }).waitFor();
    await log(p).locator('.row.me', { hasText: 'need help' }).waitFor();
    await log(p).locator('.row.me img[alt="photo.png"]').waitFor();

    // Offline, a reply meanwhile, back online: the catch-up brings it.
    await widget(p)
      .locator('.st')
      .getByText(/reply|online/)
      .waitFor();
    await context.setOffline(true);
    await widget(p).locator('.st').getByText('Connecting…').waitFor();
    assert.equal((await ag.send(session.contactId, 'Sent while you were away')).status, 200);
    await p.waitForTimeout(300);
    assert.equal(await log(p).getByText('Sent while you were away').count(), 0);
    await context.setOffline(false);
    await log(p).getByText('Sent while you were away').waitFor();

    // Spanish, chosen by the SDK.
    await p.evaluate(() => (window as any).Charla.setLocale('es'));
    assert.equal(await widget(p).locator('textarea').getAttribute('placeholder'), 'Escribe un mensaje…');
    assert.equal(await widget(p).locator('.p').getAttribute('lang'), 'es');
    await widget(p).locator('textarea').click();
    await p.keyboard.press('Escape');
    await widget(p).locator('.p').waitFor({ state: 'hidden' });
    assert.equal(await launcher(p).getAttribute('aria-label'), 'Abrir chat');

    // Unread badge while closed.
    assert.equal((await ag.send(session.contactId, 'One more thing')).status, 200);
    await widget(p).locator('.b').getByText('1').waitFor();

    assert.deepEqual(problems, []);
    await context.close();
  });

  test('a visitor quotes a message; agent images, files and quotes show live and after a reload', async () => {
    const token = await channel({});
    site.pages.set('/quote', { body: html('', snippet(t.url, token)), csp: strictCsp(t.url) });
    const context = await browser.newContext();
    const p = await context.newPage();
    const { problems } = watch(p);
    await p.goto(`${site.url}/quote`);
    await launcher(p).click();
    const input = widget(p).locator('textarea');
    await input.fill('Do you have it in blue?');
    await input.press('Enter');
    await log(p).locator('.row.me', { hasText: 'in blue' }).getByText(SENT).waitFor();
    const { contactId } = await stored(p, token, 's');
    const conversationId = await stored(p, token, 'cur');
    assert.equal((await agent().send(contactId, 'Which size?')).status, 200);
    const question = log(p).locator('.row.them', { hasText: 'Which size?' });
    await question.waitFor();
    const questionId = await question.getAttribute('data-id');
    assert.ok(questionId);

    // From the keyboard: the reply action quotes, Escape drops the quote and leaves the panel open.
    const preview = widget(p).locator('.qp');
    const reply = question.getByRole('button', { name: 'Reply' });
    await reply.focus();
    await p.keyboard.press('Enter');
    await preview.locator('.q').getByText('Which size?', { exact: true }).waitFor();
    assert.ok(await input.evaluate((e) => e.matches(':focus')), 'the composer takes the focus');
    await p.keyboard.press('Escape');
    assert.equal(await preview.textContent(), '');
    assert.ok(await widget(p).locator('.p').isVisible());
    await reply.focus();
    await p.keyboard.press('Enter');
    await preview.getByRole('button', { name: 'Cancel the reply' }).click();
    assert.equal(await preview.textContent(), '');
    await reply.click();
    await input.fill('Medium');
    await input.press('Enter');
    const answer = log(p).locator('.row.me', { hasText: 'Medium' });
    await answer.getByText(SENT).waitFor();
    assert.equal(await answer.locator('.q').textContent(), 'Which size?');
    assert.equal(await preview.textContent(), '', 'the quote goes with the message');
    const answerId = (await answer.getAttribute('data-id'))!;
    const { rows } = await t.charla.ctx.db.query<{ reply_to_id: string }>(
      'SELECT reply_to_id FROM messages WHERE id = $1',
      [answerId],
    );
    assert.equal(rows[0]!.reply_to_id, questionId);

    // The agent answers through the org send route: an image named without an extension, a
    // document, and a reply quoting the visitor. The widget draws each from what the hub says.
    const org = client(t.url, { 'x-api-key': t.a.key });
    const base = `/organizations/${t.a.locationId}/conversations/${conversationId}/web-chat`;
    const upload = async (name: string, data: Buffer) => {
      const fd = new FormData();
      fd.append('file', new Blob([new Uint8Array(data)]), name);
      const res = await fetch(`${t.url}${base}/media`, {
        method: 'POST',
        headers: { 'x-api-key': t.a.key },
        body: fd,
      });
      const j = (await res.json()) as any;
      assert.equal(res.status, 201, JSON.stringify(j));
      return j.data as { mediaAssetId: string; url: string };
    };
    const img = await upload('blue-shirt', PNG);
    const doc = await upload('size-guide.pdf', Buffer.from('%PDF-1.4\n%%EOF\n', 'latin1'));
    for (const body of [
      { type: 'image', mediaAssetId: img.mediaAssetId, body: 'This one' },
      { type: 'document', mediaAssetId: doc.mediaAssetId },
      { body: 'Medium it is', replyToMessageId: answerId },
    ]) {
      const sent = await org('POST', `${base}/send`, body);
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
    }
    const check = async () => {
      const image = log(p).locator('.row.them img[alt="blue-shirt"]');
      await image.waitFor();
      assert.equal(await image.getAttribute('src'), img.url);
      await log(p)
        .locator('.row.them', { has: p.locator('img[alt="blue-shirt"]') })
        .getByText('This one')
        .waitFor();
      const file = log(p).locator('.row.them a.file', { hasText: 'size-guide.pdf' });
      await file.waitFor();
      assert.equal(await file.getAttribute('href'), doc.url);
      const quoted = log(p).locator('.row.them', { hasText: 'Medium it is' });
      await quoted.waitFor();
      assert.equal(await quoted.locator('.q').textContent(), 'Medium');
      assert.equal(await answer.locator('.q').textContent(), 'Which size?');
    };
    await check();
    // The history draws the same.
    await p.reload();
    await launcher(p).waitFor();
    if (!(await widget(p).locator('.p').isVisible())) await launcher(p).click();
    await check();
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('the SDK queues calls, reports events and sends messages', async () => {
    const token = await channel({});
    site.pages.set('/sdk', {
      body: html(
        '',
        `<script>window.Charla=window.Charla||function(){(window.Charla.q=window.Charla.q||[]).push(arguments)};
window.events=[];Charla('on','message.sent',function(m){events.push(['sent',m.body])});
Charla('on','open',function(){events.push(['open'])});Charla('nope');</script>${snippet(t.url, token)}`,
      ),
    });
    const context = await browser.newContext();
    const p = await context.newPage();
    const { problems } = watch(p);
    await p.goto(`${site.url}/sdk`);
    await launcher(p).waitFor();
    await p.evaluate(() => (window as any).Charla.sendMessage('Sent by the SDK'));
    await p.waitForFunction(() => (window as any).events.some((e: string[]) => e[0] === 'sent'));
    await p.evaluate(() => (window as any).Charla.open());
    await log(p).locator('.row.me', { hasText: 'Sent by the SDK' }).waitFor();
    // Full screen on a small screen.
    await p.setViewportSize({ width: 390, height: 700 });
    const box = await widget(p).locator('.p').boundingBox();
    assert.deepEqual([box?.x, box?.y, box?.width, box?.height], [0, 0, 390, 700]);
    assert.equal(await launcher(p).isVisible(), false);
    await p.setViewportSize({ width: 1280, height: 720 });
    const events = await p.evaluate(() => (window as any).events);
    assert.deepEqual(events, [['sent', 'Sent by the SDK'], ['open']]);
    await p.evaluate(() => (window as any).Charla.hide());
    await launcher(p).waitFor({ state: 'hidden' });
    await p.evaluate(() => (window as any).Charla.show());
    await launcher(p).waitFor();
    await p.evaluate(() =>
      (window as any).Charla.identify({ name: 'Ana', email: 'ana@sdk.example', attributes: { plan: 'pro' } }),
    );
    await p.waitForFunction(() => {
      const k = Object.keys(localStorage).find((x) => x.endsWith(':s'));
      return k && JSON.parse(localStorage.getItem(k)!).k.includes('ana@sdk.example');
    });
    assert.deepEqual(await stored(p, token, 'a'), { plan: 'pro' });
    // hide() closed the panel with the launcher; toggle() opens and closes it.
    await p.evaluate(() => (window as any).Charla.toggle());
    await widget(p).locator('.p').waitFor();
    await p.evaluate(() => (window as any).Charla.toggle());
    await widget(p).locator('.p').waitFor({ state: 'hidden' });
    await p.evaluate(() => (window as any).Charla.reset());
    assert.equal(await stored(p, token, 's'), null);
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('read receipts, a closed conversation, a fresh one, past conversations, right to left', async () => {
    const token = await channel({ linkEmailBannerEnabled: true });
    site.pages.set('/more', { body: html('', snippet(t.url, token)) });
    const context = await browser.newContext();
    const p = await context.newPage();
    const { problems } = watch(p);
    const closedEvents: unknown[] = [];
    await p.exposeFunction('onClosed', (d: unknown) => closedEvents.push(d));
    await p.goto(`${site.url}/more`);
    await launcher(p).click();
    const input = widget(p).locator('textarea');
    // A send that fails is marked, and its retry sends it.
    let failures = 1;
    await p.route(`${t.url}/web-chat/*/messages`, (route) =>
      failures-- > 0 ? route.abort('connectionreset') : route.continue(),
    );
    await input.fill('First conversation');
    await input.press('Enter');
    const first = log(p).locator('.row.me', { hasText: 'First conversation' });
    await first.getByText('Not sent.').waitFor();
    await first.getByRole('button', { name: 'Retry' }).click();
    await first.getByText(SENT).waitFor();
    assert.equal(await log(p).locator('.row.me').count(), 1);

    // The link-email banner, once there is a session.
    const banner = widget(p).locator('form.ban');
    await banner.locator('input[type=email]').fill('kim@shop.example');
    await banner.getByRole('button', { name: 'Save' }).click();
    await banner.waitFor({ state: 'detached' });
    const { contactId } = await stored(p, token, 's');
    const contact = await client(t.url, lc(t.a.key))('GET', `/contacts/${contactId}`);
    assert.equal(contact.body.contact.email, 'kim@shop.example');
    await p.evaluate(() =>
      (window as any).Charla.on('conversation.closed', (d: unknown) => (window as any).onClosed(d)),
    );
    const conversationId = await stored(p, token, 'cur');

    // The agent reads the conversation on its socket: the visitor sees "Read".
    const ag = await WsClient.open(t.url);
    ag.hello({ key: t.a.key });
    await ag.next((f) => f.type === 'synced', 'agent synced');
    ag.send({ type: 'read', conversationId });
    await log(p).locator('.row.me').getByText('Read').waitFor();
    // The visitor's typing reaches the agent.
    await input.pressSequentially('typ');
    const typing = await ag.next((f) => f.type === 'typing', 'visitor typing at the agent');
    assert.deepEqual(
      [typing.from, typing.isTyping, typing.conversationId],
      ['visitor', true, conversationId],
    );
    await input.fill('');
    ag.ws.close();

    const lcApi = client(t.url, lc(t.a.key));
    const closed = await lcApi('PUT', `/conversations/${conversationId}`, {
      locationId: t.a.locationId,
      status: 'closed',
    });
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    const ended = log(p).locator('.ended');
    await ended.getByText('This conversation has ended.').waitFor();
    for (let i = 0; i < 50 && !closedEvents.length; i++) await p.waitForTimeout(20);
    assert.deepEqual(closedEvents, [{ conversationId }]);
    await ended.getByRole('button', { name: 'Start a new conversation' }).click();
    assert.equal(await log(p).locator('.row.me').count(), 0);
    await input.fill('Second conversation');
    await input.press('Enter');
    await log(p).locator('.row.me').getByText(SENT).waitFor();
    const second = await stored(p, token, 'cur');
    assert.notEqual(second, conversationId);

    await widget(p).getByRole('button', { name: 'Past conversations' }).click();
    const items = widget(p).locator('.list li');
    await items.first().waitFor();
    assert.equal(await items.count(), 2);
    await items.filter({ hasText: 'First conversation' }).locator('button').click();
    await log(p).getByText('First conversation').waitFor();
    assert.equal(await log(p).getByText('Second conversation').count(), 0);

    await p.evaluate(() => (window as any).Charla.setLocale('ar'));
    assert.equal(await widget(p).locator('.w').getAttribute('dir'), 'rtl');
    assert.equal(await log(p).locator('.bub').first().getAttribute('dir'), 'auto');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('a channel that requires identity verifies the email with a code', async () => {
    const smtp = await startSmtp();
    try {
      await t.charla.ctx.db.query(
        "INSERT INTO location_smtp (location_id, host, port, from_address) VALUES ($1, '127.0.0.1', $2, 'Shop <shop@x.test>') ON CONFLICT (location_id) DO UPDATE SET port = EXCLUDED.port",
        [t.a.locationId, smtp.port],
      );
      const token = await channel({ identityRequired: true });
      site.pages.set('/otp', { body: html('', snippet(t.url, token)) });
      const context = await browser.newContext();
      const p = await context.newPage();
      await p.goto(`${site.url}/otp`);
      await launcher(p).click();
      const form = widget(p).locator('form.form');
      await form.locator('#cf-email').fill('lia@shop.example');
      await form.locator('button[type=submit]').click();
      await widget(p).getByText('We sent a code to lia@shop.example. Enter it to continue.').waitFor();
      const mail = await waitFor('the code mail', () =>
        smtp.received.find((m) => m.envelope.to.includes('lia@shop.example')),
      );
      const code = /\b(\d{6})\b/.exec(mail.mail.text ?? '')![1]!;
      await widget(p)
        .locator('#cf-otp')
        .fill(code === '000000' ? '111111' : '000000');
      await widget(p).locator('form.form button[type=submit]').click();
      await widget(p).locator('form.form .fe').getByText(/code/i).waitFor();
      await widget(p).locator('#cf-otp').fill(code);
      await widget(p).locator('form.form button[type=submit]').click();
      await widget(p).locator('textarea').waitFor();
      assert.equal((await stored(p, token, 's')).identityVerified, true);
      await context.close();
    } finally {
      await smtp.close();
    }
  });

  test('a page whose Charla is unreachable still works, with no launcher and no error', async () => {
    site.pages.set('/down', {
      body: html('', `${snippet('http://127.0.0.1:9', 'tok')}<script src="/ok.js"></script>`),
    });
    site.pages.set('/ok.js', { body: 'document.body.dataset.ok = "1";' });
    const context = await browser.newContext();
    const p = await context.newPage();
    const { problems } = watch(p);
    await p.goto(`${site.url}/down`);
    await p.waitForFunction(() => document.body.dataset.ok === '1');
    await p.waitForTimeout(500);
    assert.equal(await widget(p).count(), 0);
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('proactive triggers follow single-page-app routes and their caps', async () => {
    const token = await channel({
      proactiveTriggers: [
        {
          id: 'pricing',
          match: 'all',
          conditions: [{ type: 'url', match: 'glob', pattern: '*/pricing' }],
          action: { type: 'message', message: { en: 'Questions about prices?', es: '¿Dudas?' } },
          frequency: { maxPerVisitor: 1 },
        },
      ],
    });
    site.pages.set('/spa', { body: html('', snippet(t.url, token)) });
    site.pages.set('/pricing', { body: html('', snippet(t.url, token)) });
    const context = await browser.newContext();
    const p = await context.newPage();
    const files = requests(p);
    await p.goto(`${site.url}/spa`);
    await launcher(p).waitFor();
    await p.waitForTimeout(300);
    assert.ok(!files.includes('app.js'), 'no app before a trigger fires');
    await p.evaluate(() => history.pushState({}, '', '/pricing'));
    const teaser = widget(p).locator('.tz');
    await teaser.getByText('Questions about prices?').waitFor();
    await widget(p).locator('.b').getByText('1').waitFor();
    await teaser.click();
    await log(p).getByText('Questions about prices?').waitFor();
    // Capped at once per visitor: a new page on the route does not show it again.
    await p.goto(`${site.url}/pricing`);
    await launcher(p).waitFor();
    await p.waitForTimeout(500);
    assert.equal(await widget(p).locator('.tz').count(), 0);
    await context.close();
  });

  test('offline channels show the offline form with the next opening time', async () => {
    // Open only on the day after tomorrow: closed now, and the next opening is known.
    const days = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
    const later = days[(new Date().getUTCDay() + 2) % 7]!;
    const token = await channel({
      offlineMessage: 'We are closed',
      operatingHours: {
        enabled: true,
        timezone: 'Europe/Madrid',
        days: { [later]: [{ open: '09:00', close: '17:00' }] },
      },
      offlineAction: { type: 'OFFLINE_FORM' },
      prechatFields: [{ id: 'name', type: 'text', label: 'Name', required: true }],
    });
    site.pages.set('/closed', { body: html('', snippet(t.url, token)) });
    const context = await browser.newContext();
    const p = await context.newPage();
    await p.goto(`${site.url}/closed`);
    await launcher(p).click();
    const form = widget(p).locator('form.form');
    await form.getByText('We are closed').waitFor();
    const next = (await form.getByText(/^We open again/).textContent())!;
    assert.match(next, new RegExp(later, 'i'), next);
    await form.locator('#cf-name').fill('Bo');
    await form.locator('#cf-email').fill('bo@example.com');
    await form.locator('#cf-msg').fill('Please call me');
    await form.locator('button[type=submit]').click();
    await widget(p).getByText('Thank you! We will get back to you.').waitFor();
    await context.close();

    const hidden = await channel({
      operatingHours: { enabled: true, timezone: 'UTC', days: {} },
      offlineAction: { type: 'HIDE_LAUNCHER' },
    });
    site.pages.set('/hidden', { body: html('', snippet(t.url, hidden)) });
    const c2 = await browser.newContext();
    const p2 = await c2.newPage();
    const config = p2.waitForResponse((r) => r.url().includes('/config'));
    await p2.goto(`${site.url}/hidden`);
    await config;
    await p2.waitForTimeout(200);
    assert.equal(await widget(p2).count(), 0);
    await c2.close();
  });

  test('no XSS payload runs, in any text the widget shows', async () => {
    const X = [
      '<img src=x onerror=__xss()>',
      '<script>__xss()</script>',
      '"><svg onload=__xss()>',
      'javascript:__xss()',
      '<a href="javascript:__xss()">click</a>',
      '<iframe srcdoc="<script>parent.__xss()</script>">',
      '{{constructor.constructor("__xss()")()}}',
      '<style>@import "javascript:__xss()"</style>',
    ];
    const all = X.join(' ');
    const token = await channel(
      {
        heading: X[0],
        liveChatIntroMsg: all,
        offlineMessage: X[2],
        prechatFields: [
          { id: 'name', type: 'text', label: X[0], placeholder: X[2], required: true },
          { id: 'topic', type: 'select', label: { en: X[1] }, options: [{ value: 'a', label: X[0] }] },
          { id: 'ok', type: 'checkbox', label: X[2] },
        ],
        departments: [
          { id: 'd1', name: X[0] },
          { id: 'd2', name: X[1] },
        ],
      },
      X[0],
    );
    // No CSP here: an injected script would run.
    site.pages.set('/xss', {
      body: html(
        '<script>window.__xss=function(){window.__ran=(window.__ran||0)+1}</script>',
        snippet(t.url, token),
      ),
    });
    const context = await browser.newContext();
    const p = await context.newPage();
    const { problems } = watch(p);
    await p.goto(`${site.url}/xss`);
    await launcher(p).click();
    const form = widget(p).locator('form.form');
    await form.waitFor();
    assert.match((await form.textContent())!, /<img src=x onerror=__xss\(\)>/);
    await form.locator('#cf-name').fill(X[0]!);
    await form.locator('#cf-dept').selectOption('d1');
    await form.locator('button[type=submit]').click();
    const input = widget(p).locator('textarea');
    await input.waitFor();
    await input.fill(all);
    await input.press('Enter');
    await log(p).locator('.row.me').getByText(SENT).waitFor();
    await widget(p)
      .locator('input[type=file]')
      .setInputFiles({ name: `${X[0]}.png`, mimeType: 'image/png', buffer: PNG });
    await log(p).locator('.row.me img').waitFor();

    const session = await stored(p, token, 's');
    const ag = agent();
    for (const x of X) assert.equal((await ag.send(session.contactId, x)).status, 200);
    const media = `${t.url}/media/x/y/${encodeURIComponent(X[0]!)}.png`;
    await ag.send(session.contactId, 'file', { attachments: ['javascript:__xss()', media] });
    await log(p)
      .getByText(X[X.length - 1]!, { exact: true })
      .waitFor();
    await log(p).getByText('file', { exact: true }).waitFor();
    // Payloads as attachment names, types and quotes; an image at a javascript: URL.
    const conversationId = await stored(p, token, 'cur');
    const quotedId = await log(p).locator('.row.me').first().getAttribute('data-id');
    for (const [url, kind] of [
      ['javascript:__xss()', 'image'],
      [media, 'document'],
    ] as const)
      await appendMessage(t.charla.ctx.db, {
        locationId: t.a.locationId,
        conversationId,
        type: 'TYPE_LIVE_CHAT',
        direction: 'outbound',
        status: 'sent',
        body: `as ${kind}`,
        attachments: [url],
        replyToId: quotedId,
        meta: { mediaType: kind, filename: X[0], mimeType: X[1] },
      });
    const asDoc = log(p).locator('.row.them', { hasText: 'as document' });
    await asDoc.waitFor();
    assert.equal(await asDoc.locator('a.file').textContent(), X[0]);
    assert.equal(await asDoc.locator('.q').textContent(), all);
    assert.equal(await log(p).locator('.row.them', { hasText: 'as image' }).locator('img').count(), 0);
    await p.waitForTimeout(500);

    for (const href of await log(p)
      .locator('a')
      .evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? '')))
      assert.match(href, /^(https?:|mailto:|tel:|$)/, href);
    assert.equal(await p.evaluate(() => (window as any).__ran ?? 0), 0, 'an XSS payload ran');
    assert.equal(await widget(p).locator('script, iframe, svg[onload], img[onerror]').count(), 0);
    assert.deepEqual(problems, []);
    await context.close();
  });
});
