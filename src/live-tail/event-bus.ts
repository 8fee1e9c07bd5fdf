import { createPubSub, PubSub } from "@graphql-yoga/subscription";
import { randomUUID } from "node:crypto";
import Redis from "ioredis";
import { settleWithin } from "../common/deadline";
import type { Logger } from "../common/logger";
import type { AuditEventTopics } from "../recording/event-publisher";

/** What the bus needs of an EventTarget: topics are strings, payloads are `CustomEvent.detail`. */
export interface TopicTarget {
  addEventListener(topic: string, listener: (event: CustomEvent) => void): void;
  removeEventListener(topic: string, listener: (event: CustomEvent) => void): void;
  dispatchEvent(event: CustomEvent): boolean;
}

/**
 * Carries "events were stored" notices between the recorder and the live
 * tails: in process by default, through Redis when REDIS_URL is set, so that
 * every instance hears what any instance stored.
 */
export interface EventBus {
  target: TopicTarget;
  /** The same target as a typed PubSub (type-graphql needs one for subscriptions). */
  pubSub: PubSub<AuditEventTopics>;
  /** Null when there is no Redis; otherwise whether it answers. */
  redisAnswers(): Promise<boolean | null>;
  /** Called whenever the bus (re)connects after losing its link, so listeners can catch up. */
  onReconnect(listener: () => void): void;
  /**
   * Sends `message` to every other instance listening on `channel`, as
   * JSON, never back to this one; in process there is no other instance.
   */
  broadcast(channel: string, message: unknown): void;
  /** Calls `listener` with each message another instance broadcast on `channel`; its channel is not a topic. */
  onBroadcast(channel: string, listener: (message: unknown) => void): void;
  /** Topics this process is subscribed to (Redis channels, or local listeners). */
  subscribedTopics(): number;
  close(): Promise<void>;
}

/** How long readiness waits for Redis. @default 1000 */
export const REDIS_PING_TIMEOUT_MS = 1_000;

export function createEventBus(options: { redisUrl?: string; logger: Logger }): EventBus {
  return options.redisUrl ? new RedisEventBus(options.redisUrl, options.logger) : new LocalEventBus();
}

/** Counts listeners per topic on a plain EventTarget. */
class LocalEventBus implements EventBus {
  private readonly eventTarget = new EventTarget();
  private readonly counts = new Map<string, number>();
  readonly target: TopicTarget = {
    addEventListener: (topic, listener) => {
      this.counts.set(topic, (this.counts.get(topic) ?? 0) + 1);
      this.eventTarget.addEventListener(topic, listener as (event: Event) => void);
    },
    removeEventListener: (topic, listener) => {
      const count = (this.counts.get(topic) ?? 1) - 1;
      if (count > 0) this.counts.set(topic, count);
      else this.counts.delete(topic);
      this.eventTarget.removeEventListener(topic, listener as (event: Event) => void);
    },
    dispatchEvent: (event) => this.eventTarget.dispatchEvent(event),
  };
  readonly pubSub = createPubSub<AuditEventTopics>({ eventTarget: this.target as unknown as EventTarget });

  async redisAnswers(): Promise<null> {
    return null;
  }

  onReconnect(): void {
    // An in-process bus never loses its link.
  }

  broadcast(): void {
    // No other instance hears an in-process bus.
  }

  onBroadcast(): void {
    // Nor does any other instance broadcast on it.
  }

  subscribedTopics(): number {
    return this.counts.size;
  }

  async close(): Promise<void> {}
}

/**
 * Redis pub/sub: one connection publishes, one subscribes (a subscribed
 * connection can do nothing else). A failed publish is logged, never thrown:
 * the events are stored, and tails catch up from the database.
 *
 * Not @graphql-yoga/redis-event-target, which is otherwise the same
 * EventTarget over two ioredis clients: it leaves the promises of publish,
 * subscribe and unsubscribe unhandled and parses messages inside ioredis'
 * event handler, so a Redis outage or one unreadable message ends the
 * process, and it cannot tell how many channels it holds.
 */
