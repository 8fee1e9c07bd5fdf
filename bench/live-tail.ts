import { newEventId } from "../src/database/audit-event.storage";
import { CursorCodec } from "../src/logs/cursor";
import { BenchDatabase } from "./bench-database";
import { BenchContext, Role, token } from "./context";
import { GraphQLHttpClient } from "./http-client";
import type { DeliveryResult, FromClients, RecordedEvent, SubscriberSpec } from "./live-clients";
import type { LiveScenario } from "./options";
import { HelperProcess, RedisProcess, ServiceProcess } from "./processes";
import type { Check } from "./queries";
import { ResourceMonitor, ResourceUse } from "./resources";
import { LatencySummary, monotonicMs, round, sleep, summarize, wallClock } from "./stats";
import type { FromFloor } from "./ws-floor";

/**
 * 3. Live tail: subscribers in another process, events recorded one per
 * request at a fixed rate, delivery latency and exactness per subscriber,
 * server RSS per idle subscription; the same with two instances over Redis;
 * and the floor, a plain ws server sending the same bytes to as many sockets.
 */

const WORKSPACE = "ws-live";
/** Conversations events go to in a workspace-subscription scenario. */
const WORKSPACE_SCENARIO_CONVERSATIONS = 10;
/** Sockets opened at once by the client process. */
const OPEN_WAVE = 250;
/** How long subscribers get to become live (warm-up rounds of one event per conversation, one a second). */
const WARMUP_MS = 30_000;
/** Recording requests in flight at most; past it the recorder falls behind its rate (reported). */
const MAX_IN_FLIGHT = 64;
export const RSS_TARGET_BYTES = 50 * 1024;

export const COMMIT_DEFINITION =
  "Each event is recorded by its own recordAuditEvents request. The service commits the transaction, hands the events to the live tail, then answers. " +
  "'From sent' takes the time just before the request was sent (an upper bound of commit to receipt: it includes validation, the transaction and the commit); " +
  "'from response' takes the time its response arrived (a lower bound, it can be negative: the response leaves after the commit and after the events were handed on). " +
  "Targets are checked on 'from sent', the conservative one. Times are wall-clock milliseconds of the recorder and of the client process on the same machine.";

const RECORD = `mutation Record($events: [AuditEventInput!]!) { recordAuditEvents(events: $events) { events { id } } }`;

export type LiveKind = "service" | "redis" | "floor";

export interface LiveRun {
  scenario: string;
  kind: LiveKind;
  subscribers: number;
  conversations: number;
  eventsPerSecond: number;
  seconds: number;
  opened: { connected: number; failed: number; elapsedMs: number; firstError?: string };
  /** Subscribers live (a warm-up event of theirs received) and the warm-up rounds it took. */
  ready: { ready: number; notReady: number; warmupRounds: number };
  /** Server RSS (both instances over Redis) before the subscribers connected and once they idle. */
  rssBeforeBytes: number;
  rssIdleBytes: number;
  rssPerSubscriptionBytes: number;
  /** V8 heap in use after a full collection, before and once idle, and the difference per subscription. */
  heapBeforeBytes: number;
  heapIdleBytes: number;
  heapPerSubscriptionBytes: number;
  recorded: number;
  recordErrors: number;
  firstRecordError?: string;
  /** Latency of the recording requests (or publish requests, for the floor). */
  recordLatency: LatencySummary;
  /** How late, at most, a recording started after its scheduled time. */
  recorderLateMs: number;
  delivery: DeliveryResult;
  /** Server and database during the recording phase; clientCpuPercent is the subscriber process. */
  resources: ResourceUse;
  clientCpuPercent: number;
  checks: Check[];
}

export interface LiveResults {
  commitDefinition: string;
  redisVersion?: string;
  redisSkipped?: string;
  runs: LiveRun[];
}

/** The servers of one run: how to record an event and where subscribers connect. */
interface Target {
  kind: LiveKind;
  /** ws:// URLs subscribers spread over. */
  wsUrls: string[];
  pids(): number[];
  rss(): number;
  /** A full garbage collection in every server process; their V8 heap use in bytes. */
  collectGarbage(): Promise<number>;
  /** Records (or publishes) one event; returns its id. */
  record(conversationId: string, n: number, sentAt: number): Promise<string>;
  /** Records one event per conversation (warm-up), returns their ids. */
  warmup(conversationIds: string[]): Promise<{ id: string; conversationId: string }[]>;
  stop(): Promise<void>;
}

