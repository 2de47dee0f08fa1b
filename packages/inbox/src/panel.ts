// The side panel: the web-chat visitor (page, channel, language, pre-chat answers), the contact
// (editable), and the location's inbox widgets with their values for this conversation.
import { api } from './api.js';
import { clear, h, link } from './dom.js';
import { type Key, t } from './i18n.js';
import type { Conv } from './state.js';

let root: HTMLElement;
let generation = 0;

export function panelView(): HTMLElement {
  root = h('aside', { class: 'panel', attrs: { 'aria-label': t('details') } });
  return root;
}

const text = (v: unknown): string =>
  v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);

function dl(entries: [string, unknown][]): HTMLElement {
  return h(
    'dl',
    null,
    ...entries
      .filter(([, v]) => text(v) !== '')
      .flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v instanceof Node ? v : text(v))]),
  );
}

function section(title: Key, ...body: (Node | null)[]): HTMLElement {
  return h('section', 'card', h('h3', null, t(title)), ...body);
}

interface Visitor {
  channel: { id: string; name: string | null };
  identityVerified: boolean;
  pageUrl: string | null;
  pageTitle: string | null;
  referer: string | null;
  lang: string | null;
  departmentId: string | null;
  prechat: Record<string, unknown>;
  attributes: Record<string, unknown>;
  lastSeenAt: string;
}

interface Contact {
  id: string;
  name?: string;
  email?: string;
  phone?: string;
  customFields: { id: string; value: unknown }[];
}

interface Widget {
  id: string;
  title: string;
}

export async function showPanel(c: Conv | undefined): Promise<void> {
  const gen = ++generation;
  if (!c) return clear(root);
  clear(root, h('p', 'placeholder', t('loading')));
  const [visitor, contact, widgets] = await Promise.all([
    api<{ visitor: Visitor | null }>('GET', `/inbox/api/conversations/${c.id}/visitor`).catch(() => ({
      visitor: null,
    })),
    api<{ contact: Contact }>('GET', `/contacts/${c.contactId}`).catch(() => undefined),
    api<{ inboxWidgets: Widget[] }>('GET', `/v1/inbox/${c.locationId}/widgets`).catch(() => ({
      inboxWidgets: [],
    })),
  ]);
  const values = await Promise.all(
    widgets.inboxWidgets.map((w) =>
      api<{ fieldValues: { label: string; type: string; value: unknown }[] }>(
        'GET',
        `/v1/inbox/${c.locationId}/widgets/${w.id}/values?conversationId=${c.id}`,
      ).catch(() => ({ fieldValues: [] })),
    ),
  );
  if (gen !== generation) return;
  clear(
    root,
    visitor.visitor ? visitorCard(visitor.visitor) : null,
    contact ? contactCard(contact.contact) : null,
    ...widgets.inboxWidgets.map((w, i) =>
      h(
        'section',
        { class: 'card widget', attrs: { 'data-widget': w.id } },
        h('h3', null, w.title),
        dl(
          (values[i]?.fieldValues ?? []).map((f) => [
            f.label,
            f.type === 'url' && typeof f.value === 'string'
              ? link(f.value)
              : Array.isArray(f.value)
                ? f.value.join(', ')
                : f.value,
          ]),
        ),
      ),
    ),
  );
}

function visitorCard(v: Visitor): HTMLElement {
  return section(
    'visitor',
    dl([
      [t('page'), v.pageUrl ? link(v.pageUrl, v.pageTitle || v.pageUrl) : v.pageTitle],
      [t('channel'), v.channel.name],
      [t('language'), v.lang],
      [t('department'), v.departmentId],
      [t('referrer'), v.referer],
      [t('verified'), v.identityVerified ? '✓' : ''],
    ]),
    Object.keys(v.prechat).length ? h('h4', null, t('prechat')) : null,
    dl(Object.entries(v.prechat)),
    Object.keys(v.attributes).length ? h('h4', null, t('attributes')) : null,
    dl(Object.entries(v.attributes)),
  );
}

function contactCard(c: Contact): HTMLElement {
  const input = (label: Key, value: string | undefined, name: string) => {
    const el = h('input', { attrs: { type: 'text', name, 'aria-label': t(label) } });
    el.value = value ?? '';
    return h('label', null, h('span', null, t(label)), el);
  };
  const fields = h('div', 'custom-fields');
  const addRow = (id = '', value = '') => {
    const k = h('input', { attrs: { type: 'text', 'aria-label': 'id', class: 'cf-id' } });
    const v = h('input', { attrs: { type: 'text', 'aria-label': 'value', class: 'cf-value' } });
    k.value = id;
    v.value = value;
    fields.appendChild(h('div', 'cf', k, v));
  };
  for (const f of c.customFields) addRow(f.id, text(f.value));
  const status = h('span', { class: 'saved', attrs: { role: 'status' } });
  const form = h(
    'form',
    {
      class: 'contact-form',
      on: {
        submit: (e) => {
          e.preventDefault();
          const data = new FormData(form);
          const customFields = [...fields.querySelectorAll('.cf')]
            .map((row) => {
              const [k, v] = row.querySelectorAll('input');
              return { id: k!.value.trim(), field_value: v!.value };
            })
            .filter((f) => f.id);
          const body: Record<string, unknown> = { customFields };
          for (const k of ['name', 'email', 'phone']) {
            const v = String(data.get(k) ?? '').trim();
            if (v) body[k] = v;
          }
          status.textContent = '…';
          api('PUT', `/contacts/${c.id}`, body).then(
            () => (status.textContent = t('saved')),
            (err: Error) => (status.textContent = err.message),
          );
        },
      },
    },
    input('name', c.name, 'name'),
    input('email', c.email, 'email'),
    input('phone', c.phone, 'phone'),
    h('h4', null, t('customFields')),
    fields,
    h('button', { attrs: { type: 'button' }, on: { click: () => addRow() } }, `+ ${t('addField')}`),
    h('div', 'row', h('button', { class: 'primary', attrs: { type: 'submit' } }, t('save')), status),
  );
  return section('contact', form);
}
