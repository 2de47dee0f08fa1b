// The conversation list: filters, full-text search, infinite scroll, and live reordering.
import type { WireMessage } from '@charla/protocol';
import { api, qs } from './api.js';
import { clear, h } from './dom.js';
import { type Key, t, time } from './i18n.js';
import { type Conv, emit, S } from './state.js';

const PAGE = 30;
let listEl: HTMLUListElement;
let statusEl: HTMLElement;
let done = false;
let loading = false;
/** Bumped by every reset: answers to an older query are dropped. */
let generation = 0;

function searchParams(extra: Record<string, string | string[] | undefined> = {}) {
  const f = S.filters;
  return qs({
    locationId: S.loc,
    limit: PAGE,
    conversationStatus: f.state,
    assignedTo: f.assign === 'mine' ? S.me.id : f.assign === 'unassigned' ? 'unassigned' : undefined,
    status: f.flag || undefined,
    channel: f.channel || undefined,
    departmentId: f.departmentId.trim() || undefined,
    tags: f.tag.trim() || undefined,
    query: f.query.trim() || undefined,
    ...extra,
  });
}

export async function loadMore(reset = false): Promise<void> {
  if (reset) {
    generation++;
    S.list = [];
    done = false;
    loading = false;
    clear(listEl);
  }
  if (loading || done) return;
  loading = true;
  const gen = generation;
  statusEl.textContent = t('loading');
  try {
    const last = S.list[S.list.length - 1];
    const after = { startAfterDate: last?.sort?.map(String) };
    const res = await api<{ conversations: Conv[] }>('GET', `/conversations/search?${searchParams(after)}`);
    if (gen !== generation) return;
    for (const c of res.conversations) {
      if (S.list.some((x) => x.id === c.id)) continue;
      S.list.push(c);
      listEl.appendChild(item(c));
    }
    done = res.conversations.length < PAGE;
    statusEl.textContent = S.list.length === 0 ? t('noConversations') : '';
  } catch (err) {
    if (gen === generation) statusEl.textContent = t('failed');
    throw err;
  } finally {
    if (gen === generation) loading = false;
  }
}

/** Re-reads one conversation with the current filters: shown (in order) if it matches, else dropped. */
export async function refreshItem(id: string): Promise<Conv | undefined> {
  const gen = generation;
  const res = await api<{ conversations: Conv[] }>(
    'GET',
    `/conversations/search?${searchParams({ id, limit: '1' })}`,
  );
  if (gen !== generation) return;
  const c = res.conversations[0];
  if (c) upsert(c);
  else if (id !== S.current) remove(id);
  return c;
}

export function remove(id: string): void {
  S.list = S.list.filter((c) => c.id !== id);
  listEl.querySelector(`[data-id="${CSS.escape(id)}"]`)?.remove();
}

const dateOf = (c: Conv) => c.lastMessageDate ?? c.dateAdded ?? 0;

/** Puts a conversation in its place (newest activity first) and redraws its row. */
export function upsert(c: Conv): void {
  const old = S.list.find((x) => x.id === c.id);
  const merged = old ? Object.assign(old, c) : c;
  remove(c.id);
  const d = dateOf(merged);
  let i = S.list.findIndex((x) => dateOf(x) < d || (dateOf(x) === d && x.id < merged.id));
  // Older than everything loaded: it belongs to a page not fetched yet, unless all are here.
  if (i < 0 && !done) return;
  if (i < 0) i = S.list.length;
  S.list.splice(i, 0, merged);
  const row = item(merged);
  listEl.insertBefore(row, listEl.children[i] ?? null);
  statusEl.textContent = '';
}

export function redraw(id: string): void {
  const c = S.list.find((x) => x.id === id);
  const row = listEl.querySelector(`[data-id="${CSS.escape(id)}"]`);
  if (c && row) row.replaceWith(item(c));
}

/** A live message: the row moves to the top with its preview; unknown conversations are fetched. */
export function onMessage(m: WireMessage, created: boolean): void {
  if (!created || m.locationId !== S.loc) return;
  const c = S.list.find((x) => x.id === m.conversationId);
  if (!c) {
    void refreshItem(m.conversationId).catch(() => {});
    return;
  }
  c.lastMessageBody = m.body ?? '';
  c.lastMessageType = m.type;
  c.lastMessageDirection = m.direction;
  c.lastMessageDate = Date.parse(m.createdAt);
  c.sort = [c.lastMessageDate, c.id];
  if (m.direction === 'inbound' && !(S.current === c.id && document.visibilityState === 'visible'))
    c.unreadCount++;
  if (m.direction === 'inbound') S.typing.delete(c.id);
  upsert(c);
}

