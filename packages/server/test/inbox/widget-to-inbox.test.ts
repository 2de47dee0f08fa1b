// End to end in one Chromium with two pages: an agent signed in to the inbox, and a visitor on a
// host site of another origin with the widget snippet. The visitor fills the pre-chat form and
// writes; the conversation appears in the agent's list live; the visitor's typing shows in the
// inbox; the agent opens it, replies (the visitor sees the agent typing, then the reply), assigns
// it to themself, closes it (the widget shows it ended) and reopens it (the widget no longer does).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { createWidget } from '../../src/core/widgets/service.js';
import { startTestCharla, type TestCharla } from '../support/charla.js';
import {
  type HostSite,
  hostSite,
  page as html,
  launch,
  skipBrowser,
  snippet,
  stored,
  watch,
} from '../widget/support.js';
import { ensureInboxBuilt } from './build.js';
import { agent, PASSWORD } from './support.js';

let t: TestCharla;
let site: HostSite;
let browser: Browser | undefined;

before(async () => {
  await ensureInboxBuilt();
  t = await startTestCharla();
  site = await hostSite();
  if (!skipBrowser) browser = await launch();
});
after(async () => {
  await browser?.close();
  await site?.close();
  await t?.close();
});

/** A visitor's message the server took (live-chat messages from visitors are stored delivered). */
const SENT = /^(Sent|Delivered)$/;
const widget = (p: Page) => p.locator('#charla-widget');
const log = (p: Page) => widget(p).locator('.log');

/** One row of the conversation, as the database has it. */
async function conversationRow(id: string) {
  const { rows } = await t.charla.ctx.db.query<{
    status: string;
    assigned_to: string | null;
    chat_widget_id: string | null;
    channel: string;
  }>('SELECT status, assigned_to, chat_widget_id, channel FROM conversations WHERE id = $1', [id]);
  assert.equal(rows.length, 1, `conversation ${id} is stored`);
  return rows[0]!;
}

