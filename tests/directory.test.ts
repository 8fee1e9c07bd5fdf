import { AuditEventType } from "../src/events/audit-event.enums";
import { useTestDatabase } from "./support/database";
import { AUDIT_EVENT, eventInput, EventInput, RECORD_EVENTS } from "./support/events";
import { postGraphQL, useTestServer } from "./support/server";
import { Role, tokenFor, WORKSPACE } from "./support/tokens";

interface RecordData {
  recordAuditEvents: { events: { id: string }[] };
}

const CUSTOMER_LOG = `query Log($customerId: ID!) {
  customerAuditLog(customerId: $customerId) {
    edges { node { id ... on ConversationEvent { customer { id } } ... on WorkSessionEvent { customer { id } } ... on CustomerEvent { customerOfEvent: customer { id } } } }
  }
}`;

const at = (minute: number) => new Date(Date.UTC(2026, 10, 20, 9, minute)).toISOString();

describe("the workspace directory", () => {
  const dataSource = useTestDatabase();
  const server = useTestServer();
  let service: string;
  let admin: string;
  beforeAll(async () => {
    service = await tokenFor(Role.SERVICE);
    admin = await tokenFor(Role.ADMIN);
  });

  const record = async (events: EventInput[]) => {
    const response = await postGraphQL<RecordData>(server.graphqlUrl, { query: RECORD_EVENTS, variables: { events } }, { token: service });
    expect(response.body.errors).toBeUndefined();
    return response.body.data!.recordAuditEvents.events.map((event) => event.id);
  };
  const read = async (id: string) =>
    (await postGraphQL<{ auditEvent: Record<string, any> }>(server.graphqlUrl, { query: AUDIT_EVENT, variables: { id } }, { token: admin })).body.data!
      .auditEvent;
  const row = async (table: string, id: string) =>
    (await dataSource.query(`SELECT * FROM ${table} WHERE workspace_id = ? AND id = ?`, [WORKSPACE, id]))[0];
  /** The ids of a customer's log, newest first, with the customer each event shows. */
  const customerLog = async (customerId: string) => {
    type Node = { id: string; customer?: { id: string } | null; customerOfEvent?: { id: string } };
    const response = await postGraphQL<{ customerAuditLog: { edges: { node: Node }[] } }>(
      server.graphqlUrl,
      { query: CUSTOMER_LOG, variables: { customerId } },
      { token: admin },
    );
    expect(response.body.errors).toBeUndefined();
    return response.body.data!.customerAuditLog.edges.map(({ node }) => ({ id: node.id, customer: (node.customer ?? node.customerOfEvent)?.id ?? null }));
  };

  it("keeps the name of the latest event by occurredAt, whatever the arrival order", async () => {
    const customerEvent = (minute: number, name: string) =>
      eventInput(AuditEventType.CUSTOMER, "customer.updated", { occurredAt: at(minute), customer: { id: "cu-order", name } });
    await record([customerEvent(10, "Zoe Park")]);
    await record([customerEvent(5, "Zoe P.")]);
    expect((await row("customers", "cu-order")).name).toBe("Zoe Park");
    const [latest] = await record([customerEvent(20, "Zoë Park-Lee")]);
    expect((await row("customers", "cu-order")).name).toBe("Zoë Park-Lee");

    // The event keeps the name it was recorded with; Customer.name is the current one.
    const [older] = await record([{ ...customerEvent(1, "Z. Park"), idempotencyKey: "older-name" }]);
    const event = await read(older);
    expect(event.customerOfEvent.name).toBe("Zoë Park-Lee");
    expect(event.description).toBe("Ana Diaz updated customer 'Z. Park' (status)");
    expect((await read(latest)).customerOfEvent.name).toBe("Zoë Park-Lee");
  });

  it("keeps the latest name within one call too", async () => {
    await record([
      eventInput(AuditEventType.CUSTOMER, "customer.updated", { occurredAt: at(30), customer: { id: "cu-batch", name: "Later" } }),
      eventInput(AuditEventType.CUSTOMER, "customer.updated", { occurredAt: at(29), customer: { id: "cu-batch", name: "Earlier" } }),
    ]);
    expect((await row("customers", "cu-batch")).name).toBe("Later");
  });

  it("keeps a user's email when later references omit it, and updates users named as actors", async () => {
    const invite = (minute: number, subjectUser: EventInput) =>
      eventInput(AuditEventType.AUTHORIZATION, "authorization.user_invited", { occurredAt: at(minute), subjectUser });
    await record([invite(1, { id: "u-cleo", name: "Cleo", email: "cleo@example.com" })]);
    await record([invite(2, { id: "u-cleo", name: "Cleo Ruiz" })]);
    await record([
      eventInput(AuditEventType.AUTHORIZATION, "authorization.logout", { occurredAt: at(3), actor: { kind: "USER", id: "u-cleo", name: "Cleo R." } }),
    ]);
    expect(await row("users", "u-cleo")).toMatchObject({ name: "Cleo R.", email: "cleo@example.com" });
    await record([invite(4, { id: "u-cleo", name: "Cleo R.", email: "cleo.ruiz@example.com" })]);
    expect(await row("users", "u-cleo")).toMatchObject({ email: "cleo.ruiz@example.com" });
  });

  it("merges many mentions of one user within a call: the latest name, and an email an older mention carries", async () => {
    const invite = (minute: number, subjectUser: EventInput) =>
      eventInput(AuditEventType.AUTHORIZATION, "authorization.user_invited", { occurredAt: at(minute), subjectUser });
    await record([
      invite(10, { id: "u-dora", name: "Dora Old", email: "dora@example.com" }),
      invite(30, { id: "u-dora", name: "Dora Newest" }),
      invite(20, { id: "u-dora", name: "Dora Middle" }),
      eventInput(AuditEventType.AUTHORIZATION, "authorization.logout", { occurredAt: at(25), actor: { kind: "USER", id: "u-dora", name: "Dora Actor" } }),
    ]);
    expect(await row("users", "u-dora")).toMatchObject({ name: "Dora Newest", email: "dora@example.com" });
  });

  it("does not take automations, API clients or the platform for users", async () => {
    await record([
      eventInput(AuditEventType.BILLING, "billing.plan_changed", { actor: { kind: "AUTOMATION", id: "wf-1", name: "Workflow" }, subjectUser: null }),
      eventInput(AuditEventType.BILLING, "billing.plan_changed", { actor: { kind: "API_CLIENT", id: "key-1", name: "Zapier" }, subjectUser: null }),
    ]);
    expect(await row("users", "wf-1")).toBeUndefined();
    expect(await row("users", "key-1")).toBeUndefined();
  });

  it("ties a conversation to the customer a conversation event carries, and gives later events on it that customer", async () => {
    await record([
      eventInput(AuditEventType.CONVERSATION, "conversation.created", {
        occurredAt: at(1),
        conversation: { id: "c-tied", subject: "Where is my parcel" },
        customer: { id: "cu-tied", name: "Ivo" },
      }),
    ]);
    expect(await row("conversations", "c-tied")).toMatchObject({ subject: "Where is my parcel", customer_id: "cu-tied" });

    const [statusChange, routing] = await record([
      eventInput(AuditEventType.CONVERSATION, "conversation.status_changed", { occurredAt: at(2), conversation: { id: "c-tied" }, customer: null }),
      eventInput(AuditEventType.WORK_SESSION, "work_session.conversation_routed", { occurredAt: at(3), conversation: { id: "c-tied" } }),
    ]);
    const stored: { id: string; customer_id: string }[] = await dataSource.query(`SELECT id, customer_id FROM audit_events WHERE id IN (?)`, [[statusChange, routing]]);
    expect(stored.map((event) => event.customer_id)).toEqual(["cu-tied", "cu-tied"]);
    const event = await read(statusChange);
    expect(event.customer).toEqual({ id: "cu-tied", name: "Ivo" });
    // A reference without a subject keeps the subject the directory knows, and the sentence uses it.
    expect(event.conversation).toEqual({ id: "c-tied", subject: "Where is my parcel", customer: { id: "cu-tied", name: "Ivo" } });
    expect(event.description).toBe("Ana Diaz changed the status of conversation 'Where is my parcel' from open to done");
  });

  it("ties a conversation to the customer a work-session event about it names, and lists the event in that customer's log", async () => {
    const wren = { id: "cu-wren", name: "Wren Ota" };
    const [routed, accepted, rejected, started] = await record([
      eventInput(AuditEventType.WORK_SESSION, "work_session.conversation_routed", { occurredAt: at(1), conversation: { id: "c-ws-1" }, customer: wren }),
      eventInput(AuditEventType.WORK_SESSION, "work_session.conversation_accepted", { occurredAt: at(2), conversation: { id: "c-ws-1" }, customer: wren }),
      eventInput(AuditEventType.WORK_SESSION, "work_session.conversation_rejected", { occurredAt: at(3), conversation: { id: "c-ws-2" }, customer: wren }),
      eventInput(AuditEventType.WORK_SESSION, "work_session.started", { occurredAt: at(4), conversation: null, customer: null }),
    ]);
    expect(await row("conversations", "c-ws-1")).toMatchObject({ customer_id: "cu-wren" });
    expect(await row("conversations", "c-ws-2")).toMatchObject({ customer_id: "cu-wren" });
    expect(await row("customers", "cu-wren")).toMatchObject({ name: "Wren Ota" });
    const event = await read(accepted);
    expect(event.customer).toEqual(wren);
    expect(event.routedConversation).toEqual({ id: "c-ws-1", subject: null });

    const log = await postGraphQL<{ customerAuditLog: { edges: { node: { id: string } }[] } }>(
      server.graphqlUrl,
      { query: `query Log($customerId: ID!) { customerAuditLog(customerId: $customerId) { edges { node { id } } } }`, variables: { customerId: wren.id } },
      { token: admin },
    );
    expect(log.body.errors).toBeUndefined();
    expect(log.body.data!.customerAuditLog.edges.map((edge) => edge.node.id)).toEqual([rejected, accepted, routed]);
    expect((await read(started)).customer).toBeNull();
  });

  it("files earlier events of a conversation in the log of the customer it gets later, leaving their rows as stored", async () => {
    const [early] = await record([
      eventInput(AuditEventType.CONVERSATION, "conversation.created", { occurredAt: at(1), conversation: { id: "c-late-tie" }, customer: null }),
    ]);
    const stored = async () => (await dataSource.query(`SELECT * FROM audit_events WHERE id = ?`, [early]))[0];
    const before = await stored();
    expect(before.customer_id).toBeNull();
    const [tie] = await record([
      eventInput(AuditEventType.CONVERSATION, "conversation.updated", {
        occurredAt: at(2),
        conversation: { id: "c-late-tie" },
        customer: { id: "cu-late", name: "Noor" },
      }),
    ]);
    expect(await stored()).toEqual(before);
    expect(await customerLog("cu-late")).toEqual([
      { id: tie, customer: "cu-late" },
      { id: early, customer: "cu-late" },
    ]);
    expect((await read(early)).customer).toEqual({ id: "cu-late", name: "Noor" });
  });

  it("lets a later event move a conversation to another customer without rewriting the past", async () => {
    const [first] = await record([
      eventInput(AuditEventType.CONVERSATION, "conversation.created", { occurredAt: at(1), conversation: { id: "c-moved" }, customer: { id: "cu-a", name: "A" } }),
    ]);
    await record([
      eventInput(AuditEventType.CONVERSATION, "conversation.updated", { occurredAt: at(5), conversation: { id: "c-moved" }, customer: { id: "cu-b", name: "B" } }),
    ]);
    await record([
      eventInput(AuditEventType.CONVERSATION, "conversation.updated", { occurredAt: at(3), conversation: { id: "c-moved" }, customer: { id: "cu-c", name: "C" } }),
    ]);
    expect((await row("conversations", "c-moved")).customer_id).toBe("cu-b");
    expect((await dataSource.query(`SELECT customer_id FROM audit_events WHERE id = ?`, [first]))[0].customer_id).toBe("cu-a");
    expect((await customerLog("cu-a")).map((event) => event.id)).toEqual([first]);
    expect((await customerLog("cu-b")).map((event) => event.id)).not.toContain(first);
  });

  it("keeps an event in the log of its conversation's first customer when the conversation moves on", async () => {
    const [untied] = await record([
      eventInput(AuditEventType.CONVERSATION, "conversation.created", { occurredAt: at(1), conversation: { id: "c-first-tie" }, customer: null }),
    ]);
    await record([
      eventInput(AuditEventType.CONVERSATION, "conversation.updated", { occurredAt: at(2), conversation: { id: "c-first-tie" }, customer: { id: "cu-first", name: "F" } }),
    ]);
    await record([
      eventInput(AuditEventType.CONVERSATION, "conversation.updated", { occurredAt: at(3), conversation: { id: "c-first-tie" }, customer: { id: "cu-next", name: "N" } }),
    ]);
    expect((await customerLog("cu-first")).map((event) => event.id)).toContain(untied);
    expect((await customerLog("cu-next")).map((event) => event.id)).not.toContain(untied);
    // The event names no customer: it shows the one the directory ties its conversation to now.
    expect((await read(untied)).customer).toEqual({ id: "cu-next", name: "N" });
  });

  it("keeps ids that differ only in case apart", async () => {
    await record([
      eventInput(AuditEventType.CUSTOMER, "customer.created", { customer: { id: "cu-case", name: "lower" } }),
      eventInput(AuditEventType.CUSTOMER, "customer.created", { customer: { id: "CU-CASE", name: "upper" } }),
    ]);
    expect((await row("customers", "cu-case")).name).toBe("lower");
    expect((await row("customers", "CU-CASE")).name).toBe("upper");
  });
});
