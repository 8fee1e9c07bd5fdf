import { AuditEventType } from "../src/events/audit-event.enums";
import { TEST_DATABASE, useTestDatabase } from "./support/database";
import { eventInput } from "./support/events";
import { reportFault } from "./support/fault-report";
import { connectedClient, TailCollector, TailData, take, until, WORKSPACE_TAIL } from "./support/live";
import { runService, ServiceProcess, waitUntilListening } from "./support/process";
import { RetryingProducers } from "./support/producers";
import { describeWith, REDIS_SERVER } from "./support/programs";
import { useRedisProcess } from "./support/redis";
import { tally } from "./support/tally";
import { Role, tokenFor, WORKSPACE } from "./support/tokens";
import type { TestWsClient } from "./support/ws-client";

const CONVERSATION = { id: "c-stop", subject: "Stop and go" };
const CUSTOMER = { id: "cu-stop", name: "Noa Field" };
/** The stopping instance's grace; it must exit within the grace and the margins after it (README: Operating). */
const GRACE_MS = 2_000;
const EXIT_BOUND_MS = GRACE_MS + 4_000;

const CONVERSATION_TAIL = `
  subscription ConversationTail($conversationId: ID!, $after: String) {
    tail: conversationAuditEvents(conversationId: $conversationId, after: $after) { cursor node { id } }
  }`;

describeWith(REDIS_SERVER)("SIGTERM under load, with a second instance to go to", () => {
  const redis = useRedisProcess();
  const dataSource = useTestDatabase();
  const instances: ServiceProcess[] = [];
  const clients: TestWsClient[] = [];
  let recording: RetryingProducers | undefined;

  afterAll(async () => {
    await recording?.abandon();
    await Promise.all(clients.map((client) => client.dispose()));
    for (const instance of instances) if (instance.child.exitCode === null) instance.child.kill("SIGTERM");
    await Promise.all(instances.map((instance) => instance.exited));
  });

  const start = async () => {
    const instance = runService({ PORT: "0", DATABASE_URL: TEST_DATABASE.url, REDIS_URL: redis.process.url, SHUTDOWN_GRACE_MS: String(GRACE_MS) });
    instances.push(instance);
    const url = await waitUntilListening(instance);
    return { instance, url, wsUrl: `${url.replace("http", "ws")}/graphql` };
  };
  const subscribe = async (wsUrl: string, role: Role, query: string, variables: Record<string, unknown>) => {
    const client = await connectedClient(wsUrl, await tokenFor(role));
    clients.push(client);
    return { client, tail: client.subscribe<TailData>({ query, variables }) };
  };

  it("answers every call it took, closes tails with 1001 and exits 0 in time; clients go on at the other instance and lose nothing", async () => {
    const [a, b] = await Promise.all([start(), start()]);
    recording = new RetryingProducers([a.url, b.url], await tokenFor(Role.SERVICE), {
      clients: 4,
      eventsPerCall: 10,
      event: (producer, batch, index) =>
        eventInput(AuditEventType.CONVERSATION, "conversation.status_changed", { idempotencyKey: `stop-${producer}-${batch}-${index}`, conversation: CONVERSATION, customer: CUSTOMER }),
    });
    await until(() => recording!.acknowledgedAfter(0) >= 4, 10_000, "the first events");
    const followers = [
      { name: "conversation", ...(await subscribe(a.wsUrl, Role.AGENT, CONVERSATION_TAIL, { conversationId: CONVERSATION.id })), role: Role.AGENT, query: CONVERSATION_TAIL, variables: { conversationId: CONVERSATION.id } },
      { name: "workspace", ...(await subscribe(a.wsUrl, Role.ADMIN, WORKSPACE_TAIL, {})), role: Role.ADMIN, query: WORKSPACE_TAIL, variables: {} },
    ];
    const received = await Promise.all(followers.map(({ tail }) => take(tail, 20, 10_000)));
    const collectors = followers.map(({ tail }, index) => new TailCollector(tail, received[index]));

    const stoppedAt = Date.now();
    a.instance.child.kill("SIGTERM");
    const closes = await Promise.all(followers.map(({ client }) => client.closed));
    const exit = await a.instance.exited;
    const exitMs = Date.now() - stoppedAt;
    expect(closes.map((close) => close.code)).toEqual([1001, 1001]);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(exitMs).toBeLessThanOrEqual(EXIT_BOUND_MS);
    await Promise.all(collectors.map((collector) => collector.stop()));
    expect(collectors.map((collector) => collector.errorResults)).toEqual([0, 0]);

    // The clients go to B, resuming after the last edge each received.
    const resumed = await Promise.all(
      followers.map(async ({ role, query, variables }, index) => {
        const { edges } = collectors[index];
        const last = edges[edges.length - 1];
        return (await subscribe(b.wsUrl, role, query, { ...variables, after: last.cursor })).tail;
      }),
    );
    await until(() => recording!.acknowledgedAfter(stoppedAt + exitMs) >= 8, 20_000, "recording on B");
    await recording.stop();

    const counted = await tally((sql, values) => dataSource.query(sql, values), WORKSPACE, recording.batches);
    expect(counted).toMatchObject({ lost: 0, duplicated: 0, unknown: 0, partialBatches: 0, seqGaps: 0 });
    expect(counted.stored).toBe(counted.acknowledged);
    // A call that got no answer from A was not taken: had A stored it, its retry would have found duplicates.
    const takenUnanswered = recording.batches.filter(
      (batch) => batch.calls.some((call) => call.failure !== undefined) && !batch.calls.some((call) => call.status === 503) && batch.acknowledged!.body!.data!.recordAuditEvents.duplicates > 0,
    );
    expect(takenUnanswered).toEqual([]);
    // Every answer was 200 or 503 SERVICE_UNAVAILABLE; the calls with no answer at all are the ones A no longer took.
    expect(recording.unexpectedAnswers().filter((answer) => (answer as { failure?: string }).failure === undefined)).toEqual([]);

    const stored: { id: string; conversation_id: string | null }[] = await dataSource.query(`SELECT id, conversation_id FROM audit_events WHERE workspace_id = ? ORDER BY seq`, [WORKSPACE]);
    const owed = [stored.filter((row) => row.conversation_id === CONVERSATION.id).map((row) => row.id), stored.map((row) => row.id)];
    for (const [index, tail] of resumed.entries()) {
      const before = collectors[index].edges.map((edge) => edge.node.id);
      const expected = owed[index].slice(owed[index].indexOf(before[0]));
      const after = await take(tail, expected.length - before.length, 20_000);
      expect([...before, ...after.map((edge) => edge.node.id)]).toEqual(expected);
    }

    reportFault("SIGTERM under load, second instance", {
      exitMs,
      exitCode: exit.code,
      closeCodes: closes.map((close) => close.code),
      ...counted,
      callsToTheStoppedInstance: recording.calls.filter((call) => call.sentAt < stoppedAt + exitMs).length,
      refusedWhileStopping: recording.calls.filter((call) => call.status === 503).length,
      unansweredNotTaken: recording.calls.filter((call) => call.failure !== undefined).length,
      resumedClientsGotAll: true,
    });
  });
});
