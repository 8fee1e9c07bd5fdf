import { ServiceUnavailableError } from "../src/common/errors";
import { config } from "../src/config";
import { AuditEventType } from "../src/events/audit-event.enums";
import { QueryFailedError } from "typeorm";
import { useTestDatabase } from "./support/database";
import { eventInput, RECORD_EVENTS } from "./support/events";
import { until } from "./support/live";
import { errorCodes, postGraphQL, useTestServer } from "./support/server";
import { statementsDuring } from "./support/statements";
import { Role, tokenFor } from "./support/tokens";
import { createTestWsClient } from "./support/ws-client";

const PAGE = "{ workspaceAuditLog(first: 5) { edges { node { id } } } }";

describe("reads' share of the pool, their time limit, and the wait for a connection", () => {
  const dataSource = useTestDatabase();
  // Two reads at once, each stopped after 1 s; a wait for a read slot or a connection ends after 300 ms.
  const server = useTestServer((config) => ({ ...config, database: { ...config.database, readConnections: 2, readTimeoutMs: 1_000, poolWaitMs: 300 } }));
  /** Both read slots taken for 0.8 s: longer than a wait, shorter than the time limit. */
  const takeEveryReadSlot = async () => {
    const holds = [0, 1].map(() => server.services.reads.query("SELECT SLEEP(0.8) AS slept"));
    await until(() => server.services.reads.load.running === 2, 2_000, "both read slots to be taken");
    return holds;
  };
  let admin: string;
  let producer: string;
  let sequence = 0;
  const record = () =>
    postGraphQL(server.graphqlUrl, { query: RECORD_EVENTS, variables: { events: [eventInput(AuditEventType.CUSTOMER, "customer.updated", { idempotencyKey: `k-${sequence++}` })] } }, { token: producer });

  beforeAll(async () => {
    admin = await tokenFor(Role.ADMIN);
    producer = await tokenFor(Role.SERVICE);
  });

  it("has the server stop a read that runs past the limit, and answers SERVICE_UNAVAILABLE saying how to narrow it", async () => {
    const started = Date.now();
    const read = server.services.reads.query("SELECT SLEEP(5) AS slept");
    await expect(read).rejects.toBeInstanceOf(ServiceUnavailableError);
    await expect(read).rejects.toThrow(/longer than 1 s and was stopped/);
    // Stopped by the server, long before the statement would have ended.
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(server.services.reads.load).toEqual({ running: 0, waiting: 0 });
  });

  it("fails a read the database refuses as TypeORM's QueryFailedError with the driver's code, tells it to the logger, and gives its connection back", async () => {
    const failing = "SELECT id FROM no_such_table";
    let answer: unknown;
    // More failures than the pool has connections: each one's connection must have come back.
    const attempts = Array.from({ length: config.database.poolSize + 2 }, (_, index) => index);
    const statements = await statementsDuring(dataSource, async () => {
      for (const _attempt of attempts) {
        const read = server.services.reads.query(failing);
        await expect(read).rejects.toBeInstanceOf(QueryFailedError);
        await expect(read).rejects.toMatchObject({ code: "ER_NO_SUCH_TABLE", query: expect.stringContaining(failing) });
      }
      answer = await server.services.reads.query("SELECT ? AS answer", [42]);
    });
    expect(answer).toEqual([{ answer: 42 }]);
    expect(statements).toHaveLength(attempts.length + 1);
    expect(statements.every((statement) => statement.endsWith(failing) || statement.endsWith("SELECT ? AS answer"))).toBe(true);
    expect(server.services.reads.load).toEqual({ running: 0, waiting: 0 });
  });

  it("keeps the rest of the pool for recording and health while reads hold their share, and refuses a read that waits too long with 503", async () => {
    const holds = await takeEveryReadSlot();
    try {
      const refused = await postGraphQL(server.graphqlUrl, { query: PAGE }, { token: admin });
      expect(refused.status).toBe(503);
      expect(errorCodes(refused)).toEqual(["SERVICE_UNAVAILABLE"]);
      expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(refused.body.errors![0].message).toMatch(/busy with other reads/);
    } finally {
      await Promise.all(holds);
    }
  });

  it("records and answers /readyz while every read slot is taken", async () => {
    const holds = await takeEveryReadSlot();
    try {
      const recorded = await record();
      expect(recorded.status).toBe(200);
      expect(recorded.body.errors).toBeUndefined();
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    } finally {
      await Promise.all(holds);
    }
    expect((await postGraphQL(server.graphqlUrl, { query: PAGE }, { token: admin })).status).toBe(200);
  });

  it("answers 503 within the wait bound, not later, when no pool connection comes free; the pool serves again afterwards", async () => {
    // Every connection of the pool held by a statement sent outside the gate.
    const holds = Array.from({ length: config.database.poolSize }, () => dataSource.query("SELECT SLEEP(1.5) AS slept"));
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const refused = await record();
      expect(refused.status).toBe(503);
      expect(errorCodes(refused)).toEqual(["SERVICE_UNAVAILABLE"]);
      expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
    } finally {
      await Promise.all(holds);
    }
    const recorded = await record();
    expect(recorded.status).toBe(200);
    expect(recorded.body.errors).toBeUndefined();
  });

  // A request deadline of 300 ms; one read at a time, which may wait 5 s for its turn.
  const hurried = useTestServer((config) => ({ ...config, requestTimeoutMs: 300, database: { ...config.database, readConnections: 1, poolWaitMs: 5_000 } }));

  it("answers 503 at the request's deadline, drops the operation's late answer, and serves on", async () => {
    const hold = hurried.services.reads.query("SELECT SLEEP(0.8) AS slept");
    await until(() => hurried.services.reads.load.running === 1, 2_000, "the read slot to be taken");
    try {
      const late = await postGraphQL(hurried.graphqlUrl, { query: PAGE }, { token: admin });
      expect(late.status).toBe(503);
      expect(errorCodes(late)).toEqual(["SERVICE_UNAVAILABLE"]);
      expect(late.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(late.body.errors![0].message).toMatch(/longer than 0.3 s/);
    } finally {
      await hold;
    }
    // The same over WebSocket: the operation's answer is an error at the deadline.
    const again = hurried.services.reads.query("SELECT SLEEP(0.8) AS slept");
    await until(() => hurried.services.reads.load.running === 1, 2_000, "the read slot to be taken");
    const ws = createTestWsClient(hurried.wsUrl, { authorization: admin });
    try {
      await ws.connected;
      const result = await ws.execute({ query: PAGE });
      expect(result.data).toBeUndefined();
      expect(result.errors?.map((error) => error.extensions?.code)).toEqual(["SERVICE_UNAVAILABLE"]);
      expect(result.errors?.[0].message).toMatch(/longer than 0.3 s/);
    } finally {
      await ws.dispose();
      await again;
    }
    // The pages that waited have run meanwhile and written into the void; the next one is answered.
    await until(() => hurried.services.reads.load.running === 0, 2_000, "the late page to end");
    const next = await postGraphQL(hurried.graphqlUrl, { query: PAGE }, { token: admin });
    expect(next.status).toBe(200);
    expect(next.body.errors).toBeUndefined();
  });
});
