// One conversation: its history (paged), live messages and receipts, the actions on it, and the
// composer (reply, note, emoji, attachments, quote, typing).
import type { WireMessage } from '@charla/protocol';
import { api } from './api.js';
import { $, clear, h, link, safeUrl } from './dom.js';
import { t, time } from './i18n.js';
import { redraw, upsert } from './list.js';
import { agentName, type Conv, emit, type Msg, S } from './state.js';

let root: HTMLElement;
let head: HTMLElement;
let msgsEl: HTMLElement;
let typingEl: HTMLElement;
let composer: HTMLElement;
let conv: Conv | undefined;
let messages: Msg[] = [];
let olderExists = false;
let mode: 'reply' | 'note' = 'reply';
let quote: Msg | undefined;
let pending: { name: string; url: string }[] = [];
let generation = 0;

export const currentConversation = () => conv;

export function threadView(): HTMLElement {
  head = h('header', 'thread-head');
  msgsEl = h('div', { class: 'messages', attrs: { role: 'log', 'aria-live': 'polite' } });
  typingEl = h('div', { class: 'typing-line', attrs: { 'aria-live': 'polite' } });
  composer = h('div', 'composer');
  root = h(
    'section',
    { class: 'thread', attrs: { 'aria-label': t('reply') } },
    head,
    msgsEl,
    typingEl,
    composer,
  );
  empty();
  return root;
}

function empty(): void {
  clear(head);
  clear(msgsEl, h('p', 'placeholder', t('pick')));
  clear(composer);
}

const wireToMsg = (m: WireMessage): Msg => ({
  id: m.id,
  messageType: m.type,
  body: m.body,
  direction: m.direction,
  status: m.status,
  dateAdded: m.createdAt,
  userId: m.userId,
  attachments: m.attachments,
  seq: m.seq,
});

export async function openConversation(id: string): Promise<void> {
  const gen = ++generation;
  S.current = id;
  quote = undefined;
  pending = [];
  const [c, page] = await Promise.all([
    api<Conv & { type: number }>('GET', `/conversations/${id}`),
    api<{ messages: { messages: Msg[]; nextPage: boolean } }>(
      'GET',
      `/conversations/${id}/messages?limit=30`,
    ),
  ]);
  if (gen !== generation) return;
  const listed = S.list.find((x) => x.id === id);
  conv = {
    ...(listed ?? {}),
    ...c,
    fullName: listed?.fullName ?? '',
    email: listed?.email ?? '',
    phone: listed?.phone ?? '',
  } as Conv;
  if (!listed) {
    const contact = await api<{ contact: { name?: string; email?: string; phone?: string } }>(
      'GET',
      `/contacts/${c.contactId}`,
    ).catch(() => undefined);
    if (gen !== generation) return;
    conv.fullName = contact?.contact.name ?? '';
    conv.email = contact?.contact.email ?? '';
  }
  messages = page.messages.messages.slice().reverse();
  olderExists = page.messages.nextPage;
  renderHead();
  renderMessages(true);
  renderComposer();
  // A visitor already typing when the conversation opens shows as typing at once.
  renderTyping();
  markRead();
  emit('conv', conv);
}

/**
 * Tells the hub the agent read the conversation (the visitor gets a receipt), and clears the
 * badge; only when there is something unread, or a message just came in.
 */
export function markRead(force = false): void {
  if (!conv || document.visibilityState !== 'visible') return;
  const listed = S.list.find((x) => x.id === conv!.id);
  if (!force && !conv.unreadCount && !listed?.unreadCount) return;
  conv.unreadCount = 0;
  S.live?.send({ type: 'read', conversationId: conv.id });
  if (listed?.unreadCount) {
    listed.unreadCount = 0;
    redraw(listed.id);
  }
}

async function loadOlder(): Promise<void> {
  if (!conv || !olderExists || !messages[0]) return;
  const gen = generation;
  const page = await api<{ messages: { messages: Msg[]; nextPage: boolean } }>(
    'GET',
    `/conversations/${conv.id}/messages?limit=30&lastMessageId=${encodeURIComponent(messages[0].id)}`,
  );
  if (gen !== generation) return;
  const before = msgsEl.scrollHeight - msgsEl.scrollTop;
  messages = [...page.messages.messages.slice().reverse(), ...messages];
  olderExists = page.messages.nextPage;
  renderMessages(false);
  msgsEl.scrollTop = msgsEl.scrollHeight - before;
}

