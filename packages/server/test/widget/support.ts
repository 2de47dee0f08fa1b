// Browser tests of the embeddable widget: Debian's chromium driven by playwright-core (never a
// downloaded browser), and a tiny host site on another origin than Charla's.
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
/** Why the browser suites skip, or false when they run. */
export const skipBrowser = hasChromium
  ? false
  : `${CHROMIUM} is missing: install it (apt-get install -y chromium) to run the widget's browser tests`;

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

export interface HostPage {
  body: string;
  csp?: string;
}

/** A host site: pages by path, each with an optional Content-Security-Policy. */
export interface HostSite {
  url: string;
  pages: Map<string, HostPage>;
  close(): Promise<void>;
}

export async function hostSite(): Promise<HostSite> {
  const pages = new Map<string, HostPage>();
  const server: Server = createServer((req: IncomingMessage, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const page = pages.get(path) ?? pages.get('*');
    if (!page) {
      res.writeHead(404).end();
      return;
    }
    const headers: Record<string, string> = { 'content-type': 'text/html; charset=utf-8' };
    if (page.csp) headers['content-security-policy'] = page.csp;
    res.writeHead(200, headers).end(page.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    // "localhost", not 127.0.0.1: another site than Charla's, not only another port.
    url: `http://localhost:${port}`,
    pages,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The install snippet without its inline stub (a strict CSP refuses inline scripts). */
export const snippet = (charlaUrl: string, token: string, attrs = '') =>
  `<script async src="${charlaUrl}/widget/loader.js" data-token="${token}"${attrs}></script>`;

export const page = (head: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>${head}</head><body><h1>Shop</h1>${body}</body></html>`;

/** A strict policy: no 'unsafe-inline', scripts and styles only from the page and Charla. */
export function strictCsp(charlaUrl: string): string {
  const ws = charlaUrl.replace(/^http/, 'ws');
  return [
    "default-src 'self'",
    `script-src 'self' ${charlaUrl}`,
    `style-src 'self' ${charlaUrl}`,
    `img-src 'self' ${charlaUrl} blob: data:`,
    `connect-src 'self' ${charlaUrl} ${ws}`,
  ].join('; ');
}

/** Everything a page reports that a visitor should never see: errors, CSP refusals, dialogs. */
export function watch(p: Page): { problems: string[] } {
  const problems: string[] = [];
  p.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  p.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  p.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused/i.test(m.text()))
      problems.push(`csp: ${m.text()}`);
  });
  return { problems };
}

/** The smallest valid PNG (1×1). */
export const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

/** The widget's stored state on the host page (first-party localStorage). */
export async function stored(p: Page, token: string, key: string): Promise<any> {
  return p.evaluate(([k]) => JSON.parse(localStorage.getItem(k!) ?? 'null'), [`charla:${token}:${key}`]);
}
