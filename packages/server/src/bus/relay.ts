import pg from 'pg';
import type { Logger } from 'pino';
import type { Db } from '../storage/db.js';
import { OUTBOX_CHANNEL } from '../storage/outbox.js';
import { type Bus, type BusMessage, locationChannel, SYSTEM_CHANNEL } from './bus.js';

interface OutboxRow {
  id: string;
  location_id: string | null;
  topic: string;
  payload: Record<string, unknown>;
  created_at: Date;
}

/**
 * Moves committed outbox rows to the bus. A LISTEN on the outbox channel wakes it as soon as a
 * writer commits (on any node); a slow poll covers a lost notification or listener connection.
 * Rows are claimed with SKIP LOCKED, so several nodes relay without publishing a row twice.
 */
export class OutboxRelay {
  private timer: NodeJS.Timeout | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private listener: pg.Client | undefined;

  constructor(
    private readonly db: Db,
    private readonly connectionString: string,
    private readonly bus: Bus,
    private readonly log: Logger,
    private readonly pollMs = 5000,
    private readonly keepPublishedMs = 24 * 3600 * 1000,
  ) {}

  start(): void {
    void this.listen();
    this.timer = setInterval(() => this.kick(), this.pollMs);
    this.timer.unref();
    this.sweeper = setInterval(() => {
      this.db
        .query('DELETE FROM outbox WHERE published_at < now() - make_interval(secs => $1::float8 / 1000)', [
          this.keepPublishedMs,
        ])
        .catch((err) => this.log.warn({ err }, 'outbox sweep failed'));
    }, 60_000);
    this.sweeper.unref();
    this.kick();
  }

  /** Drains soon; calls made while a drain runs coalesce into one more pass. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((err) => this.log.warn({ err }, 'outbox relay pass failed; will retry'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Resolves once everything committed so far has been published. */
  async flush(): Promise<void> {
    while (this.running) await this.running;
    await this.drain();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearInterval(this.sweeper);
    await this.listener?.end().catch(() => {});
    await this.running;
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({
      connectionString: this.connectionString,
      application_name: 'charla-relay',
    });
    // The error event and the failed await can both report one failure: reconnect once.
    let retried = false;
    const retry = () => {
      if (retried) return;
      retried = true;
      client.removeAllListeners();
      client.end().catch(() => {});
      if (!this.stopped) setTimeout(() => void this.listen(), 1000).unref();
    };
    client.on('error', retry);
    client.on('notification', () => this.kick());
    try {
      await client.connect();
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
      // Stopped while connecting: this connection must not outlive the relay.
      if (this.stopped) {
        client.removeAllListeners();
        await client.end().catch(() => {});
        return;
      }
      this.listener = client;
      // Anything committed while no listener was connected.
      this.kick();
    } catch {
      retry();
    }
  }

  private async drain(): Promise<void> {
    for (;;) {
      const published = await this.db.tx(async (client) => {
        const { rows } = await client.query<OutboxRow>(
          `SELECT id, location_id, topic, payload, created_at FROM outbox
           WHERE published_at IS NULL ORDER BY id LIMIT 200 FOR UPDATE SKIP LOCKED`,
        );
        for (const row of rows) {
          const message: BusMessage = {
            id: Number(row.id),
            topic: row.topic,
            locationId: row.location_id,
            payload: row.payload,
            at: row.created_at.toISOString(),
          };
          // A failed publish throws, the transaction rolls back and the rows are retried.
          await this.bus.publish(
            row.location_id ? locationChannel(row.location_id) : SYSTEM_CHANNEL,
            message,
          );
        }
        if (rows.length > 0) {
          await client.query('UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])', [
            rows.map((r) => r.id),
          ]);
        }
        return rows.length;
      });
      if (published < 200) return;
    }
  }
}
