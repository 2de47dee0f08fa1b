import { ConfigError, loadConfig, redact } from './config.js';
import { createLogger } from './http/log.js';
import { startCharla } from './server.js';
import { DataDirInUseError } from './storage/embedded.js';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  let charla: Awaited<ReturnType<typeof startCharla>>;
  try {
    charla = await startCharla(config, { log });
  } catch (err) {
    if (err instanceof DataDirInUseError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }

  try {
    await charla.app.listen({ port: config.port, host: config.host });
  } catch (err) {
    process.stderr.write(
      `Charla could not listen on ${config.host}:${config.port}: ${(err as Error).message}\n`,
    );
    await charla.stop().catch(() => {});
    process.exit(1);
  }
  const database = config.databaseUrl ? redact(config.databaseUrl) : `embedded, in ${config.dataDir}`;
  const lines = [
    '',
    `Charla is running at ${config.publicUrl}`,
    `  API docs:  ${config.publicUrl}/docs`,
    `  Inbox:     ${config.publicUrl}/inbox   (agents sign in)`,
    `  Demo:      ${config.publicUrl}/demo    (the chat widget on a sample page)`,
    `  Database:  ${database}`,
    `  Events:    ${config.redisUrl ? `Redis ${redact(config.redisUrl)}` : 'in-process (set REDIS_URL for several nodes)'}`,
  ];
  const first = charla.firstRun;
  if (first) {
    lines.push(
      '',
      'First start: created a location, an admin user and an API key. They are shown only now:',
      `  Location id:   ${first.locationId}`,
      `  Admin login:   ${first.adminEmail} / ${first.adminPassword}`,
      `  API key:       ${first.apiKey}`,
      '',
      'Try it:',
      `  curl -H "Authorization: Bearer ${first.apiKey}" -H "Version: 2021-07-28" \\`,
      `    "${config.publicUrl}/chat-widget/list?locationId=${first.locationId}&offset=0&limit=10"`,
      '',
      'More locations and keys: npm run charla -- help   (or the admin API, /admin/v1/..., see /docs)',
    );
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);

  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) process.exit(1);
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      log.error('shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    charla.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`Charla failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