function item(c: Conv): HTMLLIElement {
  const typing = (S.typing.get(c.id) ?? 0) > Date.now();
  const name = c.fullName || c.email || c.phone || t('visitor');
  const li = h(
    'li',
    {
      class: `conv${c.id === S.current ? ' current' : ''}${c.unreadCount ? ' unread' : ''}`,
      attrs: { 'data-id': c.id, tabindex: 0, role: 'button' },
      on: {
        click: () => emit('open', c.id),
        keydown: (e) => (e as KeyboardEvent).key === 'Enter' && emit('open', c.id),
      },
    },
    h(
      'div',
      'row',
      h('span', 'name', name),
      c.starred ? h('span', { class: 'star', attrs: { 'aria-label': t('starred') } }, '★') : null,
      h('time', 'when', c.lastMessageDate ? time(c.lastMessageDate) : ''),
    ),
    h(
      'div',
      'row',
      typing
        ? h('span', 'preview typing', t('typing'))
        : h(
            'span',
            'preview',
            c.lastMessageType === 'TYPE_INTERNAL_COMMENT' ? `${t('noteLabel')}: ` : '',
            c.lastMessageBody,
          ),
      c.unreadCount
        ? h('span', { class: 'badge', attrs: { 'aria-label': t('unread') } }, c.unreadCount)
        : null,
    ),
  );
  return li;
}

function select<V extends string>(label: string, value: V, options: [V, string][], set: (v: V) => void) {
  const el = h(
    'select',
    { attrs: { 'aria-label': label }, on: { change: () => set(el.value as V) } },
    ...options.map(([v, text]) => {
      const o = h('option', { attrs: { value: v } }, text);
      o.selected = v === value;
      return o;
    }),
  );
  return el;
}

export function listView(): HTMLElement {
  const f = S.filters;
  const changed = () => void loadMore(true).catch(() => {});
  let debounce = 0;
  const search = h('input', {
    class: 'search',
    attrs: { type: 'search', placeholder: t('search'), 'aria-label': t('search'), id: 'search' },
    on: {
      input: () => {
        clearTimeout(debounce);
        debounce = window.setTimeout(() => {
          f.query = search.value;
          changed();
        }, 250);
      },
    },
  });
  search.value = f.query;
  const tabs = h(
    'div',
    { class: 'tabs', attrs: { role: 'tablist' } },
    ...(['mine', 'unassigned', 'all'] as const).map((a) =>
      h(
        'button',
        {
          class: f.assign === a ? 'on' : '',
          attrs: { role: 'tab', 'aria-selected': String(f.assign === a), 'data-assign': a },
          on: {
            click: (e) => {
              f.assign = a;
              for (const b of tabs.children) b.classList.toggle('on', b === e.currentTarget);
              changed();
            },
          },
        },
        t(a),
      ),
    ),
  );
  const text = (key: Key, get: () => string, set: (v: string) => void) => {
    const el = h('input', {
      attrs: {
        type: 'text',
        placeholder: t(key),
        'aria-label': t(key),
        size: 8,
        list: key === 'department' ? 'departments' : undefined,
      },
      on: {
        change: () => {
          set(el.value);
          changed();
        },
      },
    });
    el.value = get();
    return el;
  };
  const filters = h(
    'div',
    'filters',
    select(
      t('open'),
      f.state,
      [
        ['open', t('open')],
        ['closed', t('closed')],
      ],
      (v) => {
        f.state = v;
        changed();
      },
    ),
    select(
      t('all'),
      f.flag,
      [
        ['', t('all')],
        ['unread', t('unread')],
        ['starred', t('starred')],
      ],
      (v) => {
        f.flag = v;
        changed();
      },
    ),
    select(
      t('channel'),
      f.channel,
      [
        ['', t('anyChannel')],
        ['live_chat', t('live_chat')],
        ['default', t('default')],
        ['review', t('review')],
      ],
      (v) => {
        f.channel = v;
        changed();
      },
    ),
    text(
      'department',
      () => f.departmentId,
      (v) => {
        f.departmentId = v;
      },
    ),
    text(
      'tag',
      () => f.tag,
      (v) => {
        f.tag = v;
      },
    ),
  );
  listEl = h('ul', { class: 'convs', attrs: { 'aria-label': t('inbox') } });
  statusEl = h('p', 'list-status');
  const sentinel = h('div', 'sentinel');
  const scroller = h('div', 'scroller', listEl, statusEl, sentinel);
  new IntersectionObserver(
    (entries) => {
      if (entries.some((e) => e.isIntersecting)) void loadMore().catch(() => {});
    },
    { root: scroller, rootMargin: '400px' },
  ).observe(sentinel);
  return h(
    'section',
    { class: 'list', attrs: { 'aria-label': t('inbox') } },
    search,
    tabs,
    filters,
    scroller,
  );
}

/** The conversation ids in list order, for keyboard navigation. */
export const order = () => S.list.map((c) => c.id);
