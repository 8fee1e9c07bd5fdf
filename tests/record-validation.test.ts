import { AuditEventType } from "../src/events/audit-event.enums";
import { useTestDatabase } from "./support/database";
import { eventInput, EventInput, realisticEvent, RECORD_EVENTS } from "./support/events";
import { errorCodes, postGraphQL, useTestServer } from "./support/server";
import { Role, tokenFor, WORKSPACE } from "./support/tokens";

const long = (length: number) => "x".repeat(length);
const conversationEvent = (overrides: EventInput = {}) => eventInput(AuditEventType.CONVERSATION, "conversation.status_changed", overrides);

/** One bad input each, and the field path the error must name. */
const INVALID: [string, EventInput, string][] = [
  ["an action of another type", conversationEvent({ action: "customer.created" }), "action"],
  ["an unknown action", conversationEvent({ action: "conversation.exploded" }), "action"],
  ["a CONVERSATION event without a conversation", conversationEvent({ conversation: null }), "conversation"],
  ["a CUSTOMER event without a customer", eventInput(AuditEventType.CUSTOMER, "customer.created", { customer: null }), "customer"],
  ["a SETTINGS event without settings", eventInput(AuditEventType.SETTINGS, "settings.updated", { settings: null }), "settings"],
  [
    "a CSAT answer without a rating",
    conversationEvent({ action: "conversation.csat_answered", csat: { surveyId: "s-1", rating: null, ratingScale: 5 } }),
    "csat.rating",
  ],
  [
    "support access on another section",
    eventInput(AuditEventType.SETTINGS, "settings.support_access_granted", { settings: { section: "SHORTCUTS" } }),
    "settings.section",
  ],
  [
    "a queue event without a queue",
    eventInput(AuditEventType.WORK_SESSION, "work_session.queue_joined", { workSession: { status: "available" } }),
    "workSession.queue",
  ],
  [
    "a routing event without a conversation",
    eventInput(AuditEventType.WORK_SESSION, "work_session.conversation_routed", { conversation: null }),
    "conversation",
  ],
  ["a role change without the user", eventInput(AuditEventType.AUTHORIZATION, "authorization.role_changed", { subjectUser: null }), "subjectUser"],
  ["a target the type does not carry", eventInput(AuditEventType.BILLING, "billing.plan_changed", { customer: { id: "cu-1", name: "Zoë" } }), "customer"],
  ["settings on a work session", eventInput(AuditEventType.WORK_SESSION, "work_session.started", { settings: { section: "SHORTCUTS" } }), "settings"],
  [
    "a customer on a work session that is not about a conversation",
    eventInput(AuditEventType.WORK_SESSION, "work_session.started", { conversation: null, customer: { id: "cu-1", name: "Zoë" } }),
    "customer",
  ],
  [
    "a customer on a queue event, even with a conversation",
    eventInput(AuditEventType.WORK_SESSION, "work_session.queue_joined", { customer: { id: "cu-1", name: "Zoë" } }),
    "customer",
  ],
  ["occurredAt six minutes ahead", conversationEvent({ occurredAt: new Date(Date.now() + 6 * 60_000).toISOString() }), "occurredAt"],
  ["occurredAt before 1970", conversationEvent({ occurredAt: "1969-12-31T23:59:59.000Z" }), "occurredAt"],
  ["an idempotency key of 256 characters", conversationEvent({ idempotencyKey: long(256) }), "idempotencyKey"],
  ["a blank idempotency key", conversationEvent({ idempotencyKey: "  " }), "idempotencyKey"],
  ["an actor id of 129 characters", conversationEvent({ actor: { kind: "USER", id: long(129), name: "Ana" } }), "actor.id"],
  ["an actor name of 256 characters", conversationEvent({ actor: { kind: "USER", id: "u-1", name: long(256) } }), "actor.name"],
  ["a blank actor name", conversationEvent({ actor: { kind: "USER", id: "u-1", name: " " } }), "actor.name"],
  ["a USER actor without an id", conversationEvent({ actor: { kind: "USER", id: null, name: "Ana" } }), "actor.id"],
  ["an AUTOMATION actor without an id", conversationEvent({ actor: { kind: "AUTOMATION", name: "Rule" } }), "actor.id"],
  ["the platform with an id", conversationEvent({ actor: { kind: "SYSTEM", id: "sys", name: "Platform" } }), "actor.id"],
  ["a customer id of 129 characters", conversationEvent({ customer: { id: long(129), name: "Zoë" } }), "customer.id"],
  ["a customer name of 256 characters", conversationEvent({ customer: { id: "cu-1", name: long(256) } }), "customer.name"],
  ["a conversation id of 129 characters", conversationEvent({ conversation: { id: long(129) } }), "conversation.id"],
  ["a subject of 256 characters", conversationEvent({ conversation: { id: "c-1", subject: long(256) } }), "conversation.subject"],
  ["a subject user without a name", eventInput(AuditEventType.AUTHORIZATION, "authorization.user_invited", { subjectUser: { id: "u-2", name: "" } }), "subjectUser.name"],
  ["an email that is not one", eventInput(AuditEventType.AUTHORIZATION, "authorization.user_invited", { subjectUser: { id: "u-2", name: "Bo", email: "bo" } }), "subjectUser.email"],
  ["a settings object name of 256 characters", eventInput(AuditEventType.SETTINGS, "settings.created", { settings: { section: "SEARCHES", objectName: long(256) } }), "settings.objectName"],
  ["a queue of 256 characters", eventInput(AuditEventType.WORK_SESSION, "work_session.queue_left", { workSession: { queue: long(256) } }), "workSession.queue"],
  ["metadata over 16 KiB", conversationEvent({ metadata: { blob: long(16 * 1024) } }), "metadata"],
  ["101 changes", conversationEvent({ changes: Array.from({ length: 101 }, (_, n) => ({ field: `f${n}`, before: 1, after: 2 })) }), "changes"],
  ["a change without a field name", conversationEvent({ changes: [{ field: "", before: 1, after: 2 }] }), "changes.0.field"],
  ["a changed value over 16 KiB", conversationEvent({ changes: [{ field: "notes", before: null, after: long(16 * 1024 + 1) }] }), "changes.0.after"],
  [
    "a rating above its scale",
    conversationEvent({ action: "conversation.csat_answered", csat: { rating: 6, ratingScale: 5 } }),
    "csat.rating",
  ],
  ["a rating scale of 0", conversationEvent({ action: "conversation.csat_answered", csat: { rating: 0, ratingScale: 0 } }), "csat.ratingScale"],
  ["a user agent of 1025 characters", conversationEvent({ source: { userAgent: long(1025) } }), "source.userAgent"],
];

