import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { buildApp } from './app.js';
import { bootstrap, type FirstRun } from './bootstrap.js';
import { type Bus, MemoryBus, RedisBus, SYSTEM_CHANNEL } from './bus/bus.js';
import { OutboxRelay } from './bus/relay.js';
import { type Config, redact } from './config.js';
import type { AppContext } from './context.js';
import { KeyVerifier } from './core/keys/service.js';
import { createLogger } from './http/log.js';
import { RateLimiter } from './http/rate-limit.js';
import { registerMessageDispatch } from './jobs/dispatch.js';
import { registerOtpEmail } from './jobs/otp-email.js';
import { JobWorker } from './jobs/worker.js';
import { Hub } from './realtime/hub.js';
import { Db } from './storage/db.js';
import { type EmbeddedDatabase, startEmbedded } from './storage/embedded.js';
import { migrate } from './storage/migrate.js';

export interface Charla {
  app: FastifyInstance;
  ctx: AppContext;
  firstRun: FirstRun | undefined;
  /** Stops accepting, finishes in-flight requests, then closes sockets, the bus and the database. */
  stop(): Promise<void>;
}

/** The signing secret: CHARLA_SECRET, or one generated once and kept in the data dir. */
async function resolveSecret(config: Config, log: Logger): Promise<string> {
  if (config.secret) return config.secret;
  const file = path.join(config.dataDir, 'secret.key');
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    await fs.mkdir(config.dataDir, { recursive: true });
    const secret = randomBytes(32).toString('base64url');
    await fs.writeFile(file, secret, { mode: 0o600, flag: 'wx' }).catch(async () => {});
    log.warn(
      { file },
      'CHARLA_SECRET is not set: generated one in the data dir (set it when running several nodes)',
    );
    return (await fs.readFile(file, 'utf8')).trim();
  }
}

export async function startCharla(
  config: Config,
  options: { log?: Logger; bootstrap?: boolean } = {},
): Promise<Charla> {
  const log = options.log ?? createLogger(config.logLevel);
  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    log.info({ dataDir: config.dataDir }, 'DATABASE_URL is not set: starting the embedded PostgreSQL');
    embedded = await startEmbedded({
      dataDir: config.dataDir,
      onLog: (line) => log.debug({ pg: line.trim() }),
    });
    databaseUrl = embedded.url;
  }

  const db = new Db(databaseUrl);
  let bus: Bus | undefined;
  let limiterRedis: Redis | undefined;
  try {
    const applied = await migrate(db.pool);
    if (applied.length) log.info({ applied }, 'database migrated');
    const firstRun = options.bootstrap === false ? undefined : await bootstrap(db);

    if (config.redisUrl) {
      const redisBus = new RedisBus(config.redisUrl);
      bus = redisBus;
      await Promise.race([
        redisBus.ready(),
        new Promise<never>((_, reject) =>
          setTimeout(
            () => reject(new Error(`Redis at ${redact(config.redisUrl!)} did not answer within 5 s`)),
            5000,
          ),
        ),
      ]);
      limiterRedis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2 });
      limiterRedis.on('error', () => {});
    } else {
      bus = new MemoryBus();
    }
    const secret = await resolveSecret(config, log);
    const relay = new OutboxRelay(db, databaseUrl, bus, log);
    const jobs = new JobWorker(db, databaseUrl, log);
    registerMessageDispatch(jobs, { publicUrl: config.publicUrl });
    registerOtpEmail(jobs, { secret, publicUrl: config.publicUrl });
    const keys = new KeyVerifier(db);
    // Losing Redis must not take the API down with it: limits lapse (and say so) until it is back.
    let warnedAt = 0;
    const limiter = new RateLimiter(config.rateLimit, limiterRedis, (err) => {
      if (Date.now() - warnedAt < 10_000) return;
      warnedAt = Date.now();
      log.warn({ err }, 'rate limit counters unreachable; requests are let through');
    });
    const ctx: AppContext = { config, db, bus, relay, jobs, keys, limiter, log, secret };
    // A key revoked on any node leaves every node's cache at once.
    bus.subscribe(SYSTEM_CHANNEL, (m) => {
      if (m.topic === 'key.revoked') keys.forget(String(m.payload.prefix));
    });
    ctx.hub = new Hub({ db, bus, keys, secret, log, publicUrl: config.publicUrl });
    relay.start();
    jobs.start();
    ctx.hub.start();
    const app = await buildApp(ctx);

    let stopping: Promise<void> | undefined;
    const stop = () => {
      stopping ??= (async () => {
        // Sockets first, with 1001 (going away): their clients reconnect to another node.
        await ctx.hub?.stop();
        await app.close();
        // Jobs first: events their last handlers record are still relayed by this node.
        await jobs.stop();
        await relay.stop();
        await bus!.close();
        await limiter.close();
        await db.close();
        await embedded?.stop();
      })();
      return stopping;
    };
    return { app, ctx, firstRun, stop };
  } catch (err) {
    await bus?.close().catch(() => {});
    limiterRedis?.disconnect();
    await db.close().catch(() => {});
    await embedded?.stop().catch(() => {});
    throw err;
  }
}
