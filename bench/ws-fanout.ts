/**
 * Benchmark: real-time fan-out. 1 000 agent sockets follow one location, so every message
 * reaches every socket (the widest fan-out the hub does: a visitor gets only its own contact's
 * messages, agents get the whole location). Messages are created through the API,
 * `POST /conversations/messages` (Live_Chat, round robin over 100 contacts, whose conversations
 * exist beforehand); each socket counts the `message` frames it gets. The baseline is a bare
 * `ws` broadcast server: an HTTP endpoint that, for each POST, serialises a frame of the same
 * shape and size once and sends it to all its sockets. Same clients, same load generator, same run.
 *
 *   npm run bench:ws-fanout                           embedded PostgreSQL in a temp dir
 *   DATABASE_URL=postgres://… npm run bench:ws-fanout  a throwaway database on that server
 *
 * Env: BENCH_SOCKETS (default 1 000), BENCH_RATE (messages per second offered in the throughput
 * phase, default 1 000), BENCH_LATENCY_RATE (the latency phase, default 10), BENCH_SECONDS (per
 * phase, default 10), BENCH_CLIENT_PROCS (default 2), BENCH_SAMPLE_EVERY (every n-th socket
 * records latencies, default 10), BENCH_CPU_PROF=<dir> (V8 CPU profile of the Charla child).
 *
 * Two phases per target, after a 2 s warm-up:
 * - latency, at BENCH_LATENCY_RATE: a load this machine sustains, so p50/p99 are delivery
 *   times, not queueing. 1 000 msg/s to 1 000 sockets is 1 M frames/s, each a write() on the
 *   server and a read on a client: far beyond 2 cores shared by PostgreSQL, server, load
 *   generator and clients (both servers top out at a few tens of thousands per second here).
 * - throughput, at BENCH_RATE offered: both servers saturate; deliveries/s is what they reach.
 *   The sender is open loop up to 32 requests in flight, then goes at the server's pace; what
 *   was not sent by the end of the phase is not sent.
 * deliveries/s = `message` frames received by all sockets / (last frame received - first
 * scheduled send), so a server that falls behind and catches up later is charged for it;
 * "missing" = sent × sockets - frames received. Latency: the body carries its scheduled send
 * time (CLOCK_MONOTONIC, one clock for every process of the machine); sampled sockets subtract
 * it on receipt. The scheduled time, not the moment the request left: a wait for the API counts.
 * Everything shares the CPUs, so the ratio is the comparable figure; absolute rates move with
 * whatever else runs on the machine.
 */

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SUBPROTOCOL } from '@charla/protocol';
import pg from 'pg';
import { WebSocket, WebSocketServer } from 'ws';
import {
  askChild,
  benchContactId,
  envNumber,
  insertBenchContacts,
  main,
  mapLimit,
  monotonicMs,
  onRequest,
  onShutdown,
  percentile,
  printTable,
  runChild,
  serverVersion,
  spawnServer,
  startBenchCharla,
  stopServer,
  WARMUP_SECONDS,
  withBenchDatabase,
} from './support.js';

const SOCKETS = envNumber('BENCH_SOCKETS', 1000);
const RATE = envNumber('BENCH_RATE', 1000);
const SECONDS = envNumber('BENCH_SECONDS', 10);
const LATENCY_RATE = envNumber('BENCH_LATENCY_RATE', 10);
const CLIENT_PROCS = envNumber('BENCH_CLIENT_PROCS', 2);
const SAMPLE_EVERY = envNumber('BENCH_SAMPLE_EVERY', 10);
const CONTACTS = 100;
const MAX_IN_FLIGHT = 32;
/** Both servers start their message frames with this (JSON.stringify keeps insertion order). */
const PREFIX = Buffer.from('{"type":"message","event":"created"');
const MARK = 'fanout:';
const MARK_BUF = Buffer.from(MARK);

interface Target {
  /** POST here to create a message. */
  postUrl: string;
  wsUrl: string;
  headers: Record<string, string>;
  /** Charla: agents say hello with this key. */
  key?: string;
  locationId?: string;
}

interface ClientReport {
  deliveries: number;
  /** Monotonic ms of the last frame counted. */
  lastAt: number;
  latencies: number[];
  open: number;
}