describe("recordAuditEvents validation", () => {
  const dataSource = useTestDatabase();
  const server = useTestServer();
  let service: string;
  beforeAll(async () => {
    service = await tokenFor(Role.SERVICE);
  });

  const record = async (events: unknown) =>
    postGraphQL(server.graphqlUrl, { query: RECORD_EVENTS, variables: { events } }, { token: service });

  /** Nothing of the call may be left in the database. */
  const expectNothingWritten = async () => {
    const [counts]: Record<string, number>[] = await dataSource.query(
      `SELECT (SELECT COUNT(*) FROM audit_events) AS events, (SELECT COUNT(*) FROM users) AS users,
              (SELECT COUNT(*) FROM customers) AS customers, (SELECT COUNT(*) FROM conversations) AS conversations,
              (SELECT COUNT(*) FROM workspaces) AS workspaces`,
    );
    expect(Object.values(counts).map(Number)).toEqual([0, 0, 0, 0, 0]);
  };

  it.each(INVALID.map(([name, bad, path]) => [name, path, bad] as const))("refuses %s, naming %s, and writes nothing", async (_name, path, bad) => {
    const response = await record([realisticEvent(1), bad]);
    expect(errorCodes(response)).toEqual(["BAD_USER_INPUT"]);
    expect(response.body.data).toBeNull();
    expect(response.body.errors![0].extensions!.invalid).toEqual([expect.objectContaining({ index: 1, path })]);
    await expectNothingWritten();
  });

  it("lists every bad input of a call by index and path", async () => {
    const response = await record([
      conversationEvent({ action: "conversation.exploded" }),
      realisticEvent(2),
      conversationEvent({ conversation: null, metadata: { blob: long(17 * 1024) } }),
    ]);
    expect(errorCodes(response)).toEqual(["BAD_USER_INPUT"]);
    expect(response.body.errors![0].message).toBe("The events have 3 problems; nothing was recorded.");
    expect(response.body.errors![0].extensions!.invalid).toEqual([
      { index: 0, path: "action", message: expect.stringContaining('"conversation.exploded" is not a CONVERSATION action') },
      { index: 2, path: "conversation", message: "is required for this action" },
      { index: 2, path: "metadata", message: expect.stringContaining("at most 16384 bytes") },
    ]);
    await expectNothingWritten();
  });

  it("refuses an empty call", async () => {
    const response = await record([]);
    expect(errorCodes(response)).toEqual(["BAD_USER_INPUT"]);
    expect(response.body.errors![0].message).toBe("Send 1 to 1000 events per call; got 0.");
  });

  it("refuses 1001 events", async () => {
    const events = Array.from({ length: 1001 }, (_, n) => ({ ...realisticEvent(n), metadata: null, changes: [] }));
    const response = await record(events);
    expect(errorCodes(response)).toEqual(["BAD_USER_INPUT"]);
    expect(response.body.errors![0].message).toBe("Send 1 to 1000 events per call; got 1001.");
    await expectNothingWritten();
  });

  it.each([
    ["an unknown type", { type: "PAYROLL" }],
    ["an unknown actor kind", { actor: { kind: "ROBOT", id: "r-1", name: "Robot" } }],
    ["an unknown settings section", { type: "SETTINGS", action: "settings.updated", settings: { section: "THEMES" } }],
    ["an occurredAt without a time zone", { occurredAt: "2026-11-20T08:30:15" }],
    ["an occurredAt that is no date", { occurredAt: "2026-02-31T08:30:15Z" }],
    ["a missing idempotency key", { idempotencyKey: null }],
    ["a rating that is not an integer", { action: "conversation.csat_answered", csat: { rating: 4.5 } }],
  ])("refuses %s in GraphQL's own input checks", async (_name, overrides) => {
    const response = await record([conversationEvent(overrides as EventInput)]);
    expect(errorCodes(response)).toEqual(["BAD_USER_INPUT"]);
    await expectNothingWritten();
  });

  it("accepts occurredAt four minutes ahead, for clock skew", async () => {
    const response = await record([conversationEvent({ occurredAt: new Date(Date.now() + 4 * 60_000).toISOString() })]);
    expect(response.body.errors).toBeUndefined();
    const [row]: { n: number }[] = await dataSource.query(`SELECT COUNT(*) AS n FROM audit_events WHERE workspace_id = ?`, [WORKSPACE]);
    expect(Number(row.n)).toBe(1);
  });
});
