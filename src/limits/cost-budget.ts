import { setTimeout as delay } from "node:timers/promises";
import Redis from "ioredis";
import { Principal, Role } from "../auth/principal";
import { RateLimitedError } from "../common/errors";
import type { Logger } from "../common/logger";
import type { BudgetConfig, RateLimitConfig } from "../config";

/**
 * Fair sharing: each (workspace, user) has a bucket of cost points that an
 * operation's cost (src/limits/operation-cost.ts) is taken from before it
 * runs. The bucket holds at most `capacity` points and refills at
 * `refillPerSecond`: a burst up to the capacity, then the refill rate. An
 * operation the bucket cannot pay for is refused with RATE_LIMITED (HTTP 429)
 * and `Retry-After`, the seconds until the bucket holds its cost again; the
 * refusal itself waits up to `refusalDelayMs` before it answers, so that a
 * client that floods costs the service a few requests a second per
 * connection, not thousands.
 * Service tokens (producers) draw on a budget of their own, sized for
 * recording.
 *
 * The buckets live in this process, or in Redis when REDIS_URL is set, so
 * that a fleet shares one budget per user. A Redis that does not answer lets
 * operations through (logged): the limit protects the service, and an
 * outage of Redis must not stop it.
 */
export interface CostBudgets {
  /** Takes the operation's cost from the caller's bucket; throws {@link RateLimitedError} when it holds less. */
  charge(principal: Principal, cost: number): Promise<ThrottleStatus>;
  close(): Promise<void>;
}

/** What a response's `extensions.cost.throttleStatus` says of the caller's bucket after the charge (as Shopify's API does). */
export interface ThrottleStatus {
  maximumAvailable: number;
  currentlyAvailable: number;
  restoreRate: number;
}

/** A bucket after a charge. */
interface BucketState {
  allowed: boolean;
  /** Points left (whole points, rounded down). */
  points: number;
}

/** Where buckets are kept. */
interface BucketStore {
  take(key: string, cost: number, budget: BudgetConfig): Promise<BucketState>;
  close(): Promise<void>;
}

export function createCostBudgets(config: RateLimitConfig, options: { redisUrl?: string; logger: Logger }): CostBudgets {
  const store = options.redisUrl ? new RedisBuckets(options.redisUrl, options.logger) : new LocalBuckets();
  return {
    async charge(principal, cost) {
      const budget = principal.role === Role.SERVICE ? config.service : config.user;
      // Kinds apart: a user id that is also a producer's never shares its bucket.
      const key = `${principal.role === Role.SERVICE ? "service" : "user"}\u0000${principal.workspaceId}\u0000${principal.userId}`;
      const state = await store.take(key, cost, budget);
      const status = { maximumAvailable: budget.capacity, currentlyAvailable: state.points, restoreRate: budget.refillPerSecond };
      if (state.allowed) return status;
      const shortBySeconds = (cost - state.points) / budget.refillPerSecond;
      // Answering a refusal at once would let a client that ignores Retry-After spend the service's CPU on refusals.
      await delay(Math.min(config.refusalDelayMs, shortBySeconds * 1000));
      throw new RateLimitedError(cost, Math.max(1, Math.ceil(shortBySeconds)), status);
    },
    close: () => store.close(),
  };
}

/** The points a bucket holds at `now`, having held `points` at `at` (milliseconds). */
function refilled(points: number, at: number, now: number, budget: BudgetConfig): number {
  return Math.min(budget.capacity, points + ((now - at) / 1000) * budget.refillPerSecond);
}

/** How often buckets full again are forgotten, in milliseconds. @default 60000 */
const FORGET_INTERVAL_MS = 60_000;

/** Buckets in this process; a bucket that has filled up again is the same as none, and is forgotten. */
class LocalBuckets implements BucketStore {
  private readonly buckets = new Map<string, { points: number; at: number; budget: BudgetConfig }>();
  private readonly forgetter = setInterval(() => this.forgetFull(), FORGET_INTERVAL_MS).unref();

