/**
 * Benchmark: `GET /conversations/search?locationId=…&query=<text>` on one location with a million
 * messages (default): 20,000 contacts with one conversation each, 50 messages per conversation,
 * bodies drawn from a vocabulary of 4,000 words with a Zipf-like distribution (real chat words
 * at the head, made-up words in the tail), order numbers in some, and rare product names in a few.
 * Everything is generated in SQL (INSERT … SELECT … FROM generate_series), then VACUUM ANALYZE.
 *
 * Then 200 sequential searches (after a short warm-up) mixing rare words, common words,
 * mid-frequency words, contact-name, email and phone fragments and strings found nowhere; their
 * latency percentiles are printed per kind and overall (goal: p95 ≤ 50 ms).
 *
 *   npm run bench:search                           embedded PostgreSQL in a temp dir
 *   DATABASE_URL=postgres://… npm run bench:search  a throwaway database on that server
 *
 * Env: BENCH_MESSAGES (default 1000000; a multiple of 50 is best), BENCH_QUERIES (default 200),
 * BENCH_SEARCH_DUMP=<file> (writes each query's total and first page of ids as JSON, to compare
 * two versions of the search for identical results), BENCH_KEEP_DB=1 (with DATABASE_URL: keeps the
 * generated database, named in the output, for EXPLAIN; drop it by hand afterwards).
 *
 * The Charla server runs in a child process (this file, started with a role argument); data
 * generation and the client run here. Without DATABASE_URL the embedded PostgreSQL is started
 * here, so this process can fill the database the Charla child serves.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import {
  envNumber,
  main,
  percentile,
  printTable,
  runChild,
  serverVersion,
  spawnServer,
  startBenchCharla,
  stopServer,
  withBenchDatabase,
} from './support.js';

const MESSAGES = Math.round(envNumber('BENCH_MESSAGES', 1_000_000));
const QUERIES = Math.round(envNumber('BENCH_QUERIES', 200));
const PER_CONVERSATION = 50;
const CONVERSATIONS = Math.max(1, Math.round(MESSAGES / PER_CONVERSATION));
const VOCABULARY = 4000;
const WARMUP_QUERIES = 20;

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
  return { url: `${address}/conversations/search`, headers, locationId: location.id };
}

// ---------------------------------------------------------------- the data

/** The head of the vocabulary, most frequent first: what live-chat messages are made of. */
const COMMON_WORDS =
  `the to you and is it for your my we of in can have on be this that me with are will please
thanks order help just what do not get hi hello so if but at there know thank need when time how would our from
out about an all up any ok yes no here now like us let been was today back some one see want could sure check
email account again received payment delivery shipping refund issue problem item price still should send sent
number address tomorrow week day morning afternoon update great good more also looking question information
service support team store product call phone message reply soon available confirm booking appointment cancel
change new link website app login password reset card charge invoice receipt return exchange size color stock
package tracking arrived late damaged wrong missing discount code coupon offer free pay paid cost fee
subscription plan upgrade trial open closed hours location pickup weekend monday friday evening minutes
waiting wait sorry apologies understand great awesome perfect happy glad welcome assist agent manager
customer details name quick fast slow working broken replace replacement warranty repair schedule reschedule
available available instead already yet maybe really very much many other another first last next same`
    .split(/\s+/)
    .filter((w, i, all) => w && all.indexOf(w) === i);

const SYLLABLES = `ba ca da fe ga hi jo ka lu me ni po ra se ti vo wa ze bri cla dro fle gri pla sto tru mon
ter lin dor san vel`.split(/\s+/);

/** The vocabulary by rank: the common words, then made-up words of two or three syllables. */
function vocabulary(): string[] {
  const words = [...COMMON_WORDS];
  const seen = new Set(words);
  const n = SYLLABLES.length;
  for (let i = 0; words.length < VOCABULARY; i++) {
    const a = SYLLABLES[i % n]!;
    const b = SYLLABLES[Math.floor(i / n) % n]!;
    const c = i >= n * n ? SYLLABLES[Math.floor(i / (n * n)) % n]! : '';
    const w = a + b + c;
    if (!seen.has(w)) {
      seen.add(w);
      words.push(w);
    }
  }
  return words;
}

