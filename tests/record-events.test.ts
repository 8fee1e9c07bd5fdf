import { STATEMENT_SEPARATOR } from "../src/database/statements";
import { AuditEventType } from "../src/events/audit-event.enums";
import { EVENT_CATALOG } from "../src/events/event-catalog";
import { StoredNotice, workspaceTopic } from "../src/recording/event-publisher";
import { useTestDatabase } from "./support/database";
import { AUDIT_EVENT, BEN, EVENT_FIELDS, eventInput, EventInput, PLATFORM, realisticEvent, RECORD_EVENTS, REFUND, VIP_RULE, ZAPIER, ZOE } from "./support/events";
import { errorCodes, postGraphQL, useTestServer } from "./support/server";
import { roundTripsDuring, statementsDuring } from "./support/statements";
import { OTHER_WORKSPACE, Role, tokenFor, WORKSPACE } from "./support/tokens";

interface RecordedEvent {
  id: string;
  type: string;
  action: string;
  description: string;
  occurredAt: string;
  recordedAt: string;
}
interface RecordData {
  recordAuditEvents: { duplicates: number; events: RecordedEvent[] };
}

const CATALOG = Object.entries(EVENT_CATALOG).flatMap(([type, spec]) =>
  Object.keys(spec.actions).map((action) => [type as AuditEventType, action] as const),
);

