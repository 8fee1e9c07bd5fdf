import mysql from "mysql2/promise";
import { AuditEventType } from "../src/events/audit-event.enums";
import { eventInput } from "./support/events";
import { recordOver, until } from "./support/live";
import { OUTAGE_MS, reportFault } from "./support/fault-report";
import { MariadbProcess, useMariadbProcess } from "./support/mariadb";
import { metricsUrlOf, runService, ServiceProcess, waitUntilListening } from "./support/process";
import { RetryingProducers } from "./support/producers";
import { describeWith, MARIADBD } from "./support/programs";
import { postGraphQL } from "./support/server";
import { rowsOf, tally } from "./support/tally";
import { Role, tokenFor } from "./support/tokens";

const DATABASE = "audit_faults";
const SEARCH = `query Search($search: String) { workspaceAuditLog(search: $search, first: 5) { edges { node { id } } } }`;
const CUSTOMER_LOG = `query CustomerLog($customerId: ID!) { customerAuditLog(customerId: $customerId, first: 20) { edges { cursor node { id } } } }`;
/** How long the tests wait for producers and readers to get going, or going again. */
const WAIT_MS = 30_000;
/** The bounds the issue sets: a refusal within 2 s, /readyz 503 within 1 s and 200 within 2 s of the database's return. */
const REFUSAL_BOUND_MS = 2_000;
const READY_DOWN_BOUND_MS = 1_000;
const READY_UP_BOUND_MS = 2_000;

/** The service's bounds in these tests, shorter than the outages. */
const BOUNDS = { DB_POOL_WAIT_MS: "1000", DB_READ_TIMEOUT_MS: "1000", DB_ANSWER_TIMEOUT_MS: "2000" };
/**
 * The longest a call may take while the database is frozen: the wait for a
 * read's share of the pool, the wait for a connection, and one statement
 * without an answer; and a margin for a loaded machine.
 */
const FROZEN_CALL_BOUND_MS = 2 * Number(BOUNDS.DB_POOL_WAIT_MS) + Number(BOUNDS.DB_ANSWER_TIMEOUT_MS) + 1_000;
/** How long the database stays frozen: longer than every bound. */
const FREEZE_MS = Math.max(2 * OUTAGE_MS, FROZEN_CALL_BOUND_MS + 1_000);

/** One answer of a poller: when it was asked, when the answer came, and what it was. */
interface Sample {
  sentAt: number;
  settledAt: number;
  status: number | "no answer";
  code?: unknown;
}

/**
 * Asks `ask` every `intervalMs` until stopped and keeps every answer, in the
 * order the questions were sent. One at a time by default; `overlapping`
 * asks on every tick whether or not earlier questions were answered, as a
 * readiness probe does, so that one slow answer does not delay the next
 * question.
 */
