import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import { listLocations } from '../../core/locations/service.js';
import { type ChatWidget, createWidget, listWidgets } from '../../core/widgets/service.js';

/** `packages/widget/` seen from `src/api/widget/` and from `dist/api/widget/` alike. */
const WIDGET_DIR = fileURLToPath(new URL('../../../../widget/', import.meta.url));
const FILES = ['loader.js', 'app.js', 'app.css', 'triggers.js'] as const;
type FileName = (typeof FILES)[number];

interface Asset {
  type: string;
  etag: string;
  raw: Buffer;
  br: Buffer;
  gzip: Buffer;
}

export interface WidgetBundle {
  version: string;
  assets: Map<FileName, Asset>;
}

function bundle(version: string, files: Record<string, Buffer>): WidgetBundle {
  const assets = new Map<FileName, Asset>();
  for (const name of FILES) {
    const raw = files[name];
    if (!raw) throw new Error(`The widget build has no ${name}`);
    assets.set(name, {
      type: name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8',
      etag: `"${createHash('sha256').update(raw).digest('base64url').slice(0, 22)}"`,
      raw,
      br: brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
      gzip: gzipSync(raw, { level: 9 }),
    });
  }
  return { version, assets };
}

/** Builds the widget from its sources with esbuild (development and tests: always current). */
export async function buildWidgetBundle(): Promise<WidgetBundle> {
  const builder = (await import(pathToFileURL(`${WIDGET_DIR}build.mjs`).href)) as {
    buildWidget(o?: { outdir?: string }): Promise<{ version: string; files: Record<string, Buffer> }>;
  };
  const { version, files } = await builder.buildWidget();
  return bundle(version, files);
}

/**
 * The built widget: `packages/widget/dist` when Charla runs from its build (`npm start`), a fresh
 * in-memory build when it runs from sources (tsx: `npm test`, development) or dist is missing.
 */
async function loadWidget(): Promise<WidgetBundle> {
  const dist = `${WIDGET_DIR}dist/`;
  const fromSources = import.meta.url.endsWith('.ts');
  if (!fromSources && existsSync(`${dist}version.json`)) {
    const { version } = JSON.parse(readFileSync(`${dist}version.json`, 'utf8')) as { version: string };
    return bundle(version, Object.fromEntries(FILES.map((f) => [f, readFileSync(dist + f)])));
  }
  return buildWidgetBundle();
}

/**
 * The channel the demo page shows: the first location's default live-chat widget, or, when that
 * location has none, a "Demo chat" widget created for it on first use.
 */
async function demoChannel(ctx: AppContext): Promise<ChatWidget | undefined> {
  const [location] = await listLocations(ctx.db, null);
  if (!location) return undefined;
  const find = async () => {
    const { items } = await listWidgets(
      ctx.db,
      location.id,
      { chatType: 'liveChat' },
      { offset: 0, limit: 50 },
    ).catch(() => ({ items: [] as ChatWidget[] }));
    return items.find((w) => w.isDefault) ?? items[0];
  };
  return (
    (await find()) ??
    createWidget(ctx.db, 'demo', {
      locationId: location.id,
      name: 'Demo chat',
      chatType: 'liveChat',
      settings: {
        heading: 'Chat with us',
        liveChatIntroMsg: 'Hi! Ask us anything: an agent answers here.',
        widgetPrimaryColor: '#2563eb',
        linkEmailBannerEnabled: true,
      },
    })
  );
}

