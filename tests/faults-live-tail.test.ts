import { AuditEventType } from "../src/events/audit-event.enums";
import { eventInput } from "./support/events";
import { OUTAGE_MS, reportFault } from "./support/fault-report";
import { DEFAULT_STREAM_OPTIONS } from "../src/live-tail/workspace-stream";
import { TEST_DATABASE, useTestDatabase } from "./support/database";
import { connectedClient, recordOver, TailCollector, TailData, TailEdge, take, until, WORKSPACE_TAIL } from "./support/live";
import { useMariadbProcess } from "./support/mariadb";
import { runService, ServiceProcess, waitUntilListening } from "./support/process";
import { RetryingProducers } from "./support/producers";
import { describeWith, MARIADBD, REDIS_SERVER } from "./support/programs";
import { useRedisProcess } from "./support/redis";
import { rowsOf, tally } from "./support/tally";
import { TcpProxy } from "./support/tcp-proxy";
import { Role, tokenFor, WORKSPACE } from "./support/tokens";
import type { TestWsClient } from "./support/ws-client";

const DATABASE = "audit_tail_faults";
const CONVERSATION = { id: "c-live", subject: "Parcel lost" };
const CUSTOMER = { id: "cu-live", name: "Lia Stone" };
const STREAM_POLL_MS = DEFAULT_STREAM_OPTIONS.pollMs;

/** A console's tail: names from the directory, read when each event is delivered. */
const NAMED_TAIL = `
  subscription NamedTail($conversationId: ID!, $after: String) {
    tail: conversationAuditEvents(conversationId: $conversationId, after: $after) {
      cursor
      node { id action actor { name user { name } } ... on ConversationEvent { conversation { id subject customer { name } } } }
    }
  }`;

describeWith(MARIADBD)("live tails across a database outage", () => {
  const mariadb = useMariadbProcess();
  let service: ServiceProcess;
  let wsUrl: string;
  let url: string;
  const clients: TestWsClient[] = [];
  let recording: RetryingProducers | undefined;

  beforeAll(async () => {
    service = runService({ PORT: "0", DATABASE_URL: mariadb.process.url(DATABASE), DB_POOL_WAIT_MS: "1000", DB_READ_TIMEOUT_MS: "1000", DB_ANSWER_TIMEOUT_MS: "2000" });
    url = await waitUntilListening(service);
    wsUrl = `${url.replace("http", "ws")}/graphql`;
  });

  afterAll(async () => {
    await recording?.abandon();
    await Promise.all(clients.map((client) => client.dispose()));
    service.child.kill("SIGTERM");
    await service.exited;
  });

  const client = async (role: Role) => {
    const connected = await connectedClient(wsUrl, await tokenFor(role));
    clients.push(connected);
    return connected;
  };

  it("keeps open tails open, catching up with no gap and no error in place of an event; a client that resumes gets every event once", async () => {
    recording = new RetryingProducers(url, await tokenFor(Role.SERVICE), {
      clients: 2,
      eventsPerCall: 5,
      event: (producer, batch, index) =>
        eventInput(AuditEventType.CONVERSATION, "conversation.status_changed", {
          idempotencyKey: `tail-${producer}-${batch}-${index}`,
          conversation: CONVERSATION,
          customer: CUSTOMER,
        }),
    });
    await until(() => recording!.acknowledgedAfter(0) >= 2, 10_000, "the first events");
    const staying = (await client(Role.AGENT)).subscribe<TailData>({ query: NAMED_TAIL, variables: { conversationId: CONVERSATION.id } });
    const workspace = (await client(Role.ADMIN)).subscribe<TailData>({ query: WORKSPACE_TAIL, variables: {} });
    const leavingClient = await client(Role.AGENT);
    const leaving = leavingClient.subscribe<TailData>({ query: NAMED_TAIL, variables: { conversationId: CONVERSATION.id } });
    const received = { staying: await take(staying, 5), workspace: await take(workspace, 5), leaving: await take(leaving, 5) };
    const delivered = new TailCollector(staying, received.staying);

    await mariadb.process.kill();
    const killedAt = Date.now();
    await leavingClient.dispose();
    // A tail opened while the database is down gets one result, a retriable SERVICE_UNAVAILABLE (not INTERNAL), then complete.
    const opened = (await client(Role.AGENT)).subscribe<TailData>({ query: NAMED_TAIL, variables: { conversationId: CONVERSATION.id } });
    const refusal = await opened.next(5_000);
    expect(refusal.errors?.map((error) => error.extensions?.code)).toEqual(["SERVICE_UNAVAILABLE"]);
    await opened.completed;
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    await mariadb.process.restart();
    const backAt = Date.now();
    await until(() => recording!.acknowledgedAfter(backAt) >= 4, 20_000, "recording to work again");
    await recording.stop();

    const connection = await mariadb.process.connect(DATABASE);
    let stored: string[];
    let counted: Awaited<ReturnType<typeof tally>>;
    try {
      counted = await tally(rowsOf(connection), WORKSPACE, recording.batches);
      expect(counted).toMatchObject({ lost: 0, duplicated: 0, unknown: 0, partialBatches: 0, seqGaps: 0 });
      expect(counted.stored).toBe(counted.acknowledged);
      const [rows] = await connection.query(`SELECT id FROM audit_events WHERE workspace_id = ? ORDER BY seq`, [WORKSPACE]);
      stored = (rows as { id: string }[]).map((row) => row.id);
    } finally {
      await connection.end();
    }

    // Every stored event from its first on, once, in seq order, with no error result among them (take fails on one).
    const stayingOwed = owed(stored, received.staying[0]);
    await delivered.until(stayingOwed.length, 20_000);
    await delivered.stop();
    expect(delivered.edges.map((edge) => edge.node.id)).toEqual(stayingOwed);
    const workspaceOwed = owed(stored, received.workspace[0]);
    received.workspace.push(...(await take(workspace, workspaceOwed.length - received.workspace.length, 20_000)));
    expect(received.workspace.map((edge) => edge.node.id)).toEqual(workspaceOwed);
    const leavingOwed = owed(stored, received.leaving[0]);
    const lastSeen = received.leaving[received.leaving.length - 1];
    const resumed = (await client(Role.AGENT)).subscribe<TailData>({ query: NAMED_TAIL, variables: { conversationId: CONVERSATION.id, after: lastSeen.cursor } });
    const replayed = await take(resumed, leavingOwed.length - received.leaving.length, 20_000);
    expect([...received.leaving, ...replayed].map((edge) => edge.node.id)).toEqual(leavingOwed);
    // Names came from the directory, as before the outage.
    expect(delivered.edges[delivered.edges.length - 1].node).toMatchObject({ actor: { user: { name: "Ana Diaz" } }, conversation: { subject: CONVERSATION.subject, customer: { name: CUSTOMER.name } } });

    reportFault("live tail across a database outage (SIGKILL, restarted)", {
      outageMs: backAt - killedAt,
      ...counted,
      deliveredToOpenTail: delivered.edges.length,
      deliveredToWorkspaceTail: received.workspace.length,
      resumedClientGot: received.leaving.length + replayed.length,
      errorPayloads: delivered.errorResults,
      lastCaughtUpMs: delivered.lastAt - backAt,
    });
  });
});

