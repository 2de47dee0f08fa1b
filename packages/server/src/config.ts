import path from 'node:path';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface RateLimitConfig {
  /** Requests allowed per key in one burst window. */
  burst: number;
  intervalMs: number;
  /** Requests allowed per key per UTC day. */
  daily: number;
}

export interface Config {
  port: number;
  host: string;
  publicUrl: string;
  dataDir: string;
  /** Unset: Charla runs an embedded PostgreSQL in `dataDir`. */
  databaseUrl: string | undefined;
  /** Unset: events stay in-process and rate limits are per node. */
  redisUrl: string | undefined;
  logLevel: LogLevel;
  /** Signs visitor tokens and sessions; from CHARLA_SECRET or a file in the data dir. */
  secret: string | undefined;
  rateLimit: RateLimitConfig;
  shutdownTimeoutMs: number;
  /**
   * Which proxies' X-Forwarded-For to believe for the client's address (per-IP rate limits):
   * false (none, the default), a hop count, or addresses/CIDRs (`loopback`, `10.0.0.0/8`, …).
   */
  trustProxy: boolean | number | string[];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Reads and validates the environment; every bad value is reported, not just the first. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];

  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return n;
  };

  const url = (name: string, protocols: string[]): string | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    try {
      const u = new URL(raw);
      if (!protocols.includes(u.protocol)) {
        problems.push(`${name} must use ${protocols.join(' or ')}, got "${u.protocol}"`);
      }
      return raw;
    } catch {
      problems.push(`${name} is not a valid URL: "${redact(raw)}"`);
      return undefined;
    }
  };

  const port = int('PORT', 3000, 0, 65535);
  const host = env.HOST || '0.0.0.0';
  if (!/^[\w.:-]+$/.test(host)) problems.push(`HOST must be a host name or address, got "${host}"`);

  const publicUrlRaw = url('PUBLIC_URL', ['http:', 'https:']);
  const shownHost =
    host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const publicUrl = (publicUrlRaw ?? `http://${shownHost}:${port}`).replace(/\/+$/, '');

  const dataDir = path.resolve(env.DATA_DIR || 'data');

  const databaseUrl = url('DATABASE_URL', ['postgres:', 'postgresql:']);
  const redisUrl = url('REDIS_URL', ['redis:', 'rediss:']);

  const logLevel = (env.LOG_LEVEL || 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${env.LOG_LEVEL}"`);
  }

  const secret = env.CHARLA_SECRET || undefined;
  if (secret !== undefined && secret.length < 32) {
    problems.push('CHARLA_SECRET must be at least 32 characters long');
  }

  const rateLimit: RateLimitConfig = {
    burst: int('RATE_LIMIT_BURST', 100, 1, 1_000_000_000),
    intervalMs: int('RATE_LIMIT_INTERVAL_MS', 10_000, 100, 86_400_000),
    daily: int('RATE_LIMIT_DAILY', 200_000, 1, 1_000_000_000),
  };
  const shutdownTimeoutMs = int('SHUTDOWN_TIMEOUT_MS', 10_000, 1000, 600_000);

  let trustProxy: boolean | number | string[] = false;
  const proxies = (env.TRUST_PROXY ?? '').trim();
  if (proxies === '' || proxies === 'false') trustProxy = false;
  else if (proxies === 'true') trustProxy = true;
  else if (/^\d+$/.test(proxies)) trustProxy = int('TRUST_PROXY', 0, 1, 20);
  else {
    trustProxy = proxies.split(',').map((p) => p.trim());
    if (!trustProxy.every((p) => /^(loopback|linklocal|uniquelocal|[0-9a-fA-F:.]+(\/\d{1,3})?)$/.test(p))) {
      problems.push(
        `TRUST_PROXY must be true, a hop count, or addresses and CIDRs separated by commas, got "${proxies}"`,
      );
    }
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    port,
    host,
    publicUrl,
    dataDir,
    databaseUrl,
    redisUrl,
    logLevel,
    secret,
    rateLimit,
    shutdownTimeoutMs,
    trustProxy,
  };
}

/** Hides a password in a connection string before it is shown. */
export function redact(connection: string): string {
  try {
    const u = new URL(connection);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    // Not a URL: hide what stands between the user name and the last "@".
    return connection.replace(/\/\/([^:/@]*):.*@/, '//$1:***@');
  }
}
