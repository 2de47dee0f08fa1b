/**
 * What the benchmarks share: the server child's life cycle (start, report, stop on a message, a
 * signal or the parent's death), a Charla configured for benchmarking, the throwaway database
 * (on DATABASE_URL's server, or an embedded PostgreSQL in a temp dir) with careful cleanup,
 * autocannon runs with raw latencies, percentiles and table printing.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon, { type Options, type Result } from 'autocannon';
import pg from 'pg';

export const WARMUP_SECONDS = 2;

/** A positive number from the environment, or `fallback` when unset. */
export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = raw ? Number(raw) : fallback;
  if (!(n > 0)) throw new Error(`${name} must be > 0, got "${raw}"`);
  return n;
}

// ---------------------------------------------------------------- children: the servers under test

let shutdown: (() => Promise<void>) | undefined;

/** What the child does on stop (closing its server). */
export function onShutdown(fn: () => Promise<void>): void {
  shutdown = fn;
}

/**
 * Child main: serve, report what `serve` returns (the target) to the parent, and stop on a
 * message, a signal, or the parent's death.
 */
export async function runChild(serve: () => Promise<unknown>): Promise<void> {
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
    process.send!(await serve());
  } catch (err) {
    console.error(err);
    await stop(1);
  }
}

/** Fixed settings for a benchmarked Charla: nothing in the caller's shell changes what is measured. */
export const BENCH_SECRET = 'bench-secret-bench-secret-bench-secret-0123';

/**
 * Starts Charla in this (child) process on BENCH_DATABASE_URL (or, when empty, its embedded
 * PostgreSQL in BENCH_DATA_DIR), with one location and an all-scopes key for it. It stops on
 * shutdown.
 */
export async function startBenchCharla() {
  const { loadConfig } = await import('../packages/server/src/config.js');
  const { startCharla } = await import('../packages/server/src/server.js');
  const { createLocation } = await import('../packages/server/src/core/locations/service.js');
  const { createKey } = await import('../packages/server/src/core/keys/service.js');

  // Explicit env, so a REDIS_URL or PORT in the caller's shell cannot change what is measured.
  const config = loadConfig({
    DATA_DIR: process.env.BENCH_DATA_DIR,
    DATABASE_URL: process.env.BENCH_DATABASE_URL ?? '',
    LOG_LEVEL: 'warn',
    CHARLA_SECRET: BENCH_SECRET,
    HOST: '127.0.0.1',
    PORT: '0',
    // The limiter still runs on every request, but never refuses one.
    RATE_LIMIT_BURST: '1000000000',
    RATE_LIMIT_DAILY: '1000000000',
  });
  const charla = await startCharla(config, { bootstrap: false });
  onShutdown(() => charla.stop());
  const { db } = charla.ctx;
  const location = await createLocation(db, { name: 'Bench' });
  const { key } = await createKey(db, { name: 'bench', scopes: ['*'], locationIds: [location.id] });
  const headers = { Authorization: `Bearer ${key}`, Version: '2021-07-28' };
  return {
    charla,
    db,
    location,
    key,
    headers,
    listen: () => charla.app.listen({ host: '127.0.0.1', port: 0 }),
  };
}

// ---------------------------------------------------------------- parent: children, database, cleanup

const children = new Set<ChildProcess>();

/**
 * Starts `script` (a bench file's import.meta.url) as a server child with `role` as its
 * argument; resolves with what it reports once it listens.
 */
export function spawnServer<T>(
  script: string,
  role: string,
  env: NodeJS.ProcessEnv,
  execArgv: string[] = [],
): Promise<{ proc: ChildProcess; target: T }> {
  // fork() reuses this process's execArgv, so `--import tsx` carries over.
  const proc = fork(fileURLToPath(script), [role], {
    env: { ...process.env, ...env },
    execArgv: [...process.execArgv, ...execArgv],
  });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  return new Promise((resolve, reject) => {
    proc.once('message', (target) => resolve({ proc, target: target as T }));
    proc.once('exit', (code) =>
      reject(new Error(`the ${role} server exited (code ${code}) before listening`)),
    );
  });
}

