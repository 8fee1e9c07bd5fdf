import { ConflictError } from "../src/common/errors";
import { STATEMENT_SEPARATOR } from "../src/database/statements";
import { AuditEventType } from "../src/events/audit-event.enums";
import type { AuditEventInput } from "../src/events/audit-event.inputs";
import { useTestDatabase } from "./support/database";
import { eventInput, realisticEvent, RECORD_EVENTS } from "./support/events";
import { errorCodes, postGraphQL, useTestServer } from "./support/server";
import { roundTripsDuring, statementsDuring, statementsOf } from "./support/statements";
import { OTHER_WORKSPACE, Role, tokenFor, WORKSPACE } from "./support/tokens";

interface RecordData {
  recordAuditEvents: { duplicates: number; events: { id: string; description: string }[] };
}

describe("idempotency and atomicity", () => {
  const dataSource = useTestDatabase();
  const server = useTestServer();
  let service: string;
  beforeAll(async () => {
    service = await tokenFor(Role.SERVICE);
  });

  const record = (events: unknown[], token = service) =>
    postGraphQL<RecordData>(server.graphqlUrl, { query: RECORD_EVENTS, variables: { events } }, { token });
  const countWithKey = async (key: string, workspace = WORKSPACE): Promise<number> => {
    const [row]: { n: number }[] = await dataSource.query(`SELECT COUNT(*) AS n FROM audit_events WHERE workspace_id = ? AND idempotency_key = ?`, [workspace, key]);
    return Number(row.n);
  };
  const totalEvents = async (): Promise<number> => Number((await dataSource.query(`SELECT COUNT(*) AS n FROM audit_events`))[0].n);

  it("returns the stored event for a repeat with the same content and counts it as a duplicate", async () => {
    const input = realisticEvent(1);
    const first = await record([input]);
    const again = await record([input, realisticEvent(2)]);
    expect(first.body.data!.recordAuditEvents.duplicates).toBe(0);
    expect(again.body.data!.recordAuditEvents.duplicates).toBe(1);
    expect(again.body.data!.recordAuditEvents.events[0]).toEqual(first.body.data!.recordAuditEvents.events[0]);
    expect(await countWithKey(input.idempotencyKey as string)).toBe(1);
  });

  it("refuses a stored key with other content as CONFLICT naming the index, and writes nothing of the call", async () => {
    const input = realisticEvent(3);
    await record([input]);
    const before = await totalEvents();
    const changed = { ...input, changes: [{ field: "status", before: "open", after: "closed" }] };
    const response = await record([realisticEvent(4), realisticEvent(5), changed]);
    expect(errorCodes(response)).toEqual(["CONFLICT"]);
    expect(response.body.errors![0].extensions).toMatchObject({ indexes: [2] });
    expect(response.body.errors![0].message).toContain("event 2");
    expect(await totalEvents()).toBe(before);
  });

  it("stores a key repeated within one call once, and counts the repeat", async () => {
    const input = realisticEvent(6);
    const response = await record([input, realisticEvent(7), input]);
    const { events, duplicates } = response.body.data!.recordAuditEvents;
    expect(duplicates).toBe(1);
    expect(events[2]).toEqual(events[0]);
    expect(await countWithKey(input.idempotencyKey as string)).toBe(1);
  });

  it("refuses a key repeated within one call with other content as CONFLICT", async () => {
    const input = realisticEvent(8);
    const before = await totalEvents();
    const response = await record([input, { ...input, metadata: { other: true } }]);
    expect(errorCodes(response)).toEqual(["CONFLICT"]);
    expect(response.body.errors![0].extensions).toMatchObject({ indexes: [1] });
    expect(await totalEvents()).toBe(before);
  });

  it("keeps keys apart per workspace", async () => {
    const input = realisticEvent(9);
    await record([input]);
    const other = await record([{ ...input, changes: [] }], await tokenFor(Role.SERVICE, { workspaceId: OTHER_WORKSPACE }));
    expect(other.body.errors).toBeUndefined();
    expect(other.body.data!.recordAuditEvents.duplicates).toBe(0);
    expect(await countWithKey(input.idempotencyKey as string, OTHER_WORKSPACE)).toBe(1);
  });

  it("stores exactly one event when parallel calls send the same key", async () => {
    const input = realisticEvent(10);
    const responses = await Promise.all(Array.from({ length: 8 }, (_, n) => record([input, realisticEvent(100 + n)])));
    for (const response of responses) expect(response.body.errors).toBeUndefined();
    const ids = new Set(responses.map((response) => response.body.data!.recordAuditEvents.events[0].id));
    expect(ids.size).toBe(1);
    const duplicates = responses.map((response) => response.body.data!.recordAuditEvents.duplicates);
    expect(duplicates.reduce((sum, n) => sum + n, 0)).toBe(7);
    expect(await countWithKey(input.idempotencyKey as string)).toBe(1);
  });

  it("gives parallel calls of one workspace gapless, distinct seqs", async () => {
    await Promise.all(Array.from({ length: 6 }, (_, n) => record([realisticEvent(200 + n), realisticEvent(300 + n)])));
    const rows: { seq: number }[] = await dataSource.query(`SELECT seq FROM audit_events WHERE workspace_id = ? ORDER BY seq`, [WORKSPACE]);
    expect(rows.map((row) => Number(row.seq))).toEqual(rows.map((_, n) => n + 1));
  });

  describe("calls of one workspace that arrive while its transaction runs", () => {
    const producer = () => ({ userId: "producer-1", workspaceId: WORKSPACE, role: Role.SERVICE, expiresAt: Date.now() + 60_000 });
    /** The input as the GraphQL layer hands it to the recorder (dates coerced). */
    const asArgument = (input: Record<string, unknown>) => ({ ...input, occurredAt: new Date(input.occurredAt as string) }) as unknown as AuditEventInput;
    const recordInProcess = (inputs: Record<string, unknown>[]) => server.services.recorder.record(producer(), inputs.map(asArgument));

    it("are stored together in one transaction, each answered with its own events", async () => {
      const inputs = Array.from({ length: 8 }, (_, n) => realisticEvent(400 + n));
      let results!: Awaited<ReturnType<typeof recordInProcess>>[];
      const roundTrips = await roundTripsDuring(dataSource, async () => {
        // The first two calls start a transaction each at once; the other six arrive while they run and wait for the next.
        results = await Promise.all(inputs.map((input) => recordInProcess([input])));
      });
      const statements = statementsOf(roundTrips);
      expect(statements.filter((sql) => /^\s*INSERT INTO audit_events/.test(sql))).toHaveLength(3);
      expect(statements.filter((sql) => /^\s*COMMIT/.test(sql))).toHaveLength(3);
      // The two first transactions run side by side: both begin before either commits.
      expect(roundTrips.slice(0, 2).map((sql) => sql.split(STATEMENT_SEPARATOR)[1])).toEqual(["START TRANSACTION", "START TRANSACTION"]);
      results.forEach((result, n) => {
        expect(result.duplicates).toBe(0);
        expect(result.events.map((event) => event.idempotencyKey)).toEqual([inputs[n].idempotencyKey]);
      });
      const seqs = results.map((result) => result.events[0].seq);
      expect(new Set(seqs).size).toBe(8);
      expect(Math.max(...seqs) - Math.min(...seqs)).toBe(7);
      for (const input of inputs) expect(await countWithKey(input.idempotencyKey as string)).toBe(1);
    });

    it("fail one by one: a conflicting call fails alone, the calls stored with it succeed", async () => {
      const stored = realisticEvent(500);
      await recordInProcess([stored]);
      const conflicting = { ...stored, changes: [{ field: "status", before: "open", after: "closed" }] };
      const others = [realisticEvent(501), realisticEvent(502), realisticEvent(503)];
      // The first two calls take the two transactions that start at once; the conflicting call waits with others[1] and others[2].
      const outcomes = await Promise.allSettled([
        recordInProcess([realisticEvent(504)]),
        recordInProcess([others[0]]),
        recordInProcess([others[1]]),
        recordInProcess([conflicting]),
        recordInProcess([others[2]]),
      ]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "rejected", "fulfilled"]);
      expect((outcomes[3] as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
      for (const input of others) expect(await countWithKey(input.idempotencyKey as string)).toBe(1);
      expect(await countWithKey(stored.idempotencyKey as string)).toBe(1);
    });

    it("with a key another waiting call also sends, store it once and answer both with that event", async () => {
      const shared = realisticEvent(600);
      const results = await Promise.all([recordInProcess([realisticEvent(601)]), recordInProcess([shared]), recordInProcess([shared, realisticEvent(602)])]);
      expect(results[2].events[0]).toEqual(results[1].events[0]);
      // Which of the two calls stores the shared event depends on which transaction reaches its insert first.
      expect(results[0].duplicates).toBe(0);
      expect(results[1].duplicates + results[2].duplicates).toBe(1);
      expect(await countWithKey(shared.idempotencyKey as string)).toBe(1);
    });
  });

  it("leaves no row behind when the database fails in the middle of a call", async () => {
    // The audit insert fails after the workspace, directory and seq statements of the same transaction ran.
    await dataSource.query(
      `CREATE TRIGGER fail_on_boom BEFORE INSERT ON audit_events FOR EACH ROW
       BEGIN IF NEW.idempotency_key = 'boom' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected failure'; END IF; END`,
    );
    try {
      const snapshot = async () =>
        dataSource.query(
          `SELECT (SELECT COUNT(*) FROM audit_events) AS events, (SELECT COUNT(*) FROM users) AS users,
                  (SELECT COUNT(*) FROM customers) AS customers, (SELECT COUNT(*) FROM conversations) AS conversations,
                  (SELECT last_seq FROM workspaces WHERE id = ?) AS last_seq`,
          [WORKSPACE],
        );
      const before = await snapshot();
      const response = await record([
        eventInput(AuditEventType.CONVERSATION, "conversation.created", {
          conversation: { id: "c-new-in-failed-call", subject: "Never stored" },
          customer: { id: "cu-new-in-failed-call", name: "Nobody" },
          actor: { kind: "USER", id: "u-new-in-failed-call", name: "Nobody" },
        }),
        { ...realisticEvent(11), idempotencyKey: "boom" },
      ]);
      expect(errorCodes(response)).toEqual(["INTERNAL_SERVER_ERROR"]);
      expect(JSON.stringify(response.body)).not.toContain("injected failure");
      expect(await snapshot()).toEqual(before);
    } finally {
      await dataSource.query(`DROP TRIGGER fail_on_boom`);
    }
  });
});