export async function runLiveTail(context: BenchContext): Promise<LiveResults> {
  const profile = context.profile.live;
  const database = await BenchDatabase.create(context.server, "live");
  const pool = database.pool(2);
  const runs: LiveRun[] = [];
  let redis: RedisProcess | undefined;
  let redisSkipped: string | undefined;
  let redisVersion: string | undefined;
  try {
    const conversationCount = Math.max(WORKSPACE_SCENARIO_CONVERSATIONS, ...profile.scenarios.map((scenario) => scenario.conversations));
    await pool.query("INSERT INTO workspaces (id, last_seq) VALUES (?, 0)", [WORKSPACE]);
    const conversationRows = Array.from({ length: conversationCount }, (_, k) => [WORKSPACE, liveConversation(k), `Subject of ${liveConversation(k)}`, new Date()]);
    await pool.query(`INSERT INTO conversations (workspace_id, id, subject, subject_occurred_at) VALUES ${conversationRows.map(() => "(?, ?, ?, ?)").join(", ")}`, conversationRows.flat());
    const tokens = {
      agent: await token(context, Role.AGENT, WORKSPACE, "agent-bench"),
      admin: await token(context, Role.ADMIN, WORKSPACE, "admin-bench"),
      service: await token(context, Role.SERVICE, WORKSPACE, "producer"),
    };
    const runId = Date.now().toString(36);
    let sequence = 0;
    const liveEvent = (conversationId: string, sentAt: number) => {
      const n = sequence++;
      return {
        idempotencyKey: `live-${runId}-${n}`,
        type: "CONVERSATION",
        action: "conversation.updated",
        occurredAt: new Date(sentAt).toISOString(),
        actor: { kind: "USER", id: "u-1", name: "Ana Diaz" },
        conversation: { id: conversationId, subject: `Subject of ${conversationId}` },
        changes: [{ field: "status", before: "open", after: "pending" }],
        metadata: { bench: "live", n, sentAt },
      };
    };

    const serviceTarget = async (kind: "service" | "redis"): Promise<Target> => {
      const instances = kind === "redis" ? 2 : 1;
      const services: ServiceProcess[] = [];
      for (let i = 0; i < instances; i++) {
        services.push(await ServiceProcess.start({ databaseUrl: database.url, secret: context.secret, redisUrl: kind === "redis" ? redis!.url : undefined, inspect: true }));
      }
      const clients = services.map((service) => new GraphQLHttpClient(service.graphqlUrl, 16));
      const recordOn = async (instance: number, events: Record<string, unknown>[]) => {
        const data = await clients[instance].data<{ recordAuditEvents: { events: { id: string }[] } }>(RECORD, { events }, tokens.service);
        return data.recordAuditEvents.events.map((event) => event.id);
      };
      return {
        kind,
        wsUrls: services.map((service) => service.wsUrl),
        pids: () => services.map((service) => service.pid),
        rss: () => services.reduce((sum, service) => sum + service.rss(), 0),
        collectGarbage: async () => (await Promise.all(services.map((service) => service.collectGarbage()))).reduce((a, b) => a + b, 0),
        record: async (conversationId, n, sentAt) => (await recordOn(n % instances, [liveEvent(conversationId, sentAt)]))[0],
        warmup: async (conversationIds) => {
          const ids = await recordOn(0, conversationIds.map((id) => liveEvent(id, wallClock())));
          return ids.map((id, k) => ({ id, conversationId: conversationIds[k] }));
        },
        stop: async () => {
          for (const client of clients) client.close();
          await Promise.all(services.map((service) => service.stop()));
        },
      };
    };

    const floorTarget = async (): Promise<Target> => {
      const floor = HelperProcess.start<FromFloor>("ws-floor", ["--expose-gc"]);
      const { port } = await floor.receive("listening", 10_000);
      const publisher = new GraphQLHttpClient(`http://127.0.0.1:${port}/publish`, 16);
      const cursors = new CursorCodec(context.secret);
      const publish = async (conversationId: string, sentAt: number) => {
        const id = newEventId();
        // The bytes graphql-ws sends for a delivery of the subscription above: same shape, same sizes.
        const message = JSON.stringify({
          id: "6b0d4a52-4bde-4e7c-9a0e-2d2f6cf1f7a1",
          type: "next",
          payload: {
            data: {
              tail: {
                cursor: cursors.encode({ workspaceId: WORKSPACE, log: `conversation:${conversationId}`, occurredAt: new Date(sentAt), seq: 100_000 + sequence }),
                node: { id, metadata: liveEvent(conversationId, sentAt).metadata },
              },
            },
          },
        });
        const { status } = await publisher.post(JSON.stringify({ conversationId, message }), "none");
        if (status !== 204) throw new Error(`floor publish answered ${status}`);
        return id;
      };
      return {
        kind: "floor",
        wsUrls: [`ws://127.0.0.1:${port}/`],
        pids: () => [floor.pid],
        rss: () => floor.rss(),
        collectGarbage: async () => (await floor.request({ type: "gc" }, "collected", 30_000)).heapUsed,
        record: (conversationId, _n, sentAt) => publish(conversationId, sentAt),
        warmup: async (conversationIds) => Promise.all(conversationIds.map(async (conversationId) => ({ id: await publish(conversationId, wallClock()), conversationId }))),
        stop: async () => {
          publisher.close();
          await floor.stop();
        },
      };
    };

    const runScenario = async (scenario: LiveScenario, kind: LiveKind) => {
      const target = kind === "floor" ? await floorTarget() : await serviceTarget(kind);
      const clients = HelperProcess.start<FromClients>("live-clients");
      try {
        const run = await measureScenario(context, scenario, target, clients, pool, tokens);
        runs.push(run);
        const d = run.delivery;
        context.log(
          `live: ${scenario.name} [${kind}]: ${d.delivered}/${d.expected} delivered, p50 ${d.fromSent.p50} / p99 ${d.fromSent.p99} ms from sent, lost ${d.lost}, dup ${d.duplicated}, ${round(run.rssPerSubscriptionBytes / 1024, 1)} KiB RSS per subscription${d.errors ? `, ${d.errors} errors: ${d.firstError}` : ""}`,
        );
      } finally {
        await clients.request({ type: "close" }, "closed", 60_000).catch(() => undefined);
        await clients.stop();
        await target.stop();
      }
    };

    for (const scenario of profile.scenarios) {
      await runScenario(scenario, "service");
      await runScenario(scenario, "floor");
    }
    const redisScenarios = profile.scenarios.filter((scenario) => scenario.redis);
    if (redisScenarios.length > 0) {
      try {
        redis = await RedisProcess.start();
        redisVersion = await redis.version();
      } catch (error) {
        redisSkipped = error instanceof Error ? error.message : String(error);
        context.log(`live: Redis runs skipped: ${redisSkipped}`);
      }
      if (redis) for (const scenario of redisScenarios) await runScenario(scenario, "redis");
    }
    addRssCheck(runs);
    return { commitDefinition: COMMIT_DEFINITION, ...(redisVersion ? { redisVersion } : {}), ...(redisSkipped ? { redisSkipped } : {}), runs };
  } finally {
    await redis?.stop();
    await database.drop();
  }
}

