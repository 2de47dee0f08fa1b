/**
 * Benchmark: memory per idle visitor socket on one Charla node, against a bare `ws` server (a
 * `new WebSocketServer` that accepts and does nothing else) measured the same way in the same
 * run. Charla's sockets are real visitors: a signed token per contact, `hello {history: false}`,
 * `welcome` … `synced` … `presence`, then silence.
 *
 *   npm run bench:ws-idle                           embedded PostgreSQL in a temp dir
 *   DATABASE_URL=postgres://… npm run bench:ws-idle  a throwaway database on that server
 *
 * Env: BENCH_SOCKETS (default 20 000, capped to what one server process can hold: see below),
 * BENCH_CLIENT_PROCS (client child processes, default 4), BENCH_CONNECT_CONCURRENCY (handshakes
 * in flight per client process, default 50), BENCH_SETTLE_SECONDS (wait after the last connect,
 * before measuring, default 10), BENCH_HEAP_SNAPSHOT=<dir> (a heap snapshot of each server with
 * all sockets connected, written into <dir>).
 *
 * How: each server runs alone in its own child process, started with `--expose-gc`. A warm-up
 * client connects and drops 500 sockets (so JIT, pools and lazy allocations are not billed to
 * the measured sockets); then GC and `process.memoryUsage()` (before), the client children
 * connect every socket, the settle period passes, GC and `process.memoryUsage()` again (after).
 * Per socket = (after - before) / sockets, for RSS and for V8 heap used. Kernel socket buffers
 * are not in RSS and not counted, for either server.
 *
 * Limits: a process may open at most `ulimit -Hn` files (20 000 on the reference machine, and
 * only the hard limit's owner can raise it). One server process cannot hold 20 000 sockets then:
 * it gets `ulimit -Hn` - 1 000 (19 000), the 1 000 left for its database pool, listeners and
 * the node runtime, and the report says so. Splitting over two server processes would measure
 * two half-size nodes, not one node, so it is not done. Clients are spread over several child
 * processes, each from its own loopback source address (127.0.0.2…), well within the ~28 000
 * ephemeral ports of an address.
 */
import { execSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeHeapSnapshot } from 'node:v8';
import { SUBPROTOCOL } from '@charla/protocol';
import pg from 'pg';
import { WebSocket, WebSocketServer } from 'ws';
import { signVisitorToken } from '../packages/server/src/core/visitors/token.js';
import {
  askChild,
  BENCH_SECRET,
  benchContactId,
  envNumber,
  insertBenchContacts,
  kib,
  main,
  mapLimit,
  onRequest,
  onShutdown,
  perItem,
  printTable,
  runChild,
  serverVersion,
  spawnServer,
  startBenchCharla,
  stopServer,
  withBenchDatabase,
} from './support.js';

const FD_RESERVE = 1000;
const hardLimit = Number(execSync('ulimit -Hn', { shell: '/bin/sh' }).toString().trim());
const WANTED = envNumber('BENCH_SOCKETS', 20_000);
const SOCKETS = Number.isFinite(hardLimit) ? Math.min(WANTED, hardLimit - FD_RESERVE) : WANTED;
const CLIENT_PROCS = envNumber('BENCH_CLIENT_PROCS', 4);
const CONCURRENCY = envNumber('BENCH_CONNECT_CONCURRENCY', 50);
const SETTLE_SECONDS = envNumber('BENCH_SETTLE_SECONDS', 10);
const WARMUP_SOCKETS = 500;
const SNAPSHOT_DIR = process.env.BENCH_HEAP_SNAPSHOT
  ? path.resolve(process.env.BENCH_HEAP_SNAPSHOT)
  : undefined;

/** Servers: a V8 heap snapshot on request (BENCH_HEAP_SNAPSHOT), to see what a socket holds. */
const snapshots = (role: string) =>
  onRequest('snapshot', (dir) =>
    writeHeapSnapshot(path.join(String(dir), `${role}-${Date.now()}.heapsnapshot`)),
  );

interface Target {
  url: string;
  /** Charla only: what visitor tokens name. */
  locationId?: string;
  widgetId?: string;
}

interface ClientReport {
  connected: number;
  failed: number;
  firstError?: string;
  seconds: number;
}

type Memory = NodeJS.MemoryUsage;

// ---------------------------------------------------------------- children: servers and clients