/** A live message frame for the open conversation. */
export function onMessage(m: WireMessage, event: 'created' | 'updated'): void {
  if (!conv || m.conversationId !== conv.id) return;
  const msg = wireToMsg(m);
  const i = messages.findIndex((x) => x.id === m.id);
  if (i >= 0) messages[i] = { ...messages[i]!, ...msg };
  else if (event === 'created') messages.push(msg);
  else return;
  messages.sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0) || Date.parse(a.dateAdded) - Date.parse(b.dateAdded));
  if (m.direction === 'inbound') {
    S.typing.delete(conv.id);
    renderTyping();
    if (event === 'created') markRead(true);
  }
  const atBottom = msgsEl.scrollHeight - msgsEl.scrollTop - msgsEl.clientHeight < 80;
  renderMessages(atBottom || m.direction === 'outbound');
}

/** The conversation changed elsewhere (another agent, an integration): re-read it. */
export async function onConversationChanged(id: string): Promise<void> {
  if (!conv || conv.id !== id) return;
  const c = await api<Conv>('GET', `/conversations/${id}`);
  if (!conv || conv.id !== id) return;
  Object.assign(conv, c);
  renderHead();
  renderComposer();
}

export function renderTyping(): void {
  if (!typingEl) return;
  const on = conv && (S.typing.get(conv.id) ?? 0) > Date.now();
  typingEl.textContent = on ? `${conv!.fullName || t('visitor')} ${t('typing')}` : '';
}

function statusText(s: string): string {
  return s === 'read'
    ? t('read')
    : s === 'delivered'
      ? t('delivered')
      : s === 'failed'
        ? t('failedStatus')
        : t('sent');
}

const IMAGE = /\.(png|jpe?g|gif|webp)(\?|$)/i;

function bubble(m: Msg): HTMLElement {
  const note = m.messageType === 'TYPE_INTERNAL_COMMENT';
  const cls = note ? 'msg note' : m.direction === 'inbound' ? 'msg in' : 'msg out';
  const who = m.direction === 'inbound' ? conv?.fullName || t('visitor') : agentName(m.userId) || 'Charla';
  return h(
    'article',
    { class: cls, attrs: { 'data-id': m.id } },
    h(
      'div',
      'meta',
      note ? h('strong', null, `${t('noteLabel')} · `) : null,
      h('span', 'who', who),
      ' · ',
      h('time', null, time(Date.parse(m.dateAdded))),
      m.direction === 'outbound' && !note
        ? h('span', `status ${m.status}`, ` · ${statusText(m.status)}`)
        : null,
    ),
    m.body ? h('div', 'body', m.body) : null,
    ...m.attachments.map((url) => {
      const own = safeUrl(url);
      if (own && IMAGE.test(own.pathname)) {
        const img = h('img', { attrs: { alt: '', loading: 'lazy' } });
        img.src = own.href;
        return h('div', 'attachment', img);
      }
      return h('div', 'attachment', link(url, decodeURIComponent(url.split('/').pop() ?? url)));
    }),
    note
      ? null
      : h(
          'button',
          {
            class: 'quote-btn',
            title: t('quote'),
            on: {
              click: () => {
                quote = m;
                renderComposer();
                $<HTMLTextAreaElement>('#reply')?.focus();
              },
            },
          },
          '❝',
        ),
  );
}

function renderMessages(scrollToEnd: boolean): void {
  clear(
    msgsEl,
    olderExists
      ? h('button', { class: 'older', on: { click: () => void loadOlder() } }, t('olderMessages'))
      : null,
    ...messages.map(bubble),
  );
  if (scrollToEnd) msgsEl.scrollTop = msgsEl.scrollHeight;
}

/** Applies a change through PUT /conversations/:id and shows the result everywhere. */
interface Change {
  assignedTo?: string | null;
  departmentId?: string | null;
  starred?: boolean;
  status?: 'open' | 'closed';
  tags?: string[];
  followers?: string[];
}

