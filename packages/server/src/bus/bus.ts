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

  constructor(url: string) {
    this.pub = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 3 });
    this.sub = new Redis(url, { lazyConnect: false });
    this.sub.on('message', (channel: string, raw: string) => {
      let message: BusMessage;
      try {
        message = JSON.parse(raw) as BusMessage;
      } catch {
        return;
      }
      this.local.emit(channel, message);
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
    if (this.local.listenerCount(channel) === 0) void this.sub.subscribe(channel);
    this.local.on(channel, handler);
    return () => {
      this.local.off(channel, handler);
      if (this.local.listenerCount(channel) === 0) void this.sub.unsubscribe(channel);
    };
  }

  async close(): Promise<void> {
    this.local.removeAllListeners();
    await Promise.all([this.pub.quit().catch(() => {}), this.sub.quit().catch(() => {})]);
  }
}