export function liveConversation(k: number): string {
  return `c-live-${k}`;
}

async function measureScenario(
  context: BenchContext,
  scenario: LiveScenario,
  target: Target,
  clients: HelperProcess<FromClients>,
  pool: import("mysql2/promise").Pool,
  tokens: { agent: string; admin: string },
): Promise<LiveRun> {
  const profile = context.profile.live;
  const workspaceScenario = scenario.conversations === 0;
  const conversations = Array.from({ length: workspaceScenario ? WORKSPACE_SCENARIO_CONVERSATIONS : scenario.conversations }, (_, k) => liveConversation(k));
  // Warm the server once (JIT, pool) before taking its RSS.
  await target.warmup(conversations.slice(0, 1));
  const heapBeforeBytes = await target.collectGarbage();
  await sleep(200);
  const rssBeforeBytes = target.rss();

  const subscribers: SubscriberSpec[] = Array.from({ length: scenario.subscribers }, (_, i) => ({
    url: target.wsUrls[i % target.wsUrls.length],
    conversationId: workspaceScenario ? null : conversations[i % conversations.length],
  }));
  const openTimeout = 30_000 + scenario.subscribers * 20;
  const opened = await clients.request(
    { type: "open", mode: target.kind === "floor" ? "floor" : "graphql", token: workspaceScenario ? tokens.admin : tokens.agent, subscribers, wave: OPEN_WAVE, timeoutMs: openTimeout },
    "opened",
    openTimeout + 10_000,
  );
  // Subscriptions start asynchronously on the server, and one that starts after an event is not owed it:
  // rounds of one event per conversation until every subscriber has received one of its own.
  const warm: { id: string; conversationId: string }[] = [];
  const warmDeadline = Date.now() + WARMUP_MS;
  let ready: Extract<FromClients, { type: "ready" }>;
  let warmupRounds = 0;
  do {
    warm.push(...(await target.warmup(workspaceScenario ? conversations.slice(0, 1) : conversations)));
    warmupRounds += 1;
    ready = await clients.request({ type: "await", warmup: warm, timeoutMs: 1_000 }, "ready", 10_000);
  } while (ready.notReady > 0 && Date.now() < warmDeadline);
  await sleep(500);
  const heapIdleBytes = await target.collectGarbage();
  await sleep(200);
  const rssIdleBytes = target.rss();

  const monitor = new ResourceMonitor(pool, () => target.pids(), () => [clients.pid]);
  const { result: recording, resources } = await monitor.measure(() => recordAtRate(target, conversations, scenario.eventsPerSecond, profile.seconds));
  const clientCpuPercent = resources.helperCpuPercent;
  const { result: delivery } = await clients.request({ type: "collect", events: recording.events, drainMs: profile.drainMs }, "result", profile.drainMs + 60_000);

  const rssPerSubscriptionBytes = opened.connected > 0 ? Math.round((rssIdleBytes - rssBeforeBytes) / opened.connected) : NaN;
  const checks: Check[] = [];
  if (target.kind !== "floor") {
    const allOpen = opened.failed === 0 && ready.notReady === 0;
    checks.push({
      target: "nothing lost or duplicated",
      measured: `${delivery.lost} lost, ${delivery.duplicated} duplicated, ${delivery.unexpected} misrouted of ${delivery.expected}${allOpen ? "" : `; ${opened.failed} subscribers failed to open, ${ready.notReady} not ready`}`,
      met: delivery.lost === 0 && delivery.duplicated === 0 && delivery.unexpected === 0 && allOpen && recording.errors === 0,
    });
    if (scenario.p99TargetMs !== undefined) {
      checks.push({
        target: `p99 <= ${scenario.p99TargetMs} ms`,
        measured: `${delivery.fromSent.p99} ms`,
        met: delivery.fromSent.p99 <= scenario.p99TargetMs && delivery.lost === 0,
      });
    }
  }
  return {
    scenario: scenario.name,
    kind: target.kind,
    subscribers: scenario.subscribers,
    conversations: conversations.length,
    eventsPerSecond: scenario.eventsPerSecond,
    seconds: profile.seconds,
    opened: { connected: opened.connected, failed: opened.failed, elapsedMs: round(opened.elapsedMs), ...(opened.firstError ? { firstError: opened.firstError } : {}) },
    ready: { ready: ready.ready, notReady: ready.notReady, warmupRounds },
    rssBeforeBytes,
    rssIdleBytes,
    rssPerSubscriptionBytes,
    heapBeforeBytes,
    heapIdleBytes,
    heapPerSubscriptionBytes: opened.connected > 0 ? Math.round((heapIdleBytes - heapBeforeBytes) / opened.connected) : NaN,
    recorded: recording.events.length,
    recordErrors: recording.errors,
    ...(recording.firstError ? { firstRecordError: recording.firstError } : {}),
    recordLatency: recording.latency,
    recorderLateMs: round(recording.lateMs),
    delivery,
    resources,
    clientCpuPercent,
    checks,
  };
}

