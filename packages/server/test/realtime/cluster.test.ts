// Two Charla nodes (separate processes) on one database and a private Redis: a visitor on one node
// and an agent on the other; a node killed mid-conversation; Redis restarted under them.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createKey } from '../../src/core/keys/service.js';
import { createLocation } from '../../src/core/locations/service.js';
import { Db } from '../../src/storage/db.js';
import { createTestDatabase } from '../support/db.js';
import {
  agentSays,
  api,
  ORIGIN,
  TEST_SECRET,
  visitorSays,
  visitorToken,
  WsClient,
  widget,
} from './support.js';

const serverRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

interface Proc {
  child: ChildProcess;
  output: string[];
}

function run(cmd: string, args: string[], env: Record<string, string>, cwd = serverRoot): Proc {
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout!.on('data', (d) => output.push(String(d)));
  child.stderr!.on('data', (d) => output.push(String(d)));
  return { child, output };
}

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function killed(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => p.child.once('exit', () => resolve()));
}

// A private Redis: the shared one on 6379 is not ours to restart.
let redisPort: number;
let redis: Proc | undefined;

async function startRedis(): Promise<void> {
  redis = run(
    'redis-server',
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {},
  );
  await waitUntil('redis-server', () => redis!.output.join('').includes('Ready to accept connections'));
}

async function stopRedis(): Promise<void> {
  if (!redis) return;
  const r = redis;
  redis = undefined;
  r.child.kill('SIGKILL');
  await killed(r);
}

let databaseUrl: string;
let dropDatabase: () => Promise<void>;
const nodes: Proc[] = [];

async function startNode(): Promise<{ url: string; proc: Proc }> {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'charla-node-'));
  const proc = run(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    DATABASE_URL: databaseUrl,
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    CHARLA_SECRET: TEST_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    RATE_LIMIT_BURST: '100000',
  });
  proc.child.once('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  nodes.push(proc);
  await waitUntil('a Charla node', () => {
    if (proc.child.exitCode !== null) assert.fail(`node exited: ${proc.output.join('')}`);
    return proc.output.join('').includes('Charla is running at');
  });
  return { url: `http://127.0.0.1:${port}`, proc };
}

let db: Db;
let locationId: string;
let key: string;
let widgetId: string;

before(async () => {
  redisPort = await freePort();
  await startRedis();
  const database = await createTestDatabase();
  databaseUrl = database.url;
  dropDatabase = database.drop;
  db = new Db(databaseUrl, { max: 2 });
  locationId = (await createLocation(db, { name: 'Cluster' })).id;
  key = (await createKey(db, { name: 'agents', scopes: ['*'], locationIds: [locationId] })).key;
});

after(async () => {
  for (const n of nodes) n.child.kill('SIGKILL');
  await Promise.all(nodes.map(killed));
  await stopRedis();
  await db?.close();
  await dropDatabase?.();
});

const createdSeqs = (c: WsClient, conversationId: string) =>
  c
    .messages(conversationId)
    .filter((f) => f.event === 'created')
    .map((f) => f.message.seq as number);

