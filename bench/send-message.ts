/**
 * Benchmark: Charla's authenticated `POST /conversations/messages` (Live_Chat, spread over
 * pre-created contacts whose conversations exist after the warm-up) against the floor the
 * database server sets: a raw loop of single-row INSERTs into a plain table with a primary key, at
 * the same concurrency on the same server, in the same run. The ratio shows what Charla's send
 * path (HTTP, auth, rate limiting, contact lookup, the conversation update, the message's
 * indexes, the outbox event and its relay) costs on top of one durable INSERT.
 *
 *   npm run bench:send                           embedded PostgreSQL in a temp dir
 *   DATABASE_URL=postgres://… npm run bench:send  a throwaway database on that server
 *
 * Env: BENCH_SECONDS (measured seconds per target, default 8), BENCH_CONNECTIONS (concurrent
 * HTTP connections and raw pg clients, default 16), BENCH_CONTACTS (default 200),
 * BENCH_CPU_PROF=<dir> (writes a V8 CPU profile of the Charla server child into <dir>).
 *
 * On Linux the report adds the CPU time per request of the Charla server process and per row
 * of the database's backends (a local server): on a shared machine these vary less than rates.
 *
 * The Charla server runs in a child process (this file, started with a role argument); autocannon
 * and the raw loop run here. Without DATABASE_URL the embedded PostgreSQL is started here, so the
 * raw loop and the Charla child use the same server.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import autocannon, { type Options } from 'autocannon';
import pg from 'pg';
import { uuidv7 } from '../packages/server/src/core/ids.js';
import {
  envNumber,
  type LoadResult,
  load,
  main,
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

const SECONDS = envNumber('BENCH_SECONDS', 8);
const CONNECTIONS = envNumber('BENCH_CONNECTIONS', 16);
const CONTACTS = envNumber('BENCH_CONTACTS', 200);
/** A typical live-chat reply; both targets store the same text. */
const MESSAGE =
  'Hi Sam, thanks for reaching out! Your order #48213 shipped this morning, tracking is on its way.';

/** What the Charla child tells the parent once it listens. */
interface Target {
  url: string;
  headers: Record<string, string>;
  locationId: string;
}

// ---------------------------------------------------------------- child: the server under test

async function serveCharla(): Promise<Target> {
  const { location, headers, listen } = await startBenchCharla();
  const address = await listen();
  return {
    url: `${address}/conversations/messages`,
    headers: { ...headers, 'Content-Type': 'application/json' },
    locationId: location.id,
  };
}

// ---------------------------------------------------------------- parent: load and report

interface Row {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  /** Rows the run added, per second, counted in the database. */
  dbRate: number;
  non2xx: number | undefined;
  /** CPU time (user + system) the Charla server process spent per request, ms; Linux only. */
  cpuPerRequest?: number;
  /** CPU time the database's backends spent per row written, ms; a local server on Linux only. */
  dbCpuPerRow?: number;
}

/** The CPU time so far of this database's backends (other than `q`'s own), ms, by pid. */
async function backendsCpu(q: pg.Pool): Promise<Map<number, number>> {
  const { rows } = await q.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
  );
  const cpu = new Map<number, number>();
  for (const { pid } of rows) {
    const ms = await cpuMs(pid);
    if (ms !== undefined) cpu.set(pid, ms);
  }
  return cpu;
}

/** CPU ms spent between two backendsCpu readings by the backends present in both. */
const cpuSpent = (before: Map<number, number>, after: Map<number, number>) =>
  [...after].reduce((sum, [pid, ms]) => sum + (before.has(pid) ? ms - before.get(pid)! : 0), 0);

/** A process's CPU time so far (user + system), ms, from /proc; undefined where there is none. */
async function cpuMs(pid: number | undefined): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields 14 and 15 (utime, stime), counted after the parenthesized command name.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

