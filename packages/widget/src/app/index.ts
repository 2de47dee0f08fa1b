// The chat app, loaded by the loader on first interaction, a proactive trigger or unread
// messages. It talks to the public visitor API (`/web-chat/:token/…`) and the real-time hub
// (`/ws`). Everything it shows from visitors, agents or settings is set as text.
import {
  type ClientFrame,
  FATAL_CLOSE_CODES,
  PROTOCOL_VERSION,
  type ServerFrame,
  SUBPROTOCOL,
  type WireMessage,
} from '@charla/protocol';
import type { App, Host, PrechatField, Trigger } from '../shared';
import { h, ICONS, icon, linkify, safeHref } from './dom';
import { nextOpening } from './hours';
import { fill, type Lang, local, pickLang } from './i18n';

interface Att {
  url: string;
  name: string;
  image: boolean;
}

interface Msg {
  id: string;
  cid?: string;
  conv?: string;
  seq: number;
  mine: boolean;
  body: string;
  att?: Att;
  status: string;
  at: number;
  replyTo?: string | null;
  progress?: number;
  /** Shown here only (welcome, proactive): never sent, never stored. */
  local?: boolean;
  file?: File;
  up?: { mediaAssetId: string; kind: string; filename: string };
  error?: string;
}

interface Session {
  sessionToken: string;
  contactId: string;
  identityVerified: boolean;
  expiresAt: string;
  /** Which identity it was opened for. */
  k: string;
}

interface Identity {
  userId?: string;
  email?: string;
  name?: string;
  hash?: string;
}

type View = 'chat' | 'form' | 'otp' | 'list' | 'thanks';

/** A message as the visitor API answers it (Mosend's WebChatMessage plus `seq`). */
interface WebChatMessage {
  id: string;
  conversationId: string;
  direction: 'IN' | 'OUT';
  type: string;
  status: string;
  payload: { body?: string; link?: string; caption?: string; filename?: string };
  replyToMessageId: string | null;
  createdAt: string;
  seq?: number;
}

interface Uploaded {
  mediaAssetId: string;
  kind: string;
  filename: string;
}

type SessionAnswer = Omit<Session, 'k'> & { otpSent?: boolean };

const EMOJI = '😀 😂 😊 😍 🤔 😅 😢 😮 👍 👎 👏 🙏 🙌 💪 🎉 ❤️ 🔥 ✅ ❌ 👋 🚀 ⭐ ☕ 📎'.split(' ');
const MAX_FILE = 5 * 1024 * 1024;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE = /^\+?[0-9 ().-]{5,40}$/;

