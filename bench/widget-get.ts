/**
 * Benchmark: Charla's authenticated `GET /chat-widget/data/{locationId}/{id}` against a bare
 * Fastify route that returns a DTO of the same shape and size, so the ratio shows what auth, rate
 * limiting, the database read and Charla's plugins cost on top of Fastify itself.
 *
 *   npm run bench:widget                           embedded PostgreSQL in a temp dir
 *   DATABASE_URL=postgres://… npm run bench:widget  a throwaway database on that server
 *
 * (`npm run bench` runs this and the other benchmarks in bench/ one after the other.)
 *
 * Env: BENCH_SECONDS (measured seconds per target, default 8), BENCH_CONNECTIONS (default 10).
 *
 * Each server runs in its own child process (this file, started with a role argument) and
 * autocannon runs here, so load generator and server never share an event loop.
 */
import os from 'node:os';
import autocannon from 'autocannon';
import {
  envNumber,
  load,
  main,
  onShutdown,
  printTable,
  runChild,
  spawnServer,
  startBenchCharla,
  stopServer,
  WARMUP_SECONDS,
  withBenchDatabase,
} from './support.js';

const SECONDS = envNumber('BENCH_SECONDS', 8);
const CONNECTIONS = envNumber('BENCH_CONNECTIONS', 10);
const PIPELINING = 1;

/** What a child tells the parent once it listens. */
interface Target {
  url: string;
  headers: Record<string, string>;
}

/** Realistic live-chat settings: stored by Charla, and copied into the baseline's DTO. */
const SETTINGS = {
  heading: 'Have a question?',
  subHeading: 'We usually reply in a few minutes',
  liveChatIntroMsg: 'Hi! How can we help you today?',
  liveChatAckMsg: 'Thanks, an agent will be with you shortly.',
  promptMsg: 'Hi there, have a question? Text us here.',
  sendActionText: 'Send',
  widgetPrimaryColor: '#188bf6',
  showPrompt: true,
  showAgencyBranding: false,
  locale: 'en-us',
  theme: {
    name: 'default',
    colors: {
      chatBubbleColor: '#188bf6',
      backgroundColor: '#ffffff',
      headerColor: '#188bf6',
      buttonColor: '#188bf6',
      senderMessageColor: '#e8f1fe',
      receivedMessageColor: '#f2f4f7',
    },
  },
  dimensions: { position: 'right', sizes: { width: 376, height: 600 } },
  allowedDomains: ['example.com', '*.example.com'],
  prechatFields: [
    { id: 'name', type: 'text', label: { en: 'Name', es: 'Nombre' }, required: true },
    { id: 'email', type: 'email', label: 'Email', placeholder: 'you@example.com', required: true },
  ],
  offlineAction: { type: 'OFFLINE_FORM', formFieldIds: ['name', 'email'] },
};

// ---------------------------------------------------------------- children: the servers under test

async function serveBaseline(): Promise<Target> {
  const { default: Fastify } = await import('fastify');
  // Same fields and sizes as chatWidgetDto() of the widget Charla serves (settings included).
  const dto = {
    _id: '0196a0c2-7e3b-7c1a-9d2e-3f4a5b6c7d8e',
    version: 1,
    chatType: 'liveChat',
    name: 'Bench widget',
    locationId: '0196a0c2-7e3a-7b11-8c2d-1e2f3a4b5c6d',
    deleted: false,
    default: true,
    settings: { chatIcon: 'messageChatCircle', ...SETTINGS, chatType: 'liveChat' },
    creationSource: 'api',
    updatedBy: 'bench',
    createdAt: '2025-05-01T10:00:00.000Z',
    updatedAt: '2025-05-01T10:00:00.000Z',
  };
  const app = Fastify();
  app.get('/widget', async () => dto);
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  onShutdown(() => app.close());
  return { url: `${address}/widget`, headers: {} };
}

async function serveCharla(): Promise<Target> {
  const { createWidget } = await import('../packages/server/src/core/widgets/service.js');
  const { db, location: loc, headers, listen } = await startBenchCharla();
  const widget = await createWidget(db, 'bench', {
    locationId: loc.id,
    name: 'Bench widget',
    chatType: 'liveChat',
    settings: SETTINGS,
  });
  const address = await listen();
  return { url: `${address}/chat-widget/data/${loc.id}/${widget.id}`, headers };
}

// ---------------------------------------------------------------- parent: load and report

interface Row {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  bytes: number;
  non2xx: number;
}

async function measure(name: string, target: Target): Promise<Row> {
  // One checked request first: a benchmark of 401s or 404s would be worthless.
  const res = await fetch(target.url, { headers: target.headers });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${name}: GET ${target.url} -> ${res.status}: ${body}`);

  const opts = { url: target.url, headers: target.headers, connections: CONNECTIONS, pipelining: PIPELINING };
  await autocannon({ ...opts, duration: WARMUP_SECONDS });
  const r = await load(name, opts, SECONDS);
  return {
    name,
    rps: r.rps,
    p50: r.p50,
    p99: r.p99,
    bytes: Buffer.byteLength(body),
    non2xx: r.result.non2xx,
  };
}

async function parent(): Promise<void> {
  await withBenchDatabase({ embedded: 'child' }, async ({ dataDir, databaseUrl, description }) => {
    // One server at a time, so neither steals CPU from the other's measurement.
    const rows: Row[] = [];
    for (const [role, name] of [
      ['baseline', 'baseline (bare Fastify)'],
      ['charla', 'charla GET widget'],
    ] as const) {
      const { proc, target } = await spawnServer<Target>(import.meta.url, role, {
        BENCH_DATA_DIR: dataDir,
        BENCH_DATABASE_URL: databaseUrl,
      });
      try {
        rows.push(await measure(name, target));
      } finally {
        await stopServer(proc);
      }
    }
    report(rows, description);
    const bad = rows.filter((r) => r.non2xx > 0);
    if (bad.length)
      throw new Error(`non-2xx responses: ${bad.map((r) => `${r.name} ${r.non2xx}`).join(', ')}`);
  });
}

function report(rows: Row[], database: string): void {
  const [base, charla] = rows as [Row, Row];
  console.log(
    `\nGET widget benchmark: ${CONNECTIONS} connections, pipelining ${PIPELINING}, ` +
      `${WARMUP_SECONDS} s warm-up + ${SECONDS} s measured per target\n` +
      `node ${process.version}, ${os.cpus().length} CPUs, ${database}\n`,
  );
  const table = [
    ['target', 'req/s', 'p50 ms', 'p99 ms', 'body B', 'non-2xx'],
    ...rows.map((r) => [
      r.name,
      r.rps.toFixed(0),
      r.p50.toFixed(2),
      r.p99.toFixed(2),
      String(r.bytes),
      String(r.non2xx),
    ]),
  ];
  printTable(table);
  const ratio = charla.rps / base.rps;
  console.log(`\nratio charla/baseline req/s: ${ratio.toFixed(3)} (${(ratio * 100).toFixed(1)} %)\n`);
}

main(parent, (role) => runChild(role === 'charla' ? serveCharla : serveBaseline));