const countRows = async (q: pg.Pool, sql: string, params: unknown[] = []) =>
  Number((await q.query<{ n: string }>(sql, params)).rows[0]!.n);

/** `clients` each loop a single-row INSERT for `seconds`; per-insert latencies in ms. */
async function insertLoop(clients: pg.Client[], conversationIds: string[], seconds: number) {
  const times: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    clients.map(async (client, i) => {
      for (let k = i; performance.now() < end; k += clients.length) {
        const t0 = performance.now();
        await client.query(
          'INSERT INTO bench_raw (id, conversation_id, body, created_at) VALUES ($1, $2, $3, now())',
          [uuidv7(), conversationIds[k % conversationIds.length], MESSAGE],
        );
        times.push(performance.now() - t0);
      }
    }),
  );
  return { times: times.sort((a, b) => a - b), elapsed: (performance.now() - start) / 1000 };
}

async function measureRaw(pool: pg.Pool, databaseUrl: string, conversationIds: string[]): Promise<Row> {
  await pool.query(
    `CREATE TABLE bench_raw (id uuid PRIMARY KEY, conversation_id uuid NOT NULL, body text NOT NULL,
       created_at timestamptz NOT NULL)`,
  );
  const clients = Array.from({ length: CONNECTIONS }, () => new pg.Client({ connectionString: databaseUrl }));
  try {
    await Promise.all(clients.map((c) => c.connect()));
    await insertLoop(clients, conversationIds, WARMUP_SECONDS);
    const before = await countRows(pool, 'SELECT count(*) AS n FROM bench_raw');
    const dbBefore = await backendsCpu(pool);
    const { times, elapsed } = await insertLoop(clients, conversationIds, SECONDS);
    const dbAfter = await backendsCpu(pool);
    const after = await countRows(pool, 'SELECT count(*) AS n FROM bench_raw');
    return {
      name: `raw INSERT (${CONNECTIONS} pg clients)`,
      rps: times.length / elapsed,
      p50: percentile(times, 50),
      p99: percentile(times, 99),
      dbRate: (after - before) / elapsed,
      non2xx: undefined,
      dbCpuPerRow: dbBefore.size ? cpuSpent(dbBefore, dbAfter) / (after - before) : undefined,
    };
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
  }
}

async function measureCharla(
  pool: pg.Pool,
  target: Target,
  pid?: number,
): Promise<{ row: Row; conversationIds: string[] }> {
  const name = 'charla POST message';
  const { rows: contacts } = await pool.query<{ id: string }>(
    `INSERT INTO contacts (location_id, id, name, email)
     SELECT $1, gen_random_uuid(), 'Bench Contact ' || i, 'bench.contact' || i || '@example.com'
     FROM generate_series(1, $2::int) AS i
     RETURNING id`,
    [target.locationId, CONTACTS],
  );
  const bodies = contacts.map((c) =>
    JSON.stringify({ type: 'Live_Chat', contactId: c.id, message: MESSAGE }),
  );

  // One checked send per contact first: it opens the contact's conversation (so the measured
  // sends append to existing ones), and a benchmark of 4xx would be worthless.
  for (const body of bodies) {
    const res = await fetch(target.url, { method: 'POST', headers: target.headers, body });
    const text = await res.text();
    if (!res.ok) throw new Error(`${name}: POST ${target.url} -> ${res.status}: ${text}`);
  }
  const { rows: conversations } = await pool.query<{ id: string }>(
    'SELECT id FROM conversations WHERE location_id = $1',
    [target.locationId],
  );
  if (conversations.length !== CONTACTS) {
    throw new Error(`${name}: ${conversations.length} conversations for ${CONTACTS} contacts`);
  }

  // Round robin over the contacts: concurrent sends go to different conversations, as in a busy
  // inbox (sends to one conversation queue on its row lock by design).
  let next = 0;
  const opts: Options = {
    url: target.url,
    method: 'POST',
    headers: target.headers,
    connections: CONNECTIONS,
    pipelining: 1,
    requests: [{ setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length]! }) }],
  };
  const warmup = await autocannon({ ...opts, duration: WARMUP_SECONDS });
  if (warmup.non2xx > 0) throw new Error(`${name}: ${warmup.non2xx} non-2xx responses during the warm-up`);
  const countMessages = () =>
    countRows(pool, 'SELECT count(*) AS n FROM messages WHERE location_id = $1', [target.locationId]);
  const before = await countMessages();
  const cpuBefore = await cpuMs(pid);
  const dbBefore = await backendsCpu(pool);
  const r: LoadResult = await load(name, opts, SECONDS);
  const dbAfter = await backendsCpu(pool);
  const cpuAfter = await cpuMs(pid);
  const after = await countMessages();
  return {
    row: {
      name,
      rps: r.rps,
      p50: r.p50,
      p99: r.p99,
      dbRate: (after - before) / r.result.duration,
      non2xx: r.result.non2xx,
      cpuPerRequest:
        cpuBefore === undefined || cpuAfter === undefined
          ? undefined
          : (cpuAfter - cpuBefore) / r.result.requests.total,
      dbCpuPerRow: dbBefore.size ? cpuSpent(dbBefore, dbAfter) / (after - before) : undefined,
    },
    conversationIds: conversations.map((c) => c.id),
  };
}