/** Waits until the stored conversation passes `check`. */
async function untilStored(
  id: string,
  check: (c: Awaited<ReturnType<typeof conversationRow>>) => boolean,
  what: string,
) {
  let last: unknown;
  for (let i = 0; i < 100; i++) {
    const c = await conversationRow(id);
    if (check(c)) return c;
    last = c;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
}

async function messageRows(conversationId: string) {
  const { rows } = await t.charla.ctx.db.query<{
    direction: string;
    type: string;
    body: string;
    user_id: string | null;
    chat_widget_id: string | null;
  }>(
    'SELECT direction, type, body, user_id, chat_widget_id FROM messages WHERE conversation_id = $1 ORDER BY seq',
    [conversationId],
  );
  return rows;
}

/** A live-chat channel that asks for a name and an email before the chat, on a host page. */
async function shopChannel(path: string) {
  const channel = await createWidget(t.charla.ctx.db, 'test', {
    locationId: t.a.locationId,
    name: 'Shop chat',
    chatType: 'liveChat',
    settings: {
      liveChatIntroMsg: 'Hi! How can we help?',
      prechatFields: [
        { id: 'name', type: 'text', label: { en: 'Your name' }, required: true },
        { id: 'email', type: 'email', label: { en: 'Email' }, required: true },
      ],
    },
  });
  site.pages.set(path, { body: html('', snippet(t.url, channel.publicToken)) });
  return { id: channel.id, token: channel.publicToken };
}

/** Signs the agent in to the inbox and waits for its socket. */
async function signIn(inbox: Page, email: string) {
  await inbox.goto(`${t.url}/inbox`);
  await inbox.fill('#email', email);
  await inbox.fill('#password', PASSWORD);
  await inbox.click('#sign-in');
  await inbox.waitForSelector('.list .tabs');
  await inbox.waitForFunction(() => document.querySelector('#conn')?.textContent === '');
}

/** The visitor opens the widget on the host page, fills the pre-chat form and sends `text`. */
async function visitorWrites(visitor: Page, url: string, name: string, email: string, text: string) {
  await visitor.goto(url);
  const launcher = widget(visitor).locator('button.l');
  await launcher.waitFor();
  await launcher.click();
  const form = widget(visitor).locator('form.form');
  await form.waitFor();
  await form.locator('#cf-name').fill(name);
  await form.locator('#cf-email').fill(email);
  await form.locator('button[type=submit]').click();
  const input = widget(visitor).locator('textarea');
  await input.waitFor();
  await log(visitor).getByText('Hi! How can we help?').waitFor();
  await input.fill(text);
  await input.press('Enter');
  await log(visitor).locator('.row.me', { hasText: text }).getByText(SENT).waitFor();
  return input;
}

describe('from the widget to the inbox and back (browser)', { skip: skipBrowser }, () => {
  test('a visitor chats from a host page; the agent gets it live, replies, assigns, closes and reopens', async () => {
    const channel = await shopChannel('/shop');
    const token = channel.token;
    // A fresh agent: sign-ins are rate limited per email.
    const me = await agent(t, [t.a.locationId], 'Iris Inbox');

    const context = await browser!.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    try {
      // Page 1: the agent signs in, and the inbox's socket is up.
      const inbox = await context.newPage();
      const inboxErrors: string[] = [];
      inbox.on('pageerror', (e) => inboxErrors.push(String(e)));
      await signIn(inbox, me.email);
      // A mark that a reload would wipe: everything below must arrive live.
      await inbox.evaluate(() => {
        (window as any).__noReload = true;
      });
      assert.equal(await inbox.locator('.conv').count(), 0, 'no conversation yet');

      // Page 2: the visitor on the host site (another origin) opens the widget and fills the form.
      const visitor = await context.newPage();
      const { problems } = watch(visitor);
      assert.notEqual(new URL(site.url).origin, new URL(t.url).origin);
      const input = await visitorWrites(
        visitor,
        `${site.url}/shop`,
        'Vera Visitor',
        'vera@shop.example',
        'Hello, where is my order #1234?',
      );
      const conversationId: string = await stored(visitor, token, 'cur');
      assert.ok(conversationId, 'the widget knows its conversation');

      // The agent's list shows it without a reload: the visitor's name and the message.
      const row = inbox.locator(`.conv[data-id="${conversationId}"]`);
      await row.waitFor();
      await row.locator('.name', { hasText: 'Vera Visitor' }).waitFor();
      await row.locator('.preview', { hasText: 'Hello, where is my order #1234?' }).waitFor();
      assert.equal(await inbox.evaluate(() => (window as any).__noReload), true, 'the inbox did not reload');

      // Stored: a live-chat conversation of this channel, open, with the visitor's message.
      const stored1 = await conversationRow(conversationId);
      assert.equal(stored1.status, 'open');
      assert.equal(stored1.channel, 'live_chat');
      assert.equal(stored1.chat_widget_id, channel.id);
      const first = await messageRows(conversationId);
      const inbound = first.filter((m) => m.direction === 'inbound');
      assert.deepEqual(
        inbound.map((m) => m.body),
        ['Hello, where is my order #1234?'],
      );
      assert.equal(inbound[0]!.type, 'TYPE_LIVE_CHAT');

      // The visitor types: the row says so; when they stop (the widget says so after 4 s), it goes.
      await input.pressSequentially('Also', { delay: 20 });
      await row.locator('.preview.typing', { hasText: 'typing' }).waitFor();
      await input.fill('');
      await row.locator('.preview.typing').waitFor({ state: 'detached' });
      await row.locator('.preview', { hasText: 'where is my order' }).waitFor();

      // The agent opens it: the message; the visitor types again and the thread says so.
      await row.click();
      await inbox.locator('.msg.in .body', { hasText: 'where is my order #1234?' }).waitFor();
      await inbox.locator('.thread-head h2', { hasText: 'Vera Visitor' }).waitFor();
      await input.pressSequentially('One more thing', { delay: 20 });
      await inbox.locator('.typing-line', { hasText: 'Vera Visitor typing…' }).waitFor();
      await row.locator('.preview.typing', { hasText: 'typing' }).waitFor();
      await input.fill('');

      // The agent types (the visitor sees it), then replies; the visitor sees the reply live.
      await inbox.click('#reply');
      await inbox.keyboard.type('It ships ');
      await widget(visitor).locator('.ty').getByText('Typing…').waitFor();
      await inbox.keyboard.type('tomorrow morning.');
      await inbox.keyboard.press('Enter');
      await inbox.locator('.msg.out .body', { hasText: 'It ships tomorrow morning.' }).waitFor();
      await log(visitor).locator('.row.them', { hasText: 'It ships tomorrow morning.' }).waitFor();
      assert.equal(await widget(visitor).locator('.ty').textContent(), '', 'typing ends with the message');
      const second = await messageRows(conversationId);
      const reply = second.find((m) => m.body === 'It ships tomorrow morning.');
      assert.ok(reply, `the reply is stored: ${JSON.stringify(second)}`);
      assert.equal(reply.direction, 'outbound');
      assert.equal(reply.user_id, me.id, 'sent as the signed-in agent');

      // Assign to me.
      await inbox.click('#assign-me');
      await inbox.locator('#assign-me').waitFor({ state: 'detached' });
      assert.equal(await inbox.locator('#assign').inputValue(), me.id);
      await untilStored(conversationId, (c) => c.assigned_to === me.id, 'assigned to the agent');

      // Close: the inbox says closed, and the widget shows the conversation ended.
      await inbox.click('#close');
      await inbox.locator('.pill.closed').waitFor();
      await untilStored(conversationId, (c) => c.status === 'closed', 'closed');
      await log(visitor).locator('.ended').getByText('This conversation has ended.').waitFor();
      assert.equal(await inbox.locator('#close').textContent(), 'Reopen');

      // Reopen: open again on both pages.
      await inbox.click('#close');
      await inbox.locator('.pill.open').waitFor();
      await untilStored(conversationId, (c) => c.status === 'open', 'reopened');
      await log(visitor).locator('.ended').waitFor({ state: 'detached' });
      assert.equal(await inbox.locator('#close').textContent(), 'Close');
      // And still the same conversation for the visitor, with both messages.
      assert.equal(await stored(visitor, token, 'cur'), conversationId);
      await log(visitor).locator('.row.me', { hasText: 'where is my order' }).waitFor();
      await log(visitor).locator('.row.them', { hasText: 'It ships tomorrow morning.' }).waitFor();

      assert.equal(await inbox.evaluate(() => (window as any).__noReload), true, 'the inbox never reloaded');
      assert.deepEqual(problems, []);
      assert.deepEqual(inboxErrors, []);
    } finally {
      await context.close();
    }
  });

  test('an agent who opens a conversation while the visitor is typing sees the typing line', async () => {
    const channel = await shopChannel('/shop-typing');
    const me = await agent(t, [t.a.locationId], 'Tom Typing');
    const context = await browser!.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    try {
      const inbox = await context.newPage();
      await signIn(inbox, me.email);
      const visitor = await context.newPage();
      const input = await visitorWrites(
        visitor,
        `${site.url}/shop-typing`,
        'Tina Typist',
        'tina@shop.example',
        'Is the blue one in stock?',
      );
      const conversationId: string = await stored(visitor, channel.token, 'cur');
      const row = inbox.locator(`.conv[data-id="${conversationId}"]`);
      await row.waitFor();

      // The visitor is typing (and goes on): the row says so, then the agent opens the conversation.
      await input.pressSequentially('Also', { delay: 20 });
      await row.locator('.preview.typing', { hasText: 'typing' }).waitFor();
      await row.click();
      await inbox.locator('.msg.in .body', { hasText: 'blue one in stock' }).waitFor();
      await input.pressSequentially(', in size M', { delay: 20 });
      // The inbox knows (the row still says typing…) but the open thread does not.
      await row.locator('.preview.typing', { hasText: 'typing' }).waitFor({ timeout: 1000 });
      // Well within the widget's 4 s and the inbox's 10 s: the visitor is still typing.
      await inbox.locator('.typing-line', { hasText: 'Tina Typist typing…' }).waitFor({ timeout: 2500 });
    } finally {
      await context.close();
    }
  });
});
