import type { Logger } from 'pino';
import type { Bus } from './bus/bus.js';
import type { OutboxRelay } from './bus/relay.js';
import type { Config } from './config.js';
import type { KeyVerifier } from './core/keys/service.js';
import type { RateLimiter } from './http/rate-limit.js';
import type { JobWorker } from './jobs/worker.js';
import type { Hub } from './realtime/hub.js';
import type { Db } from './storage/db.js';

/** Everything a request handler may reach; built once by `startCharla` (or a test). */
export interface AppContext {
  config: Config;
  db: Db;
  bus: Bus;
  relay: OutboxRelay;
  /** Runs durable jobs (scheduled sends, deliveries) on this node. */
  jobs: JobWorker;
  keys: KeyVerifier;
  limiter: RateLimiter;
  log: Logger;
  /** Signs visitor tokens and sessions. */
  secret: string;
  /** The real-time hub (WebSockets at /ws); absent in contexts that serve no sockets. */
  hub?: Hub;
}
