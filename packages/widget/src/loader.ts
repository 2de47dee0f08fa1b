// The snippet's script. It must stay tiny (≤ 2 KiB brotli) and must never break the host page:
// it draws the launcher in a shadow root, queues SDK calls, and loads the chat app only on first
// interaction, when a proactive trigger fires (triggers.js, fetched only for channels that have
// triggers), or when the visitor has unread messages or chatted recently.
import type { App, Config, Host, Store, TriggerBoot } from './shared';
import { SDK_METHODS } from './shared';

declare const __APP_VERSION__: string;

type Fn = (data?: unknown) => void;
type Sdk = ((name: string, ...args: unknown[]) => unknown) & Record<string, unknown> & { q?: IArguments[] };
const w = window as unknown as {
  Charla?: Sdk;
  __charlaBoot?: (boot: (h: Host) => App) => void;
  __charlaTriggers?: (boot: TriggerBoot) => void;
};
const d = document;
const WAKES = /^(open|toggle|sendMessage|trigger)$/;

function start(): void {
  const script = (d.currentScript ||
    d.querySelector('script[data-token][src*="/widget/loader.js"]')) as HTMLScriptElement | null;
  if (!script || w.Charla?._l) return;
  const data = script.dataset;
  const token = data.token || '';
  const base = script.src.slice(0, script.src.indexOf('/widget/loader.js'));
  const nonce = script.nonce || data.nonce;
  const prefix = `charla:${token}:`;
  const ls = (): Storage => localStorage;
  const store: Store = {
    get(k) {
      try {
        return JSON.parse(ls().getItem(prefix + k) as string) ?? undefined;
      } catch {}
    },
    set(k, v) {
      try {
        ls().setItem(prefix + k, JSON.stringify(v));
      } catch {}
    },
    clear() {
      try {
        for (const k of Object.keys(ls())) if (!k.indexOf(prefix)) ls().removeItem(k);
      } catch {}
    },
  };

  const early: IArguments[] = w.Charla?.q || [];
  const queue: [string, unknown[]][] = [];
  const listeners: Record<string, Fn[]> = {};
  const fired: Record<string, 1> = {};
  const attrs: Record<string, unknown> = store.get('a') || {};
  let app: App | undefined;
  let host: Host | undefined;
  let loading = 0;
  let hidden = false;
  let check = (): void => {};

  const emit = (e: string, v?: unknown): void => {
    fired[e] = 1;
    for (const fn of listeners[e] || [])
      try {
        fn(v);
      } catch (err) {
        console.error(err);
      }
  };

  const call = (name: string, args: unknown[]): unknown => {
    const [a, b] = args as [string, Fn];
    if (!SDK_METHODS.includes(name as never)) return console.warn('Charla: unknown call', name);
    if (name === 'on') {
      if (typeof b === 'function') {
        listeners[a] = listeners[a] || [];
        listeners[a].push(b);
      }
      if (a === 'ready' && fired.ready) b();
      return;
    }
    if (name === 'off') {
      listeners[a] = (listeners[a] || []).filter((f) => f !== b);
      return;
    }
    if (name === 'setAttributes' || name === 'identify') {
      Object.assign(attrs, name === 'identify' ? (a as { attributes?: object } | undefined)?.attributes : a);
      check();
    }
    if (name === 'show' || name === 'hide') {
      hidden = name === 'hide';
      if (host) host.wrap.hidden = hidden;
    }
    if (app) return app.call(name, args);
    if (name === 'reset') return store.clear();
    queue.push([name, args]);
    if (WAKES.test(name)) load();
  };

  const sdk = ((name: string, ...args: unknown[]) => call(name, args)) as Sdk;
  sdk._l = 1;
  for (const m of SDK_METHODS) sdk[m] = (...args: unknown[]) => call(m, args);
  w.Charla = sdk;
  for (const a of early) call(a[0], [].slice.call(a, 1));

  const inject = (name: string, failed?: () => void): void => {
    const s = d.createElement('script');
    s.src = `${base}/widget/${name}.js?v=${__APP_VERSION__}`;
    if (nonce) s.nonce = nonce;
    if (failed) s.onerror = failed;
    d.head.appendChild(s);
  };

  function load(then?: (a: App) => void): void {
    if (app) {
      then?.(app);
      return;
    }
    if (then) queue.push(['', [then]]);
    if (loading || !host) return;
    loading = 1;
    w.__charlaBoot = (boot: (h: Host) => App) => {
      delete w.__charlaBoot;
      app = boot(host!);
      for (const [n, args] of queue.splice(0)) n ? app.call(n, args) : (args[0] as (a: App) => void)(app);
    };
    inject('app', () => {
      loading = 0;
      host!.launcher.classList.add('off');
    });
  }

  const el = (tag: string, cls = ''): HTMLElement => {
    const e = d.createElement(tag);
    e.className = cls;
    return e;
  };

  const draw = (c: Config): void => {
    if (!c.enabled || (!c.online && c.offlineAction?.type === 'HIDE_LAUNCHER')) return;
    const div = el('div');
    div.id = 'charla-widget';
    const root = div.attachShadow({ mode: 'open' });
    const css =
      ':host{all:initial}.w{position:fixed;bottom:20px;right:20px;z-index:2147483000;font:15px/1.4 system-ui,sans-serif}.left{left:20px;right:auto}[hidden]{display:none}.l{display:grid;place-items:center;width:56px;height:56px;border-radius:50%;border:0;background:var(--c,#2563eb);cursor:pointer;box-shadow:0 4px 14px #0004;position:relative}.off{filter:grayscale(1)}.l svg{width:28px;fill:#fff}.b{position:absolute;top:-4px;right:-4px;background:#dc2626;border-radius:10px;font-size:12px;line-height:20px;min-width:20px;padding:0 5px;color:#fff}.b:empty{display:none}';
    // A constructed sheet needs no 'unsafe-inline' under a strict Content-Security-Policy.
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = [sheet];
    } catch {
      const st = el('style');
      if (nonce) st.nonce = nonce;
      st.textContent = css;
      root.appendChild(st);
    }
    const wrap = el('div', `w${c.position === 'left' ? ' left' : ''}`);
    wrap.hidden = hidden;
    if (c.color && CSS.supports('color', c.color)) wrap.style.setProperty('--c', c.color);
    const btn = el('button', 'l') as HTMLButtonElement;
    btn.type = 'button';
    // Chat is the word in English, Spanish and Portuguese; the app says "Open chat" in the visitor's.
    btn.setAttribute('aria-label', 'Chat');
    const ns = 'http://www.w3.org/2000/svg';
    const svg = d.createElementNS(ns, 'svg');
    const path = d.createElementNS(ns, 'path');
    svg.setAttribute('viewBox', '0 0 24 24');
    path.setAttribute('d', 'M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 1-2z');
    svg.append(path);
    const badge = el('span', 'b');
    btn.append(svg, badge);
    btn.onclick = () => call('toggle', []);
    btn.onpointerenter = btn.onfocus = () => load();
    wrap.append(btn);
    root.append(wrap);
    d.body.append(div);
    host = {
      base,
      token,
      cfg: c,
      root,
      wrap,
      launcher: btn,
      nonce,
      locale: data.locale,
      version: __APP_VERSION__,
      store,
      emit,
      badge(n) {
        badge.textContent = n > 0 ? (n > 99 ? '99+' : `${n}`) : '';
        store.set('u', n);
      },
    };
    host.badge(store.get('u') || 0);
    performance.mark?.('charla:launcher');
    emit('ready');
    if (queue.some(([n]) => WAKES.test(n)) || store.get('u')) load();
    // A visitor who chatted in the last hour keeps a live connection from page to page.
    else if (Date.now() - (store.get<number>('act') || 0) < 36e5) setTimeout(load);
    if (c.proactiveTriggers.some((t) => t.enabled !== false)) {
      w.__charlaTriggers = (boot: TriggerBoot) => {
        delete w.__charlaTriggers;
        check = boot({ cfg: c, store, attrs, prefix, fire: (t) => load((a) => a.proactive(t)) });
      };
      inject('triggers');
    }
  };

  const ctrl = new AbortController();
  setTimeout(() => ctrl.abort(), 1e4);
  fetch(`${base}/web-chat/${token}/config`, { signal: ctrl.signal })
    .then((r) => r.json())
    .then((j) => {
      if (d.body) draw(j.data);
      else d.addEventListener('DOMContentLoaded', () => draw(j.data));
    })
    .catch(() => {});
}

try {
  start();
} catch {
  // Never break the host page.
}
