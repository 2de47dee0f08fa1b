import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, redact } from '../../src/config.js';

const serverDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The problems loadConfig reports for `env`; fails the test when it accepts it. */
function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    assert.equal(err.message, ['Invalid configuration:', ...err.problems.map((p) => `  - ${p}`)].join('\n'));
    return err.problems;
  }
  assert.fail(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  test('an empty environment gives the documented defaults', () => {
    assert.deepEqual(loadConfig({}), {
      port: 3000,
      host: '0.0.0.0',
      publicUrl: 'http://localhost:3000',
      dataDir: path.resolve('data'),
      databaseUrl: undefined,
      redisUrl: undefined,
      logLevel: 'info',
      secret: undefined,
      rateLimit: { burst: 100, intervalMs: 10_000, daily: 200_000 },
      shutdownTimeoutMs: 10_000,
      trustProxy: false,
    });
  });

  test('TRUST_PROXY: none, all, a hop count, or addresses and CIDRs; anything else is refused', () => {
    assert.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false);
    assert.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true);
    assert.equal(loadConfig({ TRUST_PROXY: '2' }).trustProxy, 2);
    assert.deepEqual(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8,fd00::/8' }).trustProxy, [
      'loopback',
      '10.0.0.0/8',
      'fd00::/8',
    ]);
    for (const bad of ['0', '21', 'proxy.example', '10.0.0.1;rm']) {
      assert.throws(() => loadConfig({ TRUST_PROXY: bad }), /TRUST_PROXY/, bad);
    }
  });

  test('empty strings count as unset', () => {
    const config = loadConfig({
      PORT: '',
      DATABASE_URL: '',
      REDIS_URL: '',
      LOG_LEVEL: '',
      CHARLA_SECRET: '',
    });
    assert.equal(config.port, 3000);
    assert.equal(config.databaseUrl, undefined);
    assert.equal(config.redisUrl, undefined);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.secret, undefined);
  });

  test('reads good values, boundaries included', () => {
    const secret = 's'.repeat(32);
    const config = loadConfig({
      PORT: '65535',
      HOST: '127.0.0.1',
      DATA_DIR: '/var/lib/charla',
      DATABASE_URL: 'postgresql://charla:pw@db:5432/charla',
      REDIS_URL: 'rediss://cache:6380/0',
      LOG_LEVEL: 'debug',
      CHARLA_SECRET: secret,
      RATE_LIMIT_BURST: '1',
      RATE_LIMIT_INTERVAL_MS: '100',
      RATE_LIMIT_DAILY: '5',
      SHUTDOWN_TIMEOUT_MS: '1000',
      TRUST_PROXY: '1',
    });
    assert.deepEqual(config, {
      port: 65535,
      host: '127.0.0.1',
      publicUrl: 'http://127.0.0.1:65535',
      dataDir: '/var/lib/charla',
      databaseUrl: 'postgresql://charla:pw@db:5432/charla',
      redisUrl: 'rediss://cache:6380/0',
      logLevel: 'debug',
      secret,
      rateLimit: { burst: 1, intervalMs: 100, daily: 5 },
      shutdownTimeoutMs: 1000,
      trustProxy: 1,
    });
    assert.equal(loadConfig({ PORT: '0' }).port, 0);
    assert.equal(loadConfig({ DATABASE_URL: 'postgres://db/charla' }).databaseUrl, 'postgres://db/charla');
    assert.equal(loadConfig({ REDIS_URL: 'redis://cache' }).redisUrl, 'redis://cache');
  });

  test('each bad value is refused with a ConfigError that names it', () => {
    const cases: [NodeJS.ProcessEnv, string][] = [
      [{ PORT: 'abc' }, 'PORT must be an integer from 0 to 65535, got "abc"'],
      [{ PORT: '70000' }, 'PORT must be an integer from 0 to 65535, got "70000"'],
      [{ PORT: '-1' }, 'PORT must be an integer from 0 to 65535, got "-1"'],
      [{ PORT: '80.5' }, 'PORT must be an integer from 0 to 65535, got "80.5"'],
      [
        { LOG_LEVEL: 'loud' },
        'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
      ],
      [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL must use postgres: or postgresql:, got "mysql:"'],
      [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL is not a valid URL: "not a url"'],
      [{ REDIS_URL: 'http://x' }, 'REDIS_URL must use redis: or rediss:, got "http:"'],
      [{ PUBLIC_URL: 'ftp://x' }, 'PUBLIC_URL must use http: or https:, got "ftp:"'],
      [{ CHARLA_SECRET: 's'.repeat(31) }, 'CHARLA_SECRET must be at least 32 characters long'],
      [{ RATE_LIMIT_BURST: '0' }, 'RATE_LIMIT_BURST must be an integer from 1 to 1000000000, got "0"'],
      [
        { RATE_LIMIT_INTERVAL_MS: '99' },
        'RATE_LIMIT_INTERVAL_MS must be an integer from 100 to 86400000, got "99"',
      ],
      [
        { SHUTDOWN_TIMEOUT_MS: 'soon' },
        'SHUTDOWN_TIMEOUT_MS must be an integer from 1000 to 600000, got "soon"',
      ],
      [{ HOST: 'my host' }, 'HOST must be a host name or address, got "my host"'],
    ];
    for (const [env, expected] of cases) {
      assert.deepEqual(problemsOf(env), [expected], JSON.stringify(env));
    }
  });

  test('several bad values at once are all reported, one line each', () => {
    const problems = problemsOf({
      PORT: 'abc',
      LOG_LEVEL: 'loud',
      DATABASE_URL: 'mysql://x',
      REDIS_URL: 'http://x',
      PUBLIC_URL: 'ftp://x',
      CHARLA_SECRET: 'short',
      RATE_LIMIT_BURST: '0',
    });
    assert.deepEqual(problems, [
      'PORT must be an integer from 0 to 65535, got "abc"',
      'PUBLIC_URL must use http: or https:, got "ftp:"',
      'DATABASE_URL must use postgres: or postgresql:, got "mysql:"',
      'REDIS_URL must use redis: or rediss:, got "http:"',
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
      'CHARLA_SECRET must be at least 32 characters long',
      'RATE_LIMIT_BURST must be an integer from 1 to 1000000000, got "0"',
    ]);
  });

  test('a connection string that is not a URL is shown without its password', () => {
    const problems = problemsOf({ DATABASE_URL: 'postgres://charla:hunter2@db host/charla' });
    assert.deepEqual(problems, ['DATABASE_URL is not a valid URL: "postgres://charla:***@db host/charla"']);
  });

  test('PUBLIC_URL loses its trailing slashes; without it the URL is built from HOST and PORT', () => {
    assert.equal(
      loadConfig({ PUBLIC_URL: 'https://chat.example.com/' }).publicUrl,
      'https://chat.example.com',
    );
    assert.equal(
      loadConfig({ PUBLIC_URL: 'https://example.com/chat///' }).publicUrl,
      'https://example.com/chat',
    );
    assert.equal(loadConfig({ PUBLIC_URL: 'http://example.com:8080' }).publicUrl, 'http://example.com:8080');
    assert.equal(loadConfig({ HOST: '::', PORT: '8080' }).publicUrl, 'http://localhost:8080');
    assert.equal(loadConfig({ HOST: 'chat.internal', PORT: '80' }).publicUrl, 'http://chat.internal:80');
  });

  test('a non-wildcard IPv6 HOST gives a valid default PUBLIC_URL', () => {
    const { publicUrl } = loadConfig({ HOST: '::1' });
    assert.equal(publicUrl, 'http://[::1]:3000');
    assert.doesNotThrow(() => new URL(publicUrl));
  });

  test('PORT is refused unless it is written as a plain decimal integer', () => {
    for (const raw of [' ', '0x1F', '1e3']) {
      assert.deepEqual(problemsOf({ PORT: raw }), [`PORT must be an integer from 0 to 65535, got "${raw}"`]);
    }
  });
});

