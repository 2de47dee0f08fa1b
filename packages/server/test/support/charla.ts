import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { createKey } from '../../src/core/keys/service.js';
import { createLocation } from '../../src/core/locations/service.js';
import { type Charla, startCharla } from '../../src/server.js';
import { createTestDatabase } from './db.js';

export interface Tenant {
  locationId: string;
  /** Every scope, this location only. */
  key: string;
}

export interface TestCharla {
  charla: Charla;
  url: string;
  /** Two unrelated tenants: every suite checks that one never reaches the other's data. */
  a: Tenant;
  b: Tenant;
  /** Every scope, every location. */
  agencyKey: string;
  /** Makes another key on the fly. */
  key(scopes: string[], locationIds: string[] | null): Promise<string>;
  close(): Promise<void>;
}

export interface TestNode {
  charla: Charla;
  url: string;
  /** Stops the node and removes its data dir; the database is left alone. */
  close(): Promise<void>;
}

/**
 * One Charla node on an existing database, listening on a loopback port, with its own data dir.
 * Several nodes on one database make a cluster (they share events when REDIS_URL is set).
 */
export async function startTestNode(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<TestNode> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'charla-data-'));
  try {
    const config = loadConfig({
      DATABASE_URL: databaseUrl,
      REDIS_URL: process.env.REDIS_URL ?? '',
      DATA_DIR: dataDir,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      CHARLA_SECRET: 'test-secret-test-secret-test-secret-0123',
      PORT: '0',
      HOST: '127.0.0.1',
      RATE_LIMIT_BURST: '100000',
      ...env,
    });
    const charla = await startCharla(config, { bootstrap: false });
    await charla.app.listen({ port: 0, host: '127.0.0.1' }).catch(async (err) => {
      await charla.stop();
      throw err;
    });
    const address = charla.app.server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    // The port is known only now: links the node hands out (media, snippets) must point here.
    charla.ctx.config.publicUrl = url;
    return {
      charla,
      url,
      async close() {
        await charla.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * A real Charla on a fresh database, listening on a loopback port, with two tenants. Uses Redis
 * when REDIS_URL is set, as CI does.
 */
export async function startTestCharla(env: Record<string, string> = {}): Promise<TestCharla> {
  const database = await createTestDatabase();
  const node = await startTestNode(database.url, env).catch(async (err) => {
    await database.drop();
    throw err;
  });
  const { charla, url } = node;
  const { db } = charla.ctx;

  const key = async (scopes: string[], locationIds: string[] | null) =>
    (await createKey(db, { name: 'test', scopes, locationIds })).key;
  const tenant = async (name: string): Promise<Tenant> => {
    const loc = await createLocation(db, { name });
    return { locationId: loc.id, key: await key(['*'], [loc.id]) };
  };
  const a = await tenant('Tenant A');
  const b = await tenant('Tenant B');
  const agencyKey = await key(['*'], null);

  return {
    charla,
    url,
    a,
    b,
    agencyKey,
    key,
    async close() {
      await node.close();
      await database.drop();
    },
  };
}
