import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.js';
import { AppError } from './core/errors.js';
import { randomToken } from './core/ids.js';
import { SCOPES } from './core/keys/scopes.js';
import { createKey, listKeys, revokeKey } from './core/keys/service.js';
import { createLocation, listLocations } from './core/locations/service.js';
import { createUser } from './core/users/service.js';
import { Db } from './storage/db.js';
import { runningEmbeddedUrl, startEmbedded } from './storage/embedded.js';
import { migrate } from './storage/migrate.js';

const HELP = `Charla administration

Usage: npm run charla -- <command> [options]

  locations:list
  locations:create --name <name> [--timezone <IANA zone>]
  keys:list
  keys:create --name <name> (--location <id> ... | --agency) [--scope <scope> ...]
              scopes default to "*" (everything); known: ${SCOPES.join(', ')}
  keys:revoke <key id>
  users:create --email <email> --name <name> --location <id> ... [--role agent|admin] [--password <pw>]

Uses DATABASE_URL, or the embedded database in DATA_DIR (default ./data), shared with a running
Charla if there is one.`;

async function withDatabase<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const config = loadConfig();
  let url = config.databaseUrl ?? (await runningEmbeddedUrl(config.dataDir));
  const embedded = url ? undefined : await startEmbedded({ dataDir: config.dataDir });
  url ??= embedded!.url;
  const db = new Db(url, { max: 2, applicationName: 'charla-cli' });
  try {
    await migrate(db.pool);
    return await fn(db);
  } finally {
    await db.close();
    await embedded?.stop();
  }
}

const print = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
};

async function run(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      timezone: { type: 'string' },
      location: { type: 'string', multiple: true },
      agency: { type: 'boolean' },
      scope: { type: 'string', multiple: true },
      email: { type: 'string' },
      role: { type: 'string' },
      password: { type: 'string' },
    },
  });
  const need = (value: string | undefined, flag: string): string => {
    if (!value) throw new AppError('validation', `--${flag} is required`);
    return value;
  };

  switch (command) {
    case 'locations:list':
      return withDatabase(async (db) => print(await listLocations(db, null)));
    case 'locations:create':
      return withDatabase(async (db) =>
        print(await createLocation(db, { name: need(values.name, 'name'), timezone: values.timezone })),
      );
    case 'keys:list':
      return withDatabase(async (db) => print(await listKeys(db)));
    case 'keys:create': {
      if (!values.agency && !values.location?.length) {
        throw new AppError(
          'validation',
          'name the key’s locations with --location, or pass --agency for all of them',
        );
      }
      return withDatabase(async (db) => {
        const { apiKey, key } = await createKey(db, {
          name: need(values.name, 'name'),
          scopes: values.scope?.length ? values.scope : ['*'],
          locationIds: values.agency ? null : values.location!,
        });
        print(apiKey);
        process.stdout.write(`\nAPI key (shown only now): ${key}\n`);
      });
    }
    case 'keys:revoke':
      return withDatabase(async (db) => print(await revokeKey(db, need(positionals[0], 'key id'))));
    case 'users:create': {
      const password = values.password ?? randomToken(12);
      return withDatabase(async (db) => {
        print(
          await createUser(db, {
            email: need(values.email, 'email'),
            name: need(values.name, 'name'),
            role: (values.role ?? 'agent') as 'agent' | 'admin',
            password,
            locationIds: values.location ?? [],
          }),
        );
        if (!values.password) process.stdout.write(`\nPassword (shown only now): ${password}\n`);
      });
    }
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(`${HELP}\n`);
      return;
    default:
      throw new AppError('bad_request', `Unknown command "${command}". Run "npm run charla -- help".`);
  }
}

run(process.argv.slice(2)).catch((err) => {
  const message =
    err instanceof AppError || err instanceof ConfigError ? err.message : `Failed: ${(err as Error).message}`;
  process.stderr.write(`${message}\n`);
  process.exit(err instanceof AppError || err instanceof ConfigError ? 2 : 1);
});
