// DOM building. Every text from visitors, agents or the channel's settings goes in as text
// (textContent / text nodes), never as HTML; links are built element by element.

type Child = Node | string | null | undefined | false;
// `never`: a listener of any event type fits.
type Attrs = Record<string, string | number | boolean | ((e: never) => void) | undefined | null>;

/** `h('button', {class: 'x', onclick}, 'text')`: properties starting with `on` are listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const k in attrs) {
    const v = attrs[k];
    if (v == null || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.slice(2), v as EventListener);
    else if (k === 'class') el.className = String(v);
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'value' || k === 'checked') (el as unknown as Record<string, unknown>)[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  el.append(...(children.filter((c) => c != null && c !== false) as (Node | string)[]));
  return el;
}

/** A safe href: only http(s), mailto and tel, else undefined. */
export function safeHref(raw: string): string | undefined {
  try {
    const u = new URL(raw, 'https://invalid.invalid/');
    if (!/^https?:\/\//i.test(raw) && !/^(mailto|tel):/i.test(raw)) return undefined;
    return /^(https?|mailto|tel):$/.test(u.protocol) ? u.href : undefined;
  } catch {
    return undefined;
  }
}

const LINK =
  /\b(https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]|www\.[^\s<>"']+[^\s<>"'.,;:!?)\]]|[\w.+-]+@[\w-]+(\.[\w-]+)+)/gi;

/** Text with its URLs, `www.` hosts and emails made into links. */
export function linkify(text: string): DocumentFragment {
  const out = document.createDocumentFragment();
  let last = 0;
  for (const m of text.matchAll(LINK)) {
    const raw = m[0];
    const at = m.index ?? 0;
    const href = safeHref(
      raw.includes('@') && !raw.includes('/')
        ? `mailto:${raw}`
        : raw.startsWith('www.')
          ? `https://${raw}`
          : raw,
    );
    if (!href) continue;
    out.append(
      text.slice(last, at),
      h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow', text: raw }),
    );
    last = at + raw.length;
  }
  out.append(text.slice(last));
  return out;
}

const SVG = 'http://www.w3.org/2000/svg';
/** A 24×24 icon from one path. */
export function icon(d: string): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  const p = document.createElementNS(SVG, 'path');
  p.setAttribute('d', d);
  svg.appendChild(p);
  return svg;
}

export const ICONS = {
  close: 'M6 6l12 12M18 6L6 18',
  send: 'M3 20l18-8L3 4v6l12 2-12 2z',
  clip: 'M16 6l-8 8a2 2 0 0 0 3 3l8-8a4 4 0 0 0-6-6l-8 8a6 6 0 0 0 8 8l6-6',
  smile: 'M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM8 14s1.5 2 4 2 4-2 4-2M9 9h.01M15 9h.01',
  bell: 'M6 16V11a6 6 0 0 1 12 0v5l2 2H4zM10 20h4',
  list: 'M4 6h16M4 12h16M4 18h10',
};
