import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';

export interface BusMessage {
  /** Outbox row id: consumers use it to drop duplicates. null: an ephemeral event (typing). */
  id: number | null;
  topic: string;
  locationId: string | null;
  payload: Record<string, unknown>;
  at: string;
}

export type Unsubscribe = () => void;

/** Fans events out to every subscriber on every Charla node. */
export interface Bus {
  publish(channel: string, message: BusMessage): Promise<void>;
  subscribe(channel: string, handler: (message: BusMessage) => void): Unsubscribe;
  /** Resolves when the bus can carry messages now (readiness checks). */
  ready(): Promise<void>;
  /**
   * Calls `listener` each time the bus has reconnected and its subscriptions are live again.
   * Messages published while it was away are lost: consumers catch up from the database.
   */
  onReconnect?(listener: () => void): Unsubscribe;
  close(): Promise<void>;
}

/** The channel that carries one location's events. */
export const locationChannel = (locationId: string) => `charla:loc:${locationId}`;
/** The channel for events that are not about one location (key revocations, ...). */
export const SYSTEM_CHANNEL = 'charla:system';

/** One node: events never leave the process. */
export class MemoryBus implements Bus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  async publish(channel: string, message: BusMessage): Promise<void> {
    this.emitter.emit(channel, message);
  }

  async ready(): Promise<void> {}

  subscribe(channel: string, handler: (message: BusMessage) => void): Unsubscribe {
    this.emitter.on(channel, handler);
    return () => this.emitter.off(channel, handler);
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

/** Several nodes: Redis pub/sub, one connection to publish and one to listen. */
export class RedisBus implements Bus {
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly local = new EventEmitter().setMaxListeners(0);
  private readonly reconnected = new EventEmitter().setMaxListeners(0);
  private connectedOnce = false;

  constructor(url: string) {
    this.pub = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 3 });
    // Subscriptions made while Redis is away wait for it instead of failing after a few retries.
    this.sub = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: null });
    this.sub.on('message', (channel: string, raw: string) => {
      let message: BusMessage;
      try {
        message = JSON.parse(raw) as BusMessage;
      } catch {
        return;
      }
      this.local.emit(channel, message);
    });
    // ioredis re-subscribes on reconnect only to channels whose SUBSCRIBE had been answered; the
    // channels this bus has listeners for are subscribed again (idempotent) before anyone is told.
    this.sub.on('ready', () => {
      if (!this.connectedOnce) {
        this.connectedOnce = true;
        return;
      }
      const channels = this.local.eventNames().filter((c): c is string => typeof c === 'string');
      const resubscribed = channels.length ? this.sub.subscribe(...channels) : Promise.resolve();
      resubscribed.then(
        () => this.reconnected.emit('reconnect'),
        () => {},
      );
    });
    // ioredis reconnects by itself; without a listener an error event would crash the process.
    this.pub.on('error', () => {});
    this.sub.on('error', () => {});
  }

  async ready(): Promise<void> {
    await Promise.all([this.pub.ping(), this.sub.ping()]);
  }

  async publish(channel: string, message: BusMessage): Promise<void> {
    await this.pub.publish(channel, JSON.stringify(message));
  }

  subscribe(channel: string, handler: (message: BusMessage) => void): Unsubscribe {
    // Failures (a closing connection) must not surface as unhandled rejections; a reconnect
    // subscribes again to every channel that still has listeners.
    if (this.local.listenerCount(channel) === 0) this.sub.subscribe(channel).catch(() => {});
    this.local.on(channel, handler);
    return () => {
      this.local.off(channel, handler);
      if (this.local.listenerCount(channel) === 0) this.sub.unsubscribe(channel).catch(() => {});
    };
  }

  onReconnect(listener: () => void): Unsubscribe {
    this.reconnected.on('reconnect', listener);
    return () => this.reconnected.off('reconnect', listener);
  }

  async close(): Promise<void> {
    this.local.removeAllListeners();
    this.reconnected.removeAllListeners();
    await Promise.all([this.pub.quit().catch(() => {}), this.sub.quit().catch(() => {})]);
  }
}