export async function update(change: Change): Promise<void> {
  if (!conv) return;
  const res = await api<{ conversation: Conv }>('PUT', `/conversations/${conv.id}`, {
    locationId: conv.locationId,
    ...change,
  });
  Object.assign(conv, res.conversation);
  if (res.conversation.assignedTo === undefined) conv.assignedTo = undefined;
  if (res.conversation.departmentId === undefined) conv.departmentId = undefined;
  const listed = S.list.find((x) => x.id === conv!.id);
  if (listed) {
    Object.assign(listed, {
      starred: conv.starred,
      tags: conv.tags,
      followers: conv.followers,
      assignedTo: conv.assignedTo,
      departmentId: conv.departmentId,
      status: conv.status,
    });
    upsert(listed);
  }
  renderHead();
  renderComposer();
}

export const actions = {
  assignMe: () => update({ assignedTo: S.me.id }),
  toggleStar: () => conv && update({ starred: !conv.starred }),
  toggleClosed: () => conv && update({ status: conv.status === 'open' ? 'closed' : 'open' }),
  toggleFollow: () =>
    conv &&
    update({
      followers: conv.followers.includes(S.me.id)
        ? conv.followers.filter((f) => f !== S.me.id)
        : [...conv.followers, S.me.id],
    }),
  focusReply: (as: 'reply' | 'note') => {
    if (!conv) return;
    mode = as;
    renderComposer();
    $<HTMLTextAreaElement>('#reply')?.focus();
  },
};

let headPending = false;

/** Redraws the header; not while the agent types in one of its fields (then on leaving it). */
export function renderHead(): void {
  if (!conv) return;
  const active = document.activeElement;
  if (active instanceof HTMLInputElement && head.contains(active)) {
    if (!headPending) {
      headPending = true;
      active.addEventListener('blur', () => setTimeout(renderHead), { once: true });
    }
    return;
  }
  headPending = false;
  const c = conv;
  const assign = h(
    'select',
    {
      attrs: { 'aria-label': t('assignTo'), id: 'assign' },
      on: { change: () => void update({ assignedTo: assign.value || null }).catch(showError) },
    },
    h('option', { attrs: { value: '' } }, t('nobody')),
    ...[...S.agents.values()].map((a) => {
      const presence = a.presence ? ` · ${t(a.presence)}` : '';
      const o = h(
        'option',
        { attrs: { value: a.id } },
        (a.id === S.me.id ? `${a.name} (${t('me')})` : a.name) + presence,
      );
      o.selected = a.id === c.assignedTo;
      return o;
    }),
  );
  const departments = new Map(S.departments);
  if (c.departmentId && !departments.has(c.departmentId)) departments.set(c.departmentId, c.departmentId);
  const department = h(
    'select',
    {
      attrs: { 'aria-label': t('department'), id: 'department' },
      on: { change: () => void update({ departmentId: department.value || null }).catch(showError) },
    },
    h('option', { attrs: { value: '' } }, '—'),
    ...[...departments].map(([id, name]) => {
      const o = h('option', { attrs: { value: id } }, name);
      o.selected = id === c.departmentId;
      return o;
    }),
  );
  const following = c.followers.includes(S.me.id);
  const btn = (label: string, action: () => unknown, id: string, pressed?: boolean) =>
    h(
      'button',
      {
        attrs: { id, ...(pressed === undefined ? {} : { 'aria-pressed': String(pressed) }) },
        on: { click: () => void Promise.resolve(action()).catch(showError) },
      },
      label,
    );
  const tags = h('input', {
    attrs: {
      type: 'text',
      'aria-label': t('tags'),
      placeholder: `${t('tags')} (${t('tagsHint')})`,
      id: 'tags',
    },
    on: {
      change: () =>
        void update({
          tags: tags.value
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        }).catch(showError),
    },
  });
  tags.value = c.tags.join(', ');
  clear(
    head,
    h(
      'button',
      {
        class: 'back',
        title: t('back'),
        attrs: { 'aria-label': t('back') },
        on: { click: () => emit('back') },
      },
      '‹',
    ),
    h(
      'div',
      'title',
      h('h2', null, c.fullName || c.email || t('visitor')),
      h('span', `pill ${c.status}`, c.status === 'open' ? t('open') : t('closed')),
      h(
        'span',
        'pill',
        t(
          (c.channel as 'live_chat') in { live_chat: 1, default: 1, review: 1 }
            ? (c.channel as 'live_chat')
            : 'default',
        ),
      ),
    ),
    h(
      'div',
      'actions',
      h('label', null, `${t('assignTo')} `, assign),
      c.assignedTo === S.me.id ? null : btn(t('assignMe'), actions.assignMe, 'assign-me'),
      departments.size ? h('label', null, `${t('department')} `, department) : null,
      btn(c.starred ? `★ ${t('unstar')}` : `☆ ${t('star')}`, actions.toggleStar, 'star', c.starred),
      btn(following ? t('unfollow') : t('follow'), actions.toggleFollow, 'follow', following),
      btn(c.status === 'open' ? t('close') : t('reopen'), actions.toggleClosed, 'close'),
      tags,
      h(
        'button',
        {
          class: 'details-btn',
          attrs: { 'aria-label': t('details') },
          on: { click: () => root.dispatchEvent(new Event('details', { bubbles: true })) },
        },
        'ⓘ',
      ),
    ),
  );
}