export function stopServer(proc: ChildProcess): Promise<void> {
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

/**
 * Kills a PostgreSQL left running in `dataDir`: by a child that died without stopping it, or
 * started here and not stopped (synchronous, so it can run on exit).
 */
function killOrphanPostgres(dataDir: string): void {
  let pid = Number.NaN;
  try {
    pid = Number(readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {}
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 'SIGQUIT');
  } catch {}
}

export const redact = (url: string) => url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');

export interface BenchDatabase {
  /** Temp dir (mode 0755) for the embedded PostgreSQL; removed on cleanup. */
  dataDir: string;
  /**
   * The bench's own fresh database. Empty when `embedded` is 'child' and DATABASE_URL is unset:
   * then the Charla child starts the embedded PostgreSQL in `dataDir` itself.
   */
  databaseUrl: string;
  /** For the report: which server, which database. */
  description: string;
}

/**
 * Runs `fn` with a fresh database and removes everything afterwards, also on Ctrl-C: server
 * children, the database (on DATABASE_URL's server: `charla_bench_<pid>`) or the embedded
 * PostgreSQL and its temp dir. Without DATABASE_URL, `embedded: 'parent'` starts the embedded
 * PostgreSQL here, so that this process can reach the same server as the Charla child.
 */
export async function withBenchDatabase<T>(
  options: { embedded: 'child' | 'parent' },
  fn: (bench: BenchDatabase) => Promise<T>,
): Promise<T> {
  const serverUrl = process.env.DATABASE_URL || undefined;
  const dbName = `charla_bench_${process.pid}`;
  // Mode 0755: as root the embedded PostgreSQL runs as `postgres`, which must enter this dir.
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'charla-bench-'));
  await chmod(dataDir, 0o755);
  let embedded: { stop(): Promise<void> } | undefined;

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
      await embedded?.stop().catch(console.error);
      killOrphanPostgres(dataDir);
      // BENCH_KEEP_DB=1 keeps the database on DATABASE_URL's server, to investigate afterwards.
      if (serverUrl && process.env.BENCH_KEEP_DB) console.log(`kept database ${dbName}`);
      else if (serverUrl) await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(console.error);
      await rm(dataDir, { recursive: true, force: true });
    })();
    return cleaned;
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void cleanup().finally(() => process.exit(130)));
  }
  // A crash (an EPIPE on stdout, say) cleans up too; and whatever happens, an embedded
  // PostgreSQL started here (in its own process group) must not outlive this process.
  process.once('uncaughtException', (err) => {
    console.error(err);
    void cleanup().finally(() => process.exit(1));
  });
  process.once('exit', () => killOrphanPostgres(dataDir));

  try {
    let databaseUrl = '';
    if (serverUrl) {
      await admin(`CREATE DATABASE ${dbName}`);
      const u = new URL(serverUrl);
      u.pathname = `/${dbName}`;
      databaseUrl = u.toString();
    } else if (options.embedded === 'parent') {
      const { startEmbedded } = await import('../packages/server/src/storage/embedded.js');
      const started = await startEmbedded({ dataDir, lock: false });
      embedded = started;
      databaseUrl = started.url;
    }
    const description = serverUrl
      ? `PostgreSQL at ${redact(serverUrl)} (database ${dbName})`
      : 'embedded PostgreSQL';
    return await fn({ dataDir, databaseUrl, description });
  } finally {
    await cleanup();
  }
}

/** `SELECT version()` shortened to "PostgreSQL 15.20". */
export async function serverVersion(q: pg.Client | pg.Pool): Promise<string> {
  const { rows } = await q.query<{ v: string }>("SELECT split_part(version(), ' ', 2) AS v");
  return `PostgreSQL ${rows[0]!.v}`;
}

// ---------------------------------------------------------------- measuring and reporting

export const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

export interface LoadResult {
  /** Responses per second over the run. */
  rps: number;
  p50: number;
  p99: number;
  /** Every response's latency in ms, sorted. */
  times: number[];
  result: Result;
}

/**
 * One autocannon run of `seconds`, keeping each response's latency: autocannon's own histogram
 * keeps whole milliseconds, and sub-ms latencies need the raw times. Errors and timeouts fail it.
 */