/** Product names that appear in about one message in a thousand: each in a handful of messages. */
const RARE_WORDS = [
  'zephyr',
  'quokka',
  'xylo',
  'jinx',
  'fjord',
  'vortex',
  'quasar',
  'oxbow',
  'kazoo',
  'yuzu',
].flatMap((a) => ['max', 'pro', 'lite', 'one', 'air', 'mini', 'plus', 'go', 'neo', 'flex'].map((b) => a + b));

const FIRST_NAMES =
  `James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard
Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Margaret Mark
Sandra Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian
Melissa George Deborah Timothy Stephanie Ronald Rebecca Jason Sharon Edward Laura Jeffrey Cynthia Ryan Kathleen
Jacob Amy Gary Angela Nicholas Shirley Eric Anna Jonathan Brenda Stephen Pamela Larry Emma Justin Nicole Scott
Helen Brandon Samantha Benjamin Katherine Samuel Christine Gregory Debra Alexander Rachel Frank Carolyn Raymond
Janet Patrick Catherine Jack Maria Dennis Heather Jerry Diane Tyler Ruth Aaron Julie Jose Olivia Adam Joyce
Nathan Virginia Henry Victoria Douglas Kelly Zachary Lauren Peter Christina Kyle Joan Ethan Evelyn Walter Judith
Noah Megan Jeremy Andrea Christian Cheryl Keith Hannah Roger Jacqueline Terry Martha Gerald Gloria Harold Teresa
Sean Ann Austin Sara Carl Madison Arthur Frances Lawrence Kathryn Dylan Janice Jesse Jean Jordan Abigail Bryan
Alice Billy Judy Joe Sophia Bruce Grace Gabriel Denise Logan Amber Albert Doris Willie Marilyn Alan Danielle
Juan Beverly Wayne Isabella Elijah Theresa Randy Diana Roy Natalie Vincent Brittany Ralph Charlotte Eugene Marie
Russell Kayla Bobby Alexis Mason Lori`.split(/\s+/);

const LAST_NAMES = `Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez
Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark
Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker
Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes
Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos
Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo
Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson
Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace
Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens
Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns
Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer
Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols
Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce Vazquez Hansen Peters
Santos Hart Bradley Knight Elliott Cunningham Duncan Armstrong Hudson Carroll Lane Riley Andrews Alvarado Ray
Delgado Berry Perkins Hoffman Johnston Matthews Pena Richards Contreras Willis Carpenter Lawrence Sandoval`.split(
  /\s+/,
);

const DOMAINS = [
  'gmail.com',
  'yahoo.com',
  'outlook.com',
  'hotmail.com',
  'icloud.com',
  'proton.me',
  'acme.io',
];

/** Drops the indexes of `table` that back no constraint; returns their definitions. */
async function dropPlainIndexes(c: pg.Client, table: string): Promise<string[]> {
  const { rows } = await c.query<{ name: string; def: string }>(
    `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
     FROM pg_index i
     WHERE i.indrelid = $1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)`,
    [table],
  );
  for (const r of rows) await c.query(`DROP INDEX ${r.name}`);
  return rows.map((r) => r.def);
}

/**
 * Fills the location: contacts, one conversation each, PER_CONVERSATION messages each, and the
 * conversations' last-message fields from their last message. Deterministic (setseed) except for
 * dates, which count back from now.
 */