async function serveCharla(): Promise<Target> {
  const { createWidget } = await import('../packages/server/src/core/widgets/service.js');
  const { charla, db, location, listen } = await startBenchCharla();
  // No allowedDomains: any origin (the clients send none).
  const widget = await createWidget(db, 'bench', {
    locationId: location.id,
    name: 'Bench',
    chatType: 'liveChat',
  });
  const address = await listen();
  onRequest('sockets', () => charla.ctx.hub?.connections ?? 0);
  snapshots('charla');
  return { url: `${address.replace(/^http/, 'ws')}/ws`, locationId: location.id, widgetId: widget.id };
}

async function serveBare(): Promise<Target> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', (ws) => ws.on('error', () => {}));
  await new Promise((resolve) => wss.once('listening', resolve));
  onShutdown(() => new Promise((resolve) => wss.close(() => resolve())));
  onRequest('sockets', () => wss.clients.size);
  snapshots('bare');
  const { port } = wss.address() as { port: number };
  return { url: `ws://127.0.0.1:${port}/ws` };
}

/** Opens sockets BENCH_FIRST … BENCH_FIRST + BENCH_COUNT - 1 and holds them until stopped. */
async function serveClients(): Promise<ClientReport> {
  const env = process.env;
  const target = JSON.parse(env.BENCH_TARGET!) as Target;
  const first = Number(env.BENCH_FIRST);
  const count = Number(env.BENCH_COUNT);
  const localAddress = env.BENCH_LOCAL_ADDRESS!;
  const sockets: WebSocket[] = [];
  onShutdown(async () => {
    for (const ws of sockets) ws.terminate();
  });
  onRequest('open', () => sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length);

  const connect = (n: number) =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(target.url, [SUBPROTOCOL], { localAddress, handshakeTimeout: 60_000 });
      const timer = setTimeout(() => fail(new Error('not synced within 60 s')), 60_000);
      const fail = (err: Error) => {
        clearTimeout(timer);
        ws.terminate();
        reject(err);
      };
      ws.on('error', fail);
      ws.once('close', (code, reason) => fail(new Error(`closed ${code} ${reason}`)));
      ws.once('open', () => {
        if (!target.locationId) {
          clearTimeout(timer);
          resolve(ws);
          return;
        }
        const { token } = signVisitorToken(BENCH_SECRET, {
          visitorId: randomUUID(),
          locationId: target.locationId,
          channelId: target.widgetId!,
          contactId: benchContactId(n),
          identityVerified: false,
        });
        ws.send(JSON.stringify({ type: 'hello', v: 1, token, history: false }));
      });
      const onMessage = (data: Buffer) => {
        if (!String(data).startsWith('{"type":"synced"')) return;
        clearTimeout(timer);
        ws.off('message', onMessage);
        resolve(ws);
      };
      ws.on('message', onMessage);
    });

  const started = performance.now();
  let failed = 0;
  let firstError: string | undefined;
  const numbers = Array.from({ length: count }, (_, i) => first + i);
  await mapLimit(numbers, CONCURRENCY, async (n) => {
    try {
      const ws = await connect(n);
      ws.removeAllListeners('close');
      ws.removeAllListeners('error');
      ws.on('error', () => {});
      sockets.push(ws);
    } catch (err) {
      failed++;
      firstError ??= String(err);
    }
  });
  return { connected: sockets.length, failed, firstError, seconds: (performance.now() - started) / 1000 };
}

// ---------------------------------------------------------------- parent

interface Row {
  name: string;
  sockets: number;
  connectSeconds: number;
  before: Memory;
  after: Memory;
}

async function runClients(target: Target, total: number, procs: number, firstAddress: number) {
  const share = Math.ceil(total / procs);
  const started = await Promise.all(
    Array.from({ length: procs }, (_, i) => {
      const count = Math.max(0, Math.min(share, total - i * share));
      return spawnServer<ClientReport>(import.meta.url, 'clients', {
        BENCH_TARGET: JSON.stringify(target),
        BENCH_FIRST: String(1 + i * share),
        BENCH_COUNT: String(count),
        BENCH_LOCAL_ADDRESS: `127.0.0.${firstAddress + i}`,
      });
    }),
  );
  const reports = started.map((s) => s.target);
  const failed = reports.reduce((n, r) => n + r.failed, 0);
  if (failed > 0) {
    await Promise.all(started.map((s) => stopServer(s.proc)));
    throw new Error(
      `${failed} of ${total} sockets failed to connect: ${reports.find((r) => r.firstError)?.firstError}`,
    );
  }
  return { procs: started.map((s) => s.proc), seconds: Math.max(...reports.map((r) => r.seconds)) };
}

