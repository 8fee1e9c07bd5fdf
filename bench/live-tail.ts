import { randomBytes, randomUUID } from "node:crypto";
import { BenchContext, Role, Size, token } from "./context";
import { BenchDatabase } from "./database";
import { RECORD_EVENTS } from "./ingest";
import type { DeliveryResult, FromClients, RecordedEvent } from "./live-clients";
import { GraphQLHttpClient, LatencySummary, monotonicMs, round, sleep, summarize, wallClock } from "./load";
import { HelperProcess, openFileLimit, RedisProcess, ServiceProcess } from "./processes";
import type { FromFloor } from "./ws-floor";

/**
 * 3. Live tail: subscribers in another process, events recorded one per
 * request at a fixed rate, delivery latency and exactness per subscriber,
 * the service's RSS per idle subscription; the same with two instances over
 * Redis; and the baseline, a plain ws server sending messages of the same
 * shape and size to as many sockets.
 */

interface LiveScenario {
  name: string;
  /** Subscribers of one conversation each, spread evenly over `conversations`. */
  conversationSubscribers: number;
  /** Subscribers of the whole workspace (ADMIN tokens). */
  workspaceSubscribers: number;
  /** Conversations the events go to, round-robin. */
  conversations: number;
  eventsPerSecond: number;
  /** The delivery p99 target in ms, where the issue sets one; those scenarios also run with two instances over Redis. */
  p99TargetMs?: number;
  /** Where the issue prices the service's CPU per delivery against the floor's. */
  priced?: boolean;
  /** The recording calls' p99 target in ms while the scenario runs, where the issue sets one. */
  recordP99TargetMs?: number;
  /**
   * Higher event rates to try on one instance after the measured run, one
   * step each, until the delivery p99 passes `p99TargetMs`: the instance's
   * ceiling.
   */
  ramp?: number[];
}

const plural = (n: number, noun: string) => `${n.toLocaleString("en")} ${noun}${n === 1 ? "" : "s"}`;

function liveScenario(
  shape: { conversationSubscribers?: number; workspaceSubscribers?: number; conversations: number; eventsPerSecond: number },
  targets: Pick<LiveScenario, "p99TargetMs" | "priced" | "recordP99TargetMs" | "ramp"> = {},
): LiveScenario {
  const { conversationSubscribers = 0, workspaceSubscribers = 0, conversations } = shape;
  const onConversations = conversationSubscribers === 1 ? plural(1, "subscriber") : `${plural(conversationSubscribers, "subscriber")} / ${plural(conversations, "conversation")}`;
  const name = [conversationSubscribers > 0 ? onConversations : "", workspaceSubscribers > 0 ? plural(workspaceSubscribers, "workspace subscriber") : ""].filter(Boolean).join(" + ");
  return { name: shape.eventsPerSecond === 0 ? `${name}, idle` : name, conversationSubscribers, workspaceSubscribers, conversations, eventsPerSecond: shape.eventsPerSecond, ...targets };
}

/** 90% of the subscribers on 5 hot conversations, 10% tailing the workspace, every event on a hot conversation. */
const hot = (subscribers: number, ramp: number[]) =>
  liveScenario({ conversationSubscribers: subscribers * 0.9, workspaceSubscribers: subscribers * 0.1, conversations: 5, eventsPerSecond: 20 }, { p99TargetMs: 250, priced: true, recordP99TargetMs: 50, ramp });