async function generate(c: pg.Client, locationId: string): Promise<Record<string, number>> {
  const timings: Record<string, number> = {};
  const step = async (name: string, fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    timings[name] = (performance.now() - t0) / 1000;
  };
  const words = vocabulary();
  await c.query("SET work_mem = '1GB'");
  await c.query("SET maintenance_work_mem = '1GB'");
  await c.query('SELECT setseed(0.42)');
  await c.query('CREATE TEMP TABLE vocab (rank int PRIMARY KEY, word text NOT NULL)');
  await c.query('INSERT INTO vocab SELECT i, w FROM unnest($1::text[]) WITH ORDINALITY AS t(w, i)', [words]);
  // Dates count back from one fixed instant, so messages and their conversation agree.
  const { rows } = await c.query<{ t0: Date }>("SELECT date_trunc('minute', now()) - interval '1 day' AS t0");
  const t0 = rows[0]!.t0;
  // A conversation starts within the last year; its messages follow every 7 minutes.
  const started = (i: string) =>
    `($2::timestamptz - (${i} % 365) * interval '1 day' - (${i} * 37 % 1440) * interval '1 minute')`;

  const indexes: Record<string, string[]> = {};
  await step('drop indexes', async () => {
    for (const t of ['contacts', 'conversations', 'messages']) indexes[t] = await dropPlainIndexes(c, t);
  });

  await step('contacts', () =>
    c.query(
      `INSERT INTO contacts (location_id, id, first_name, last_name, name, email, phone, created_at, updated_at)
       SELECT $1, md5('contact' || i)::uuid, f, l,
         CASE WHEN i % 5 <> 0 THEN f || ' ' || l END,
         CASE WHEN i % 10 <> 0 THEN lower(f || '.' || l || i) || '@' || ($5::text[])[1 + i % cardinality($5::text[])] END,
         CASE WHEN i % 10 <> 5 THEN '+1' || (200 + i % 800) || lpad((i::bigint * 7919 % 10000000)::text, 7, '0') END,
         ${started('i')}, ${started('i')}
       FROM generate_series(1, $6::int) AS i,
         LATERAL (SELECT ($3::text[])[1 + (i * 7) % cardinality($3::text[])] AS f,
                         ($4::text[])[1 + (i * 13) % cardinality($4::text[])] AS l) AS n`,
      [locationId, t0, FIRST_NAMES, LAST_NAMES, DOMAINS, CONVERSATIONS],
    ),
  );

  await step('conversations', () =>
    c.query(
      `INSERT INTO conversations (location_id, id, contact_id, channel, type, created_at, updated_at)
       SELECT $1, md5('conversation' || i)::uuid, md5('contact' || i)::uuid,
         CASE WHEN i % 3 = 0 THEN 'live_chat' ELSE 'default' END, 'TYPE_PHONE', ${started('i')}, ${started('i')}
       FROM generate_series(1, $3::int) AS i`,
      [locationId, t0, CONVERSATIONS],
    ),
  );

  // Each message: 4 to 16 words, ranks drawn log-uniformly (P(rank r) ~ 1/r: Zipf-like); every
  // 20th with an order number; every 997th with one of the rare words.
  await step('messages', () =>
    c.query(
      `INSERT INTO messages (location_id, id, conversation_id, contact_id, seq, type, direction, status, body,
         created_at, updated_at)
       SELECT $1, md5('message' || g.n)::uuid, md5('conversation' || g.c)::uuid, md5('contact' || g.c)::uuid, g.seq,
         CASE WHEN g.c % 3 = 0 THEN 'TYPE_LIVE_CHAT' ELSE 'TYPE_SMS' END,
         CASE WHEN g.seq % 2 = 1 THEN 'inbound' ELSE 'outbound' END, 'delivered',
         g.body
           || CASE WHEN g.n % 20 = 0 THEN ' order #' || (100000 + g.n::bigint * 7919 % 900000) ELSE '' END
           || CASE WHEN g.n % 997 = 0 THEN ' ' || ($3::text[])[1 + (g.n / 997) % cardinality($3::text[])] ELSE '' END
           || (ARRAY['.', '?', '!', ''])[1 + g.n % 4],
         ${started('g.c')} + g.seq * interval '7 minutes', ${started('g.c')} + g.seq * interval '7 minutes'
       FROM (
         SELECT n, (n - 1) / ${PER_CONVERSATION} + 1 AS c, (n - 1) % ${PER_CONVERSATION} + 1 AS seq,
           string_agg(v.word, ' ') AS body
         FROM generate_series(1, $4::int) AS n
           CROSS JOIN LATERAL generate_series(1, 4 + (n * 7) % 13) AS k
           CROSS JOIN LATERAL (SELECT floor(exp(random() * ln(${VOCABULARY} + 1)))::int + 0 * k AS r) AS x
           JOIN vocab v ON v.rank = x.r
         GROUP BY n
       ) AS g`,
      [locationId, t0, RARE_WORDS, CONVERSATIONS * PER_CONVERSATION],
    ),
  );

  await step('last messages', () =>
    c.query(
      `UPDATE conversations c SET
         last_seq = m.seq, last_message_id = m.id, last_message_body = left(m.body, 500),
         last_message_type = m.type, last_message_direction = m.direction,
         last_message_action = CASE WHEN m.direction = 'outbound' THEN 'manual' END,
         last_message_date = m.created_at,
         last_manual_message_date = CASE WHEN m.direction = 'outbound' THEN m.created_at END,
         unread_count = CASE WHEN m.direction = 'inbound' THEN 1 ELSE 0 END, updated_at = m.created_at
       FROM messages m
       WHERE c.location_id = $1 AND m.location_id = $1 AND m.conversation_id = c.id AND m.seq = $2`,
      [locationId, PER_CONVERSATION],
    ),
  );

  await step('create indexes', async () => {
    for (const defs of Object.values(indexes)) for (const def of defs) await c.query(def);
  });
  await step('vacuum analyze', () => c.query('VACUUM ANALYZE contacts, conversations, messages'));
  return timings;
}