/** Open loop: event n is sent at start + n/rate, whatever the previous ones are doing (up to MAX_IN_FLIGHT at once). */
async function recordAtRate(target: Target, conversations: string[], rate: number, seconds: number) {
  const count = Math.round(rate * seconds);
  const events: RecordedEvent[] = [];
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let lateMs = 0;
  const pending = new Set<Promise<void>>();
  const start = monotonicMs();
  for (let n = 0; n < count; n++) {
    const due = start + (n * 1000) / rate;
    const wait = due - monotonicMs();
    if (wait > 0) await sleep(wait);
    while (pending.size >= MAX_IN_FLIGHT) await Promise.race(pending);
    lateMs = Math.max(lateMs, monotonicMs() - due);
    const conversationId = conversations[n % conversations.length];
    const send = async () => {
      const t0 = monotonicMs();
      const sentAt = wallClock();
      try {
        const id = await target.record(conversationId, n, sentAt);
        events.push({ id, conversationId, sentAt, respondedAt: wallClock() });
        latencies.push(monotonicMs() - t0);
      } catch (error) {
        errors += 1;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    };
    const promise: Promise<void> = send().finally(() => pending.delete(promise));
    pending.add(promise);
  }
  await Promise.all(pending);
  return { events, errors, firstError, latency: summarize(latencies), lateMs };
}

/** RSS per idle subscription is judged on the service run with the most subscribers (small counts are noise). */
function addRssCheck(runs: LiveRun[]): void {
  const candidates = runs.filter((run) => run.kind === "service");
  if (candidates.length === 0) return;
  const largest = candidates.reduce((a, b) => (b.subscribers > a.subscribers ? b : a));
  largest.checks.push({
    target: `<= 50 KB RSS per idle subscription (taken as ${RSS_TARGET_BYTES.toLocaleString("en")} bytes)`,
    measured: `${round(largest.rssPerSubscriptionBytes / 1024, 1)} KiB (${largest.opened.connected} subscriptions, RSS ${round(largest.rssBeforeBytes / 2 ** 20, 1)} -> ${round(largest.rssIdleBytes / 2 ** 20, 1)} MiB)`,
    met: largest.rssPerSubscriptionBytes <= RSS_TARGET_BYTES,
  });
}
