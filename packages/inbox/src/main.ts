// The agent inbox: sign-in, the three panes (list, conversation, details), the live socket,
// notifications and keyboard shortcuts.
import type { PresenceStatus, ServerFrame } from '@charla/protocol';
import { ApiError, api, setCsrf, whenSignedOut } from './api.js';
import { $, clear, h } from './dom.js';
import { lang, setLang, t } from './i18n.js';
import { onMessage as listMessage, listView, loadMore, order, redraw, refreshItem, remove } from './list.js';
import { panelView, showPanel } from './panel.js';
import { Live } from './socket.js';
import { emit, on, S } from './state.js';
import {
  actions,
  closeThread,
  currentConversation,
  markRead,
  onConversationChanged,
  openConversation,
  renderHead,
  renderTyping,
  showError,
  onMessage as threadMessage,
  threadView,
} from './thread.js';

interface Me {
  user: { id: string; name: string; email: string };
  csrfToken: string;
  locations: { id: string; name: string }[];
}

const app = document.getElementById('app')!;

function signIn(problem?: string): void {
  S.live?.stop();
  S.live = undefined;
  const email = h('input', {
    attrs: { type: 'email', name: 'email', autocomplete: 'username', required: true, id: 'email' },
  });
  const password = h('input', {
    attrs: {
      type: 'password',
      name: 'password',
      autocomplete: 'current-password',
      required: true,
      id: 'password',
    },
  });
  const error = h('p', { class: 'error', attrs: { role: 'alert' } }, problem ?? '');
  const form = h(
    'form',
    {
      class: 'login',
      on: {
        submit: async (e) => {
          e.preventDefault();
          error.textContent = '';
          try {
            const me = await api<Me>('POST', '/inbox/api/login', {
              email: email.value,
              password: password.value,
            });
            start(me);
          } catch (err) {
            error.textContent =
              err instanceof ApiError && err.status === 401
                ? t('wrongLogin')
                : err instanceof ApiError && err.status === 429
                  ? t('tooMany')
                  : t('failed');
          }
        },
      },
    },
    h('h1', null, 'Charla'),
    h('label', null, h('span', null, t('email')), email),
    h('label', null, h('span', null, t('password')), password),
    h('button', { class: 'primary', attrs: { type: 'submit', id: 'sign-in' } }, t('signIn')),
    error,
  );
  clear(app, form);
  email.focus();
}

// A short two-tone chime, synthesised: no audio file to download.
let audio: AudioContext | undefined;
function chime(): void {
  try {
    audio ??= new AudioContext();
    const now = audio.currentTime;
    for (const [i, freq] of [660, 880].entries()) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.15, now + i * 0.15);
      gain.gain.exponentialRampToValueAtTime(0.001, now + i * 0.15 + 0.3);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + i * 0.15);
      osc.stop(now + i * 0.15 + 0.3);
    }
  } catch {
    // no audio: the notification is enough
  }
}

function notify(title: string, body: string, conversationId: string): void {
  chime();
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  if (document.visibilityState === 'visible' && S.current === conversationId) return;
  // Notifications render text only.
  const n = new Notification(title, { body: body.slice(0, 140), tag: conversationId });
  n.onclick = () => {
    window.focus();
    emit('open', conversationId);
  };
}

const newConversations = new Set<string>();