// ---------------------------------------------------------------- the queries

type Kind =
  | 'rare word'
  | 'common word'
  | 'mid-frequency word'
  | 'name fragment'
  | 'email fragment'
  | 'phone fragment'
  | 'no match';

interface Query {
  kind: Kind;
  text: string;
}

/** A small seeded PRNG (mulberry32): the same queries on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function makeQueries(c: pg.Client, locationId: string, count: number, seed: number): Promise<Query[]> {
  const random = prng(seed);
  const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)]!;
  const fragment = (s: string, min: number, max: number) => {
    const len = Math.min(s.length, min + Math.floor(random() * (max - min + 1)));
    const start = Math.floor(random() * (s.length - len + 1));
    return s.slice(start, start + len);
  };
  const words = vocabulary();
  const { rows: contacts } = await c.query<{ name: string; email: string | null; phone: string | null }>(
    `SELECT concat_ws(' ', first_name, last_name) AS name, email, phone FROM contacts
     WHERE location_id = $1 ORDER BY id LIMIT 500`,
    [locationId],
  );
  const emails = contacts.flatMap((k) => (k.email ? [k.email] : []));
  const phones = contacts.flatMap((k) => (k.phone ? [k.phone] : []));
  // Searches need three characters: shorter ones cannot use a trigram index at all.
  const searchable = (w: string) => w.length >= 3;
  const common = words.slice(0, 60).filter(searchable);
  const mid = words.slice(300, 2000).filter(searchable);
  const mix: [Kind, number, () => string][] = [
    ['rare word', 0.2, () => pick(RARE_WORDS)],
    ['common word', 0.15, () => pick(common)],
    ['mid-frequency word', 0.15, () => pick(mid)],
    // A last name, a first name, or "first las".
    [
      'name fragment',
      0.15,
      () => {
        const name = pick(contacts).name;
        const [first, last] = name.split(' ') as [string, string];
        const r = random();
        return r < 0.4 ? fragment(last, 4, 7) : r < 0.7 ? first : `${first} ${last.slice(0, 3)}`;
      },
    ],
    ['email fragment', 0.125, () => fragment(pick(emails).split('@')[0]!, 6, 12)],
    ['phone fragment', 0.125, () => fragment(pick(phones).slice(2), 5, 8)],
    ['no match', 0.1, () => `${pick(['qzx', 'vvkq', 'xjw', 'zzqy'])}${Math.floor(random() * 1000)}`],
  ];
  const queries: Query[] = [];
  for (const [kind, share, make] of mix) {
    const n = kind === 'no match' ? count - queries.length : Math.round(count * share);
    for (let i = 0; i < n; i++) queries.push({ kind, text: make() });
  }
  // Interleaved, so no kind runs on a cache the previous ones of its kind warmed.
  for (let i = queries.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [queries[i], queries[j]] = [queries[j]!, queries[i]!];
  }
  return queries;
}

interface Timed extends Query {
  ms: number;
  total: number;
  ids: string[];
}

async function search(target: Target, q: Query): Promise<Timed> {
  const url = `${target.url}?locationId=${target.locationId}&query=${encodeURIComponent(q.text)}`;
  const t0 = performance.now();
  const res = await fetch(url, { headers: target.headers });
  const text = await res.text();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`GET ${url} -> ${res.status}: ${text}`);
  const body = JSON.parse(text) as { total: number; conversations: { id: string }[] };
  return { ...q, ms, total: body.total, ids: body.conversations.map((c) => c.id) };
}

// ---------------------------------------------------------------- parent

async function parent(): Promise<void> {
  await withBenchDatabase({ embedded: 'parent' }, async ({ dataDir, databaseUrl, description }) => {
    const c = new pg.Client({ connectionString: databaseUrl });
    await c.connect();
    try {
      const version = await serverVersion(c);
      const { proc, target } = await spawnServer<Target>(import.meta.url, 'charla', {
        BENCH_DATA_DIR: dataDir,
        BENCH_DATABASE_URL: databaseUrl,
      });
      try {
        const t0 = performance.now();
        const timings = await generate(c, target.locationId);
        const generation = (performance.now() - t0) / 1000;
        const sizes: string[] = [];
        for (const t of ['contacts', 'conversations', 'messages']) {
          const { rows } = await c.query<{ n: string; size: string }>(
            `SELECT count(*) AS n, pg_size_pretty(pg_total_relation_size('${t}')) AS size FROM ${t}`,
          );
          sizes.push(`${t} ${Number(rows[0]!.n).toLocaleString('en')} rows, ${rows[0]!.size}`);
        }
        for (const q of await makeQueries(c, target.locationId, WARMUP_QUERIES, 7)) await search(target, q);
        const results: Timed[] = [];
        for (const q of await makeQueries(c, target.locationId, QUERIES, 42))
          results.push(await search(target, q));
        report(results, {
          database: `${description}, ${version}`,
          generation,
          timings,
          sizes,
        });
        if (process.env.BENCH_SEARCH_DUMP) {
          const dump = results.map(({ kind, text, total, ids }) => ({ kind, text, total, ids }));
          await writeFile(process.env.BENCH_SEARCH_DUMP, `${JSON.stringify(dump, null, 1)}\n`);
        }
      } finally {
        await stopServer(proc);
      }
    } finally {
      await c.end();
    }
  });
}

function report(
  results: Timed[],
  info: { database: string; generation: number; timings: Record<string, number>; sizes: string[] },
): void {
  console.log(
    `\nConversation search benchmark: ${results.length} sequential searches after ${WARMUP_QUERIES} warm-up ones, ` +
      `limit 20, newest first\nnode ${process.version}, ${os.cpus().length} CPUs, ${info.database}\n` +
      `data: ${info.sizes.join('; ')}\n` +
      `generated in ${info.generation.toFixed(1)} s (${Object.entries(info.timings)
        .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
        .join(', ')})\n`,
  );
  const kinds = [...new Set(results.map((r) => r.kind))];
  const row = (name: string, rs: Timed[]) => {
    const ms = rs.map((r) => r.ms).sort((a, b) => a - b);
    const hits = rs.map((r) => r.total).sort((a, b) => a - b);
    return [
      name,
      String(rs.length),
      percentile(ms, 50).toFixed(1),
      percentile(ms, 95).toFixed(1),
      ms[ms.length - 1]!.toFixed(1),
      `${hits[0]}–${hits[hits.length - 1]}`,
    ];
  };
  printTable([
    ['query kind', 'queries', 'p50 ms', 'p95 ms', 'max ms', 'total hits'],
    ...kinds.map((k) =>
      row(
        k,
        results.filter((r) => r.kind === k),
      ),
    ),
    row('all', results),
  ]);
  const slowest = [...results].sort((a, b) => b.ms - a.ms).slice(0, 5);
  console.log(
    `\nslowest: ${slowest.map((r) => `"${r.text}" (${r.kind}, ${r.total} hits) ${r.ms.toFixed(0)} ms`).join('; ')}`,
  );
  const p95 = percentile(
    results.map((r) => r.ms).sort((a, b) => a - b),
    95,
  );
  console.log(`p95 over all searches: ${p95.toFixed(1)} ms (goal ≤ 50 ms)\n`);
}

main(parent, () => runChild(serveCharla));
