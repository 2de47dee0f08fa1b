// The one way the inbox makes DOM: strings always become text nodes (never HTML), so whatever a
// visitor writes is shown as text. There is no innerHTML anywhere in the app.

type Child = Node | string | number | null | undefined | false;
type Handler = (e: Event) => void;
export interface Props {
  class?: string;
  /** Attributes, set with setAttribute (never event handlers or URLs: see `link`). */
  attrs?: Record<string, string | number | boolean | undefined>;
  on?: Record<string, Handler>;
  title?: string;
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Props | string | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (typeof props === 'string') el.className = props;
  else if (props) {
    if (props.class) el.className = props.class;
    if (props.title) el.title = props.title;
    for (const [k, v] of Object.entries(props.attrs ?? {})) {
      if (v === undefined || v === false) continue;
      if (/^on/i.test(k) || k === 'href' || k === 'src') throw new Error(`unsafe attribute ${k}`);
      el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const [k, fn] of Object.entries(props.on ?? {})) el.addEventListener(k, fn);
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

export function clear(el: Node, ...children: Child[]): void {
  while (el.firstChild) el.removeChild(el.firstChild);
  append(el, children);
}

/** Only http(s) URLs, and only Charla's own (same origin) unless `external`; otherwise null. */
export function safeUrl(raw: string, external = false): URL | null {
  try {
    const u = new URL(raw, location.href);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return null;
    if (!external && u.origin !== location.origin) return null;
    return u;
  } catch {
    return null;
  }
}

/** A link opened in a new tab, without the opener or a referrer; as text when the URL is unsafe. */
export function link(raw: string, text: string = raw, external = true): HTMLElement {
  const u = safeUrl(raw, external);
  if (!u) return h('span', null, text);
  const a = h('a', { attrs: { target: '_blank', rel: 'noopener noreferrer nofollow' } }, text);
  a.href = u.href;
  return a;
}

export const $ = <T extends Element = HTMLElement>(sel: string, root: ParentNode = document) =>
  root.querySelector(sel) as T | null;