class RedisEventBus implements EventBus {
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly listeners = new Map<string, Set<(event: CustomEvent) => void>>();
  private readonly reconnectListeners: (() => void)[] = [];
  /** Broadcast channels' listeners; their messages carry the sender, so that this instance skips its own. */
  private readonly broadcastListeners = new Map<string, ((message: unknown) => void)[]>();
  private readonly instanceId = randomUUID();
  readonly target: TopicTarget;
  readonly pubSub: PubSub<AuditEventTopics>;

  constructor(
    url: string,
    private readonly logger: Logger,
  ) {
    const options = { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: true };
    this.publisher = new Redis(url, options);
    this.subscriber = new Redis(url, options);
    for (const client of [this.publisher, this.subscriber]) {
      client.on("error", (error: Error) => this.logger.warn({ err: error }, "redis connection problem"));
    }
    let lostLink = false;
    this.subscriber.on("close", () => (lostLink = true));
    this.subscriber.on("ready", () => {
      if (!lostLink) return;
      lostLink = false;
      for (const listener of this.reconnectListeners) listener();
    });
    this.subscriber.on("message", (channel: string, message: string) => {
      const listeners = this.listeners.get(channel);
      const broadcastListeners = this.broadcastListeners.get(channel);
      if (!listeners && !broadcastListeners) return;
      let detail: unknown;
      try {
        detail = JSON.parse(message);
      } catch (error) {
        this.logger.warn({ err: error, channel }, "unreadable message on redis");
        return;
      }
      for (const listener of listeners ?? []) listener(new CustomEvent(channel, { detail }));
      const broadcast = detail as { from?: unknown; message?: unknown } | null;
      if (!broadcastListeners || broadcast?.from === this.instanceId) return;
      for (const listener of broadcastListeners) listener(broadcast?.message);
    });
    this.target = {
      addEventListener: (topic, listener) => {
        let listeners = this.listeners.get(topic);
        if (!listeners) {
          listeners = new Set();
          this.listeners.set(topic, listeners);
          this.subscriber.subscribe(topic).catch((error: Error) => this.logger.warn({ err: error, topic }, "redis subscribe failed"));
        }
        listeners.add(listener);
      },
      removeEventListener: (topic, listener) => {
        const listeners = this.listeners.get(topic);
        if (!listeners) return;
        listeners.delete(listener);
        if (listeners.size > 0) return;
        this.listeners.delete(topic);
        this.subscriber.unsubscribe(topic).catch((error: Error) => this.logger.warn({ err: error, topic }, "redis unsubscribe failed"));
      },
      dispatchEvent: (event) => {
        this.publisher
          .publish(event.type, JSON.stringify(event.detail ?? null))
          .catch((error: Error) => this.logger.warn({ err: error, topic: event.type }, "redis publish failed; tails will catch up from the database"));
        return true;
      },
    };
    this.pubSub = createPubSub<AuditEventTopics>({ eventTarget: this.target as unknown as EventTarget });
  }

  broadcast(channel: string, message: unknown): void {
    this.publisher
      .publish(channel, JSON.stringify({ from: this.instanceId, message }))
      .catch((error: Error) => this.logger.warn({ err: error, channel }, "redis broadcast failed"));
  }

  onBroadcast(channel: string, listener: (message: unknown) => void): void {
    const listeners = this.broadcastListeners.get(channel);
    if (listeners) {
      listeners.push(listener);
      return;
    }
    this.broadcastListeners.set(channel, [listener]);
    this.subscriber.subscribe(channel).catch((error: Error) => this.logger.warn({ err: error, channel }, "redis subscribe failed"));
  }

  redisAnswers(): Promise<boolean> {
    return settleWithin(this.publisher.ping().then(() => true), REDIS_PING_TIMEOUT_MS, false);
  }

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  subscribedTopics(): number {
    return this.listeners.size;
  }

  async close(): Promise<void> {
    await Promise.all([this.publisher, this.subscriber].map((client) => client.quit().catch(() => client.disconnect())));
  }
}