const EMOJI = [
  '😀',
  '😂',
  '😊',
  '😍',
  '🙏',
  '👍',
  '👋',
  '🎉',
  '❤️',
  '🙂',
  '😉',
  '😅',
  '🤔',
  '😢',
  '👌',
  '✅',
  '🚀',
  '💡',
  '📦',
  '⏰',
];

let typingSent = 0;
let typingTimer = 0;
function typing(on: boolean): void {
  if (!conv || mode === 'note') return;
  clearTimeout(typingTimer);
  if (on) {
    // The hub passes a repeated state at most every 2 s: repeat a little slower than that.
    if (Date.now() - typingSent > 3000) {
      S.live?.send({ type: 'typing', conversationId: conv.id, isTyping: true });
      typingSent = Date.now();
    }
    typingTimer = window.setTimeout(() => typing(false), 4000);
  } else if (typingSent) {
    S.live?.send({ type: 'typing', conversationId: conv.id, isTyping: false });
    typingSent = 0;
  }
}

function sendType(c: Conv): string {
  if (c.channel === 'live_chat') return 'Live_Chat';
  const byLast: Record<string, string> = {
    TYPE_SMS: 'SMS',
    TYPE_EMAIL: 'Email',
    TYPE_WHATSAPP: 'WhatsApp',
    TYPE_FACEBOOK: 'FB',
    TYPE_INSTAGRAM: 'IG',
  };
  return byLast[c.lastMessageType ?? ''] ?? 'Live_Chat';
}

let errorEl: HTMLElement | undefined;
export function showError(err: unknown): void {
  if (errorEl) errorEl.textContent = err instanceof Error ? err.message : t('failed');
}

async function submit(text: HTMLTextAreaElement): Promise<void> {
  if (!conv) return;
  const body = text.value.trim();
  if (!body && pending.length === 0) return;
  const c = conv;
  text.disabled = true;
  try {
    if (mode === 'note') {
      const res = await api<{ message: Msg }>('POST', `/inbox/api/conversations/${c.id}/notes`, { body });
      if (!messages.some((m) => m.id === res.message.id)) messages.push(res.message);
    } else {
      const quoted = quote?.body
        ? `${quote.body
            .split('\n')
            .slice(0, 4)
            .map((l) => `> ${l}`)
            .join('\n')}\n\n`
        : '';
      const message = quoted + body;
      const res =
        c.channel === 'review'
          ? await api<{ messageId: string }>('POST', '/conversations/messages/review-reply', {
              conversationId: c.id,
              locationId: c.locationId,
              message,
            })
          : await api<{ messageId: string }>('POST', '/conversations/messages', {
              type: sendType(c),
              contactId: c.contactId,
              message: message || undefined,
              attachments: pending.length ? pending.map((p) => p.url) : undefined,
              userId: S.me.id,
            });
      if (!messages.some((m) => m.id === res.messageId)) {
        messages.push({
          id: res.messageId,
          messageType: c.channel === 'live_chat' ? 'TYPE_LIVE_CHAT' : '',
          body: message,
          direction: 'outbound',
          status: 'sent',
          dateAdded: new Date().toISOString(),
          userId: S.me.id,
          attachments: pending.map((p) => p.url),
          seq: Number.MAX_SAFE_INTEGER,
        });
      }
      typing(false);
    }
    text.value = '';
    quote = undefined;
    pending = [];
    renderMessages(true);
    renderComposer();
    $<HTMLTextAreaElement>('#reply')?.focus();
  } catch (err) {
    showError(err);
  } finally {
    text.disabled = false;
  }
}