function onFrame(f: ServerFrame): void {
  switch (f.type) {
    case 'message': {
      const m = f.message;
      if (m.locationId !== S.loc || f.replay) return;
      listMessage(m, f.event === 'created');
      threadMessage(m, f.event);
      if (f.event === 'created' && m.direction === 'inbound') {
        const fresh = newConversations.delete(m.conversationId);
        const c = S.list.find((x) => x.id === m.conversationId);
        if (fresh || S.current !== m.conversationId || document.visibilityState !== 'visible') {
          notify(
            fresh ? t('newConversation') : `${t('newMessage')} · ${c?.fullName || t('visitor')}`,
            m.body ?? '',
            m.conversationId,
          );
        }
      }
      return;
    }
    case 'conversation':
      if (f.locationId !== S.loc) return;
      if (f.event === 'created') newConversations.add(f.conversationId);
      if (f.event === 'deleted') {
        remove(f.conversationId);
        if (S.current === f.conversationId) closeThread();
        return;
      }
      void refreshItem(f.conversationId).catch(() => {});
      void onConversationChanged(f.conversationId).catch(() => {});
      return;
    case 'typing':
      if (f.from !== 'visitor' || f.locationId !== S.loc) return;
      if (f.isTyping) S.typing.set(f.conversationId, Date.now() + 10_000);
      else S.typing.delete(f.conversationId);
      redraw(f.conversationId);
      renderTyping();
      return;
    case 'read': {
      const c = S.list.find((x) => x.id === f.conversationId);
      if (f.by === 'agent' && c && c.unreadCount) {
        c.unreadCount = 0;
        redraw(c.id);
      }
      return;
    }
    case 'presence':
      if ('agentId' in f) {
        const a = S.agents.get(f.agentId);
        if (a && a.presence !== f.status) {
          a.presence = f.status;
          // Not under the agent's hands: a redraw would take the focus away.
          if (!document.activeElement?.closest('.thread-head')) renderHead();
        }
      }
      return;
  }
}

// Typing indicators lapse after 10 s without a repeat.
setInterval(() => {
  const now = Date.now();
  for (const [id, until] of S.typing) {
    if (until < now) {
      S.typing.delete(id);
      redraw(id);
      renderTyping();
    }
  }
}, 2000);

async function loadAgents(): Promise<void> {
  const res = await api<{ agents: { id: string; name: string; email: string }[] }>(
    'GET',
    `/inbox/api/locations/${S.loc}/agents`,
  );
  S.agents = new Map(res.agents.map((a) => [a.id, { ...a, presence: S.agents.get(a.id)?.presence }]));
}

async function loadDepartments(): Promise<void> {
  const res = await api<{ chatWidgets: { settings?: { departments?: { id: string; name: string }[] } }[] }>(
    'GET',
    `/chat-widget/list?locationId=${encodeURIComponent(S.loc)}&limit=100`,
  );
  S.departments = new Map(
    res.chatWidgets.flatMap((w) => (w.settings?.departments ?? []).map((d) => [d.id, d.name])),
  );
  const list = $('#departments');
  if (list)
    clear(list, ...[...S.departments].map(([id, name]) => h('option', { attrs: { value: id } }, name)));
  renderHead();
}

function topBar(me: Me): HTMLElement {
  const presence = h(
    'select',
    {
      attrs: { 'aria-label': t('online'), id: 'presence' },
      on: {
        change: () => {
          S.presence = presence.value as PresenceStatus;
          S.live?.setStatus(S.presence);
          localStorage.setItem('charla.presence', S.presence);
        },
      },
    },
    ...(['online', 'away'] as const).map((s) => {
      const o = h('option', { attrs: { value: s } }, t(s));
      o.selected = S.presence === s;
      return o;
    }),
  );
  const locations =
    me.locations.length > 1
      ? h(
          'select',
          {
            attrs: { 'aria-label': t('location') },
            on: {
              change: (e) => {
                localStorage.setItem('charla.location', (e.target as HTMLSelectElement).value);
                start(me);
              },
            },
          },
          ...me.locations.map((l) => {
            const o = h('option', { attrs: { value: l.id } }, l.name);
            o.selected = l.id === S.loc;
            return o;
          }),
        )
      : h('span', 'location', me.locations[0]?.name ?? '');
  return h(
    'header',
    'top',
    h('strong', 'brand', 'Charla'),
    locations,
    h('span', { class: 'conn', attrs: { id: 'conn', role: 'status' } }),
    h('span', 'spacer'),
    presence,
    'Notification' in window && Notification.permission === 'default'
      ? h(
          'button',
          {
            attrs: { id: 'notify' },
            on: {
              click: (e) =>
                void Notification.requestPermission().then(() => (e.target as HTMLElement).remove()),
            },
          },
          '🔔',
        )
      : null,
    h(
      'button',
      {
        attrs: { 'aria-label': 'Language / Idioma', id: 'lang' },
        on: {
          click: () => {
            setLang(lang === 'es' ? 'en' : 'es');
            start(me);
          },
        },
      },
      lang === 'es' ? 'EN' : 'ES',
    ),
    h('span', 'me', me.user.name),
    h(
      'button',
      {
        attrs: { id: 'sign-out' },
        on: {
          click: async () => {
            await api('POST', '/inbox/api/logout').catch(() => {});
            signIn();
          },
        },
      },
      t('signOut'),
    ),
  );
}