describe('real-time hub, two nodes and Redis', () => {
  test('across nodes: messages, typing, reads; a killed node; a Redis restart', async () => {
    let a = await startNode();
    const b = await startNode();
    const onA = api(a.url, key);
    const onB = api(b.url, key);
    widgetId = await widget(onB, locationId);
    const { rows } = await db.query<{ id: string }>(
      "INSERT INTO contacts (location_id, id, name) VALUES ($1, gen_random_uuid(), 'Vera') RETURNING id",
      [locationId],
    );
    const contactId = rows[0]!.id;
    const conversationId = (await agentSays(onB, contactId, 'Welcome!')).conversationId as string;
    const token = visitorToken({ locationId, channelId: widgetId, contactId });

    const agent = await WsClient.open(b.url);
    agent.hello({ key });
    await agent.ready();
    const visitor = await WsClient.open(a.url, { headers: ORIGIN });
    visitor.hello({ token });
    await visitor.ready();
    assert.deepEqual(createdSeqs(visitor, conversationId), [1]);

    // Visitor (node A) ↔ agent (node B).
    await visitorSays(onA, conversationId, 'Hello from A');
    await agent.next((f) => f.type === 'message' && f.message.body === 'Hello from A', 'visitor msg on B');
    await agentSays(onB, contactId, 'Hello from B');
    await visitor.next((f) => f.type === 'message' && f.message.body === 'Hello from B', 'agent msg on A');
    visitor.send({ type: 'typing', conversationId, isTyping: true });
    await agent.next((f) => f.type === 'typing' && f.from === 'visitor', 'visitor typing on B');
    agent.send({ type: 'typing', conversationId, isTyping: true });
    await visitor.next((f) => f.type === 'typing' && f.from === 'agent', 'agent typing on A');
    visitor.send({ type: 'read', conversationId, seq: 3 });
    const read = await agent.next(
      (f) => f.type === 'message' && f.event === 'updated' && f.message.seq === 3,
      'read receipt on B',
    );
    assert.equal(read.message.status, 'read');
    agent.send({ type: 'read', conversationId });
    await visitor.next((f) => f.type === 'read' && f.by === 'agent', 'agent read on A');

    // Node A dies (SIGKILL) while the agent keeps writing; the visitor moves to B with its seq.
    let sending = true;
    let sent = 0;
    const sender = (async () => {
      while (sending && sent < 40) {
        await agentSays(onB, contactId, `burst ${++sent}`);
        await sleep(10);
      }
    })();
    await waitUntil('some of the burst on A', () => createdSeqs(visitor, conversationId).length >= 6);
    a.proc.child.kill('SIGKILL');
    await killed(a.proc);
    await visitor.closed;
    const seen = createdSeqs(visitor, conversationId);
    const lastSeen = Math.max(...seen);
    await sleep(50);
    const moved = await WsClient.open(b.url, { headers: ORIGIN });
    moved.hello({ token, since: [{ conversationId, seq: lastSeen }] });
    await moved.ready();
    await sleep(100);
    sending = false;
    await sender;
    const { rows: maxRows } = await db.query<{ n: string }>(
      'SELECT max(seq) AS n FROM messages WHERE conversation_id = $1',
      [conversationId],
    );
    const last = Number(maxRows[0]!.n);
    await moved.next((f) => f.type === 'message' && f.message.seq === last, 'the last message on B');
    await sleep(200);
    const after = createdSeqs(moved, conversationId);
    assert.deepEqual(
      after,
      Array.from({ length: last - lastSeen }, (_, i) => lastSeen + 1 + i),
      'after the move: everything after the last seen seq, once, in order',
    );
    assert.deepEqual(
      [...new Set([...seen, ...after])].sort((x, y) => x - y),
      Array.from({ length: last }, (_, i) => i + 1),
    );

    // A node comes back; the visitor sits there again, and Redis restarts under both nodes.
    a = await startNode();
    moved.close();
    const back = await WsClient.open(a.url, { headers: ORIGIN });
    back.hello({ token, since: [{ conversationId, seq: last }] });
    await back.ready();
    await stopRedis();
    await sleep(300);
    await startRedis();
    await agent.next((f) => f.type === 'resync', 'resync on B', 20_000);
    await back.next((f) => f.type === 'resync', 'resync on A', 20_000);
    // Delivery resumes across nodes, and a sync after the resync misses nothing.
    await agentSays(onB, contactId, 'after the restart');
    await back.next(
      (f) => f.type === 'message' && f.message.body === 'after the restart',
      'delivery across nodes after the restart',
      15_000,
    );
    back.send({ type: 'sync', since: [{ conversationId, seq: last + 1 }] });
    const synced = await back.next((f) => f.type === 'synced', 'synced after resync');
    assert.deepEqual(synced.since, [{ conversationId, seq: last + 1 }]);
    const finalSeqs = createdSeqs(back, conversationId);
    assert.equal(new Set(finalSeqs).size, finalSeqs.length, 'no message twice');
    assert.deepEqual(finalSeqs, [last + 1]);

    for (const c of [agent, back]) c.close();
  });
});