async function parent(): Promise<void> {
  await withBenchDatabase({ embedded: 'parent' }, async ({ dataDir, databaseUrl, description }) => {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    try {
      const version = await serverVersion(pool);
      const profDir = process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : undefined;
      // Charla first (it migrates the database), then the raw loop with Charla stopped: one load
      // at a time, so neither steals CPU from the other's measurement.
      const { proc, target } = await spawnServer<Target>(
        import.meta.url,
        'charla',
        { BENCH_DATA_DIR: dataDir, BENCH_DATABASE_URL: databaseUrl },
        profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [],
      );
      let charla: Awaited<ReturnType<typeof measureCharla>>;
      try {
        charla = await measureCharla(pool, target, proc.pid);
      } finally {
        await stopServer(proc);
      }
      const raw = await measureRaw(pool, databaseUrl, charla.conversationIds);
      report([raw, charla.row], `${description}, ${version}`);
      if (profDir) console.log(`CPU profile of the Charla server child written to ${profDir}\n`);
      if (charla.row.non2xx) throw new Error(`${charla.row.name}: ${charla.row.non2xx} non-2xx responses`);
    } finally {
      await pool.end();
    }
  });
}

function report(rows: Row[], database: string): void {
  const [raw, charla] = rows as [Row, Row];
  console.log(
    `\nSend-message benchmark: ${CONNECTIONS} concurrent clients, ${CONTACTS} contacts, ` +
      `${WARMUP_SECONDS} s warm-up + ${SECONDS} s measured per target\n` +
      `node ${process.version}, ${os.cpus().length} CPUs, ${database}\n`,
  );
  printTable([
    ['target', 'req/s', 'p50 ms', 'p99 ms', 'rows/s (DB)', 'non-2xx', 'server CPU ms/req', 'DB CPU ms/row'],
    ...rows.map((r) => [
      r.name,
      r.rps.toFixed(0),
      r.p50.toFixed(2),
      r.p99.toFixed(2),
      r.dbRate.toFixed(0),
      r.non2xx === undefined ? '-' : String(r.non2xx),
      r.cpuPerRequest === undefined ? '-' : r.cpuPerRequest.toFixed(3),
      r.dbCpuPerRow === undefined ? '-' : r.dbCpuPerRow.toFixed(3),
    ]),
  ]);
  const ratio = charla.rps / raw.rps;
  console.log(
    `\nratio charla/raw messages per s: ${ratio.toFixed(3)} (${(ratio * 100).toFixed(1)} %; goal ≥ 0.8)\n`,
  );
}

main(parent, () => runChild(serveCharla));