const html = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function demoPage(token: string, locationId: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Charla widget demo</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/widget/demo.css">
</head>
<body>
<main>
<h1>Charla chat widget demo</h1>
<p>The launcher in the corner is the widget, loaded by the same snippet a site pastes before
<code>&lt;/body&gt;</code>. This page is served with a strict Content-Security-Policy (no inline
scripts or styles).</p>
<p>
<button type="button" data-call="open">Open</button>
<button type="button" data-call="close">Close</button>
<button type="button" data-call="setLocale" data-arg="en">English</button>
<button type="button" data-call="setLocale" data-arg="es">Español</button>
<button type="button" data-call="setLocale" data-arg="pt">Português</button>
<button type="button" data-call="reset">Reset visitor</button>
</p>
<h2>Answer as an agent</h2>
<p>Send a message from the widget, then reply with the API key <code>npm start</code> printed on the
first start:</p>
<pre id="reply" data-location="${html(locationId)}">Send a message first.</pre>
<p>Events from <code>Charla.on(…)</code>:</p>
<pre id="events"></pre>
</main>
<script async src="/widget/loader.js" data-token="${html(token)}"></script>
<script src="/widget/demo.js"></script>
</body>
</html>
`;
}

// The demo page's own script and style (served as files: the page allows no inline code).
const DEMO_JS = `(function(){
var token=document.querySelector('script[data-token]').dataset.token;
document.addEventListener('click',function(e){var b=e.target.closest('[data-call]');if(!b||!window.Charla)return;
var a=b.dataset.arg;a===undefined?window.Charla[b.dataset.call]():window.Charla[b.dataset.call](a);});
var events=document.getElementById('events');
function show(){var s;try{s=JSON.parse(localStorage.getItem('charla:'+token+':s'))}catch(e){}
if(!s)return;document.getElementById('reply').textContent='curl -X POST '+location.origin+'/conversations/messages \\\\\\n'+
'  -H "Authorization: Bearer $KEY" -H "Version: 2021-07-28" -H "Content-Type: application/json" \\\\\\n'+
"  -d '{\\"type\\":\\"Live_Chat\\",\\"contactId\\":\\""+s.contactId+"\\",\\"message\\":\\"Hello from an agent\\"}'";}
var t=setInterval(function(){if(!window.Charla||!window.Charla.on)return;clearInterval(t);
['ready','open','close','message.received','message.sent','unread','conversation.closed'].forEach(function(n){
window.Charla.on(n,function(d){events.textContent=(new Date().toLocaleTimeString()+' '+n+' '+(d===undefined?'':JSON.stringify(d))+'\\n'+events.textContent).slice(0,4000);show();});});show();},50);
})();
`;
const DEMO_CSS = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f8fafc;color:#0f172a}
main{max-width:720px;margin:40px auto;padding:0 20px}pre{background:#0f172a;color:#e2e8f0;padding:12px;border-radius:8px;overflow:auto;white-space:pre-wrap}
button{font:inherit;padding:6px 12px;border-radius:6px;border:1px solid #cbd5e1;background:#fff;cursor:pointer;margin:0 4px 4px 0}
`;

/**
 * The embeddable chat widget's files (`/widget/loader.js`, `app.js`, `app.css`, `triggers.js`)
 * and the demo page (`/demo`). The loader is revalidated often (ETag, 5 minutes); the files it
 * loads are named by a content hash (`?v=`) and cached for a year.
 */
export async function widgetApi(app: FastifyInstance, ctx: AppContext): Promise<void> {
  let loaded: Promise<WidgetBundle> | undefined;
  const widget = () => {
    loaded ??= loadWidget().catch((err) => {
      loaded = undefined;
      throw err;
    });
    return loaded;
  };

  const serve = async (req: FastifyRequest, reply: FastifyReply, name: FileName) => {
    const { version, assets } = await widget();
    const a = assets.get(name)!;
    const v = (req.query as { v?: string }).v;
    reply
      .header('Content-Type', a.type)
      .header('X-Content-Type-Options', 'nosniff')
      .header('Cross-Origin-Resource-Policy', 'cross-origin')
      .header('ETag', a.etag)
      .header('Vary', 'Accept-Encoding')
      .header(
        'Cache-Control',
        name !== 'loader.js' && v === version
          ? 'public, max-age=31536000, immutable'
          : 'public, max-age=300, stale-while-revalidate=86400',
      );
    if (req.headers['if-none-match'] === a.etag) return reply.status(304).send();
    const accepts = String(req.headers['accept-encoding'] ?? '');
    if (/\bbr\b/.test(accepts)) return reply.header('Content-Encoding', 'br').send(a.br);
    if (/\bgzip\b/.test(accepts)) return reply.header('Content-Encoding', 'gzip').send(a.gzip);
    return reply.send(a.raw);
  };

  for (const name of FILES) {
    app.get(`/widget/${name}`, { schema: { hide: true } }, (req, reply) => serve(req, reply, name));
  }
  app.get('/widget/demo.js', { schema: { hide: true } }, async (_req, reply) =>
    reply.header('Content-Type', 'text/javascript; charset=utf-8').send(DEMO_JS),
  );
  app.get('/widget/demo.css', { schema: { hide: true } }, async (_req, reply) =>
    reply.header('Content-Type', 'text/css; charset=utf-8').send(DEMO_CSS),
  );

  let demo: Promise<ChatWidget | undefined> | undefined;
  app.get('/demo', { schema: { hide: true } }, async (_req, reply) => {
    demo ??= demoChannel(ctx).finally(() => {
      demo = undefined;
    });
    const channel = await demo;
    if (!channel) {
      return reply
        .status(404)
        .send({ statusCode: 404, error: 'Not Found', message: 'Create a location first' });
    }
    const ws = ctx.config.publicUrl.replace(/^http/, 'ws');
    return reply
      .header('Content-Type', 'text/html; charset=utf-8')
      .header('Cache-Control', 'no-store')
      .header(
        'Content-Security-Policy',
        `default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self' ${ws} ws: wss:; frame-ancestors 'none'`,
      )
      .send(demoPage(channel.publicToken, channel.locationId));
  });
}