describeWith(REDIS_SERVER)("live tails on two instances when a part fails", () => {
  const redis = useRedisProcess();
  useTestDatabase();
  // B reaches the database through a proxy the test can cut; A directly.
  const proxy = new TcpProxy(TEST_DATABASE.host, TEST_DATABASE.port);
  const instances: ServiceProcess[] = [];
  const clients: TestWsClient[] = [];
  let a: { url: string; graphqlUrl: string };
  let b: { url: string; wsUrl: string };
  let recording: RetryingProducers | undefined;

  beforeAll(async () => {
    await proxy.start();
    const start = async (databaseUrl: string) => {
      const instance = runService({ PORT: "0", DATABASE_URL: databaseUrl, REDIS_URL: redis.process.url, DB_POOL_WAIT_MS: "1000" });
      instances.push(instance);
      return waitUntilListening(instance);
    };
    const [urlA, urlB] = await Promise.all([start(TEST_DATABASE.url), start(proxy.urlThrough(TEST_DATABASE.url))]);
    a = { url: urlA, graphqlUrl: `${urlA}/graphql` };
    b = { url: urlB, wsUrl: `${urlB.replace("http", "ws")}/graphql` };
  });

  afterAll(async () => {
    await recording?.abandon();
    await Promise.all(clients.map((client) => client.dispose()));
    for (const instance of instances) instance.child.kill("SIGTERM");
    await Promise.all(instances.map((instance) => instance.exited));
    await proxy.stop();
  });

  const follow = async (conversationId: string) => {
    const connected = await connectedClient(b.wsUrl, await tokenFor(Role.AGENT));
    clients.push(connected);
    return connected.subscribe<TailData>({ query: NAMED_TAIL, variables: { conversationId } });
  };

  it("delivers an event whose names cannot be read when it arrives once they can, never an error in its place", async () => {
    const service = await tokenFor(Role.SERVICE);
    const conversation = { id: "c-names", subject: "Names away" };
    const named = (n: number) => eventInput(AuditEventType.CONVERSATION, "conversation.status_changed", { idempotencyKey: `names-${n}`, conversation, customer: CUSTOMER });
    await recordOver(a.graphqlUrl, service, [named(0)]);
    const tail = await follow(conversation.id);
    // The tail is live once an event recorded on A reaches it on B.
    await until(async () => {
      await recordOver(a.graphqlUrl, service, [named(Date.now())]);
      return (await tail.next(500).catch(() => undefined)) !== undefined;
    }, 10_000, "the tail on B to go live");
    while (await tail.next(300).catch(() => undefined));

    await proxy.stop();
    let ids: string[];
    try {
      // Stored by A and announced through Redis; B cannot read the actor's and the conversation's names.
      ids = await recordOver(a.graphqlUrl, service, [named(1), named(2)]);
      await expect(tail.next(2_000)).rejects.toThrow(/no result/);
    } finally {
      await proxy.start();
    }
    const delivered = await take(tail, 2, 15_000);
    expect(delivered.map((edge) => edge.node.id)).toEqual(ids);
    expect(delivered[0].node).toMatchObject({ actor: { user: { name: "Ana Diaz" } }, conversation: { subject: conversation.subject, customer: { name: CUSTOMER.name } } });
  });

  it("delivers every event recorded while Redis is down, in order, late by about the poll interval, and recording goes on", async () => {
    const conversation = { id: "c-redis-outage", subject: "Redis away" };
    const first = await recordOver(a.graphqlUrl, await tokenFor(Role.SERVICE), [
      eventInput(AuditEventType.CONVERSATION, "conversation.created", { idempotencyKey: "redis-first", conversation, customer: CUSTOMER }),
    ]);
    const tail = await follow(conversation.id);
    recording = new RetryingProducers(a.url, await tokenFor(Role.SERVICE), {
      clients: 1,
      eventsPerCall: 1,
      pauseMs: 50,
      event: (_producer, batch) =>
        eventInput(AuditEventType.CONVERSATION, "conversation.status_changed", { idempotencyKey: `redis-${batch}`, conversation, customer: CUSTOMER }),
    });
    const delivered = new TailCollector(tail);
    const received = delivered.arrivedAt;
    await until(() => received.size >= 10, 10_000, "deliveries before the outage");
    expect(received.has(first[0])).toBe(false);

    await redis.process.stop();
    const downAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    await redis.process.start();
    const upAt = Date.now();
    await until(() => recording!.acknowledgedAfter(upAt) >= 10, 20_000, "recording after Redis came back");
    await recording.stop();
    const acknowledged = recording.batches.map((batch) => ({ id: batch.acknowledged!.body!.data!.recordAuditEvents.events[0].id, at: batch.acknowledged!.settledAt! }));
    await delivered.until(acknowledged.length, 15_000).catch((error) => {
      const missing = acknowledged.filter((event) => !received.has(event.id)).map((event) => ({ id: event.id, acknowledgedAfterOutageMs: event.at - downAt }));
      throw new Error(`${String(error)}: ${JSON.stringify({ missing, logOfB: instances[1].stdout().slice(-2000) })}`);
    });
    await delivered.stop();
    const deliveries = delivered.edges.map((edge) => edge.node.id);

    expect(recording.unexpectedAnswers()).toEqual([]);
    expect(recording.calls.every((call) => call.status === 200)).toBe(true);
    // Nothing waits for Redis while it is away: not the live tail's notices, not the budgets (whose wait for Redis is 500 ms).
    const slowestCall = Math.max(...recording.calls.filter((call) => call.sentAt >= downAt && call.sentAt < upAt).map((call) => call.settledAt! - call.sentAt));
    expect(slowestCall).toBeLessThan(500);
    expect(deliveries).toEqual(acknowledged.map((event) => event.id));
    const lateness = (from: number, to: number) =>
      acknowledged.filter((event) => event.at >= from && event.at < to).map((event) => received.get(event.id)! - event.at).sort((x, y) => x - y);
    const during = lateness(downAt, upAt);
    const before = lateness(0, downAt);
    expect(during.length).toBeGreaterThan(0);
    // Without Redis, B learns of A's events from its poll of the database (every 2 s).
    expect(during[during.length - 1]).toBeLessThanOrEqual(STREAM_POLL_MS + 1_500);

    reportFault("Redis killed, two instances", {
      outageMs: upAt - downAt,
      acknowledged: acknowledged.length,
      delivered: deliveries.length,
      lost: acknowledged.filter((event) => !received.has(event.id)).length,
      duplicated: deliveries.length - received.size,
      slowestRecordingCallMs: slowestCall,
      latenessBeforeMs: { p50: percentile(before, 0.5), max: before[before.length - 1] },
      latenessDuringMs: { p50: percentile(during, 0.5), max: during[during.length - 1] },
    });
  });
});

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))];
}

/** The stored ids from the first one a tail delivered on: what the tail owes. */
function owed(stored: string[], first: TailEdge): string[] {
  return stored.slice(stored.indexOf(first.node.id));
}
