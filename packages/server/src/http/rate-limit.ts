import type { Redis } from 'ioredis';
import type { RateLimitConfig } from '../config.js';

const DAY_MS = 86_400_000;

export interface RateLimitState {
  allowed: boolean;
  limit: number;
  intervalMs: number;
  remaining: number;
  /** Milliseconds until the burst window resets. */
  resetMs: number;
  dailyLimit: number;
  dailyRemaining: number;
  /** Epoch ms of the next UTC midnight. */
  dailyReset: number;
}

/** Counts hits in a fixed window; returns the counts after this hit. */
interface Counter {
  hit(key: string, burstWindow: number, burstTtlMs: number, day: number): Promise<[number, number]>;
  close(): Promise<void>;
}

class MemoryCounter implements Counter {
  private readonly burst = new Map<string, { window: number; count: number }>();
  private readonly daily = new Map<string, { day: number; count: number }>();

  async hit(key: string, window: number, _ttl: number, day: number): Promise<[number, number]> {
    let b = this.burst.get(key);
    if (!b || b.window !== window) {
      if (this.burst.size > 100_000) this.burst.clear();
      b = { window, count: 0 };
      this.burst.set(key, b);
    }
    let d = this.daily.get(key);
    if (!d || d.day !== day) {
      if (this.daily.size > 100_000) this.daily.clear();
      d = { day, count: 0 };
      this.daily.set(key, d);
    }
    return [++b.count, ++d.count];
  }

  async close(): Promise<void> {}
}

/** Shared counters, so a key's limit holds across every Charla node. */
class RedisCounter implements Counter {
  constructor(private readonly redis: Redis) {}

  async hit(key: string, window: number, ttlMs: number, day: number): Promise<[number, number]> {
    const bk = `charla:rl:${key}:${window}`;
    const dk = `charla:rld:${key}:${day}`;
    const res = await this.redis.multi().incr(bk).pexpire(bk, ttlMs).incr(dk).expire(dk, 90_000).exec();
    return [Number(res?.[0]?.[1] ?? 0), Number(res?.[2]?.[1] ?? 0)];
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => {});
  }
}

/**
 * Per-key limits in LeadConnector's style: a burst allowance per interval and a daily allowance.
 * With Redis the counters are shared by every node; without it each node counts on its own.
 */
export class RateLimiter {
  private readonly counter: Counter;

  constructor(
    private readonly config: RateLimitConfig,
    redis?: Redis,
    private readonly onError?: (err: unknown) => void,
  ) {
    this.counter = redis ? new RedisCounter(redis) : new MemoryCounter();
  }

  /** Counts one request. If the shared counters cannot be reached the request is let through. */
  async hit(key: string, now = Date.now()): Promise<RateLimitState> {
    const { burst, intervalMs, daily } = this.config;
    const window = Math.floor(now / intervalMs);
    const day = Math.floor(now / DAY_MS);
    const [count, dailyCount] = await this.counter.hit(key, window, intervalMs, day).catch((err: unknown) => {
      this.onError?.(err);
      return [0, 0] as [number, number];
    });
    return {
      allowed: count <= burst && dailyCount <= daily,
      limit: burst,
      intervalMs,
      remaining: Math.max(0, burst - count),
      resetMs: (window + 1) * intervalMs - now,
      dailyLimit: daily,
      dailyRemaining: Math.max(0, daily - dailyCount),
      dailyReset: (day + 1) * DAY_MS,
    };
  }

  /** Seconds a refused caller should wait. */
  static retryAfter(s: RateLimitState): number {
    return Math.ceil(
      (s.remaining === 0 && s.dailyRemaining > 0 ? s.resetMs : s.dailyReset - Date.now()) / 1000,
    );
  }

  async close(): Promise<void> {
    await this.counter.close();
  }
}