describe('redact', () => {
  test('hides the password of a connection string and keeps everything else', () => {
    assert.equal(
      redact('postgres://charla:s3cret@db.internal:5432/charla?sslmode=require'),
      'postgres://charla:***@db.internal:5432/charla?sslmode=require',
    );
    assert.equal(redact('postgres://charla:p%40ss%3Aw0rd@db/charla'), 'postgres://charla:***@db/charla');
    assert.equal(redact('rediss://default:pw@cache:6380/0'), 'rediss://default:***@cache:6380/0');
  });

  test('leaves a connection string without a password unchanged', () => {
    assert.equal(
      redact('postgres://postgres@127.0.0.1:5432/postgres'),
      'postgres://postgres@127.0.0.1:5432/postgres',
    );
    assert.equal(redact('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379');
  });

  test('hides a password given without a user name (the usual Redis form)', () => {
    assert.equal(redact('redis://:s3cret@cache:6379'), 'redis://:***@cache:6379');
  });

  test('hides a password that contains a raw "@" (pg accepts it: the last "@" ends the password)', () => {
    assert.equal(redact('postgres://u:p@ss@db/charla'), 'postgres://u:***@db/charla');
  });
});

describe('the entry point', () => {
  test('exits with code 2 and lists every problem on stderr when the configuration is bad', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: serverDir,
      env: {
        PATH: process.env.PATH,
        PORT: 'abc',
        LOG_LEVEL: 'loud',
        // Were the configuration accepted after all, the child would fail fast here instead of
        // starting an embedded PostgreSQL.
        DATABASE_URL: 'postgres://127.0.0.1:1/nothing',
      },
      timeout: 30_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    assert.equal(code, 2, stderr);
    assert.equal(
      stderr,
      'Invalid configuration:\n' +
        '  - PORT must be an integer from 0 to 65535, got "abc"\n' +
        '  - LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"\n',
    );
    assert.equal(stdout, '');
  });
});
