import { AuditEventType } from "../src/events/audit-event.enums";
import { useTestDatabase } from "./support/database";
import { eventInput, RECORD_EVENTS } from "./support/events";
import { recordOver } from "./support/live";
import { errorCodes, postGraphQL, useTestServer } from "./support/server";
import { Role, tokenFor, WORKSPACE } from "./support/tokens";

/** The test workspace's id with one trailing space: another id, which no token may name. */
const PADDED_WORKSPACE = `${WORKSPACE} `;

const WORKSPACE_LOG = `query WorkspaceLog { workspaceAuditLog(first: 50) { edges { node { id } } } }`;
const CUSTOMER_PICKER = `query Customers($text: String!) { customers(nameContains: $text, first: 10) { id name } }`;
const CUSTOMER_LOG = `query CustomerLog($customerId: ID!) { customerAuditLog(customerId: $customerId, first: 50) { edges { node { id } } } }`;
const CONVERSATION_LOG = `query ConversationLog($conversationId: ID!) {
  conversationAuditLog(conversationId: $conversationId, first: 50) { edges { node { id } } }
}`;

interface RecordData {
  recordAuditEvents: { duplicates: number; events: { id: string }[] };
}
interface LogData {
  [log: string]: { edges: { node: { id: string } }[] };
}

describe("ids that differ only by trailing spaces", () => {
  const dataSource = useTestDatabase();
  const server = useTestServer();
  let service: string;
  let admin: string;
  beforeAll(async () => {
    service = await tokenFor(Role.SERVICE);
    admin = await tokenFor(Role.ADMIN);
  });

  const record = (events: unknown[]) => recordOver(server.graphqlUrl, service, events);
  const logOf = async (query: string, variables: Record<string, unknown>): Promise<string[]> => {
    const response = await postGraphQL<LogData>(server.graphqlUrl, { query, variables }, { token: admin });
    expect(response.body.errors).toBeUndefined();
    return Object.values(response.body.data!)[0].edges.map((edge) => edge.node.id);
  };
  const eventCount = async (): Promise<number> => Number((await dataSource.query(`SELECT COUNT(*) AS n FROM audit_events`))[0].n);

  it("a token for workspace 'A ' neither reads nor writes workspace 'A'", async () => {
    const [recorded] = await record([eventInput(AuditEventType.CUSTOMER, "customer.created", { customer: { id: "cu-ws", name: "Workspace Probe" } })]);
    const before = await eventCount();

    const padded = await tokenFor(Role.ADMIN, { workspaceId: PADDED_WORKSPACE });
    const read = await postGraphQL<LogData>(server.graphqlUrl, { query: WORKSPACE_LOG }, { token: padded });
    expect(read.status).toBe(401);
    expect(errorCodes(read)).toEqual(["UNAUTHENTICATED"]);
    expect(JSON.stringify(read.body)).not.toContain(recorded);

    const paddedService = await tokenFor(Role.SERVICE, { workspaceId: PADDED_WORKSPACE });
    const events = [eventInput(AuditEventType.CUSTOMER, "customer.created", { customer: { id: "cu-ws", name: "Renamed by a probe" } })];
    const write = await postGraphQL(server.graphqlUrl, { query: RECORD_EVENTS, variables: { events } }, { token: paddedService });
    expect(write.status).toBe(401);
    expect(errorCodes(write)).toEqual(["UNAUTHENTICATED"]);
    expect(await eventCount()).toBe(before);
    expect(await dataSource.query(`SELECT workspace_id, name FROM customers WHERE id = 'cu-ws'`)).toEqual([
      { workspace_id: WORKSPACE, name: "Workspace Probe" },
    ]);
  });

  it("keeps customers 'cu-1' and 'cu-1 ' apart: two names, two logs", async () => {
    const [first] = await record([eventInput(AuditEventType.CUSTOMER, "customer.created", { customer: { id: "cu-1", name: "Padding Zoë" } })]);
    const [second] = await record([eventInput(AuditEventType.CUSTOMER, "customer.created", { customer: { id: "cu-1 ", name: "Padding Yann" } })]);

    const picker = await postGraphQL<{ customers: { id: string; name: string }[] }>(
      server.graphqlUrl,
      { query: CUSTOMER_PICKER, variables: { text: "Padding" } },
      { token: admin },
    );
    expect(picker.body.data?.customers).toEqual([
      { id: "cu-1 ", name: "Padding Yann" },
      { id: "cu-1", name: "Padding Zoë" },
    ]);
    expect(await logOf(CUSTOMER_LOG, { customerId: "cu-1" })).toEqual([first]);
    expect(await logOf(CUSTOMER_LOG, { customerId: "cu-1 " })).toEqual([second]);
  });

  it("does not show conversation 'c-1''s events in the log of 'c-1 '", async () => {
    const conversationEvent = (id: string) =>
      eventInput(AuditEventType.CONVERSATION, "conversation.status_changed", {
        conversation: { id, subject: "Padded subject" },
        customer: { id: "cu-conv", name: "Conversation Customer" },
      });
    const [onC1] = await record([conversationEvent("c-1")]);

    const unknown = await postGraphQL(server.graphqlUrl, { query: CONVERSATION_LOG, variables: { conversationId: "c-1 " } }, { token: admin });
    expect(errorCodes(unknown)).toEqual(["NOT_FOUND"]);
    expect(JSON.stringify(unknown.body)).not.toContain(onC1);

    const [onPadded] = await record([conversationEvent("c-1 ")]);
    expect(await logOf(CONVERSATION_LOG, { conversationId: "c-1 " })).toEqual([onPadded]);
    expect(await logOf(CONVERSATION_LOG, { conversationId: "c-1" })).toEqual([onC1]);
  });

  it("treats idempotency keys 'k' and 'k ' as different keys", async () => {
    const input = eventInput(AuditEventType.CUSTOMER, "customer.updated", { idempotencyKey: "k", customer: { id: "cu-k", name: "Key Holder" } });
    const [first] = await record([input]);
    const response = await postGraphQL<RecordData>(
      server.graphqlUrl,
      { query: RECORD_EVENTS, variables: { events: [{ ...input, idempotencyKey: "k " }, { ...input, idempotencyKey: "k  ", changes: [] }] } },
      { token: service },
    );
    expect(response.body.errors).toBeUndefined();
    const { duplicates, events } = response.body.data!.recordAuditEvents;
    expect(duplicates).toBe(0);
    expect(new Set([first, ...events.map((event) => event.id)]).size).toBe(3);
    const keys: { idempotency_key: string }[] = await dataSource.query(
      `SELECT idempotency_key FROM audit_events WHERE workspace_id = ? AND idempotency_key LIKE 'k%' ORDER BY LENGTH(idempotency_key)`,
      [WORKSPACE],
    );
    expect(keys.map((row) => row.idempotency_key)).toEqual(["k", "k ", "k  "]);
  });
});
