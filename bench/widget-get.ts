/**
 * Benchmark: Charla's authenticated `GET /chat-widget/data/{locationId}/{id}` against a bare
 * Fastify route that returns a DTO of the same shape and size, so the ratio shows what auth, rate
 * limiting, the database read and Charla's plugins cost on top of Fastify itself.
 *
 *   npm run bench                    embedded PostgreSQL in a temp dir
 *   DATABASE_URL=postgres://… npm run bench   a throwaway database on that server
 *
 * Env: BENCH_SECONDS (measured seconds per target, default 8), BENCH_CONNECTIONS (default 10).
 *
 * Each server runs in its own child process (this file, started with a role argument) and
 * autocannon runs here, so load generator and server never share an event loop.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';

const WARMUP_SECONDS = 2;
const SECONDS = Number(process.env.BENCH_SECONDS || 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 10);
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
  const { loadConfig } = await import('../packages/server/src/config.js');
  const { startCharla } = await import('../packages/server/src/server.js');
  const { createLocation } = await import('../packages/server/src/core/locations/service.js');
  const { createKey } = await import('../packages/server/src/core/keys/service.js');
  const { createWidget } = await import('../packages/server/src/core/widgets/service.js');

  // Explicit env, so a REDIS_URL or PORT in the caller's shell cannot change what is measured.
  const config = loadConfig({
    DATA_DIR: process.env.BENCH_DATA_DIR,
    DATABASE_URL: process.env.BENCH_DATABASE_URL ?? '',
    LOG_LEVEL: 'warn',
    CHARLA_SECRET: 'bench-secret-bench-secret-bench-secret-0123',
    HOST: '127.0.0.1',
    PORT: '0',
    // The limiter still runs on every request, but never refuses one.
    RATE_LIMIT_BURST: '1000000000',
    RATE_LIMIT_DAILY: '1000000000',
  });
  const charla = await startCharla(config, { bootstrap: false });
  onShutdown(() => charla.stop());
  const { db } = charla.ctx;
  const loc = await createLocation(db, { name: 'Bench' });
  const { key } = await createKey(db, { name: 'bench', scopes: ['*'], locationIds: [loc.id] });
  const widget = await createWidget(db, 'bench', {
    locationId: loc.id,
    name: 'Bench widget',
    chatType: 'liveChat',
    settings: SETTINGS,
  });
  const address = await charla.app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url: `${address}/chat-widget/data/${loc.id}/${widget.id}`,
    headers: { Authorization: `Bearer ${key}`, Version: '2021-07-28' },
  };
}

let shutdown: (() => Promise<void>) | undefined;
function onShutdown(fn: () => Promise<void>): void {
  shutdown = fn;
}

/** Child main: serve, report the target, and stop on a message, a signal, or the parent's death. */
async function child(role: string): Promise<void> {
  let stopping = false;
  const stop = async (code = 0) => {
    if (stopping) return;
    stopping = true;
    await shutdown?.().catch((err) => console.error(err));
    process.exit(code);
  };
  process.on('message', (m) => {
    if (m === 'stop') void stop();
  });
  for (const event of ['disconnect', 'SIGINT', 'SIGTERM'] as const) process.on(event, () => void stop());
  try {
    process.send!(await (role === 'charla' ? serveCharla() : serveBaseline()));
  } catch (err) {
    console.error(err);
    await stop(1);
  }
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

const children = new Set<ChildProcess>();

/** Starts a server child; resolves with its target once it listens. */
function spawnServer(role: string, env: NodeJS.ProcessEnv): Promise<{ proc: ChildProcess; target: Target }> {
  // fork() reuses this process's execArgv, so `--import tsx` carries over.
  const proc = fork(fileURLToPath(import.meta.url), [role], { env: { ...process.env, ...env } });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  return new Promise((resolve, reject) => {
    proc.once('message', (target) => resolve({ proc, target: target as Target }));
    proc.once('exit', (code) =>
      reject(new Error(`the ${role} server exited (code ${code}) before listening`)),
    );
  });
}

function stopServer(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    // The child may already be going (a Ctrl-C reaches it too): then the channel is closed.
    proc.send('stop', (err) => err && proc.kill('SIGTERM'));
  });
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

