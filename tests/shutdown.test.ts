import http from "node:http";
import type { DataSource, QueryRunner } from "typeorm";
import { AuditEventType } from "../src/events/audit-event.enums";
import { TEST_DATABASE, useTestDatabase } from "./support/database";
import { eventInput, EventInput } from "./support/events";
import { Call, record } from "./support/recording-calls";
import { runService, ServiceProcess, waitUntilListening } from "./support/process";
import { Role, tokenFor, WORKSPACE } from "./support/tokens";
import { createTestWsClient } from "./support/ws-client";

const VIEWER_WITH_USER = `query Viewer { viewer { userId user { name } } }`;
const CLIENTS = 4;
const EVENTS_PER_CALL = 10;
/** The shutdown grace the slow-statement test runs with. */
const GRACE_MS = 1_000;
/**
 * By when a stop with a statement held by a lock must have exited: the grace,
 * the cancel margin and a generous allowance for a loaded machine, far below
 * the 50 s a statement waits for a lock by default.
 */
const EXIT_DEADLINE_MS = 20_000;
/** Calls one client makes at most: the service stops long before. */
const MAX_CALLS_PER_CLIENT = 2_000;

describe("graceful shutdown", () => {
  const dataSource = useTestDatabase();
  const running: ServiceProcess[] = [];

  /** Runs the built service on this file's database. */
  function start(env: Record<string, string> = {}): ServiceProcess {
    const service = runService({ PORT: "0", DATABASE_URL: TEST_DATABASE.url, ...env });
    running.push(service);
    return service;
  }

  beforeAll(async () => {
    await dataSource.query(
      `INSERT INTO users (workspace_id, id, name, name_occurred_at) VALUES (?, 'u-ana', 'Ana Diaz', NOW(3))`,
      [WORKSPACE],
    );
  });

  afterEach(() => {
    for (const service of running.splice(0)) if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill("SIGKILL");
  });

  it("on SIGTERM stops accepting, finishes the request in flight, closes WebSockets with 1001 and exits 0", async () => {
    const service = start();
    const url = await waitUntilListening(service);
    const token = await tokenFor(Role.AGENT, { userId: "u-ana" });
    const ws = createTestWsClient(`${url.replace("http", "ws")}/graphql`, { authorization: token });
    await ws.connected;

    // Hold the directory table so the viewer's user lookup waits inside the server.
    const lock = dataSource.createQueryRunner();
    await lock.connect();
    await lock.query(`LOCK TABLES users WRITE`);
    try {
      const inFlight = fetch(`${url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: VIEWER_WITH_USER }),
      });
      await waitForLockedQuery(lock);

      service.child.kill("SIGTERM");
      expect(await ws.closed).toMatchObject({ code: 1001 });
      await expect(fetch(`${url}/healthz`)).rejects.toThrow();
      expect(service.child.exitCode).toBeNull();

      await lock.query(`UNLOCK TABLES`);
      const response = await inFlight;
      expect(response.status).toBe(200);
      const body = (await response.json()) as { data?: unknown; errors?: unknown };
      expect(body.data).toEqual({ viewer: { userId: "u-ana", user: { name: "Ana Diaz" } } });
      expect(body.errors).toBeUndefined();
    } finally {
      await lock.query(`UNLOCK TABLES`);
      await lock.release();
      await ws.dispose();
    }

    expect(await service.exited).toEqual({ code: 0, signal: null });
    expect(service.stdout()).toContain('"msg":"stopped"');
  });

  it("on SIGTERM while 4 clients record, answers every call it accepted and stores nothing of a call it did not answer", async () => {
    const service = start();
    const url = await waitUntilListening(service);
    const token = await tokenFor(Role.SERVICE);
    const calls: Call[] = [];
    let stopSent = false;

    const client = async (clientIndex: number): Promise<void> => {
      // A busy producer: one kept-alive connection, the next call sent as soon as an answer is in.
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      for (let callIndex = 0; callIndex < MAX_CALLS_PER_CLIENT; callIndex++) {
        const events: EventInput[] = Array.from({ length: EVENTS_PER_CALL }, (_, eventIndex) =>
          eventInput(AuditEventType.CUSTOMER, "customer.updated", { idempotencyKey: `shutdown-${clientIndex}-${callIndex}-${eventIndex}` }),
        );
        const call = record(agent, url, token, events);
        calls.push(call);
        await call.settled;
        call.settledAfterStop = stopSent;
        // A failure or a refusal means the service is going: this client stops, as it would retry elsewhere.
        if (call.status !== 200) break;
      }
      agent.destroy();
    };

    const clients = Array.from({ length: CLIENTS }, (_, index) => client(index));
    await waitFor(async () => calls.filter((call) => call.status === 200).length >= 2 * CLIENTS, "the clients never recorded");

    // Hold the workspace's seq row: the calls now arriving wait in the database and in the recorder's queue.
    const lock = dataSource.createQueryRunner();
    await lock.connect();
    try {
      await lock.startTransaction();
      await lock.query(`SELECT last_seq FROM workspaces WHERE id = ? FOR UPDATE`, [WORKSPACE]);
      await waitFor(async () => (await lockWaits(lock)) > 0, "no recording call waited for the lock", INNODB_TRX_REFRESH_MS);

      stopSent = true;
      service.child.kill("SIGTERM");
      await waitFor(async () => service.stdout().includes("stopping"), "the service never began to stop");
    } finally {
      await lock.rollbackTransaction().catch(() => undefined);
      await lock.release();
    }
    await Promise.all(clients);
    expect(await service.exited).toEqual({ code: 0, signal: null });

    expect(await callsStoredOtherwiseThanAnswered(dataSource, calls)).toEqual([]);
    // The calls that waited on the lock were in flight at SIGTERM: they were answered.
    expect(calls.some((call) => call.settledAfterStop && call.status === 200 && call.body?.data)).toBe(true);
  });

  it("past the shutdown grace, cancels the statements still running, refuses their calls with 503 and exits", async () => {
    const service = start({ SHUTDOWN_GRACE_MS: String(GRACE_MS) });
    const url = await waitUntilListening(service);
    const token = await tokenFor(Role.SERVICE);
    await dataSource.query(`INSERT IGNORE INTO workspaces (id, last_seq) VALUES (?, 0)`, [WORKSPACE]);

    // The test's own transaction holds the workspace's seq row until the end: the calls wait on it for as long as they are let.
    const lock = dataSource.createQueryRunner();
    await lock.connect();
    try {
      await lock.startTransaction();
      await lock.query(`SELECT last_seq FROM workspaces WHERE id = ? FOR UPDATE`, [WORKSPACE]);
      const agent = new http.Agent({ keepAlive: true });
      const calls = [0, 1, 2].map((callIndex) =>
        record(agent, url, token, [eventInput(AuditEventType.CUSTOMER, "customer.updated", { idempotencyKey: `slow-${callIndex}` })]),
      );
      // Two transactions wait (the workspace runs two at once); a third call, if it arrived, waits in the recorder's queue.
      await waitFor(async () => (await lockWaits(lock)) >= 2, "the recording calls never waited for the lock", INNODB_TRX_REFRESH_MS);

      service.child.kill("SIGTERM");
      // Without cancelling, the process would wait for the lock: for as long as the test holds it, or the server's lock wait timeout.
      expect(await exitedWithin(service, EXIT_DEADLINE_MS)).toEqual({ code: 0, signal: null });
      // The cancelled statements left the lock: none waits for it any more, though the process that ran them is gone.
      await waitFor(async () => (await lockWaits(lock)) === 0, "a cancelled statement still waits for the lock", INNODB_TRX_REFRESH_MS);

      await Promise.all(calls.map((call) => call.settled));
      const refused = calls.filter((call) => call.status === 503);
      expect(refused.length).toBeGreaterThanOrEqual(2);
      for (const call of refused) {
        expect(call.body?.errors?.map((error) => error.extensions?.code)).toEqual(["SERVICE_UNAVAILABLE"]);
        expect(call.retryAfter).toMatch(/^\d+$/);
      }
      // A call that got no 503 never reached the service.
      for (const call of calls.filter((call) => call.status !== 503)) expect(call).toMatchObject({ failure: expect.any(String) });
      expect(await callsStoredOtherwiseThanAnswered(dataSource, calls)).toEqual([]);
      expect(service.stdout()).toContain("running statements cancelled");
      agent.destroy();
    } finally {
      await lock.rollbackTransaction().catch(() => undefined);
      await lock.release();
    }
  });
});

/**
 * The calls whose events are not stored as their answer says: an answered
 * call must have every event stored under the ids it got back; a call that
 * got no answer, or a refusal, must have none stored.
 */
async function callsStoredOtherwiseThanAnswered(dataSource: DataSource, calls: Call[]): Promise<unknown[]> {
  const stored = await storedIds(dataSource, calls.flatMap((call) => call.keys));
  return calls.flatMap((call) => {
    const answered = call.body?.data?.recordAuditEvents.events.map((event) => event.id);
    const ids = call.keys.map((key) => stored.get(key));
    const consistent = answered ? ids.every((id, index) => id === answered[index]) : ids.every((id) => id === undefined);
    if (consistent) return [];
    return [{ firstKey: call.keys[0], answer: call.failure ?? call.status, errors: call.body?.errors, stored: ids.filter(Boolean).length }];
  });
}

/** Waits until the server's query is blocked on the table lock, so the request is really in flight. */
async function waitForLockedQuery(lock: { query(sql: string): Promise<{ info: string | null; state: string | null }[]> }) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const processes = await lock.query(`SELECT info, state FROM information_schema.processlist`);
    if (processes.some((row) => row.info?.includes("FROM users") && /lock/i.test(row.state ?? ""))) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error("the server's query never waited for the lock");
}

/**
 * InnoDB refreshes what information_schema.innodb_trx shows only when it was
 * not read for 100 ms: a faster poll would see the same rows forever.
 */
const INNODB_TRX_REFRESH_MS = 150;

/** Transactions of this file's database that wait for a row lock. */
async function lockWaits(runner: QueryRunner): Promise<number> {
  const [{ waiting }] = await runner.query(
    `SELECT COUNT(*) AS waiting FROM information_schema.innodb_trx t
       JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id
      WHERE t.trx_state = 'LOCK WAIT' AND p.db = ?`,
    [TEST_DATABASE.database],
  );
  return Number(waiting);
}

/** The id stored under each of the keys that is stored. */
async function storedIds(dataSource: DataSource, keys: string[]): Promise<Map<string, string>> {
  const rows: { idempotency_key: string; id: string }[] = await dataSource.query(
    `SELECT idempotency_key, id FROM audit_events WHERE workspace_id = ? AND idempotency_key IN (?)`,
    [WORKSPACE, keys],
  );
  return new Map(rows.map((row) => [row.idempotency_key, row.id]));
}

/** How the process exited, or "still running" once `ms` have passed. */
async function exitedWithin(service: ServiceProcess, ms: number): Promise<Awaited<ServiceProcess["exited"]> | "still running"> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<"still running">((resolve) => (timer = setTimeout(() => resolve("still running"), ms)));
  try {
    return await Promise.race([service.exited, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitFor(condition: () => Promise<boolean>, failure: string, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(failure);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