let layout: HTMLElement | undefined;
function showPane(pane: 'list' | 'thread' | 'panel'): void {
  layout?.setAttribute('data-pane', pane);
}

function start(me: Me): void {
  S.live?.stop();
  setCsrf(me.csrfToken);
  S.me = me.user;
  S.locations = me.locations;
  const saved = localStorage.getItem('charla.location');
  S.loc = me.locations.find((l) => l.id === saved)?.id ?? me.locations[0]?.id ?? '';
  S.presence = localStorage.getItem('charla.presence') === 'away' ? 'away' : 'online';
  S.current = undefined;
  const thread = threadView();
  const panel = panelView();
  layout = h('div', { class: 'layout', attrs: { 'data-pane': 'list' } }, listView(), thread, panel);
  thread.addEventListener('details', () =>
    showPane(layout?.getAttribute('data-pane') === 'panel' ? 'thread' : 'panel'),
  );
  clear(app, topBar(me), layout, h('datalist', { attrs: { id: 'departments' } }));
  if (!S.loc) return;
  void loadAgents().catch(() => {});
  void loadDepartments().catch(() => {});
  void loadMore(true).catch(() => {});
  const conn = $('#conn');
  S.live = new Live([S.loc], S.presence, {
    frame: onFrame,
    up: (reconnected) => {
      if (conn) conn.textContent = '';
      if (reconnected) {
        void loadMore(true).catch(() => {});
        if (S.current) void openConversation(S.current).catch(() => {});
      }
    },
    down: () => {
      if (conn) conn.textContent = t('disconnected');
    },
    signedOut: () => signIn(),
  });
  S.live.start();
}

on('open', (id) => {
  for (const el of document.querySelectorAll('.conv.current')) el.classList.remove('current');
  document.querySelector(`.conv[data-id="${CSS.escape(id)}"]`)?.classList.add('current');
  showPane('thread');
  void openConversation(id).catch(showError);
});
on('conv', (c) => void showPanel(c));
on('back', () => showPane('list'));

document.addEventListener('visibilitychange', () => markRead());

const inField = (el: EventTarget | null) =>
  el instanceof HTMLElement && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));

document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || !S.me.id || !layout) return;
  if (e.key === 'Escape') {
    if (inField(e.target)) (e.target as HTMLElement).blur();
    else if (S.current) showPane('list');
    $('#help')?.remove();
    return;
  }
  if (inField(e.target)) return;
  const ids = order();
  const at = S.current ? ids.indexOf(S.current) : -1;
  const run = (fn: () => unknown) => {
    e.preventDefault();
    void Promise.resolve(fn()).catch(showError);
  };
  switch (e.key) {
    case 'j':
      if (ids[at + 1]) run(() => emit('open', ids[at + 1]!));
      return;
    case 'k':
      if (at > 0 && ids[at - 1]) run(() => emit('open', ids[at - 1]!));
      return;
    case '/':
      return run(() => $<HTMLInputElement>('#search')?.focus());
    case '?':
      return run(() => {
        if ($('#help')) return $('#help')?.remove();
        document.body.appendChild(
          h(
            'div',
            { class: 'help', attrs: { id: 'help', role: 'dialog' } },
            h('h3', null, t('shortcuts')),
            h('p', null, t('shortcutList')),
          ),
        );
      });
  }
  if (!currentConversation()) return;
  switch (e.key) {
    case 'r':
      return run(() => actions.focusReply('reply'));
    case 'n':
      return run(() => actions.focusReply('note'));
    case 'a':
      return run(actions.assignMe);
    case 'e':
      return run(actions.toggleClosed);
    case 's':
      return run(actions.toggleStar);
    case 'f':
      return run(actions.toggleFollow);
  }
});

whenSignedOut(() => signIn());

api<Me>('GET', '/inbox/api/me').then(start, () => signIn());