async function measure(
  name: string,
  role: string,
  firstAddress: number,
  prepare?: (t: Target) => Promise<void>,
) {
  const { proc, target } = await spawnServer<Target>(import.meta.url, role, {}, ['--expose-gc']);
  try {
    await prepare?.(target);
    // Warm-up, from an address of its own.
    const warm = await runClients(target, WARMUP_SOCKETS, 1, firstAddress + CLIENT_PROCS);
    await Promise.all(warm.procs.map(stopServer));
    while ((await askChild<number>(proc, 'sockets')) > 0) await sleep(100);
    await sleep(2000);
    const before = await askChild<Memory>(proc, 'memory');

    process.stdout.write(`${name}: connecting ${SOCKETS} sockets… `);
    const clients = await runClients(target, SOCKETS, CLIENT_PROCS, firstAddress);
    console.log(`${clients.seconds.toFixed(1)} s; settling ${SETTLE_SECONDS} s`);
    try {
      await sleep(SETTLE_SECONDS * 1000);
      const after = await askChild<Memory>(proc, 'memory');
      if (SNAPSHOT_DIR)
        console.log(`heap snapshot: ${await askChild<string>(proc, 'snapshot', SNAPSHOT_DIR)}`);
      const open = (await Promise.all(clients.procs.map((p) => askChild<number>(p, 'open')))).reduce(
        (a, b) => a + b,
      );
      const onServer = await askChild<number>(proc, 'sockets');
      if (open !== SOCKETS || onServer !== SOCKETS) {
        throw new Error(`${name}: ${open} client sockets open, ${onServer} on the server, of ${SOCKETS}`);
      }
      return { name, sockets: SOCKETS, connectSeconds: clients.seconds, before, after } satisfies Row;
    } finally {
      await Promise.all(clients.procs.map(stopServer));
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
      const charla = await measure('charla', 'charla', 2, async (t) => {
        // One contact per visitor (the warm-up reuses the first ones), no conversations yet.
        await insertBenchContacts(pool, t.locationId!, SOCKETS, 'Visitor');
      });
      const bare = await measure('bare ws', 'bare', 2 + CLIENT_PROCS + 1);
      report(bare, charla, `${description}, ${version}`);
    } finally {
      await pool.end();
    }
  });
}

function report(bare: Row, charla: Row, database: string): void {
  console.log(
    `\nIdle-socket memory: ${SOCKETS} sockets on one server process` +
      (SOCKETS < WANTED
        ? ` (${WANTED} asked; ulimit -Hn is ${hardLimit}, ${FD_RESERVE} fds kept for the rest)`
        : '') +
      `, ${CLIENT_PROCS} client processes, ${SETTLE_SECONDS} s settle, after a full GC\n` +
      `node ${process.version}, ${os.cpus().length} CPUs, ${database}\n`,
  );
  const rows = [bare, charla];
  printTable([
    [
      'target',
      'connect s',
      'RSS before MiB',
      'RSS after MiB',
      'RSS/socket KiB',
      'heap/socket KiB',
      'external/socket KiB',
    ],
    ...rows.map((r) => [
      r.name,
      r.connectSeconds.toFixed(1),
      (r.before.rss / 2 ** 20).toFixed(1),
      (r.after.rss / 2 ** 20).toFixed(1),
      kib(perItem(r.before.rss, r.after.rss, r.sockets)),
      kib(perItem(r.before.heapUsed, r.after.heapUsed, r.sockets)),
      kib(perItem(r.before.external, r.after.external, r.sockets)),
    ]),
  ]);
  const ratio = (r: Row, k: 'rss' | 'heapUsed') => perItem(r.before[k], r.after[k], r.sockets);
  const rss = ratio(charla, 'rss') / ratio(bare, 'rss');
  const heap = ratio(charla, 'heapUsed') / ratio(bare, 'heapUsed');
  console.log(
    `\nratio charla/bare RSS per socket: ${rss.toFixed(2)} (goal ≤ 3); heap used per socket: ${heap.toFixed(2)}\n`,
  );
}

main(parent, (role) =>
  runChild(role === 'charla' ? serveCharla : role === 'bare' ? serveBare : serveClients),
);