export async function load(name: string, opts: Options, seconds: number): Promise<LoadResult> {
  const run = autocannon({ ...opts, duration: seconds });
  const times: number[] = [];
  run.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => times.push(ms));
  const r = await run;
  if (r.errors > 0 || r.timeouts > 0) {
    throw new Error(`${name}: ${r.errors} errors, ${r.timeouts} timeouts during the run`);
  }
  times.sort((a, b) => a - b);
  return {
    rps: r.requests.total / r.duration,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    times,
    result: r,
  };
}

/** Prints rows as a table: the first column left-aligned, the others right-aligned. */
export function printTable(table: string[][]): void {
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) {
    console.log(
      row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
    );
  }
}

/** Runs this file as a bench: the parent without arguments, a server child with a role. */
export function main(parent: () => Promise<void>, child: (role: string) => Promise<void>): void {
  const role = process.argv[2];
  (role ? child(role) : parent()).catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}

// ---------------------------------------------------------------- WebSocket benchmarks

/** A request from the parent to a child, answered by one message with the same `id`. */
interface ChildRequest {
  id: number;
  cmd: string;
  arg?: unknown;
}

const handlers = new Map<string, (arg: unknown) => unknown>();

/**
 * Child side: answers the parent's `askChild(proc, cmd)` with what `fn` returns. `memory` is
 * built in: a full GC when the child runs with `--expose-gc`, then `process.memoryUsage()`.
 */
export function onRequest(cmd: string, fn: (arg: unknown) => unknown): void {
  if (handlers.size === 0) {
    handlers.set('memory', () => {
      (globalThis as { gc?: () => void }).gc?.();
      return process.memoryUsage();
    });
    process.on('message', (m: ChildRequest) => {
      const handler = typeof m === 'object' && m !== null ? handlers.get(m.cmd) : undefined;
      if (!handler) return;
      Promise.resolve()
        .then(() => handler(m.arg))
        .then(
          (value) => process.send!({ reply: m.id, value }),
          (err) => process.send!({ reply: m.id, error: String(err?.stack ?? err) }),
        );
    });
  }
  handlers.set(cmd, fn);
}

let nextRequest = 0;

/** Parent side: asks a child started by `spawnServer` (which called `onRequest`) and waits. */
export function askChild<T>(proc: ChildProcess, cmd: string, arg?: unknown): Promise<T> {
  const id = ++nextRequest;
  return new Promise((resolve, reject) => {
    const onMessage = (m: { reply?: number; value?: T; error?: string }) => {
      if (typeof m !== 'object' || m === null || m.reply !== id) return;
      proc.off('message', onMessage);
      proc.off('exit', onExit);
      if (m.error) reject(new Error(`child ${cmd}: ${m.error}`));
      else resolve(m.value as T);
    };
    const onExit = (code: number | null) => {
      proc.off('message', onMessage);
      reject(new Error(`the child exited (code ${code}) before answering ${cmd}`));
    };
    proc.on('message', onMessage);
    proc.once('exit', onExit);
    proc.send({ id, cmd, arg } satisfies ChildRequest);
  });
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>) {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

/**
 * A contact id the parent (SQL) and the client children (tokens) derive from a number alone, so
 * thousands of ids need not be passed between processes.
 */
export const benchContactId = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** Inserts contacts 1..count of a location with the ids benchContactId gives them, named "<name> n". */
export async function insertBenchContacts(
  pool: pg.Pool,
  locationId: string,
  count: number,
  name: string,
): Promise<void> {
  await pool.query(
    `INSERT INTO contacts (location_id, id, name)
     SELECT $1, ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, $3 || ' ' || i
     FROM generate_series(1, $2::int) AS i`,
    [locationId, count, name],
  );
}

/** CLOCK_MONOTONIC in ms: one clock for every process on the machine, for cross-process latencies. */
export const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6;

/** `after - before` per item, in bytes, for the report. */
export const perItem = (before: number, after: number, items: number) => (after - before) / items;

export const kib = (bytes: number) => (bytes / 1024).toFixed(2);