async function measure(name: string, target: Target): Promise<Row> {
  // One checked request first: a benchmark of 401s or 404s would be worthless.
  const res = await fetch(target.url, { headers: target.headers });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${name}: GET ${target.url} -> ${res.status}: ${body}`);

  const opts = { url: target.url, headers: target.headers, connections: CONNECTIONS, pipelining: PIPELINING };
  await autocannon({ ...opts, duration: WARMUP_SECONDS });
  const run = autocannon({ ...opts, duration: SECONDS });
  // autocannon's own histogram keeps whole milliseconds; sub-ms latencies need the raw times.
  const times: number[] = [];
  run.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => times.push(ms));
  const r = await run;
  if (r.errors > 0 || r.timeouts > 0) {
    throw new Error(`${name}: ${r.errors} errors, ${r.timeouts} timeouts during the run`);
  }
  times.sort((a, b) => a - b);
  return {
    name,
    rps: r.requests.total / r.duration,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    bytes: Buffer.byteLength(body),
    non2xx: r.non2xx,
  };
}

/** Kills a PostgreSQL the Charla child left behind if it died without stopping it. */
async function killOrphanPostgres(dataDir: string): Promise<void> {
  const pid = Number(
    (await readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0],
  );
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 'SIGQUIT');
  } catch {}
}

async function parent(): Promise<void> {
  if (!(SECONDS > 0) || !(CONNECTIONS > 0))
    throw new Error('BENCH_SECONDS and BENCH_CONNECTIONS must be > 0');
  const serverUrl = process.env.DATABASE_URL || undefined;
  const dbName = `charla_bench_${process.pid}`;
  // Mode 0755: as root the embedded PostgreSQL runs as `postgres`, which must enter this dir.
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'charla-bench-'));
  await chmod(dataDir, 0o755);

  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: serverUrl });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };

  let cleaned: Promise<void> | undefined;
  const cleanup = () => {
    cleaned ??= (async () => {
      await Promise.all([...children].map(stopServer));
      await killOrphanPostgres(dataDir);
      if (serverUrl) await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(console.error);
      await rm(dataDir, { recursive: true, force: true });
    })();
    return cleaned;
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void cleanup().finally(() => process.exit(130)));
  }

  try {
    let databaseUrl = '';
    if (serverUrl) {
      await admin(`CREATE DATABASE ${dbName}`);
      const u = new URL(serverUrl);
      u.pathname = `/${dbName}`;
      databaseUrl = u.toString();
    }

    // One server at a time, so neither steals CPU from the other's measurement.
    const rows: Row[] = [];
    for (const [role, name] of [
      ['baseline', 'baseline (bare Fastify)'],
      ['charla', 'charla GET widget'],
    ] as const) {
      const { proc, target } = await spawnServer(role, {
        BENCH_DATA_DIR: dataDir,
        BENCH_DATABASE_URL: databaseUrl,
      });
      try {
        rows.push(await measure(name, target));
      } finally {
        await stopServer(proc);
      }
    }
    report(
      rows,
      serverUrl ? `PostgreSQL at ${redact(serverUrl)} (database ${dbName})` : 'embedded PostgreSQL',
    );
    const bad = rows.filter((r) => r.non2xx > 0);
    if (bad.length)
      throw new Error(`non-2xx responses: ${bad.map((r) => `${r.name} ${r.non2xx}`).join(', ')}`);
  } finally {
    await cleanup();
  }
}

const redact = (url: string) => url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');

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
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) {
    console.log(
      row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
    );
  }
  const ratio = charla.rps / base.rps;
  console.log(`\nratio charla/baseline req/s: ${ratio.toFixed(3)} (${(ratio * 100).toFixed(1)} %)\n`);
}

const role = process.argv[2];
(role ? child(role) : parent()).catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