const uid = (): string =>
  (crypto as Crypto & { randomUUID?: () => string }).randomUUID?.() ??
  `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
const nameOf = (url: string): string => {
  try {
    return decodeURIComponent(url.split('?')[0]!.split('/').pop() || '');
  } catch {
    return '';
  }
};

function createApp(host: Host): App {
  const { cfg, store, wrap, base, token } = host;
  const api = `${base}/web-chat/${encodeURIComponent(token)}`;
  let visitorId: string = store.get('v') || uid();
  store.set('v', visitorId);
  let session: Session | undefined = store.get('s');
  let identity: Identity | undefined = store.get('id');
  let attrs: Record<string, unknown> = store.get('a') || {};
  let lang: Lang = pickLang();
  let muted: boolean = store.get('m') ?? cfg.sound === false;
  const msgs = new Map<string, Msg>();
  let seqs: Record<string, number> = store.get('seq') || {};
  let closed: string[] = store.get('closed') || [];
  let current: string | undefined = store.get('cur');
  let viewing: string | undefined;
  let isOpen = false;
  let view: View = 'chat';
  let unread: number = store.get('u') || 0;
  let agentsOnline = cfg.agentsOnline ?? cfg.online;
  const online = (): boolean => (cfg.open ?? cfg.online) && agentsOnline;
  let connected = false;
  let ws: WebSocket | undefined;
  let backoff = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let pingTimer: ReturnType<typeof setInterval> | undefined;
  let lastFrame = 0;
  let historyLoaded = false;
  let otpBody: Record<string, unknown> | undefined;
  let agentTyping: ReturnType<typeof setTimeout> | undefined;
  let typingOn: ReturnType<typeof setTimeout> | undefined;
  let readSent: Record<string, number> = {};
  let blinkTimer: ReturnType<typeof setInterval> | undefined;
  let title = '';
  let teaser: HTMLElement | undefined;
  let formError = '';
  let draft = '';
  /** The message the visitor is answering, shown above the composer until sent or cancelled. */
  let quoting: Msg | undefined;

  // ---- language

  function computeLang(): Lang {
    return pickLang(
      store.get<string>('l'),
      host.locale,
      document.documentElement.lang,
      navigator.language,
      cfg.locale,
    );
  }
  lang = computeLang();
  const t = () => lang.t;

  // ---- HTTP

  async function req<T>(method: string, path: string, body?: unknown, auth = true): Promise<{ data: T }> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (auth && session) headers.authorization = `Bearer ${session.sessionToken}`;
    const r = await fetch(api + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) {
      if (r.status === 401 && auth) dropSession();
      const m = j?.message;
      throw Object.assign(new Error(Array.isArray(m) ? m.join(' ') : String(m || r.status)), {
        status: r.status,
      });
    }
    return j;
  }

  const idKey = (): string =>
    identity ? JSON.stringify([identity.userId, identity.email, identity.hash]) : '';

  function identityFields(): Record<string, unknown> {
    const i = identity;
    if (!i) return { mode: 'anonymous' };
    if (i.hash)
      return { mode: 'host-identified', userId: i.userId, email: i.email, name: i.name, hash: i.hash };
    if (i.email || i.name) return { mode: 'identified', email: i.email, name: i.name };
    return { mode: 'anonymous' };
  }

  function sessionBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
    const body: Record<string, unknown> = {
      visitorId,
      url: location.href.slice(0, 500),
      referer: document.referrer.slice(0, 500) || undefined,
      title: document.title.slice(0, 200) || undefined,
      lang: lang.code.slice(0, 20),
      attributes: Object.keys(attrs).length ? attrs : undefined,
      acceptOffline: online() ? undefined : true,
      ...identityFields(),
    };
    for (const k in extra) if (extra[k] !== undefined) body[k] = extra[k];
    return body;
  }

  function setSession(data: Omit<Session, 'k'>): void {
    session = { ...data, k: idKey() };
    store.set('s', session);
    connect();
  }

  function dropSession(): void {
    session = undefined;
    store.set('s', null);
    disconnect();
  }

  async function ensureSession(): Promise<Session> {
    if (session && session.k === idKey() && Date.parse(session.expiresAt) > Date.now() + 6e4) return session;
    const j = await req<SessionAnswer>('POST', '/sessions', sessionBody(), false);
    setSession(j.data);
    return session!;
  }

  // ---- messages

  function fromHistory(m: WebChatMessage): Msg {
    const p = m.payload || {};
    const link = str(p.link);
    return {
      id: m.id,
      conv: m.conversationId,
      seq: m.seq ?? 0,
      mine: m.direction === 'IN',
      body: str(p.body) ?? str(p.caption) ?? '',
      att: link ? { url: link, name: str(p.filename) || nameOf(link), image: m.type === 'image' } : undefined,
      status: m.status,
      at: Date.parse(m.createdAt),
      replyTo: m.replyToMessageId,
    };
  }

  /** A hub message: `media` says what the attachment is (none: a file, as in the history). */
  function fromWire(m: WireMessage): Msg {
    const link = m.attachments[0];
    const media = m.media;
    return {
      id: m.id,
      conv: m.conversationId,
      seq: m.seq,
      mine: m.direction === 'inbound',
      body: m.body ?? '',
      att: link
        ? { url: link, name: media?.filename || nameOf(link), image: media?.kind === 'image' }
        : undefined,
      status: m.status,
      at: Date.parse(m.createdAt),
      replyTo: m.replyToId,
    };
  }

  const publicMsg = (m: Msg) => ({
    id: m.id,
    conversationId: m.conv,
    body: m.body,
    attachment: m.att && { url: m.att.url, name: m.att.name },
    createdAt: new Date(m.at).toISOString(),
  });

  /** Adds or updates a message from the server; true when it is new. */
  function put(m: Msg): boolean {
    const old = msgs.get(m.id);
    if (m.conv) {
      if ((seqs[m.conv] ?? -1) < m.seq) seqs[m.conv] = m.seq;
      if (!current || m.at >= latestAt()) current = m.conv;
    }
    if (old) {
      msgs.set(m.id, { ...old, status: m.status, body: m.body || old.body, att: old.att ?? m.att });
      return false;
    }
    if (m.mine) {
      // Our own message, echoed by the hub before the send's answer: it replaces the pending one.
      for (const [k, p] of msgs)
        if (p.cid && p.status === 'sending' && p.body === m.body && (!p.att || p.att.name === m.att?.name)) {
          msgs.delete(k);
          if (p.att && m.att) m.att = { ...m.att, image: p.att.image };
          break;
        }
    }
    msgs.set(m.id, m);
    return true;
  }

  const latestAt = (): number => {
    let at = 0;
    for (const m of msgs.values()) if (m.conv && m.at > at) at = m.at;
    return at;
  };

  const saveSeqs = () => {
    store.set('seq', seqs);
    store.set('cur', current);
  };

  async function loadHistory(): Promise<void> {
    if (!session || historyLoaded) return;
    try {
      const j = await req<WebChatMessage[]>('GET', '/history?limit=100');
      for (const m of j.data) put(fromHistory(m));
      historyLoaded = true;
      saveSeqs();
      render();
    } catch {
      // The hub's catch-up still brings what is new.
    }
  }

  // ---- real time

  const send = (f: ClientFrame): void => {
    if (ws && connected) ws.send(JSON.stringify(f));
  };
  const since = () =>
    Object.keys(seqs)
      .slice(-100)
      .map((conversationId) => ({ conversationId, seq: seqs[conversationId]! }));

  function connect(): void {
    if (!session || ws || !navigator.onLine) return;
    clearTimeout(retryTimer);
    const sock = new WebSocket(`${base.replace(/^http/, 'ws')}/ws`, SUBPROTOCOL);
    ws = sock;
    sock.onopen = () =>
      sock.send(
        JSON.stringify({
          type: 'hello',
          v: PROTOCOL_VERSION,
          token: session?.sessionToken,
          since: since(),
          history: false,
        }),
      );
    sock.onmessage = (e) => {
      lastFrame = Date.now();
      let f: ServerFrame;
      try {
        f = JSON.parse(String(e.data));
      } catch {
        return;
      }
      onFrame(f);
    };
    sock.onclose = (e) => {
      if (ws !== sock) return;
      ws = undefined;
      connected = false;
      clearInterval(pingTimer);
      header();
      if (e.code === 4002) {
        // Token expired: a new session for the same visitor, then reconnect.
        session = undefined;
        ensureSession().catch(() => {});
      } else if (FATAL_CLOSE_CODES.includes(e.code)) {
        if (e.code === 4001) dropSession();
      } else {
        retryTimer = setTimeout(connect, Math.min(30000, 500 * 2 ** backoff++) * (0.5 + Math.random() / 2));
      }
    };
  }

  function disconnect(): void {
    const s = ws;
    ws = undefined;
    connected = false;
    clearInterval(pingTimer);
    clearTimeout(retryTimer);
    s?.close(1000);
  }

  function onFrame(f: ServerFrame): void {
    switch (f.type) {
      case 'welcome':
        connected = true;
        backoff = 0;
        clearInterval(pingTimer);
        // Browsers hide WebSocket pings: an application ping finds a dead link.
        pingTimer = setInterval(() => {
          if (Date.now() - lastFrame > f.heartbeatMs + 1e4) ws?.close();
          else send({ type: 'ping' });
        }, f.heartbeatMs);
        header();
        break;
      case 'message': {
        const m = fromWire(f.message);
        const isNew = put(m);
        if (isNew && !m.mine && historyLoaded) arrived(m);
        if (!historyLoaded && isNew && !m.mine && f.replay !== true) arrived(m);
        saveSeqs();
        if (!m.mine) stopTyping();
        render();
        markRead();
        break;
      }
      case 'typing':
        if (f.from === 'agent' && cfg.typingIndicatorEnabled && f.conversationId === current) {
          clearTimeout(agentTyping);
          agentTyping = f.isTyping ? setTimeout(stopTyping, 1e4) : undefined;
          typingRow();
        }
        break;
      case 'read':
        for (const m of msgs.values())
          if (m.mine && m.conv === f.conversationId && m.seq <= f.seq && m.status !== 'failed')
            m.status = 'read';
        render();
        break;
      case 'conversation.status':
        if (f.status !== 'open' && !closed.includes(f.conversationId)) {
          closed = [...closed, f.conversationId].slice(-50);
          store.set('closed', closed);
          host.emit('conversation.closed', { conversationId: f.conversationId });
          render();
        } else if (f.status === 'open' && closed.includes(f.conversationId)) {
          closed = closed.filter((c) => c !== f.conversationId);
          store.set('closed', closed);
          render();
        }
        break;
      case 'presence':
        if ('agentsOnline' in f) {
          agentsOnline = f.agentsOnline;
          header();
        }
        break;
      case 'synced':
        for (const p of f.since) if ((seqs[p.conversationId] ?? -1) < p.seq) seqs[p.conversationId] = p.seq;
        saveSeqs();
        break;
      case 'resync':
        send({ type: 'sync', since: since(), history: false });
        break;
      default:
        break;
    }
  }

  function arrived(m: Msg): void {
    store.set('act', Date.now());
    host.emit('message.received', publicMsg(m));
    if (!isOpen || document.hidden) {
      setUnread(unread + 1);
      blink();
    }
    ding();
  }

  function setUnread(n: number): void {
    if (n === unread) return;
    unread = n;
    host.badge(n);
    host.emit('unread', n);
  }

  function markRead(): void {
    if (!isOpen || document.hidden || !current) return;
    setUnread(0);
    let seq = -1;
    for (const m of msgs.values()) if (!m.mine && m.conv === current && m.seq > seq) seq = m.seq;
    if (seq >= 0 && (readSent[current] ?? -1) < seq && connected) {
      readSent[current] = seq;
      send({ type: 'read', conversationId: current, seq });
    }
  }

  function stopTyping(): void {
    clearTimeout(agentTyping);
    agentTyping = undefined;
    typingRow();
  }

  function typed(): void {
    if (!current) return;
    if (!typingOn) send({ type: 'typing', conversationId: current, isTyping: true });
    clearTimeout(typingOn);
    typingOn = setTimeout(typingDone, 4000);
  }
  function typingDone(): void {
    if (typingOn && current) send({ type: 'typing', conversationId: current, isTyping: false });
    clearTimeout(typingOn);
    typingOn = undefined;
  }

  // ---- notifications

  let audio: AudioContext | undefined;
  function ding(): void {
    if (muted) return;
    try {
      const A =
        window.AudioContext ||
        (window as unknown as { webkitAudioContext: typeof AudioContext }).webkitAudioContext;
      audio = audio || new A();
      const o = audio.createOscillator();
      const g = audio.createGain();
      const at = audio.currentTime;
      o.frequency.value = 880;
      g.gain.setValueAtTime(0.08, at);
      g.gain.exponentialRampToValueAtTime(0.001, at + 0.3);
      o.connect(g).connect(audio.destination);
      o.start();
      o.stop(at + 0.3);
    } catch {
      // No audio: nothing to do.
    }
  }

  function blink(): void {
    if (!document.hidden || blinkTimer) return;
    title = document.title;
    blinkTimer = setInterval(() => {
      document.title = document.title === title ? `(${unread}) ${t().newMessage}` : title;
    }, 1000);
  }
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) return;
    if (blinkTimer) {
      clearInterval(blinkTimer);
      blinkTimer = undefined;
      document.title = title;
    }
    markRead();
  });
  addEventListener('offline', () => {
    // The link is gone: drop it now rather than after a missed heartbeat.
    disconnect();
    header();
  });
  addEventListener('online', () => {
    backoff = 0;
    connect();
  });

  // ---- sending

  async function deliver(p: Msg): Promise<void> {
    p.status = 'sending';
    p.error = undefined;
    render();
    try {
      await ensureSession();
      if (p.file && !p.up) {
        const up = await upload(p.file, (n) => {
          p.progress = n;
          progress(p);
        });
        p.up = { mediaAssetId: up.mediaAssetId, kind: up.kind, filename: up.filename };
        p.progress = undefined;
      }
      const j = await req<WebChatMessage>('POST', '/messages', {
        body: p.body || undefined,
        attachment: p.up,
        clientMessageId: p.cid,
        replyToMessageId: p.replyTo || undefined,
      });
      const m = fromHistory(j.data);
      if (msgs.get(p.id) === p) msgs.delete(p.id);
      if (p.att?.url.startsWith('blob:')) URL.revokeObjectURL(p.att.url);
      if (p.att && m.att) m.att.image = p.att.image || m.att.image;
      put(m);
      saveSeqs();
      store.set('act', Date.now());
      host.emit('message.sent', publicMsg(m));
    } catch (e) {
      p.status = 'failed';
      p.error = (e as { status?: number }).status === 413 ? t().tooBig : undefined;
    }
    render();
  }

  function upload(file: File, onProgress: (n: number) => void): Promise<Uploaded> {
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open('POST', `${api}/upload`);
      x.setRequestHeader('authorization', `Bearer ${session!.sessionToken}`);
      x.upload.onprogress = (e) => e.lengthComputable && onProgress(Math.round((e.loaded / e.total) * 100));
      x.onload = () => {
        let j: { data?: Uploaded } | undefined;
        try {
          j = JSON.parse(x.responseText);
        } catch {}
        if (x.status < 300 && j?.data) resolve(j.data);
        else reject(Object.assign(new Error('upload'), { status: x.status }));
      };
      x.onerror = () => reject(new Error('upload'));
      const fd = new FormData();
      fd.append('file', file);
      x.send(fd);
    });
  }

  function queueMessage(body: string, file?: File): void {
    const cid = uid();
    const p: Msg = {
      id: `c:${cid}`,
      cid,
      conv: current,
      seq: Number.MAX_SAFE_INTEGER,
      mine: true,
      body,
      status: 'sending',
      at: Date.now(),
      file,
      replyTo: quoting?.id,
    };
    quote();
    if (file) {
      if (file.size > MAX_FILE) {
        p.status = 'failed';
        p.error = t().tooBig;
      }
      p.att = { url: URL.createObjectURL(file), name: file.name, image: /^image\//.test(file.type) };
    }
    if (viewing && viewing !== current) viewing = undefined;
    msgs.set(p.id, p);
    typingDone();
    if (p.status === 'failed') render();
    else deliver(p);
  }

  // ---- the panel

  const panel = h('div', { class: 'p', role: 'dialog', 'aria-modal': 'false', hidden: true });
  const css = h('link', { rel: 'stylesheet', href: `${base}/widget/app.css?v=${host.version}` });
  if (host.nonce) css.nonce = host.nonce;
  host.root.insertBefore(css, host.root.firstChild);
  wrap.insertBefore(panel, host.launcher);
  let log: HTMLElement;
  let typingEl: HTMLElement;
  let bannerSlot: HTMLElement | undefined;
  let statusEl: HTMLElement;
  let input: HTMLTextAreaElement | undefined;
  let quoteEl: HTMLElement | undefined;

  const quoteText = (m: Msg) => m.body || m.att?.name || '…';
  /** Quotes `m` in the next message (none: quotes nothing) and redraws the preview. */
  function quote(m?: Msg): void {
    quoting = m;
    quoteEl?.replaceChildren(
      ...(m
        ? [
            h('span', { class: 'sr', text: t().replyingTo }),
            h('span', { class: 'q', dir: 'auto', text: quoteText(m) }),
            h('button', {
              type: 'button',
              class: 'x',
              'aria-label': t().cancelReply,
              title: t().cancelReply,
              text: '×',
              onclick: () => {
                quote();
                input?.focus();
              },
            }),
          ]
        : []),
    );
  }

  panel.addEventListener('keydown', (e: KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      close();
    }
  });

  function header(): void {
    if (!statusEl) return;
    statusEl.textContent =
      session && !connected && (ws || !navigator.onLine)
        ? t().reconnecting
        : !(cfg.open ?? cfg.online)
          ? t().offline
          : agentsOnline
            ? t().online
            : t().away;
  }

  function build(): void {
    const focused = panel.contains(host.root.activeElement);
    lang = computeLang();
    panel.setAttribute('lang', lang.code);
    wrap.dir = lang.rtl || document.dir === 'rtl' ? 'rtl' : 'ltr';
    panel.setAttribute('aria-label', cfg.heading || cfg.name);
    host.launcher.setAttribute('aria-label', isOpen ? t().close : t().open);
    statusEl = h('span', { class: 'st', 'aria-live': 'polite' });
    const btn = (label: string, d: string, onclick: () => void, extra: Record<string, string> = {}) =>
      h(
        'button',
        { type: 'button', class: 'ib', 'aria-label': label, title: label, onclick, ...extra },
        icon(d),
      );
    panel.replaceChildren(
      h(
        'div',
        { class: 'hd' },
        h('div', { class: 'ht' }, h('strong', { text: cfg.heading || cfg.name }), statusEl),
        btn(t().history, ICONS.list, () => {
          view = view === 'list' ? 'chat' : 'list';
          render();
        }),
        btn(
          muted ? t().unmute : t().mute,
          ICONS.bell,
          () => {
            muted = !muted;
            store.set('m', muted);
            build();
          },
          { 'aria-pressed': String(muted), class: muted ? 'ib muted' : 'ib' },
        ),
        btn(t().close, ICONS.close, close),
      ),
      h('div', { class: 'bd' }),
    );
    header();
    render();
    // Rebuilt under the visitor's focus (a new language, the mute button): keep it in the panel.
    if (focused) (panel.querySelector('textarea,input,select,button') as HTMLElement | null)?.focus();
  }

  function needsForm(): boolean {
    if (session) return false;
    const offline = !online();
    return (
      cfg.prechatFields.length > 0 ||
      cfg.departments.length > 1 ||
      (cfg.requireEmailUpfront && !identity?.email) ||
      (cfg.identityRequired && !identity?.hash) ||
      (offline && (cfg.offlineAction?.type === 'OFFLINE_FORM' || cfg.offlineAction?.collectEmail === true))
    );
  }

  function render(): void {
    const bd = panel.querySelector('.bd');
    if (!bd || !isOpen) return;
    if (view === 'chat' && needsForm()) view = 'form';
    const focused = panel.ownerDocument.activeElement === host.root.host && host.root.activeElement;
    if (view === 'chat') {
      if (!bd.querySelector('.log')) bd.replaceChildren(...chatView());
      renderLog();
    } else {
      bd.replaceChildren(
        view === 'list'
          ? listView()
          : view === 'otp'
            ? otpView()
            : view === 'thanks'
              ? h('p', { class: 'note', text: t().thanks })
              : formView(),
      );
      if (focused && !bd.contains(focused as Node))
        (bd.querySelector('input,select,textarea,button') as HTMLElement)?.focus();
    }
  }

  function chatView(): Node[] {
    bannerSlot = h('div');
    log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', tabindex: '0' });
    typingEl = h('div', { class: 'ty', 'aria-live': 'polite' });
    input = h('textarea', {
      rows: 1,
      placeholder: t().placeholder,
      'aria-label': t().message,
      maxlength: 4096,
      onkeydown: (e: KeyboardEvent) => {
        if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          submit();
        } else if (e.key === 'Escape' && quoting) {
          // Escape drops the quote first, then closes the panel.
          e.stopPropagation();
          quote();
        }
      },
      oninput: () => {
        draft = input!.value;
        typed();
      },
    });
    input.value = draft;
    quoteEl = h('div', { class: 'qp' });
    quote(quoting);
    const file = h('input', {
      type: 'file',
      hidden: true,
      onchange: () => {
        for (const f of Array.from(file.files || [])) queueMessage('', f);
        file.value = '';
      },
    });
    const emojis = h(
      'div',
      { class: 'em', hidden: true, role: 'group', 'aria-label': t().emoji },
      ...EMOJI.map((e) =>
        h('button', {
          type: 'button',
          text: e,
          onclick: () => {
            const i = input!;
            const at = i.selectionStart ?? i.value.length;
            i.value = i.value.slice(0, at) + e + i.value.slice(i.selectionEnd ?? at);
            draft = i.value;
            emojis.hidden = true;
            i.focus();
          },
        }),
      ),
    );
    const submit = () => {
      const text = input!.value.trim();
      if (!text) return;
      input!.value = draft = '';
      queueMessage(text);
    };
    const ib = (label: string, d: string, onclick: () => void, type = 'button') =>
      h('button', { type, class: 'ib', 'aria-label': label, title: label, onclick }, icon(d));
    return [
      log,
      typingEl,
      bannerSlot,
      emojis,
      quoteEl,
      h(
        'form',
        {
          class: 'c',
          onsubmit: (e: Event) => {
            e.preventDefault();
            submit();
          },
        },
        cfg.allowAttachments && ib(t().attach, ICONS.clip, () => file.click()),
        file,
        input,
        ib(t().emoji, ICONS.smile, () => {
          emojis.hidden = !emojis.hidden;
          if (!emojis.hidden) (emojis.firstChild as HTMLElement).focus();
        }),
        h(
          'button',
          { type: 'submit', class: 'ib send', 'aria-label': t().send, title: t().send },
          icon(ICONS.send),
        ),
      ),
    ];
  }

  function banner(): Node {
    if (!cfg.linkEmailBannerEnabled || !session || identity?.email || store.get('le')) return new Text('');
    const email = h('input', {
      type: 'email',
      required: true,
      'aria-label': t().email,
      placeholder: t().email,
    });
    const form = h(
      'form',
      {
        class: 'ban',
        onsubmit: async (e: Event) => {
          e.preventDefault();
          if (!EMAIL.test(email.value)) return email.focus();
          try {
            const j = await req<SessionAnswer>('POST', '/sessions/link-email', { email: email.value });
            session = { ...j.data, k: idKey() };
            store.set('s', session);
            store.set('le', 1);
            form.remove();
          } catch {
            email.setAttribute('aria-invalid', 'true');
          }
        },
      },
      h('span', { text: t().linkEmail }),
      email,
      h('button', { type: 'submit', text: t().save }),
      h('button', {
        type: 'button',
        class: 'x',
        'aria-label': t().close,
        text: '×',
        onclick: () => {
          store.set('le', 1);
          form.remove();
        },
      }),
    );
    return form;
  }

  const dayOf = (at: number) => new Date(at).toDateString();
  function dayLabel(at: number): string {
    const d = dayOf(at);
    if (d === dayOf(Date.now())) return t().today;
    if (d === dayOf(Date.now() - 864e5)) return t().yesterday;
    return new Date(at).toLocaleDateString(lang.code, { weekday: 'long', day: 'numeric', month: 'long' });
  }

  function renderLog(): void {
    if (!log) return;
    // The banner needs a session: it appears once the first message opened one.
    if (bannerSlot && !bannerSlot.firstElementChild) bannerSlot.replaceChildren(banner());
    const show = viewing ?? current;
    const list = [...msgs.values()]
      .filter((m) => (show ? m.conv === show : false) || (!m.conv && m.cid) || (m.local && show === current))
      .sort((a, b) => a.at - b.at || a.seq - b.seq);
    // A quote only answers a message of the conversation a send goes to.
    if (quoting && (quoting.conv !== current || closed.includes(current!))) quote();
    const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    // The button under the visitor's focus (reply, retry) keeps it across the redraw.
    const had = host.root.activeElement;
    const focusId = had && log.contains(had) && had.closest('[data-id]')?.getAttribute('data-id');
    const nodes: Node[] = [];
    if (viewing && viewing !== current)
      nodes.push(
        h('button', {
          type: 'button',
          class: 'lnk',
          text: t().back,
          onclick: () => {
            viewing = undefined;
            render();
          },
        }),
      );
    if (cfg.welcomeMessage && show === current)
      nodes.push(
        bubble({ id: 'w', seq: 0, mine: false, body: cfg.welcomeMessage, status: '', at: 0, local: true }),
      );
    if (!online() && show === current && !list.length) nodes.push(offlineNote());
    let day = '';
    for (const m of list) {
      if (dayOf(m.at) !== day) {
        day = dayOf(m.at);
        nodes.push(h('div', { class: 'day', role: 'separator', text: dayLabel(m.at) }));
      }
      nodes.push(bubble(m));
    }
    if (show && closed.includes(show))
      nodes.push(
        h(
          'div',
          { class: 'ended' },
          h('span', { text: t().ended }),
          show === current &&
            h('button', {
              type: 'button',
              class: 'lnk',
              text: t().newChat,
              onclick: () => {
                current = undefined;
                saveSeqs();
                render();
                input?.focus();
              },
            }),
        ),
      );
    log.replaceChildren(...nodes);
    if (focusId)
      (log.querySelector(`[data-id="${CSS.escape(focusId)}"] button`) as HTMLElement | null)?.focus();
    if (atEnd || list.some((m) => m.status === 'sending')) log.scrollTop = log.scrollHeight;
  }

  function offlineNote(): HTMLElement {
    const next = nextOpening(cfg.operatingHours);
    return h(
      'div',
      { class: 'note' },
      h('p', { text: cfg.offlineMessage || t().offline }),
      next &&
        h('p', {
          text: fill(
            t().nextOpen,
            't',
            next.toLocaleString(lang.code, { weekday: 'long', hour: 'numeric', minute: '2-digit' }),
          ),
        }),
      cfg.offlineAction?.collectEmail && h('p', { text: t().emailLater }),
    );
  }

  function bubble(m: Msg): HTMLElement {
    const quoted = m.replyTo ? msgs.get(m.replyTo) : undefined;
    const time = m.at
      ? new Date(m.at).toLocaleTimeString(lang.code, { hour: 'numeric', minute: '2-digit' })
      : '';
    const status = m.mine
      ? m.status === 'sending'
        ? t().sending
        : m.status === 'failed'
          ? ''
          : m.status === 'read' && cfg.readReceiptEnabled
            ? t().read
            : m.status === 'delivered'
              ? t().delivered
              : t().sent
      : '';
    const att = m.att;
    const src = att && /^(https?:|blob:)/i.test(att.url) ? att.url : undefined;
    const href = att && /^https?:/i.test(att.url) ? safeHref(att.url) : undefined;
    return h(
      'div',
      { class: `row ${m.mine ? 'me' : 'them'}`, 'data-id': m.id },
      h(
        'div',
        { class: 'bub', dir: 'auto' },
        m.replyTo && h('div', { class: 'q', dir: 'auto', text: quoted ? quoteText(quoted) : '…' }),
        att &&
          (att.image && src
            ? h(
                'a',
                { href: href || undefined, target: '_blank', rel: 'noopener noreferrer' },
                h('img', { src, alt: att.name, loading: 'lazy' }),
              )
            : h('a', {
                class: 'file',
                href: href || undefined,
                target: '_blank',
                rel: 'noopener noreferrer',
                text: att.name || t().file,
                dir: 'auto',
              })),
        m.progress !== undefined &&
          h('progress', { max: 100, value: m.progress, 'aria-label': fill(t().upload, 'n', m.progress) }),
        m.body && h('p', { dir: 'auto' }, linkify(m.body)),
      ),
      h(
        'div',
        { class: 'meta' },
        h('span', { class: 'sr', text: m.mine ? t().you : t().agent }),
        time && h('time', { text: time }),
        status && h('span', { text: status }),
        !m.local &&
          !m.cid &&
          !!m.conv &&
          m.conv === current &&
          !closed.includes(m.conv) &&
          h('button', {
            type: 'button',
            class: 'lnk rp',
            text: t().reply,
            onclick: () => {
              quote(m);
              input?.focus();
            },
          }),
        m.status === 'failed' && h('span', { class: 'err', text: m.error || t().failed }),
        m.status === 'failed' &&
          m.file?.size !== undefined &&
          m.file.size <= MAX_FILE &&
          h('button', { type: 'button', class: 'lnk', text: t().retry, onclick: () => deliver(m) }),
        m.status === 'failed' &&
          !m.file &&
          h('button', { type: 'button', class: 'lnk', text: t().retry, onclick: () => deliver(m) }),
      ),
    );
  }

  function progress(m: Msg): void {
    const bar = log?.querySelector(`[data-id="${m.id}"] progress`) as HTMLProgressElement | null;
    if (bar) bar.value = m.progress ?? 100;
    else render();
  }

  function typingRow(): void {
    if (!typingEl) return;
    typingEl.replaceChildren(
      ...(agentTyping
        ? [h('span', { class: 'dots', 'aria-hidden': 'true' }, h('i'), h('i'), h('i')), t().typing]
        : []),
    );
  }

  function listView(): HTMLElement {
    const convs = new Map<string, Msg>();
    for (const m of msgs.values()) if (m.conv && (convs.get(m.conv)?.at ?? 0) <= m.at) convs.set(m.conv, m);
    const items = [...convs.values()].sort((a, b) => b.at - a.at);
    return h(
      'div',
      { class: 'list' },
      h('h3', { text: t().history }),
      items.length
        ? h(
            'ul',
            {},
            ...items.map((m) =>
              h(
                'li',
                {},
                h(
                  'button',
                  {
                    type: 'button',
                    onclick: () => {
                      viewing = m.conv === current ? undefined : m.conv;
                      view = 'chat';
                      render();
                    },
                  },
                  h('time', { text: new Date(m.at).toLocaleString(lang.code) }),
                  h('span', { dir: 'auto', text: m.body || m.att?.name || '' }),
                  closed.includes(m.conv!) && h('em', { text: t().ended }),
                ),
              ),
            ),
          )
        : h('p', { text: t().noHistory }),
      h('button', {
        type: 'button',
        class: 'lnk',
        text: t().back,
        onclick: () => {
          view = 'chat';
          render();
        },
      }),
    );
  }

  // ---- forms: pre-chat, offline form, email capture

  function formFields(): PrechatField[] {
    const offline = !online();
    let fields = cfg.prechatFields;
    const ids = cfg.offlineAction?.formFieldIds;
    if (offline && cfg.offlineAction?.type === 'OFFLINE_FORM' && ids)
      fields = fields.filter((f) => ids.includes(f.id));
    const wantsEmail =
      cfg.requireEmailUpfront || cfg.identityRequired || (offline && cfg.offlineAction !== null);
    if (wantsEmail && !fields.some((f) => f.type === 'email'))
      fields = [
        ...fields,
        {
          id: 'email',
          type: 'email',
          label: t().email,
          required: cfg.requireEmailUpfront || cfg.identityRequired,
        },
      ];
    return fields;
  }

  function formView(): HTMLElement {
    const offlineForm = !online() && cfg.offlineAction?.type === 'OFFLINE_FORM';
    const fields = formFields();
    const rows: [PrechatField, HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, HTMLElement][] =
      [];
    const saved: Record<string, unknown> = store.get('pf') || {};
    const field = (f: PrechatField): HTMLElement => {
      const id = `cf-${f.id}`;
      const err = h('span', { class: 'fe', id: `${id}-e` });
      const common = {
        id,
        name: f.id,
        required: f.required === true,
        'aria-required': f.required ? 'true' : undefined,
        'aria-describedby': `${id}-e`,
        placeholder: local(f.placeholder, lang) || undefined,
      };
      let el: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
      if (f.type === 'select') {
        el = h(
          'select',
          common,
          h('option', { value: '', text: '—' }),
          ...(f.options || []).map((o) =>
            h('option', { value: o.value, text: local(o.label, lang) || o.value }),
          ),
        );
      } else if (f.type === 'textarea') {
        el = h('textarea', { ...common, rows: 3, maxlength: f.maxLength ?? 1000 });
      } else {
        el = h('input', {
          ...common,
          type:
            f.type === 'phone'
              ? 'tel'
              : f.type === 'checkbox'
                ? 'checkbox'
                : f.type === 'email'
                  ? 'email'
                  : 'text',
          maxlength: f.maxLength ?? 1000,
          autocomplete:
            f.type === 'email' ? 'email' : f.type === 'phone' ? 'tel' : f.id === 'name' ? 'name' : undefined,
        });
      }
      const prior =
        saved[f.id] ?? (f.type === 'email' ? identity?.email : f.id === 'name' ? identity?.name : undefined);
      if (el instanceof HTMLInputElement && el.type === 'checkbox') el.checked = prior === true;
      else if (typeof prior === 'string') el.value = prior;
      rows.push([f, el, err]);
      const label = h(
        'label',
        { for: id, text: local(f.label, lang) },
        f.required ? h('span', { 'aria-hidden': 'true', text: ' *' }) : null,
      );
      return h(
        'div',
        { class: `fl ${f.type === 'checkbox' ? 'cb' : ''}` },
        ...(f.type === 'checkbox' ? [el, label] : [label, el]),
        err,
      );
    };
    const depts = cfg.departments;
    const dept =
      depts.length > 1 &&
      h(
        'select',
        { id: 'cf-dept', required: true, 'aria-required': 'true' },
        h('option', { value: '', text: '—' }),
        ...depts.map((d) =>
          h('option', { value: d.id, text: d.online ? d.name : `${d.name} (${t().offlineTag})` }),
        ),
      );
    const message = offlineForm && h('textarea', { id: 'cf-msg', rows: 4, required: true, maxlength: 4096 });
    const errorEl = h('p', { class: 'fe', role: 'alert', text: formError });
    const form = h(
      'form',
      {
        class: 'form',
        novalidate: true,
        onsubmit: async (e: Event) => {
          e.preventDefault();
          const answers: Record<string, unknown> = {};
          let bad: HTMLElement | undefined;
          const out: Record<string, string | undefined> = {};
          for (const [f, el, err] of rows) {
            const v = el instanceof HTMLInputElement && el.type === 'checkbox' ? el.checked : el.value.trim();
            const problem = check(f, v);
            err.textContent = problem;
            el.setAttribute('aria-invalid', String(!!problem));
            if (problem) bad = bad || el;
            if (v !== '' && v !== false) answers[f.id] = v;
            if (typeof v === 'string' && v) {
              if (f.type === 'email') out.email = out.email || v;
              if (f.type === 'phone') out.phone = out.phone || v;
              if (f.id === 'name' || (f.type === 'text' && /name|nombre|nome/i.test(f.id)))
                out.name = out.name || v;
            }
          }
          if (dept && !dept.value) bad = bad || dept;
          if (message && !message.value.trim()) bad = bad || message;
          if (bad) return bad.focus();
          store.set('pf', answers);
          const prechat: Record<string, unknown> = {};
          for (const f of cfg.prechatFields) if (f.id in answers) prechat[f.id] = answers[f.id];
          const email = out.email || identity?.email;
          const mode =
            cfg.identityRequired && !identity?.hash
              ? 'verify-otp'
              : identity?.hash
                ? undefined
                : email || out.name || out.phone
                  ? 'identified'
                  : undefined;
          const body = sessionBody({
            mode,
            name: identity?.hash ? undefined : out.name,
            email: identity?.hash ? undefined : email,
            phone: out.phone,
            prechat: Object.keys(prechat).length ? prechat : undefined,
            departmentId: dept ? dept.value : depts.length === 1 ? depts[0]!.id : undefined,
          });
          try {
            formError = '';
            const j = await req<SessionAnswer>('POST', '/sessions', body, false);
            if (j.data.otpSent) {
              otpBody = body;
              view = 'otp';
            } else {
              setSession(j.data);
              if (message) queueMessage(message.value.trim());
              view = message ? 'thanks' : 'chat';
              loadHistory();
            }
          } catch (err) {
            formError = (err as Error).message || t().error;
          }
          render();
          if (view === 'chat') input?.focus();
        },
      },
      !online() && offlineNote(),
      ...fields.map(field),
      dept && h('div', { class: 'fl' }, h('label', { for: 'cf-dept', text: t().department }), dept),
      message && h('div', { class: 'fl' }, h('label', { for: 'cf-msg', text: t().message }), message),
      errorEl,
      h('button', { type: 'submit', class: 'btn', text: offlineForm ? t().leaveMessage : t().start }),
    );
    return form;
  }

  function check(f: PrechatField, v: string | boolean): string {
    if (v === '' || v === false) return f.required ? t().required : '';
    if (typeof v !== 'string') return '';
    if (f.type === 'email' && !EMAIL.test(v)) return t().badEmail;
    if (f.type === 'phone' && !PHONE.test(v)) return t().badPhone;
    if (v.length > (f.maxLength ?? 1000)) return t().badValue;
    if (f.type === 'select' && !(f.options || []).some((o) => o.value === v)) return t().badValue;
    if (f.regex) {
      try {
        if (!new RegExp(f.regex).test(v)) return t().badValue;
      } catch {}
    }
    return '';
  }

  function otpView(): HTMLElement {
    const code = h('input', {
      id: 'cf-otp',
      inputmode: 'numeric',
      autocomplete: 'one-time-code',
      maxlength: 6,
      required: true,
      pattern: '[0-9]{6}',
    });
    const err = h('p', { class: 'fe', role: 'alert', text: formError });
    return h(
      'form',
      {
        class: 'form',
        onsubmit: async (e: Event) => {
          e.preventDefault();
          if (!/^\d{6}$/.test(code.value.trim())) return code.focus();
          try {
            const j = await req<SessionAnswer>(
              'POST',
              '/sessions',
              { ...otpBody, otp: code.value.trim() },
              false,
            );
            formError = '';
            setSession(j.data);
            view = 'chat';
            loadHistory();
          } catch (x) {
            formError = (x as Error).message || t().error;
          }
          render();
        },
      },
      h('p', { text: fill(t().otpAsk, 'e', String(otpBody?.email ?? '')) }),
      h('div', { class: 'fl' }, h('label', { for: 'cf-otp', text: t().otpCode }), code),
      err,
      h('button', { type: 'submit', class: 'btn', text: t().verify }),
      h('button', {
        type: 'button',
        class: 'lnk',
        text: t().resend,
        onclick: () => req('POST', '/sessions/resend-otp', { email: otpBody?.email }, false).catch(() => {}),
      }),
    );
  }

  // ---- open / close, SDK

  /** `restore`: reopened on a new page as the visitor left it, without taking the page's focus. */
  function open(restore?: boolean): void {
    if (isOpen) return;
    isOpen = true;
    store.set('o', 1);
    teaser?.remove();
    panel.hidden = false;
    wrap.classList.add('open');
    build();
    loadHistory();
    connect();
    markRead();
    if (!restore) (panel.querySelector('textarea,input,select') as HTMLElement | null)?.focus();
    host.emit('open');
  }

  function close(): void {
    if (!isOpen) return;
    isOpen = false;
    store.set('o', 0);
    typingDone();
    panel.hidden = true;
    wrap.classList.remove('open');
    host.launcher.setAttribute('aria-label', t().open);
    host.launcher.focus();
    host.emit('close');
  }

  function identify(o: unknown): void {
    if (!o || typeof o !== 'object') return;
    const r = o as Record<string, unknown>;
    const next: Identity = {
      userId: str(r.userId),
      email: str(r.email),
      name: str(r.name),
      hash: str(r.hash),
    };
    if (r.attributes && typeof r.attributes === 'object') setAttributes(r.attributes);
    const before = idKey();
    identity = next.userId || next.email || next.name ? next : undefined;
    store.set('id', identity);
    if (session && before !== idKey()) {
      // Another person (or a now signed one): a new session and that contact's history.
      disconnect();
      msgs.clear();
      seqs = {};
      current = undefined;
      historyLoaded = false;
      ensureSession()
        .then(loadHistory)
        .catch(() => {});
    }
    render();
  }

  let attrTimer: ReturnType<typeof setTimeout> | undefined;
  function setAttributes(a: unknown): void {
    if (!a || typeof a !== 'object') return;
    const before = JSON.stringify(attrs);
    attrs = { ...attrs, ...(a as Record<string, unknown>) };
    // Hosts set the same attributes on every page: only a change refreshes the session.
    if (JSON.stringify(attrs) === before) return;
    store.set('a', attrs);
    clearTimeout(attrTimer);
    if (session)
      attrTimer = setTimeout(
        () =>
          req<SessionAnswer>('POST', '/sessions', sessionBody(), false)
            .then((j) => setSession(j.data))
            .catch(() => {}),
        1000,
      );
  }

  function reset(): void {
    disconnect();
    store.clear();
    visitorId = uid();
    store.set('v', visitorId);
    session = identity = undefined;
    attrs = {};
    msgs.clear();
    seqs = {};
    closed = [];
    current = viewing = undefined;
    historyLoaded = false;
    readSent = {};
    draft = '';
    setUnread(0);
    view = 'chat';
    if (isOpen) build();
  }

  function proactive(tr: Trigger): void {
    if (tr.action.type === 'open' || isOpen) return void open();
    const text = local(tr.action.message, lang);
    if (!text) {
      open();
      return;
    }
    msgs.set(`p:${tr.id}`, {
      id: `p:${tr.id}`,
      seq: 0,
      mine: false,
      body: text,
      status: '',
      at: Date.now(),
      local: true,
      conv: current,
    });
    setUnread(unread + 1);
    ding();
    teaser?.remove();
    teaser = h('button', { type: 'button', class: 'tz', dir: 'auto', text, onclick: () => open() });
    wrap.insertBefore(teaser, host.launcher);
  }

  const app: App = {
    proactive,
    call(name, args) {
      const [a] = args;
      switch (name) {
        case 'open':
          return open();
        case 'close':
          return close();
        case 'toggle':
          return isOpen ? close() : open();
        case 'hide':
          return close();
        case 'identify':
          return identify(a);
        case 'setAttributes':
          return setAttributes(a);
        case 'setLocale':
          if (typeof a === 'string' && /^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})?$/.test(a)) store.set('l', a);
          else if (a == null) store.set('l', null);
          build();
          host.launcher.setAttribute('aria-label', isOpen ? t().close : t().open);
          return;
        case 'sendMessage':
          if (typeof a !== 'string' || !a.trim()) return;
          if (needsForm()) {
            draft = a;
            return open();
          }
          return queueMessage(a.trim().slice(0, 4096));
        case 'trigger': {
          const tr = cfg.proactiveTriggers.find((x) => x.id === a || x.name === a);
          return tr ? proactive(tr) : undefined;
        }
        case 'reset':
          return reset();
        default:
          return undefined;
      }
    },
  };

  host.badge(unread);
  host.launcher.setAttribute('aria-label', t().open);
  if (session) {
    loadHistory().then(connect);
  }
  if (store.get('o')) open(true);
  return app;
}

(window as unknown as { __charlaBoot?: (boot: typeof createApp) => void }).__charlaBoot?.(createApp);
