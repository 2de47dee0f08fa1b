/**
 * Benchmark: the agent inbox's first load.
 *
 * - Size: the JS and CSS an agent's browser downloads on a cold cache, raw and brotli (what
 *   Charla serves to browsers that accept it), and the bytes actually transferred.
 * - Time to first render of the conversation list in a location with 10,000 conversations
 *   (default; made in bulk with SQL): from navigation start to the first row in the DOM, measured
 *   in the browser (Debian's chromium through playwright-core), each run in a fresh context (cold
 *   cache) with a signed-in session cookie.
 *
 *   npm run bench:inbox                            embedded PostgreSQL in a temp dir
 *   DATABASE_URL=postgres://… npm run bench:inbox   a throwaway database on that server
 *
 * Env: BENCH_CONVERSATIONS (default 10000), BENCH_RUNS (default 7), CHROMIUM_PATH
 * (default /usr/bin/chromium), BENCH_VERBOSE=1 (each run's timeline).
 *
 * The Charla server runs in a child process (this file, started with a role argument), so the
 * browser's driver does not share its event loop; data generation and the browser run here.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { chromium } from 'playwright-core';
import { buildInbox, distDir, inboxStale } from '../packages/inbox/build.mjs';
import {
  envNumber,
  main,
  percentile,
  runChild,
  spawnServer,
  startBenchCharla,
  stopServer,
  withBenchDatabase,
} from './support.js';

const CONVERSATIONS = Math.round(envNumber('BENCH_CONVERSATIONS', 10_000));
const RUNS = Math.round(envNumber('BENCH_RUNS', 7));
const PASSWORD = 'bench password 123';

const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

interface Target {
  url: string;
  locationId: string;
  email: string;
}

// ---------------------------------------------------------------- child: the server under test

async function serveCharla(): Promise<Target> {
  const { db, location, listen } = await startBenchCharla();
  const { createUser } = await import('../packages/server/src/core/users/service.js');
  const user = await createUser(db, {
    email: 'bench@example.com',
    name: 'Bench Agent',
    role: 'agent',
    password: PASSWORD,
    locationIds: [location.id],
  });
  return { url: await listen(), locationId: location.id, email: user.email };
}

// ---------------------------------------------------------------- parent: data, browser, report

async function generate(c: pg.Client, locationId: string): Promise<void> {
  await c.query(
    `WITH c AS (
       INSERT INTO contacts (location_id, id, name, email, source)
       SELECT $1, gen_random_uuid(), 'Visitor ' || i, 'visitor' || i || '@example.com', 'web_chat'
       FROM generate_series(1, $2) AS i
       RETURNING id, name
     )
     INSERT INTO conversations (location_id, id, contact_id, channel, type, unread_count, last_seq,
       last_message_body, last_message_type, last_message_direction, last_message_date, created_at)
     SELECT $1, gen_random_uuid(), c.id, 'live_chat', 'TYPE_PHONE', (random() * 3)::int, 1,
       'Hola, ' || c.name || ': ¿tienen envío a domicilio?', 'TYPE_LIVE_CHAT', 'inbound',
       now() - random() * interval '30 days', now() - interval '31 days'
     FROM c`,
    [locationId, CONVERSATIONS],
  );
  await c.query('VACUUM ANALYZE conversations');
  await c.query('VACUUM ANALYZE contacts');
}

async function measure(target: Target) {
  const { url, locationId } = target;
  const login = await fetch(`${url}/inbox/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: url },
    body: JSON.stringify({ email: target.email, password: PASSWORD }),
  });
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  const [name, value] = cookie.split('=') as [string, string];

  // The list's first request alone, warm, from Node: what of the render is the API's.
  const api: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const r = await fetch(
      `${url}/conversations/search?locationId=${locationId}&limit=30&conversationStatus=open`,
      {
        headers: { cookie, version: '2021-07-28' },
      },
    );
    await r.arrayBuffer();
    api.push(performance.now() - t0);
  }
  api.sort((a, b) => a - b);

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const times: number[] = [];
  let transferred = 0;
  try {
    for (let run = 0; run < RUNS; run++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      await context.addCookies([{ name, value, url }]);
      const page = await context.newPage();
      // Records when the first conversation row enters the DOM (init scripts run before the app).
      await page.addInitScript(() => {
        new MutationObserver((_, obs) => {
          if (document.querySelector('.conv')) {
            (window as unknown as { __firstRow: number }).__firstRow = performance.now();
            obs.disconnect();
          }
        }).observe(document, { childList: true, subtree: true });
      });
      await page.goto(`${url}/inbox`);
      await page.waitForSelector('.conv');
      const m = await page.evaluate(() => ({
        firstRow: (window as unknown as { __firstRow: number }).__firstRow,
        bytes: performance
          .getEntriesByType('resource')
          .concat(performance.getEntriesByType('navigation' as never))
          .filter((e) => /\/inbox(\/assets\/|$)/.test(new URL(e.name).pathname))
          .reduce((s, e) => s + (e as PerformanceResourceTiming).transferSize, 0),
        rows: document.querySelectorAll('.conv').length,
        // When each response was in: assets, the session, the first page, …
        steps: performance
          .getEntriesByType('resource')
          .map((e) => [
            new URL(e.name).pathname.split('/').slice(-1)[0]!,
            Math.round((e as PerformanceResourceTiming).responseEnd),
          ]),
      }));
      if (process.env.BENCH_VERBOSE) console.log(m.firstRow.toFixed(0), JSON.stringify(m.steps));
      if (m.rows < 1) throw new Error('no conversation rendered');
      times.push(m.firstRow);
      transferred = m.bytes;
      await context.close();
    }
  } finally {
    await browser.close();
  }
  return { api, times: times.sort((a, b) => a - b), transferred };
}

async function parent(): Promise<void> {
  if (inboxStale()) await buildInbox({ outdir: distDir });
  const { files, js, css } = await buildInbox();
  const size = (name: string) => files[name]!.length;
  const raw = size(`assets/${js}`) + size(`assets/${css}`);
  const br = size(`assets/${js}.br`) + size(`assets/${css}.br`);

  await withBenchDatabase({ embedded: 'parent' }, async ({ dataDir, databaseUrl, description }) => {
    const { proc, target } = await spawnServer<Target>(import.meta.url, 'charla', {
      BENCH_DATA_DIR: dataDir,
      BENCH_DATABASE_URL: databaseUrl,
    });
    const c = new pg.Client({ connectionString: databaseUrl });
    await c.connect();
    try {
      const t0 = performance.now();
      await generate(c, target.locationId);
      console.log(
        `${CONVERSATIONS} conversations made in ${(performance.now() - t0).toFixed(0)} ms (${description})`,
      );
      const { api, times, transferred } = await measure(target);
      console.log(
        `Inbox first load (${RUNS} runs, cold cache each, ${CONVERSATIONS} conversations in the location)`,
      );
      console.log(`  JS + CSS:             ${kb(raw)} raw, ${kb(br)} brotli (${js}, ${css})`);
      console.log(
        `  transferred (app):    ${kb(transferred)} (HTML, JS, CSS with headers; API calls excluded)`,
      );
      console.log(`  first page, API only: p50 ${percentile(api, 50).toFixed(1)} ms (warm, from Node)`);
      console.log(
        `  first list render:    p50 ${percentile(times, 50).toFixed(0)} ms, ` +
          `min ${times[0]!.toFixed(0)} ms, max ${times[times.length - 1]!.toFixed(0)} ms ` +
          '(navigation start to the first row, in chromium)',
      );
    } finally {
      await c.end();
      await stopServer(proc);
    }
  });
}

main(parent, () => runChild(serveCharla));