describe("recordAuditEvents and auditEvent", () => {
  const dataSource = useTestDatabase();
  const server = useTestServer();
  let service: string;
  let admin: string;
  let agent: string;

  beforeAll(async () => {
    service = await tokenFor(Role.SERVICE, { userId: "producer-1" });
    admin = await tokenFor(Role.ADMIN, { userId: "u-ana" });
    agent = await tokenFor(Role.AGENT, { userId: "u-ben" });
  });

  const record = (events: unknown[], token = service) =>
    postGraphQL<RecordData>(server.graphqlUrl, { query: RECORD_EVENTS, variables: { events } }, { token });
  const read = (id: string, token = admin) =>
    postGraphQL<{ auditEvent: Record<string, unknown> | null }>(server.graphqlUrl, { query: AUDIT_EVENT, variables: { id } }, { token });

  it.each(CATALOG)("round-trips %s %s through the mutation and auditEvent", async (type, action) => {
    const input = eventInput(type, action, { occurredAt: "2026-11-20T08:30:15.123Z" });
    const recorded = await record([input]);
    expect(recorded.body.errors).toBeUndefined();
    const [event] = recorded.body.data!.recordAuditEvents.events;
    expect(event).toMatchObject({ type, action, occurredAt: "2026-11-20T08:30:15.123Z" });

    const { body } = await read(event.id);
    expect(body.errors).toBeUndefined();
    const stored = body.data!.auditEvent!;
    expect(stored).toMatchObject({
      id: event.id,
      type,
      action,
      occurredAt: "2026-11-20T08:30:15.123Z",
      recordedAt: event.recordedAt,
      description: event.description,
      actor: { kind: "USER", id: "u-ana", name: "Ana Diaz", user: { id: "u-ana", name: "Ana Diaz", email: null } },
      changes: [{ field: "status", before: "open", after: "done" }],
      metadata: { via: "test" },
      source: { ip: "203.0.113.7", userAgent: "agent-console/1.0", requestId: "req-1" },
    });
    expect(stored.description).toMatch(/^Ana Diaz \S/);
    switch (type) {
      case AuditEventType.AUTHORIZATION:
      case AuditEventType.BILLING:
        expect(stored.subjectUser).toEqual(BEN);
        break;
      case AuditEventType.CONVERSATION:
        expect(stored.conversation).toEqual({ ...REFUND, customer: ZOE });
        expect(stored.customer).toEqual(ZOE);
        if (action === "conversation.csat_answered") {
          expect(stored.csat).toEqual({ surveyId: "s-1", rating: 4, ratingScale: 5, comment: "Quick and kind" });
        }
        break;
      case AuditEventType.CUSTOMER:
        expect(stored.customerOfEvent).toEqual(ZOE);
        break;
      case AuditEventType.SETTINGS:
        expect(stored.section).toBe(action.startsWith("settings.support_access") ? "SUPPORT_ACCESS" : "SHORTCUTS");
        break;
      case AuditEventType.WORK_SESSION:
        expect(stored).toMatchObject({ queue: "Billing", status: "available", routedConversation: REFUND, subjectUser: { id: BEN.id, name: BEN.name } });
        break;
    }
  });

  it("describes events in one sentence, naming automations, API clients and the platform as such", async () => {
    const inputs = [
      eventInput(AuditEventType.CONVERSATION, "conversation.status_changed", { customer: null }),
      eventInput(AuditEventType.CONVERSATION, "conversation.assigned", {
        actor: VIP_RULE,
        conversation: { id: "c-late", subject: "Late order" },
        customer: null,
        subjectUser: BEN,
        changes: [],
      }),
      eventInput(AuditEventType.CUSTOMER, "customer.updated", { actor: ZAPIER, changes: [{ field: "email", before: null, after: "z@example.com" }] }),
      eventInput(AuditEventType.AUTHORIZATION, "authorization.role_changed", {
        actor: PLATFORM,
        changes: [{ field: "role", before: "agent", after: "admin" }],
      }),
      eventInput(AuditEventType.SETTINGS, "settings.support_access_granted"),
      eventInput(AuditEventType.WORK_SESSION, "work_session.queue_joined", { conversation: null, subjectUser: null }),
    ];
    const { body } = await record(inputs);
    expect(body.data!.recordAuditEvents.events.map((event) => event.description)).toEqual([
      "Ana Diaz changed the status of conversation 'Refund request' from open to done",
      "Routing rule 'VIP' (automation) assigned conversation 'Late order' to Ben Ode",
      "Zapier (API client) updated customer 'Zoë Park' (email)",
      "Platform (system) changed the role of Ben Ode from agent to admin",
      "Ana Diaz granted support access to the platform's support staff",
      "Ana Diaz joined the queue 'Billing'",
    ]);
  });

  it("stores events in the token's workspace, with opaque URL-safe ids and a server-set recordedAt", async () => {
    const before = Date.now();
    const { body } = await record([realisticEvent(1), realisticEvent(2)]);
    const after = Date.now();
    const events = body.data!.recordAuditEvents.events;
    for (const event of events) {
      expect(event.id).toMatch(/^[0-9A-Z]{26}$/);
      expect(Date.parse(event.recordedAt)).toBeGreaterThanOrEqual(before - 5);
      expect(Date.parse(event.recordedAt)).toBeLessThanOrEqual(after + 5);
    }
    expect(new Set(events.map((event) => event.id)).size).toBe(2);
    const rows: { workspace_id: string }[] = await dataSource.query(`SELECT workspace_id FROM audit_events WHERE id IN (?)`, [
      events.map((event) => event.id),
    ]);
    expect(rows.map((row) => row.workspace_id)).toEqual([WORKSPACE, WORKSPACE]);
  });

  it("numbers a workspace's events in commit order", async () => {
    const first = await record([realisticEvent(3), realisticEvent(4)]);
    const second = await record([realisticEvent(5)]);
    const ids = [...first.body.data!.recordAuditEvents.events, ...second.body.data!.recordAuditEvents.events].map((event) => event.id);
    const rows: { id: string; seq: number }[] = await dataSource.query(`SELECT id, seq FROM audit_events WHERE id IN (?) ORDER BY seq`, [ids]);
    expect(rows.map((row) => row.id)).toEqual(ids);
    expect(rows[1].seq - rows[0].seq).toBe(1);
    expect(rows[2].seq - rows[1].seq).toBe(1);
    const [workspace]: { last_seq: number }[] = await dataSource.query(`SELECT last_seq FROM workspaces WHERE id = ?`, [WORKSPACE]);
    expect(Number(workspace.last_seq)).toBe(Number(rows[2].seq));
  });

  it("accepts a full batch of 1000 realistic events in a handful of statements", async () => {
    const events = Array.from({ length: 1000 }, (_, n) => realisticEvent(10_000 + n));
    const body = JSON.stringify({ query: RECORD_EVENTS, variables: { events } });
    expect(body.length).toBeGreaterThan(400_000);
    let response!: Awaited<ReturnType<typeof record>>;
    const roundTrips = await roundTripsDuring(dataSource, async () => {
      response = await record(events);
    });
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data!.recordAuditEvents.events).toHaveLength(1000);
    expect(response.body.data!.recordAuditEvents.duplicates).toBe(0);
    // Isolation level, BEGIN, conversations before, 3 directory upserts, conversations after;
    // then the seq update, 2 inserts of 500 rows, each with the customer log's entries of its rows, and COMMIT.
    expect(roundTrips).toHaveLength(2);
    const statements = roundTrips.map((sql) => sql.split(STATEMENT_SEPARATOR));
    expect(statements[0].filter((sql) => /^\s*SELECT id, subject, customer_id FROM conversations/.test(sql))).toHaveLength(2);
    expect(statements[1].filter((sql) => /^\s*INSERT INTO audit_events/.test(sql))).toHaveLength(2);
    expect(statements[1].filter((sql) => /^\s*INSERT INTO customer_log_entries/.test(sql))).toHaveLength(2);
    expect(statements[1].at(-1)).toBe("COMMIT");
    expect(statements.flat().length).toBeLessThanOrEqual(13);
  });

  it("writes a new event on a conversation already tied to its customer without reading anything first", async () => {
    const first = realisticEvent(20_000);
    expect((await record([first])).body.errors).toBeUndefined();
    // Another event on the same conversation and customer, with a new key.
    const next = { ...realisticEvent(20_000), occurredAt: new Date(Date.now() - 30_000).toISOString() };
    let response!: Awaited<ReturnType<typeof record>>;
    const roundTrips = await roundTripsDuring(dataSource, async () => {
      response = await record([next]);
    });
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data!.recordAuditEvents.duplicates).toBe(0);
    // Nothing to read back: the directory's upserts travel with the seqs, the event and COMMIT.
    expect(roundTrips).toHaveLength(1);
    const statements = roundTrips[0].split(STATEMENT_SEPARATOR);
    expect(statements.filter((sql) => /^\s*SELECT/.test(sql))).toEqual([]);
    expect(statements.filter((sql) => /^\s*INSERT INTO (users|customers|conversations) /.test(sql))).toHaveLength(3);
    expect(statements.filter((sql) => /^\s*INSERT INTO audit_events/.test(sql))).toHaveLength(1);
    expect(statements.at(-1)).toBe("COMMIT");
  });

  it("updates the directory in the same round trip as the event when the event needs nothing read back", async () => {
    const renamed = eventInput(AuditEventType.CUSTOMER, "customer.updated", { customer: { id: "cu-one-trip", name: "Written With The Event" } });
    let response!: Awaited<ReturnType<typeof record>>;
    const roundTrips = await roundTripsDuring(dataSource, async () => {
      response = await record([renamed]);
    });
    expect(response.body.errors).toBeUndefined();
    expect(roundTrips).toHaveLength(1);
    expect(roundTrips[0]).toMatch(/^SET TRANSACTION ISOLATION LEVEL READ COMMITTED;\nSTART TRANSACTION;\nINSERT INTO users[^]*;\nINSERT INTO customers[^]*;\nINSERT INTO workspaces[^]*;\nINSERT INTO audit_events[^]*;\nCOMMIT$/);
    const customers: { name: string }[] = await dataSource.query(`SELECT name FROM customers WHERE workspace_id = ? AND id = ?`, [WORKSPACE, "cu-one-trip"]);
    expect(customers).toEqual([{ name: "Written With The Event" }]);
    const [stored]: { seq: number }[] = await dataSource.query(`SELECT seq FROM audit_events WHERE idempotency_key = ?`, [renamed.idempotencyKey]);
    const [workspace]: { last_seq: number }[] = await dataSource.query(`SELECT last_seq FROM workspaces WHERE id = ?`, [WORKSPACE]);
    expect(Number(stored.seq)).toBe(Number(workspace.last_seq));
  });

  it("stores an event that ties a new conversation to its customer in two round trips, the second ending with COMMIT", async () => {
    // The conversation's entry is read before and after the upserts, to see whether this event gave it its first customer.
    const input: EventInput = { ...realisticEvent(20_002), conversation: { id: "c-two-trips", subject: "Tied by this event" } };
    let response!: Awaited<ReturnType<typeof record>>;
    const roundTrips = await roundTripsDuring(dataSource, async () => {
      response = await record([input]);
    });
    expect(response.body.errors).toBeUndefined();
    expect(roundTrips).toHaveLength(2);
    // The directory first; then the seqs, the event and COMMIT, so that the workspace's row is locked for one round trip only.
    expect(roundTrips[0]).toMatch(/^SET TRANSACTION ISOLATION LEVEL READ COMMITTED;\nSTART TRANSACTION;\nSELECT id, subject, customer_id FROM conversations[^]*;\nINSERT INTO users[^]*;\nSELECT id, subject, customer_id FROM conversations[^]*$/);
    expect(roundTrips[0]).not.toMatch(/INSERT INTO workspaces/);
    expect(roundTrips[1]).toMatch(/^INSERT INTO workspaces[^]*;\nINSERT INTO audit_events[^]*;\nCOMMIT$/);
    const [stored] = await dataSource.query(`SELECT description, customer_id FROM audit_events WHERE idempotency_key = ?`, [input.idempotencyKey]);
    expect(stored.description).toBe(response.body.data!.recordAuditEvents.events[0].description);
  });

  it("still answers a repeat with the stored event when the first attempt took its key for new", async () => {
    const input = realisticEvent(20_001);
    const first = await record([input]);
    let again!: Awaited<ReturnType<typeof record>>;
    const statements = await statementsDuring(dataSource, async () => {
      again = await record([input]);
    });
    expect(again.body.data!.recordAuditEvents).toEqual({ ...first.body.data!.recordAuditEvents, duplicates: 1 });
    // The insert fails on the key, the transaction is rolled back and the retry finds the stored event.
    expect(statements.filter((sql) => /^\s*ROLLBACK/.test(sql))).toHaveLength(1);
    expect(Number((await dataSource.query(`SELECT COUNT(*) AS n FROM audit_events WHERE idempotency_key = ?`, [input.idempotencyKey]))[0].n)).toBe(1);
  });

  /** Notices the recorder publishes for the workspace, as the live tails hear them. */
  const listen = () => {
    const notices: StoredNotice[] = [];
    const visible: Promise<boolean>[] = [];
    const listener = (event: CustomEvent) => {
      const notice = event.detail as StoredNotice;
      notices.push(notice);
      // At publication every row must already be visible to any other connection.
      visible.push(
        dataSource
          .query(`SELECT COUNT(*) AS n FROM audit_events WHERE id IN (?)`, [notice.events.map((stored) => stored.id)])
          .then((rows: { n: number }[]) => Number(rows[0].n) === notice.events.length),
      );
    };
    server.services.bus.target.addEventListener(workspaceTopic(WORKSPACE), listener);
    return {
      notices,
      visible,
      stop: () => server.services.bus.target.removeEventListener(workspaceTopic(WORKSPACE), listener),
    };
  };

  it("publishes the new events of a call once it has committed, in seq order, on the workspace's topic", async () => {
    const listener = listen();
    const inputs = [
      eventInput(AuditEventType.CONVERSATION, "conversation.created", { conversation: { id: "c-published", subject: "Hello" } }),
      eventInput(AuditEventType.BILLING, "billing.plan_changed"),
    ];
    const { body } = await record(inputs);
    listener.stop();
    const ids = body.data!.recordAuditEvents.events.map((event) => event.id);
    expect(listener.notices).toHaveLength(1);
    expect(listener.notices[0].workspaceId).toBe(WORKSPACE);
    expect(listener.notices[0].events.map((event) => event.id)).toEqual(ids);
    const seqs = listener.notices[0].events.map((event) => event.seq);
    expect(seqs[1]).toBe(seqs[0] + 1);
    expect(await Promise.all(listener.visible)).toEqual([true]);
  });

  it("publishes nothing for a call that fails, and nothing for a repeat", async () => {
    const repeat = realisticEvent(6);
    await record([repeat]);
    const listener = listen();
    const failing = await record([realisticEvent(7), { ...realisticEvent(8), action: "conversation.exploded" }]);
    expect(errorCodes(failing)).toEqual(["BAD_USER_INPUT"]);
    const repeated = await record([repeat]);
    expect(repeated.body.data!.recordAuditEvents.duplicates).toBe(1);
    listener.stop();
    expect(listener.notices).toEqual([]);
  });

  describe("who may record and read", () => {
    it.each([
      ["an admin", () => admin],
      ["an agent", () => agent],
    ])("refuses recording by %s with FORBIDDEN", async (_who, token) => {
      const response = await record([realisticEvent(20)], token());
      expect(errorCodes(response)).toEqual(["FORBIDDEN"]);
      expect(response.body.data).toBeNull();
    });

    it("refuses auditEvent to a SERVICE client with FORBIDDEN", async () => {
      const { body } = await record([realisticEvent(21)]);
      const response = await read(body.data!.recordAuditEvents.events[0].id, service);
      expect(errorCodes(response)).toEqual(["FORBIDDEN"]);
    });

    it("answers NOT_FOUND for another workspace's event, exactly as for an unknown id", async () => {
      const foreignService = await tokenFor(Role.SERVICE, { workspaceId: OTHER_WORKSPACE });
      const { body } = await record([realisticEvent(22)], foreignService);
      const foreignId = body.data!.recordAuditEvents.events[0].id;

      const foreign = await read(foreignId, admin);
      const unknown = await read("01ZZZZZZZZZZZZZZZZZZZZZZZZ", admin);
      expect(errorCodes(foreign)).toEqual(["NOT_FOUND"]);
      expect(errorCodes(unknown)).toEqual(["NOT_FOUND"]);
      expect(foreign.body.data).toEqual({ auditEvent: null });
      expect(foreign.body.errors?.[0].message.replace(foreignId, "ID")).toBe(unknown.body.errors?.[0].message.replace("01ZZZZZZZZZZZZZZZZZZZZZZZZ", "ID"));
    });

    it("lets an agent read events of customer and conversation logs only", async () => {
      const { body } = await record([
        eventInput(AuditEventType.CONVERSATION, "conversation.created"),
        eventInput(AuditEventType.CUSTOMER, "customer.updated"),
        eventInput(AuditEventType.WORK_SESSION, "work_session.conversation_accepted", { subjectUser: null }),
        eventInput(AuditEventType.BILLING, "billing.plan_changed"),
        eventInput(AuditEventType.SETTINGS, "settings.updated"),
        eventInput(AuditEventType.WORK_SESSION, "work_session.started", { conversation: null, subjectUser: null }),
      ]);
      const ids = body.data!.recordAuditEvents.events.map((event) => event.id);
      const outcomes = await Promise.all(ids.map(async (id) => errorCodes(await read(id, agent))[0] ?? "OK"));
      expect(outcomes).toEqual(["OK", "OK", "OK", "NOT_FOUND", "NOT_FOUND", "NOT_FOUND"]);
      const asAdmin = await Promise.all(ids.map(async (id) => errorCodes(await read(id, admin))[0] ?? "OK"));
      expect(asAdmin).toEqual(["OK", "OK", "OK", "OK", "OK", "OK"]);
    });

    it("answers a SERVICE client with what it sent, never the directory's names, emails or ties", async () => {
      // The directory learns Ben's email, Zoë's current name and that conversation c-leak is hers.
      await record([
        eventInput(AuditEventType.AUTHORIZATION, "authorization.user_invited", { subjectUser: BEN }),
        eventInput(AuditEventType.CONVERSATION, "conversation.created", { conversation: { id: "c-leak", subject: "Private subject" }, customer: ZOE }),
      ]);
      const sent = eventInput(AuditEventType.CONVERSATION, "conversation.assigned", {
        actor: { kind: "USER", id: BEN.id, name: "B." },
        conversation: { id: "c-leak" },
        customer: null,
        subjectUser: { id: BEN.id, name: "B." },
      });
      const payload = `mutation Record($events: [AuditEventInput!]!) {
        recordAuditEvents(events: $events) { events { ${EVENT_FIELDS} } }
      }`;
      const response = await postGraphQL<{ recordAuditEvents: { events: Record<string, unknown>[] } }>(
        server.graphqlUrl,
        { query: payload, variables: { events: [sent] } },
        { token: service },
      );
      expect(response.body.errors).toBeUndefined();
      const [event] = response.body.data!.recordAuditEvents.events;
      expect(event.actor).toEqual({ kind: "USER", id: BEN.id, name: "B.", user: null });
      expect(event.subjectUser).toEqual({ id: BEN.id, name: "B." });
      expect(event.conversation).toEqual({ id: "c-leak", subject: null, customer: null });
      expect(event.customer).toBeNull();
      // An admin reading the same event sees the directory.
      const asAdmin = (await read(event.id as string)).body.data!.auditEvent!;
      expect(asAdmin.customer).toEqual(ZOE);
      expect(asAdmin.actor).toMatchObject({ user: { id: BEN.id, email: BEN.email } });
    });

    it("resolves the actor's user only for USER actors", async () => {
      const { body } = await record([
        eventInput(AuditEventType.BILLING, "billing.plan_changed", { actor: { kind: "AUTOMATION", id: "u-ana", name: "Workflow named like Ana" } }),
      ]);
      const response = await read(body.data!.recordAuditEvents.events[0].id);
      expect(response.body.data!.auditEvent!.actor).toEqual({ kind: "AUTOMATION", id: "u-ana", name: "Workflow named like Ana", user: null });
    });
  });
});