  async take(key: string, cost: number, budget: BudgetConfig): Promise<BucketState> {
    const now = Date.now();
    const bucket = this.buckets.get(key);
    const points = bucket ? refilled(bucket.points, bucket.at, now, budget) : budget.capacity;
    const allowed = points >= cost;
    const left = allowed ? points - cost : points;
    this.buckets.set(key, { points: left, at: now, budget });
    return { allowed, points: Math.floor(left) };
  }

  private forgetFull(): void {
    const now = Date.now();
    for (const [key, bucket] of this.buckets) if (refilled(bucket.points, bucket.at, now, bucket.budget) >= bucket.budget.capacity) this.buckets.delete(key);
  }

  async close(): Promise<void> {
    clearInterval(this.forgetter);
  }
}

/**
 * One bucket per Redis hash, read and written by one script so that
 * concurrent charges from several instances never both spend the same
 * points; Redis's clock is the one clock of the fleet. A bucket expires once
 * it would be full again.
 */
const TAKE_SCRIPT = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'points', 'at')
local points = capacity
if state[1] then
  points = math.min(capacity, tonumber(state[1]) + (now - tonumber(state[2])) * rate / 1000)
end
local allowed = 0
if points >= cost then
  points = points - cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 'points', tostring(points), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - points) * 1000 / rate) + 1000)
return {allowed, math.floor(points)}
`;

/** How long a charge waits for Redis before it lets the operation through, in milliseconds. @default 500 */
const REDIS_TIMEOUT_MS = 500;
/** How long charges let operations through without asking Redis after it failed to answer, in milliseconds. @default 1000 */
const REDIS_RETRY_MS = 1_000;
/** Prefix of the buckets' keys in Redis. */
const KEY_PREFIX = "audit-log:budget:";

class RedisBuckets implements BucketStore {
  private readonly redis: Redis;
  private lastWarning = 0;
  /** Whether the connection was up once: a charge waits for the first connection, not for a reconnection. */
  private connectedOnce = false;
  /** Until when charges do not ask Redis, after it failed to answer (Date.now()). */
  private skipUntil = 0;

  constructor(
    url: string,
    private readonly logger: Logger,
  ) {
    // A charge sent before the connection is up (the first requests after a start) waits for it, within the timeout.
    this.redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: true, commandTimeout: REDIS_TIMEOUT_MS });
    this.redis.on("error", () => undefined);
    this.redis.once("ready", () => (this.connectedOnce = true));
    this.redis.defineCommand("takeBudget", { numberOfKeys: 1, lua: TAKE_SCRIPT });
  }

  /**
   * While Redis is away (its connection down, or it failed to answer within
   * the last {@link REDIS_RETRY_MS}), operations run without a budget at once:
   * waiting {@link REDIS_TIMEOUT_MS} for it on every request would slow every
   * caller through the whole outage.
   */
  async take(key: string, cost: number, budget: BudgetConfig): Promise<BucketState> {
    if (Date.now() < this.skipUntil || (this.connectedOnce && this.redis.status !== "ready")) return { allowed: true, points: budget.capacity };
    try {
      const redis = this.redis as Redis & { takeBudget(key: string, ...args: number[]): Promise<[number, number]> };
      const [allowed, points] = await redis.takeBudget(`${KEY_PREFIX}${key}`, budget.capacity, budget.refillPerSecond, cost);
      return { allowed: allowed === 1, points };
    } catch (error) {
      this.skipUntil = Date.now() + REDIS_RETRY_MS;
      // Once a minute at most: an outage would otherwise log every request.
      if (Date.now() - this.lastWarning > 60_000) {
        this.lastWarning = Date.now();
        this.logger.warn({ err: error }, "rate limits: redis does not answer; operations run without a budget meanwhile");
      }
      return { allowed: true, points: budget.capacity };
    }
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