function poll(ask: () => Promise<Omit<Sample, "sentAt" | "settledAt">>, intervalMs: number, overlapping = false): { samples: Sample[]; stop(): Promise<void> } {
  const samples: Sample[] = [];
  const pending: Promise<void>[] = [];
  let stopped = false;
  const askOnce = async () => {
    const sample: Sample = { sentAt: Date.now(), settledAt: Number.NaN, status: "no answer" };
    samples.push(sample);
    const answer = await ask().catch(() => ({ status: "no answer" as const }));
    Object.assign(sample, answer, { settledAt: Date.now() });
  };
  const running = (async () => {
    while (!stopped) {
      const asked = askOnce();
      if (overlapping) pending.push(asked);
      else await asked;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
    await Promise.all(pending);
  })();
  return {
    samples,
    stop: async () => {
      stopped = true;
      await running;
    },
  };
}

describeWith(MARIADBD)("the database killed or frozen under load", () => {
  const mariadb = useMariadbProcess();
  let service: ServiceProcess;
  let url: string;
  let metricsUrl: string;

  beforeAll(async () => {
    service = runService({ PORT: "0", DATABASE_URL: mariadb.process.url(DATABASE), ...BOUNDS, METRICS_PORT: "0" });
    url = await waitUntilListening(service);
    metricsUrl = await metricsUrlOf(service);
  });

  afterAll(async () => {
    service.child.kill("SIGTERM");
    await service.exited;
  });

  // A test that fails midway leaves nothing running.
  const started: { stop(): Promise<void>; abandon?(): Promise<void> }[] = [];
  afterEach(async () => {
    mariadb.process.resume();
    await Promise.all(started.splice(0).map((running) => (running.abandon ?? running.stop).call(running)));
  });
  const track = <T extends { stop(): Promise<void> }>(running: T): T => {
    started.push(running);
    return running;
  };

  const readyz = () => track(poll(async () => ({ status: (await fetch(`${url}/readyz`)).status }), 50, true));
  /** An agent reading a customer's log in the test's workspace. */
  const reads = async (name: string) => {
    const token = await tokenFor(Role.AGENT, { workspaceId: workspaceOf(name) });
    return track(poll(async () => {
      const response = await postGraphQL(`${url}/graphql`, { query: CUSTOMER_LOG, variables: { customerId: "cu-0" } }, { token });
      return { status: response.status, code: response.body.errors?.[0]?.extensions?.code };
    }, 50));
  };
  /** Producers of a workspace of the test's own, so that its rows can be counted apart. */
  const producers = async (name: string) =>
    track(new RetryingProducers(url, await tokenFor(Role.SERVICE, { workspaceId: workspaceOf(name) }), {
      clients: 4,
      eventsPerCall: 20,
      event: (client, batch, index) =>
        eventInput(AuditEventType.CUSTOMER, "customer.updated", {
          idempotencyKey: `${name}-${client}-${batch}-${index}`,
          customer: { id: `cu-${client}`, name: `Customer ${client}` },
        }),
    }));

  it("SIGKILL, then a restart: refusals within 2 s, /readyz follows, and every acknowledged event is stored once with no gap", async () => {
    const recording = await producers("kill");
    await until(() => recording.acknowledgedAfter(0) >= 12, WAIT_MS, "the producers to record");
    const health = readyz();
    const reading = await reads("kill");

    await mariadb.process.kill();
    const killedAt = Date.now();
    await sleep(OUTAGE_MS);
    const restartedAt = Date.now();
    await mariadb.process.restart();
    const backAt = Date.now();
    await until(() => recording.acknowledgedAfter(backAt) >= 8 && firstAfter(reading.samples, backAt, 200) !== undefined && firstAfter(health.samples, backAt, 200) !== undefined, WAIT_MS, "recording, reading and /readyz to work again");
    await Promise.all([recording.stop(), health.stop(), reading.stop()]);

    expect(recording.unexpectedAnswers()).toEqual([]);
    const refusals = recording.calls.filter((call) => call.status === 503);
    expect(refusals.length).toBeGreaterThan(0);
    const slowestRefusal = Math.max(...refusals.map((call) => call.settledAt! - call.sentAt));
    expect(slowestRefusal).toBeLessThanOrEqual(REFUSAL_BOUND_MS);

    const outageReads = reading.samples.filter((sample) => sample.sentAt >= killedAt && sample.settledAt < restartedAt);
    expect(outageReads.length).toBeGreaterThan(0);
    for (const sample of outageReads) expect({ status: sample.status, code: sample.code }).toEqual({ status: 503, code: "SERVICE_UNAVAILABLE" });
    const slowestRead = Math.max(...outageReads.map((sample) => sample.settledAt - sample.sentAt));
    expect(slowestRead).toBeLessThanOrEqual(REFUSAL_BOUND_MS);

    const readyDown = firstAfter(health.samples, killedAt, 503)!.settledAt - killedAt;
    const readyUp = firstAfter(health.samples, backAt, 200)!.settledAt - backAt;
    expect(readyDown).toBeLessThanOrEqual(READY_DOWN_BOUND_MS);
    expect(readyUp).toBeLessThanOrEqual(READY_UP_BOUND_MS);

    const counted = await withConnection(mariadb.process, (connection) => tally(rowsOf(connection), workspaceOf("kill"), recording.batches));
    expect(counted).toMatchObject({ lost: 0, duplicated: 0, unknown: 0, partialBatches: 0, seqGaps: 0 });
    expect(counted.stored).toBe(counted.acknowledged);

    // Search works again too: what is recorded after the return is found.
    const searched = { customer: { id: "cu-searched", name: "Quillon Vexmarrow" } };
    const [found] = (await recordOver(`${url}/graphql`, await tokenFor(Role.SERVICE, { workspaceId: workspaceOf("kill") }), [eventInput(AuditEventType.CUSTOMER, "customer.updated", searched)]));
    const admin = await tokenFor(Role.ADMIN, { workspaceId: workspaceOf("kill") });
    await until(async () => {
      const page = await postGraphQL<{ workspaceAuditLog: { edges: { node: { id: string } }[] } }>(`${url}/graphql`, { query: SEARCH, variables: { search: "Vexmarrow" } }, { token: admin });
      return page.body.data?.workspaceAuditLog.edges[0]?.node.id === found;
    }, 10_000, "search to find an event recorded after the return");

    const firstAcknowledged = Math.min(...recording.batches.map((batch) => batch.acknowledged!.settledAt!).filter((at) => at > backAt));
    reportFault("database killed (SIGKILL), restarted", {
      outageMs: backAt - killedAt,
      ...counted,
      refusals: refusals.length,
      slowestRefusalMs: slowestRefusal,
      slowestReadMs: slowestRead,
      readyzDownMs: readyDown,
      readyzUpMs: readyUp,
      recordingBackMs: firstAcknowledged - backAt,
    });
  });

  it("SIGSTOP past the timeouts, then SIGCONT: every call answered within the bounds, the pool whole again, nothing acknowledged lost", async () => {
    const recording = await producers("freeze");
    await until(() => recording.acknowledgedAfter(0) >= 12, WAIT_MS, "the producers to record");
    const health = readyz();
    const reading = await reads("freeze");

    mariadb.process.freeze();
    const frozenAt = Date.now();
    try {
      await sleep(FREEZE_MS);
    } finally {
      mariadb.process.resume();
    }
    const resumedAt = Date.now();
    await until(() => recording.acknowledgedAfter(resumedAt) >= 8 && firstAfter(reading.samples, resumedAt, 200) !== undefined && firstAfter(health.samples, resumedAt, 200) !== undefined, WAIT_MS, "recording, reading and /readyz to work again");
    await Promise.all([recording.stop(), health.stop(), reading.stop()]);

    expect(recording.unexpectedAnswers()).toEqual([]);
    const slowestCall = Math.max(...recording.calls.map((call) => call.settledAt! - call.sentAt));
    const slowestRead = Math.max(...reading.samples.map((sample) => sample.settledAt - sample.sentAt));
    expect(slowestCall).toBeLessThanOrEqual(FROZEN_CALL_BOUND_MS);
    expect(slowestRead).toBeLessThanOrEqual(FROZEN_CALL_BOUND_MS);
    for (const sample of reading.samples) expect([200, 503]).toContain(sample.status);
    expect(recording.calls.filter((call) => call.status === 503).length).toBeGreaterThan(0);

    // The pool is whole: nothing handed out, nothing waiting, and as many reads as it has connections answer at once.
    const agentToken = await tokenFor(Role.AGENT, { workspaceId: workspaceOf("freeze") });
    const burst = await Promise.all(Array.from({ length: 10 }, () => postGraphQL(`${url}/graphql`, { query: CUSTOMER_LOG, variables: { customerId: "cu-1" } }, { token: agentToken })));
    expect(burst.map((response) => response.status)).toEqual(Array(10).fill(200));
    const metrics = await (await fetch(metricsUrl)).text();
    expect(gauge(metrics, "audit_log_db_pool_in_use")).toBe(0);
    expect(gauge(metrics, "audit_log_db_pool_waiting")).toBe(0);

    const counted = await withConnection(mariadb.process, (connection) => tally(rowsOf(connection), workspaceOf("freeze"), recording.batches));
    expect(counted).toMatchObject({ lost: 0, duplicated: 0, unknown: 0, partialBatches: 0, seqGaps: 0 });
    expect(counted.stored).toBe(counted.acknowledged);

    reportFault("database frozen (SIGSTOP), resumed", {
      frozenMs: resumedAt - frozenAt,
      ...counted,
      refusals: recording.calls.filter((call) => call.status === 503).length,
      slowestCallMs: slowestCall,
      slowestReadMs: slowestRead,
      readyzDownMs: firstAfter(health.samples, frozenAt, 503)!.settledAt - frozenAt,
      readyzUpMs: firstAfter(health.samples, resumedAt, 200)!.settledAt - resumedAt,
      recordingBackMs: Math.min(...recording.batches.map((batch) => batch.acknowledged!.settledAt!).filter((at) => at > resumedAt)) - resumedAt,
    });
  });
});

/** The value of a gauge in Prometheus's text format. */
function gauge(metrics: string, name: string): number {
  const line = metrics.split("\n").find((candidate) => candidate.startsWith(`${name} `));
  if (!line) throw new Error(`no ${name} in the metrics`);
  return Number(line.split(" ")[1]);
}

const workspaceOf = (test: string) => `ws-${test}`;

/** The first answer with `status` to a question sent at or after `time`. */
function firstAfter(samples: readonly Sample[], time: number, status: number): Sample | undefined {
  const matching = samples.filter((sample) => sample.sentAt >= time && sample.status === status);
  return matching.sort((a, b) => a.settledAt - b.settledAt)[0];
}

async function withConnection<T>(server: MariadbProcess, use: (connection: mysql.Connection) => Promise<T>): Promise<T> {
  const connection = await server.connect(DATABASE);
  try {
    return await use(connection);
  } finally {
    await connection.end();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