async function upload(files: FileList): Promise<void> {
  if (!conv) return;
  const form = new FormData();
  form.append('conversationId', conv.id);
  form.append('contactId', conv.contactId);
  form.append('locationId', conv.locationId);
  for (const f of files) form.append('fileAttachment', f, f.name);
  const res = await api<{ uploadedFiles: Record<string, string> }>(
    'POST',
    '/conversations/messages/upload',
    form,
  );
  for (const [name, url] of Object.entries(res.uploadedFiles)) pending.push({ name, url });
  renderComposer();
}

function renderComposer(): void {
  if (!conv) return;
  const previous = $<HTMLTextAreaElement>('#reply', composer);
  const draft = previous?.value ?? '';
  const focused = previous !== null && document.activeElement === previous;
  const text = h('textarea', {
    attrs: {
      id: 'reply',
      rows: 3,
      placeholder: mode === 'note' ? t('notePlaceholder') : t('replyPlaceholder'),
      'aria-label': mode === 'note' ? t('note') : t('reply'),
    },
    on: {
      keydown: (e) => {
        const k = e as KeyboardEvent;
        if (k.key === 'Enter' && !k.shiftKey && !k.isComposing) {
          e.preventDefault();
          void submit(text);
        } else if (k.key === 'Escape') text.blur();
      },
      input: () => typing(text.value.trim() !== ''),
    },
  });
  text.value = draft;
  const file = h('input', {
    attrs: { type: 'file', multiple: true, hidden: true, id: 'file' },
    on: { change: () => file.files && void upload(file.files).catch(showError) },
  });
  const emojiBox = h(
    'div',
    { class: 'emoji-box', attrs: { hidden: true, role: 'menu' } },
    ...EMOJI.map((e) =>
      h(
        'button',
        {
          attrs: { type: 'button', role: 'menuitem' },
          on: {
            click: () => {
              const at = text.selectionStart ?? text.value.length;
              text.value = text.value.slice(0, at) + e + text.value.slice(text.selectionEnd ?? at);
              emojiBox.hidden = true;
              text.focus();
            },
          },
        },
        e,
      ),
    ),
  );
  const tab = (m: 'reply' | 'note') =>
    h(
      'button',
      {
        class: mode === m ? 'on' : '',
        attrs: { role: 'tab', 'aria-selected': String(mode === m), id: `mode-${m}` },
        on: { click: () => actions.focusReply(m) },
      },
      m === 'note' ? t('note') : t('reply'),
    );
  errorEl = h('p', { class: 'error', attrs: { role: 'alert' } });
  clear(
    composer,
    conv.status === 'closed' ? h('p', 'closed-note', t('conversationClosed')) : null,
    h('div', { class: 'tabs', attrs: { role: 'tablist' } }, tab('reply'), tab('note')),
    quote
      ? h(
          'div',
          'quoted',
          h('span', null, quote.body ?? ''),
          h(
            'button',
            {
              on: {
                click: () => {
                  quote = undefined;
                  renderComposer();
                },
              },
            },
            t('cancel'),
          ),
        )
      : null,
    pending.length ? h('div', 'pending', ...pending.map((p) => h('span', 'chip', p.name))) : null,
    text,
    h(
      'div',
      'tools',
      mode === 'reply'
        ? h(
            'button',
            {
              attrs: { type: 'button', 'aria-label': t('emoji') },
              on: { click: () => (emojiBox.hidden = !emojiBox.hidden) },
            },
            '😊',
          )
        : null,
      mode === 'reply'
        ? h(
            'button',
            { attrs: { type: 'button', 'aria-label': t('attach') }, on: { click: () => file.click() } },
            '📎',
          )
        : null,
      file,
      h(
        'button',
        { class: 'primary', attrs: { type: 'button', id: 'send' }, on: { click: () => void submit(text) } },
        mode === 'note' ? t('addNote') : t('send'),
      ),
    ),
    emojiBox,
    errorEl,
  );
  composer.classList.toggle('note-mode', mode === 'note');
  if (focused && previous) {
    text.focus();
    text.setSelectionRange(previous.selectionStart, previous.selectionEnd);
  }
}

export function closeThread(): void {
  generation++;
  conv = undefined;
  S.current = undefined;
  messages = [];
  empty();
}