const SIZES: Record<Size, { scenarios: LiveScenario[]; seconds: number; rampStepSeconds: number; drainMs: number }> = {
  full: {
    scenarios: [
      liveScenario({ conversationSubscribers: 1, conversations: 1, eventsPerSecond: 10 }),
      liveScenario({ conversationSubscribers: 100, conversations: 50, eventsPerSecond: 20 }),
      liveScenario({ workspaceSubscribers: 100, conversations: 10, eventsPerSecond: 20 }),
      liveScenario({ conversationSubscribers: 1_000, conversations: 1, eventsPerSecond: 10 }, { p99TargetMs: 250, priced: true }),
      liveScenario({ conversationSubscribers: 5_000, conversations: 50, eventsPerSecond: 20 }, { p99TargetMs: 100 }),
      hot(5_000, [25, 30, 35, 40, 50, 60]),
      // Idle: subscribers that open and wait, for the RSS each one costs.
      liveScenario({ conversationSubscribers: 20_000, conversations: 50, eventsPerSecond: 0 }),
    ],
    seconds: 30,
    rampStepSeconds: 15,
    drainMs: 10_000,
  },
  smoke: {
    scenarios: [
      liveScenario({ conversationSubscribers: 1, conversations: 1, eventsPerSecond: 10 }),
      liveScenario({ conversationSubscribers: 20, conversations: 10, eventsPerSecond: 20 }),
      liveScenario({ workspaceSubscribers: 10, conversations: 10, eventsPerSecond: 20 }),
      liveScenario({ conversationSubscribers: 100, conversations: 1, eventsPerSecond: 10 }, { p99TargetMs: 250, priced: true }),
      liveScenario({ conversationSubscribers: 200, conversations: 50, eventsPerSecond: 20 }, { p99TargetMs: 100 }),
      hot(200, [40]),
      liveScenario({ conversationSubscribers: 400, conversations: 50, eventsPerSecond: 0 }),
    ],
    seconds: 2,
    rampStepSeconds: 2,
    drainMs: 3_000,
  },
};

const WORKSPACE = "ws-live";
/** Loopback addresses (127.0.0.1, 127.0.0.2, ...) the subscribers' sockets start from. */
const LOOPBACK_SOURCES = 4;
/** Sockets the client process opens at once. */
const OPEN_WAVE = 250;
/** How long subscribers get to become live. */
const WARMUP_MS = 30_000;
/**
 * Files a service or client process holds beside its subscribers' sockets
 * (standard streams, listener, pool, Redis, IPC, libuv's own), kept free under
 * the open-file limit, which caps the sockets one process can hold.
 */
const FILES_BESIDE_SOCKETS = 100;
/** Recording requests in flight at most; past it the recorder falls behind its rate. */
const MAX_IN_FLIGHT = 64;

export type LiveKind = "service" | "redis" | "floor";

/** One scenario on one kind of server: bench/results/*.json keeps it as is. */
export type LiveRun = Awaited<ReturnType<typeof measureScenario>>;

export interface LiveResults {
  redisSkipped?: string;
  runs: LiveRun[];
}

/** The servers of one run: where subscribers connect and how an event is recorded. */
interface Target {
  kind: LiveKind;
  wsUrls: string[];
  /** RSS in bytes after a full garbage collection in every server process. */
  rssAfterCollection(): Promise<number>;
  /** CPU seconds every server process has used so far. */
  cpuSeconds(): number;
  /** Records (or publishes) one event per conversation; their ids. */
  record(conversationIds: string[], n: number): Promise<string[]>;
  stop(): Promise<void>;
}

const conversationOf = (k: number) => `c-live-${k}`;