// ---------------------------------------------------------------- children: servers and clients

async function serveCharla(): Promise<Target> {
  const { location, key, headers, listen } = await startBenchCharla();
  const address = await listen();
  return {
    postUrl: `${address}/conversations/messages`,
    wsUrl: `${address.replace(/^http/, 'ws')}/ws`,
    headers: { ...headers, 'Content-Type': 'application/json' },
    key,
    locationId: location.id,
  };
}

/** Broadcast: one frame per POST, serialised once, sent to every socket. */
async function serveBare(): Promise<Target> {
  const locationId = randomUUID();
  const conversations = Array.from({ length: CONTACTS }, () => ({ id: randomUUID(), seq: 0 }));
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        message: string;
        contactId: string;
      };
      const conversation = conversations[n++ % conversations.length]!;
      const now = new Date().toISOString();
      const json = JSON.stringify({
        type: 'message',
        event: 'created',
        message: {
          id: randomUUID(),
          locationId,
          conversationId: conversation.id,
          contactId: body.contactId,
          seq: ++conversation.seq,
          type: 'TYPE_LIVE_CHAT',
          direction: 'outbound',
          status: 'delivered',
          body: body.message,
          contentType: 'text/plain',
          attachments: [],
          userId: null,
          createdAt: now,
          updatedAt: now,
        },
      });
      for (const ws of wss.clients) ws.send(json);
      res.writeHead(201, { 'Content-Type': 'application/json' }).end('{"ok":true}');
    });
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('error', () => {}));
  // The load generator's keep-alive connections idle between phases.
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onShutdown(async () => {
    for (const ws of wss.clients) ws.terminate();
    await new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as { port: number };
  return {
    postUrl: `http://127.0.0.1:${port}/publish`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    headers: { 'Content-Type': 'application/json' },
  };
}

async function serveClients(): Promise<{ connected: number }> {
  const target = JSON.parse(process.env.BENCH_TARGET!) as Target;
  const count = Number(process.env.BENCH_COUNT);
  const localAddress = process.env.BENCH_LOCAL_ADDRESS!;
  const sockets: WebSocket[] = [];
  let deliveries = 0;
  let lastAt = 0;
  let latencies: number[] = [];
  onShutdown(async () => {
    for (const ws of sockets) ws.terminate();
  });
  onRequest('reset', () => {
    deliveries = 0;
    lastAt = 0;
    latencies = [];
  });
  onRequest(
    'report',
    (): ClientReport => ({
      deliveries,
      lastAt,
      latencies,
      open: sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length,
    }),
  );

  const connect = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(target.wsUrl, [SUBPROTOCOL], { localAddress });
      const sampled = i % SAMPLE_EVERY === 0;
      let ready = false;
      ws.on('error', reject);
      ws.once('close', (code, reason) => reject(new Error(`closed ${code} ${reason}`)));
      ws.once('open', () => {
        if (target.key) ws.send(JSON.stringify({ type: 'hello', v: 1, key: target.key }));
        else ready = true;
        if (ready) resolve();
      });
      ws.on('message', (data: Buffer) => {
        if (!ready) {
          if (data.toString('latin1', 0, 16).startsWith('{"type":"synced"')) {
            ready = true;
            resolve();
          }
          return;
        }
        if (data.length < PREFIX.length || data.compare(PREFIX, 0, PREFIX.length, 0, PREFIX.length) !== 0)
          return;
        const now = monotonicMs();
        deliveries++;
        lastAt = now;
        if (!sampled) return;
        const at = data.indexOf(MARK_BUF);
        if (at < 0) return;
        const sentAt = Number(data.toString('latin1', at + MARK.length, data.indexOf(34, at)));
        latencies.push(now - sentAt);
      });
      sockets.push(ws);
    });
  await mapLimit(
    Array.from({ length: count }, (_, i) => i),
    20,
    connect,
  );
  return { connected: sockets.length };
}

// ---------------------------------------------------------------- parent: load and report

const agent = new http.Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT });

