import type { FastifyReply } from 'fastify';
import type { Redis } from 'ioredis';
import type { AppContext } from '../../../context.js';
import { AppError } from '../../../core/errors.js';
import { RateLimiter } from '../../../http/rate-limit.js';

export interface Limit {
  burst: number;
  intervalMs: number;
  daily: number;
}

/** Counters of the public web-chat API, each with its own keys: per IP (within a location) and per visitor. */
export interface PublicLimits {
  sessionPerIp: Limit;
  sessionPerVisitor: Limit;
  messagePerIp: Limit;
  messagePerVisitor: Limit;
  otpPerEmail: Limit;
  otpPerIp: Limit;
  /** Uploads store files: fewer than messages, and a daily allowance that bounds the disk a visitor can take. */
  uploadPerIp: Limit;
  uploadPerVisitor: Limit;
}

const MINUTE = 60_000;

export const DEFAULT_PUBLIC_LIMITS: PublicLimits = {
  sessionPerIp: { burst: 60, intervalMs: MINUTE, daily: 5000 },
  sessionPerVisitor: { burst: 10, intervalMs: MINUTE, daily: 500 },
  messagePerIp: { burst: 300, intervalMs: MINUTE, daily: 50_000 },
  messagePerVisitor: { burst: 30, intervalMs: MINUTE, daily: 5000 },
  otpPerEmail: { burst: 3, intervalMs: 10 * MINUTE, daily: 20 },
  otpPerIp: { burst: 20, intervalMs: 10 * MINUTE, daily: 200 },
  uploadPerIp: { burst: 30, intervalMs: 10 * MINUTE, daily: 200 },
  uploadPerVisitor: { burst: 20, intervalMs: 10 * MINUTE, daily: 100 },
};

const overrides = new WeakMap<AppContext, Partial<PublicLimits>>();

/** Changes a running node's limits (operators' tuning and tests); unnamed limits keep their defaults. */
export function setPublicLimits(ctx: AppContext, limits: Partial<PublicLimits>): void {
  overrides.set(ctx, limits);
}

export class PublicRateLimits {
  private readonly limiters = new Map<string, RateLimiter>();

  constructor(
    private readonly ctx: AppContext,
    private readonly redis: Redis | undefined,
  ) {}

  /** Counts one hit; over the limit: 429 with Retry-After. */
  async check(name: keyof PublicLimits, key: string, reply: FastifyReply): Promise<void> {
    const limit = overrides.get(this.ctx)?.[name] ?? DEFAULT_PUBLIC_LIMITS[name];
    const id = `${name}:${limit.burst}:${limit.intervalMs}:${limit.daily}`;
    let limiter = this.limiters.get(id);
    if (!limiter) {
      limiter = new RateLimiter(limit, this.redis, (err) =>
        this.ctx.log.warn({ err }, 'web-chat rate limit counters unreachable; request let through'),
      );
      this.limiters.set(id, limiter);
    }
    // Counters are per limit setting: a changed limit counts afresh.
    const state = await limiter.hit(`webchat:${id}:${key}`);
    if (!state.allowed) {
      reply.header('Retry-After', String(Math.max(1, RateLimiter.retryAfter(state))));
      throw new AppError('rate_limited', 'Too many requests: wait and try again');
    }
  }
}