export async function runLiveTail(context: BenchContext): Promise<LiveResults> {
  const size = SIZES[context.size];
  const database = await BenchDatabase.create(context.server, "live");
  const runs: LiveRun[] = [];
  let redis: RedisProcess | undefined;
  let redisSkipped: string | undefined;
  try {
    const tokens = {
      agent: await token(context, Role.AGENT, WORKSPACE),
      admin: await token(context, Role.ADMIN, WORKSPACE),
      service: await token(context, Role.SERVICE, WORKSPACE, "producer"),
    };
    const runId = Date.now().toString(36);
    let sequence = 0;
    const liveEvent = (conversationId: string) => {
      const n = sequence++;
      return {
        idempotencyKey: `live-${runId}-${n}`,
        type: "CONVERSATION",
        action: "conversation.updated",
        occurredAt: new Date().toISOString(),
        actor: { kind: "USER", id: "u-1", name: "Ana Diaz" },
        conversation: { id: conversationId, subject: `Subject of ${conversationId}` },
        changes: [{ field: "status", before: "open", after: "pending" }],
        metadata: { bench: "live", n, sentAt: wallClock() },
      };
    };

    const serviceTarget = async (kind: "service" | "redis"): Promise<Target> => {
      const services: ServiceProcess[] = [];
      for (let i = 0; i < (kind === "redis" ? 2 : 1); i++) services.push(await ServiceProcess.start({ main: context.serviceMain, databaseUrl: database.url, secret: context.secret, redisUrl: redis?.url, inspect: true }));
      const clients = services.map((service) => new GraphQLHttpClient(service.graphqlUrl, 16));
      return {
        kind,
        wsUrls: services.map((service) => service.wsUrl),
        rssAfterCollection: async () => {
          await Promise.all(services.map((service) => service.collectGarbage()));
          await sleep(200);
          return services.reduce((sum, service) => sum + service.rss(), 0);
        },
        cpuSeconds: () => services.reduce((sum, service) => sum + service.cpuSeconds(), 0),
        record: async (conversationIds, n) => {
          const data = await clients[n % clients.length].data<{ recordAuditEvents: { events: { id: string }[] } }>(RECORD_EVENTS, { events: conversationIds.map(liveEvent) }, tokens.service);
          return data.recordAuditEvents.events.map((event) => event.id);
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
      const publish = async (conversationId: string) => {
        const id = randomUUID().slice(0, 26);
        // A graphql-ws `next` message of the subscription's shape and sizes (a cursor is about 120 characters).
        const message = JSON.stringify({ id: randomUUID(), type: "next", payload: { data: { tail: { cursor: randomBytes(90).toString("base64url"), node: { id, metadata: liveEvent(conversationId).metadata } } } } });
        const { status } = await publisher.post(JSON.stringify({ conversationId, message }), "none");
        if (status !== 204) throw new Error(`the floor answered ${status}`);
        return id;
      };
      return {
        kind: "floor",
        wsUrls: [`ws://127.0.0.1:${port}/`],
        rssAfterCollection: async () => {
          await floor.request({ type: "gc" }, "collected", 30_000);
          return floor.rss();
        },
        cpuSeconds: () => floor.cpuSeconds(),
        record: (conversationIds) => Promise.all(conversationIds.map(publish)),
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
        const run = await measureScenario(scenario, target, clients, tokens, size);
        runs.push(run);
        const d = run.delivery;
        context.log(`live: ${scenario.name} [${kind}]: ${d.delivered}/${d.expected} delivered, p99 ${d.fromSent.p99} ms from sent, lost ${d.lost}, duplicated ${d.duplicated}, ${round(run.rssPerSubscriptionBytes / 1024, 1)} KiB RSS per subscription, ${round(run.cpuPerDeliveryMs * 1000, 1)} µs CPU per delivery, recording p99 ${run.recordLatency.p99} ms`);
      } finally {
        await clients.request({ type: "close" }, "closed", 60_000).catch(() => undefined);
        await clients.stop();
        await target.stop();
      }
    };

    for (const scenario of size.scenarios) {
      await runScenario(scenario, "service");
      await runScenario(scenario, "floor");
    }
    try {
      redis = await RedisProcess.start();
    } catch (error) {
      redisSkipped = error instanceof Error ? error.message : String(error);
      context.log(`live: Redis runs skipped: ${redisSkipped}`);
    }
    if (redis) for (const scenario of size.scenarios.filter((scenario) => scenario.p99TargetMs !== undefined)) await runScenario(scenario, "redis");
    return { ...(redisSkipped ? { redisSkipped } : {}), runs };
  } finally {
    await redis?.stop();
    await database.drop();
  }
}

async function measureScenario(
  scenario: LiveScenario,
  target: Target,
  clients: HelperProcess<FromClients>,
  tokens: { agent: string; admin: string },
  size: { seconds: number; rampStepSeconds: number; drainMs: number },
) {
  const workspaceOnly = scenario.conversationSubscribers === 0;
  const conversations = Array.from({ length: scenario.conversations }, (_, k) => conversationOf(k));
  // Every conversation exists before it is followed, and the server is warm (JIT, pool) before its RSS is read.
  await target.record(conversations, 0);
  const rssBeforeBytes = await target.rssAfterCollection();
  // Sockets come from several loopback addresses, so that tens of thousands of them do not run out of one address's ports.
  const socketOf = (i: number) => ({ url: target.wsUrls[i % target.wsUrls.length], localAddress: `127.0.0.${1 + (i % LOOPBACK_SOURCES)}` });
  // One process (the service, the client) holds every socket, so the open-file limit caps them; the run records both counts.
  const fileLimit = openFileLimit();
  const requestedSubscribers = scenario.conversationSubscribers + scenario.workspaceSubscribers;
  const conversationSubscribers = Math.max(0, Math.min(scenario.conversationSubscribers, fileLimit - FILES_BESIDE_SOCKETS - scenario.workspaceSubscribers));
  const subscribers = [
    ...Array.from({ length: conversationSubscribers }, (_, i) => ({ ...socketOf(i), conversationId: conversations[i % conversations.length] })),
    ...Array.from({ length: scenario.workspaceSubscribers }, (_, i) => ({ ...socketOf(conversationSubscribers + i), conversationId: null })),
  ];
  const openTimeout = 30_000 + subscribers.length * 20;
  const mode = target.kind === "floor" ? "floor" : "graphql";
  const opened = await clients.request(
    { type: "open", mode, tokens: { conversation: tokens.agent, workspace: tokens.admin }, subscribers, wave: OPEN_WAVE, timeoutMs: openTimeout },
    "opened",
    openTimeout + 10_000,
  );
  // A subscription is owed only the events recorded after it started: rounds of one event per conversation until each subscriber has one of its own.
  const warm: { id: string; conversationId: string }[] = [];
  const warmDeadline = Date.now() + WARMUP_MS;
  let ready: Extract<FromClients, { type: "ready" }>;
  let warmupRounds = 0;
  do {
    const round = workspaceOnly ? conversations.slice(0, 1) : conversations;
    const ids = await target.record(round, warmupRounds);
    warm.push(...ids.map((id, k) => ({ id, conversationId: round[k] })));
    warmupRounds += 1;
    ready = await clients.request({ type: "await", warmup: warm, timeoutMs: 1_000 }, "ready", 10_000);
  } while (ready.notReady > 0 && Date.now() < warmDeadline);
  await sleep(500);
  const rssIdleBytes = await target.rssAfterCollection();
  const cpuBefore = target.cpuSeconds();
  const recording = await recordAtRate(target, conversations, scenario.eventsPerSecond, size.seconds);
  const { result: delivery } = await clients.request({ type: "collect", events: recording.events, drainMs: size.drainMs }, "result", size.drainMs + 60_000);
  // The server's CPU while it recorded (or published) and delivered, over what it delivered.
  const cpuSeconds = round(target.cpuSeconds() - cpuBefore, 2);
  const ramp = scenario.ramp && target.kind === "service" ? await rampUp(scenario, target, clients, conversations, size) : undefined;
  return {
    scenario: scenario.name,
    kind: target.kind,
    subscribers: subscribers.length,
    ...(subscribers.length < requestedSubscribers ? { requestedSubscribers, fileLimit } : {}),
    workspaceSubscribers: scenario.workspaceSubscribers,
    conversations: conversations.length,
    eventsPerSecond: scenario.eventsPerSecond,
    ...(scenario.p99TargetMs ? { p99TargetMs: scenario.p99TargetMs } : {}),
    ...(scenario.recordP99TargetMs ? { recordP99TargetMs: scenario.recordP99TargetMs } : {}),
    ...(scenario.priced ? { priced: true } : {}),
    seconds: size.seconds,
    opened: { connected: opened.connected, failed: opened.failed },
    ready: { ready: ready.ready, notReady: ready.notReady, warmupRounds },
    // The server's RSS (both instances over Redis) after a full collection, before the subscribers connected and once they idle.
    rssBeforeBytes,
    rssIdleBytes,
    rssPerSubscriptionBytes: opened.connected > 0 ? Math.round((rssIdleBytes - rssBeforeBytes) / opened.connected) : NaN,
    recorded: recording.events.length,
    recordErrors: recording.errors,
    ...(recording.firstError ? { firstRecordError: recording.firstError } : {}),
    recordLatency: recording.latency,
    cpuSeconds,
    cpuPerDeliveryMs: delivery.delivered > 0 ? round((cpuSeconds * 1000) / delivery.delivered, 4) : NaN,
    delivery,
    ...(ramp ? { ramp } : {}),
  };
}

/** Whether a load on one instance stayed within its targets: nothing lost, no failed recording, the delivery p99 within `p99TargetMs`. */
export function withinTarget(step: { lost: number; recordErrors: number; fromSent: { p99: number } }, p99TargetMs = Infinity): boolean {
  return step.lost === 0 && step.recordErrors === 0 && step.fromSent.p99 <= p99TargetMs;
}

/**
 * The instance's ceiling: the same subscribers, each step at a higher event
 * rate, until the delivery p99 passes the scenario's target or an event is
 * lost. Each step's deliveries per second of its own CPU time is what one
 * core delivers at that load.
 */
async function rampUp(scenario: LiveScenario, target: Target, clients: HelperProcess<FromClients>, conversations: string[], size: { rampStepSeconds: number; drainMs: number }) {
  const steps = [];
  for (const eventsPerSecond of scenario.ramp ?? []) {
    const cpuBefore = target.cpuSeconds();
    const recording = await recordAtRate(target, conversations, eventsPerSecond, size.rampStepSeconds);
    const { result } = await clients.request({ type: "collect", events: recording.events, drainMs: size.drainMs }, "result", size.drainMs + 60_000);
    const cpuSeconds = round(target.cpuSeconds() - cpuBefore, 2);
    steps.push({
      eventsPerSecond,
      seconds: size.rampStepSeconds,
      deliveriesPerSecond: round(result.delivered / size.rampStepSeconds, 0),
      fromSent: result.fromSent,
      lost: result.lost,
      duplicated: result.duplicated,
      recordLatency: recording.latency,
      recordErrors: recording.errors,
      cpuSeconds,
      deliveriesPerCpuSecond: cpuSeconds > 0 ? round(result.delivered / cpuSeconds, 0) : NaN,
    });
    if (!withinTarget(steps[steps.length - 1], scenario.p99TargetMs)) break;
  }
  return steps;
}

/** Open loop: event n is sent at start + n / rate, whatever the earlier ones are doing (up to MAX_IN_FLIGHT at once). */
async function recordAtRate(target: Target, conversations: string[], rate: number, seconds: number) {
  const events: RecordedEvent[] = [];
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const pending = new Set<Promise<void>>();
  const start = monotonicMs();
  for (let n = 0; n < Math.round(rate * seconds); n++) {
    const wait = start + (n * 1000) / rate - monotonicMs();
    if (wait > 0) await sleep(wait);
    while (pending.size >= MAX_IN_FLIGHT) await Promise.race(pending);
    const conversationId = conversations[n % conversations.length];
    const send = async () => {
      const t0 = monotonicMs();
      const sentAt = wallClock();
      try {
        const [id] = await target.record([conversationId], n);
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
  return { events, errors, firstError, latency: summarize(latencies) };
}