function post(url: string, headers: Record<string, string>, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface Drive {
  start: number;
  sent: number;
  failed: number;
  firstFailure?: string;
  /** Sends per second actually achieved. */
  sendRate: number;
}

/**
 * Sends `rate` messages per second for `seconds`, each body carrying its scheduled time. Open
 * loop up to MAX_IN_FLIGHT requests; a server slower than that is offered only what it takes,
 * and what was not sent by the end is not sent.
 */
async function drive(target: Target, rate: number, seconds: number): Promise<Drive> {
  const total = Math.round(rate * seconds);
  const start = monotonicMs();
  const end = start + seconds * 1000;
  let fired = 0;
  let inFlight = 0;
  let failed = 0;
  let firstFailure: string | undefined;
  const pending = new Set<Promise<void>>();
  while (fired < total && monotonicMs() < end) {
    const due = Math.min(total, Math.floor(((monotonicMs() - start) * rate) / 1000) + 1);
    while (fired < due && inFlight < MAX_IN_FLIGHT) {
      const at = start + (fired * 1000) / rate;
      const contactId = benchContactId(1 + (fired % CONTACTS));
      const body = JSON.stringify({ type: 'Live_Chat', contactId, message: `${MARK}${at.toFixed(3)}` });
      inFlight++;
      fired++;
      const p: Promise<void> = post(target.postUrl, target.headers, body)
        .then(
          (status) => {
            if (status < 200 || status > 299) {
              failed++;
              firstFailure ??= `HTTP ${status}`;
            }
          },
          (err) => {
            failed++;
            firstFailure ??= String(err);
          },
        )
        .finally(() => {
          inFlight--;
          pending.delete(p);
        });
      pending.add(p);
    }
    await sleep(1);
  }
  await Promise.all(pending);
  return { start, sent: fired - failed, failed, firstFailure, sendRate: fired / seconds };
}

interface Phase {
  offered: number;
  drive: Drive;
  deliveries: number;
  missing: number;
  rate: number;
  p50: number;
  p99: number;
  max: number;
}

interface Row {
  name: string;
  latency: Phase;
  throughput: Phase;
  closed: number;
  connectSeconds: number;
}

async function measure(
  name: string,
  role: string,
  firstAddress: number,
  prepare?: (t: Target) => Promise<void>,
) {
  const profDir = process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : undefined;
  const { proc, target } = await spawnServer<Target>(
    import.meta.url,
    role,
    {},
    profDir && role === 'charla' ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [],
  );
  try {
    await prepare?.(target);
    const share = Math.ceil(SOCKETS / CLIENT_PROCS);
    const connectStart = monotonicMs();
    const clients = await Promise.all(
      Array.from({ length: CLIENT_PROCS }, (_, i) =>
        spawnServer<{ connected: number }>(import.meta.url, 'clients', {
          BENCH_TARGET: JSON.stringify(target),
          BENCH_COUNT: String(Math.max(0, Math.min(share, SOCKETS - i * share))),
          BENCH_LOCAL_ADDRESS: `127.0.0.${firstAddress + i}`,
        }),
      ),
    );
    const connectSeconds = (monotonicMs() - connectStart) / 1000;
    const procs = clients.map((c) => c.proc);
    const ask = <T>(cmd: string) => Promise.all(procs.map((p) => askChild<T>(p, cmd)));
    const delivered = async () => (await ask<ClientReport>('report')).reduce((n, r) => n + r.deliveries, 0);
    /** Until the frames stop coming: a server behind catches up, or gives up. */
    const settle = async () => {
      let last = -1;
      for (let i = 0; i < 120; i++) {
        await sleep(500);
        const now = await delivered();
        if (now === last) return;
        last = now;
      }
    };
    const phase = async (rate: number): Promise<Phase> => {
      await ask('reset');
      const d = await drive(target, rate, SECONDS);
      await settle();
      const reports = await ask<ClientReport>('report');
      const deliveries = reports.reduce((n, r) => n + r.deliveries, 0);
      const lastAt = Math.max(...reports.map((r) => r.lastAt));
      const times = reports.flatMap((r) => r.latencies).sort((a, b) => a - b);
      return {
        offered: rate,
        drive: d,
        deliveries,
        missing: d.sent * SOCKETS - deliveries,
        rate: deliveries / ((lastAt - d.start) / 1000),
        p50: percentile(times, 50),
        p99: percentile(times, 99),
        max: times[times.length - 1] ?? Number.NaN,
      };
    };
    try {
      process.stdout.write(`${name}: ${SOCKETS} sockets in ${connectSeconds.toFixed(1)} s; warm-up… `);
      await drive(target, LATENCY_RATE, WARMUP_SECONDS);
      await settle();
      process.stdout.write(`${LATENCY_RATE} msg/s… `);
      const latency = await phase(LATENCY_RATE);
      process.stdout.write(`${RATE} msg/s… `);
      const throughput = await phase(RATE);
      console.log('done');
      const open = (await ask<ClientReport>('report')).reduce((n, r) => n + r.open, 0);
      return { name, latency, throughput, closed: SOCKETS - open, connectSeconds } satisfies Row;
    } finally {
      await Promise.all(procs.map(stopServer));
    }
  } finally {
    await stopServer(proc);
  }
}

async function parent(): Promise<void> {
  await withBenchDatabase({ embedded: 'parent' }, async ({ dataDir, databaseUrl, description }) => {
    process.env.BENCH_DATA_DIR = dataDir;
    process.env.BENCH_DATABASE_URL = databaseUrl;
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    try {
      const version = await serverVersion(pool);
      const charla = await measure('charla (agents)', 'charla', 2, async (t) => {
        await insertBenchContacts(pool, t.locationId!, CONTACTS, 'Contact');
        // Open each contact's conversation, so the measured sends append to existing ones.
        for (let i = 1; i <= CONTACTS; i++) {
          const body = JSON.stringify({ type: 'Live_Chat', contactId: benchContactId(i), message: 'Hello' });
          const status = await post(t.postUrl, t.headers, body);
          if (status < 200 || status > 299) throw new Error(`POST ${t.postUrl} -> ${status}`);
        }
      });
      const bare = await measure('bare ws broadcast', 'bare', 2 + CLIENT_PROCS);
      report(bare, charla, `${description}, ${version}`);
      for (const r of [bare, charla]) {
        for (const p of [r.latency, r.throughput]) {
          if (p.drive.failed)
            throw new Error(`${r.name}: ${p.drive.failed} sends failed: ${p.drive.firstFailure}`);
        }
      }
    } finally {
      agent.destroy();
      await pool.end();
    }
  });
}

function report(bare: Row, charla: Row, database: string): void {
  console.log(
    `\nFan-out benchmark: ${SOCKETS} sockets each receiving every message, ${SECONDS} s per phase ` +
      `(after ${WARMUP_SECONDS} s warm-up), ${CLIENT_PROCS} client processes, ` +
      `latency sampled on every ${SAMPLE_EVERY}th socket\n` +
      `node ${process.version}, ${os.cpus().length} CPUs, ${database}\n`,
  );
  const rows = [bare, charla].flatMap((r) => [
    [r.name, r.latency],
    [r.name, r.throughput],
  ]) as [string, Phase][];
  printTable([
    ['target', 'offered/s', 'sent/s', 'deliveries/s', 'missing', 'p50 ms', 'p99 ms', 'max ms'],
    ...rows.map(([name, p]) => [
      name,
      String(p.offered),
      p.drive.sendRate.toFixed(0),
      p.rate.toFixed(0),
      String(p.missing),
      p.p50.toFixed(2),
      p.p99.toFixed(2),
      p.max.toFixed(1),
    ]),
  ]);
  console.log(
    `\nsockets closed by the server: bare ${bare.closed}, charla ${charla.closed}; ` +
      `connect: bare ${bare.connectSeconds.toFixed(1)} s, charla ${charla.connectSeconds.toFixed(1)} s`,
  );
  const ratio = charla.throughput.rate / bare.throughput.rate;
  console.log(
    `ratio charla/bare deliveries per s at ${RATE} msg/s offered: ${ratio.toFixed(3)} (goal ≥ 0.6); ` +
      `charla p99 at ${LATENCY_RATE} msg/s: ${charla.latency.p99.toFixed(1)} ms, ` +
      `at ${RATE} msg/s: ${charla.throughput.p99.toFixed(1)} ms (goal ≤ 25 ms)\n`,
  );
}

main(parent, (role) =>
  runChild(role === 'charla' ? serveCharla : role === 'bare' ? serveBare : serveClients),
);
