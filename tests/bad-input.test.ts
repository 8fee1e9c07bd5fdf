import { MAX_DOCUMENT_DEPTH } from "../src/common/document-limits";
import { AuditEventType } from "../src/events/audit-event.enums";
import type { JsonValue } from "../src/events/audit-event.record";
import { LIMITS } from "../src/events/audit-event.validation";
import { useTestDatabase } from "./support/database";
import { AUDIT_EVENT, eventInput, EventInput, RECORD_EVENTS } from "./support/events";
import { CONVERSATION_TAIL, until, WORKSPACE_TAIL } from "./support/live";
import { errorCodes, GraphQLResponse, postGraphQL, useTestServer } from "./support/server";
import { Role, tokenFor } from "./support/tokens";
import { QueuedSocket } from "./support/ws-client";

/** A string holding a UTF-16 surrogate without its pair: not Unicode, and not storable as it is. */
const LONE = "\ud83d";
const conversationEvent = (overrides: EventInput = {}) => eventInput(AuditEventType.CONVERSATION, "conversation.status_changed", overrides);
/** `{ "a": { "a": ... 1 } }` with `levels` objects. */
const nested = (levels: number): EventInput => {
  let value: EventInput = { a: 1 };
  for (let level = 1; level < levels; level++) value = { a: value };
  return value;
};
/** `[[ ... ["deep"] ... ]]` with `levels` arrays. */
const nestedList = (levels: number): JsonValue => {
  let value: JsonValue = ["deep"];
  for (let level = 1; level < levels; level++) value = [value];
  return value;
};

const WORKSPACE_LOG = `query($search: String, $filter: AuditEventFilter, $after: String) {
  workspaceAuditLog(search: $search, filter: $filter, after: $after) { edges { node { id } } } }`;
const CUSTOMER_LOG = `query($id: ID!, $userId: ID) { customerAuditLog(customerId: $id, userId: $userId) { edges { node { id } } } }`;
const CONVERSATION_LOG = `query($id: ID!, $userId: ID) { conversationAuditLog(conversationId: $id, userId: $userId) { edges { node { id } } } }`;
const CUSTOMERS = `query($text: String!) { customers(nameContains: $text) { id } }`;
const USERS = `query($text: String) { users(search: $text) { id } }`;

describe("bad input is refused with a clear code, never as an internal error", () => {
  const dataSource = useTestDatabase();
  const server = useTestServer();
  let admin: string;
  let service: string;

  beforeAll(async () => {
    admin = await tokenFor(Role.ADMIN, { userId: "u-ana" });
    service = await tokenFor(Role.SERVICE);
  });

  /** No request of a test may have been logged as unexpected. */
  let logsBefore = 0;
  beforeEach(() => {
    logsBefore = server.logs.length;
  });
  afterEach(() => {
    expect(server.logs.slice(logsBefore).filter((line) => String(line.msg).startsWith("unexpected"))).toEqual([]);
  });

  const record = (events: unknown[]) => postGraphQL(server.graphqlUrl, { query: RECORD_EVENTS, variables: { events } }, { token: service });
  const query = (text: string, variables: Record<string, unknown> = {}, token = admin) => postGraphQL(server.graphqlUrl, { query: text, variables }, { token });
  /** Everything a recording call writes: events, the directory and the workspace's seqs. */
  const written = async () => {
    const [row] = await dataSource.query(
      `SELECT (SELECT COUNT(*) FROM audit_events) AS events, (SELECT COUNT(*) FROM users) AS users,
         (SELECT COUNT(*) FROM customers) AS customers, (SELECT COUNT(*) FROM conversations) AS conversations,
         (SELECT COALESCE(MAX(last_seq), 0) FROM workspaces) AS seqs`,
    );
    return Object.fromEntries(Object.entries(row as Record<string, unknown>).map(([key, value]) => [key, Number(value)]));
  };
  /** The one error of a response: its code and its listed problems. */
  const refusal = (response: GraphQLResponse<unknown>) => {
    expect(response.body.errors).toHaveLength(1);
    const [error] = response.body.errors!;
    return { code: error.extensions?.code, message: error.message, invalid: error.extensions?.invalid };
  };
  /** Sends events that must be refused, and checks that nothing of the call was written. */
  const refuseRecording = async (events: unknown[]) => {
    const before = await written();
    const response = await record(events);
    expect(await written()).toEqual(before);
    return refusal(response);
  };

  describe("idempotency keys that the database may compare as equal", () => {
    let engine: "MariaDB" | "MySQL";
    beforeAll(async () => {
      const [{ version }]: { version: string }[] = await dataSource.query(`SELECT VERSION() AS version`);
      engine = /mariadb/i.test(version) ? "MariaDB" : "MySQL";
    });
    /** Sets how the idempotency-key column compares: ignoring trailing spaces (PAD SPACE) or byte for byte. */
    const compareKeys = (how: "ignoring trailing spaces" | "byte for byte") => {
      const collation = how === "ignoring trailing spaces" ? "utf8mb4_bin" : engine === "MariaDB" ? "utf8mb4_nopad_bin" : "utf8mb4_0900_bin";
      return dataSource.query(`ALTER TABLE audit_events MODIFY idempotency_key VARCHAR(255) CHARACTER SET utf8mb4 COLLATE ${collation} NOT NULL`);
    };
    const storedKeys = async (prefix: string): Promise<string[]> =>
      (await dataSource.query(`SELECT idempotency_key AS k FROM audit_events WHERE idempotency_key LIKE ? ORDER BY seq`, [`${prefix}%`])).map(
        (row: { k: string }) => row.k,
      );

    describe("under a collation that ignores trailing spaces", () => {
      beforeAll(() => compareKeys("ignoring trailing spaces"));

      it("refuses a key that differs from a stored one only by trailing spaces as CONFLICT, with other content", async () => {
        expect(errorCodes(await record([conversationEvent({ idempotencyKey: "pad-1" })]))).toEqual([]);
        const answer = await refuseRecording([conversationEvent({ idempotencyKey: "pad-1 ", metadata: { other: true } })]);
        expect(answer).toMatchObject({ code: "CONFLICT", message: expect.stringContaining("event 0") });
        expect(await storedKeys("pad-1")).toEqual(["pad-1"]);
      });

      it("refuses it as CONFLICT with the same content too: the stored event has another key", async () => {
        const input = conversationEvent({ idempotencyKey: "pad-2" });
        expect(errorCodes(await record([input]))).toEqual([]);
        const answer = await refuseRecording([conversationEvent({ idempotencyKey: "ok-2" }), { ...input, idempotencyKey: "pad-2  " }]);
        expect(answer).toMatchObject({ code: "CONFLICT", message: expect.stringContaining("event 1") });
        expect(await storedKeys("pad-2")).toEqual(["pad-2"]);
      });

      it("refuses two new keys of one call that the database takes for one as CONFLICT", async () => {
        const answer = await refuseRecording([conversationEvent({ idempotencyKey: "pad-3" }), conversationEvent({ idempotencyKey: "pad-3 " })]);
        expect(answer.code).toBe("CONFLICT");
        expect(await storedKeys("pad-3")).toEqual([]);
      });
    });

    describe("under a collation that compares byte for byte", () => {
      beforeAll(() => compareKeys("byte for byte"));

      it("stores a key that differs from a stored one by trailing spaces as a new event under its own key", async () => {
        expect(errorCodes(await record([conversationEvent({ idempotencyKey: "nopad-1" })]))).toEqual([]);
        const response = await record([conversationEvent({ idempotencyKey: "nopad-1 ", metadata: { other: true } })]);
        expect(errorCodes(response)).toEqual([]);
        expect(await storedKeys("nopad-1")).toEqual(["nopad-1", "nopad-1 "]);
      });

      it("stores two keys of one call that differ by trailing spaces as two events", async () => {
        const response = await record([conversationEvent({ idempotencyKey: "nopad-2" }), conversationEvent({ idempotencyKey: "nopad-2 " })]);
        expect(errorCodes(response)).toEqual([]);
        expect(await storedKeys("nopad-2")).toEqual(["nopad-2", "nopad-2 "]);
      });
    });
  });

  describe("JSON nested too deep", () => {
    const maxDepth = LIMITS.jsonDepth;

    it.each([
      ["metadata nested 32 levels", { metadata: nested(32) }, "metadata"],
      ["a changed value nested 40 lists deep", { changes: [{ field: "tags", before: null, after: nestedList(40) }] }, "changes.0.after"],
      [`metadata one level over the limit`, { metadata: nested(maxDepth + 1) }, "metadata"],
    ])("refuses %s as BAD_USER_INPUT naming the path, and writes nothing", async (_name, overrides, path) => {
      const answer = await refuseRecording([conversationEvent(), conversationEvent(overrides as EventInput)]);
      expect(answer.code).toBe("BAD_USER_INPUT");
      expect(answer.invalid).toEqual([{ index: 1, path, message: expect.stringContaining(`${maxDepth} levels`) }]);
    });

    it("refuses metadata nested 10,000 levels as BAD_USER_INPUT naming the path, and writes nothing", async () => {
      // Too deep for JSON.stringify: the request's text is written by hand.
      const marker = `"deep metadata"`;
      const body = JSON.stringify({ query: RECORD_EVENTS, variables: { events: [conversationEvent({ metadata: "deep metadata" })] } });
      const deep = `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`;
      const before = await written();
      const response = await fetch(server.graphqlUrl, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${service}` },
        body: body.replace(marker, deep),
      });
      const { errors } = (await response.json()) as GraphQLResponse["body"];
      expect(errors).toEqual([
        expect.objectContaining({
          extensions: { code: "BAD_USER_INPUT", invalid: [{ index: 0, path: "metadata", message: expect.stringContaining(`${maxDepth} levels`) }] },
        }),
      ]);
      expect(await written()).toEqual(before);
    });

    it(`records JSON nested ${maxDepth} levels as it came`, async () => {
      const input = conversationEvent({ metadata: nested(maxDepth), changes: [{ field: "tags", before: nestedList(maxDepth), after: null }] });
      const response = await record([input]);
      expect(errorCodes(response)).toEqual([]);
      const { id } = (response.body.data as { recordAuditEvents: { events: { id: string }[] } }).recordAuditEvents.events[0];
      const event = await query(AUDIT_EVENT, { id });
      expect(event.body.data).toMatchObject({ auditEvent: { metadata: input.metadata, changes: input.changes } });
    });
  });

  describe("strings that are not well-formed Unicode", () => {
    it.each([
      ["an idempotency key", { idempotencyKey: `key-${LONE}` }, "idempotencyKey"],
      ["an action", { action: `conversation.${LONE}` }, "action"],
      ["an actor name", { actor: { kind: "USER", id: "u-ana", name: `Ana ${LONE}` } }, "actor.name"],
      ["an actor id", { actor: { kind: "USER", id: `u-${LONE}`, name: "Ana" } }, "actor.id"],
      ["a customer name", { customer: { id: "cu-1", name: `Zoë ${LONE}` } }, "customer.name"],
      ["a conversation subject", { conversation: { id: "c-1", subject: `Refund ${LONE}` } }, "conversation.subject"],
      ["a source's user agent", { source: { userAgent: `agent/${LONE}` } }, "source.userAgent"],
      ["a changed field's name", { changes: [{ field: `status${LONE}`, before: 1, after: 2 }] }, "changes.0.field"],
      ["a changed value", { changes: [{ field: "tags", before: null, after: ["ok", `bad ${LONE}`] }] }, "changes.0.after.1"],
      ["a metadata value", { metadata: { note: `half an emoji: ${LONE}` } }, "metadata.note"],
      ["a metadata key", { metadata: { inner: { [`key${LONE}`]: 1 } } }, "metadata.inner"],
    ])("refuses them in %s as BAD_USER_INPUT naming the path, and writes nothing", async (_name, overrides, path) => {
      const answer = await refuseRecording([conversationEvent(overrides as EventInput)]);
      expect(answer.code).toBe("BAD_USER_INPUT");
      expect(answer.invalid).toContainEqual({ index: 0, path, message: expect.stringContaining("Unicode") });
    });

    it("accepts whole surrogate pairs (emoji) and stores them as sent", async () => {
      const input = conversationEvent({ actor: { kind: "USER", id: "u-😀", name: "Ana 😀" }, metadata: { "😀": "😀" } });
      const response = await record([input]);
      expect(errorCodes(response)).toEqual([]);
      const { id } = (response.body.data as { recordAuditEvents: { events: { id: string }[] } }).recordAuditEvents.events[0];
      expect((await query(AUDIT_EVENT, { id })).body.data).toMatchObject({ auditEvent: { actor: { id: "u-😀", name: "Ana 😀" }, metadata: { "😀": "😀" } } });
    });

    it.each([
      ["search text", WORKSPACE_LOG, { search: `refund ${LONE}` }, "search"],
      ["a filter's user id", WORKSPACE_LOG, { filter: { allEvents: { userId: `u-${LONE}` } } }, "filter.allEvents.userId"],
      ["a filter's customer name", WORKSPACE_LOG, { filter: { customer: { customerName: `Zoë${LONE}` } } }, "filter.customer.customerName"],
      ["a filter's conversation id", WORKSPACE_LOG, { filter: { conversation: { conversationId: `c-${LONE}` } } }, "filter.conversation.conversationId"],
      ["a cursor", WORKSPACE_LOG, { after: `${LONE}.${LONE}` }, "after"],
      ["an event id", AUDIT_EVENT, { id: `id-${LONE}` }, "id"],
      ["a customer id", CUSTOMER_LOG, { id: `cu-${LONE}` }, "customerId"],
      ["a conversation id", CONVERSATION_LOG, { id: `c-${LONE}` }, "conversationId"],
      ["a log's user id", CONVERSATION_LOG, { id: "c-1", userId: `u-${LONE}` }, "userId"],
      ["a customer picker's text", CUSTOMERS, { text: `Zo${LONE}` }, "nameContains"],
      ["a user picker's text", USERS, { text: `An${LONE}` }, "search"],
    ])("refuses them in %s of a query as BAD_USER_INPUT naming the argument", async (_name, text, variables, path) => {
      const answer = refusal(await query(text, variables));
      expect(answer.code).toBe("BAD_USER_INPUT");
      expect(answer.invalid).toEqual([{ path, message: expect.stringContaining("Unicode") }]);
    });

    it("refuses them in a subscription's arguments over WebSocket", async () => {
      const socket = await openSocket(server.wsUrl, admin);
      try {
        socket.send({ id: "1", type: "subscribe", payload: { query: CONVERSATION_TAIL, variables: { conversationId: `c-${LONE}` } } });
        expect(await socket.next()).toMatchObject({
          id: "1",
          type: "next",
          payload: { errors: [{ extensions: { code: "BAD_USER_INPUT", invalid: [{ path: "conversationId", message: expect.stringContaining("Unicode") }] } }] },
        });
        expect(await socket.next()).toMatchObject({ id: "1", type: "complete" });
      } finally {
        socket.close();
      }
    });
  });

  describe("ids that cannot exist", () => {
    it.each([
      ["an event id with a letter outside ASCII", AUDIT_EVENT, { id: "é" }],
      ["an event id that is an emoji", AUDIT_EVENT, { id: "😀" }],
      ["an event id of 10,000 characters", AUDIT_EVENT, { id: "0".repeat(10_000) }],
      ["a customer id with a letter outside ASCII", CUSTOMER_LOG, { id: "é" }],
      ["a conversation id with a letter outside ASCII", CONVERSATION_LOG, { id: "é" }],
    ])("answers %s with NOT_FOUND", async (_name, text, variables) => {
      expect(errorCodes(await query(text, variables))).toEqual(["NOT_FOUND"]);
    });

    it("answers an event id written inline with a letter outside ASCII with NOT_FOUND", async () => {
      expect(errorCodes(await query(`{ auditEvent(id: "é") { id } }`))).toEqual(["NOT_FOUND"]);
    });

    it("refuses a cursor with a letter outside ASCII as BAD_USER_INPUT", async () => {
      expect(errorCodes(await query(WORKSPACE_LOG, { after: "é.é" }))).toEqual(["BAD_USER_INPUT"]);
    });

    it.each([
      ["a conversation's tail", CONVERSATION_TAIL, { conversationId: "é" }, "NOT_FOUND"],
      ["a workspace tail filtered on such a conversation", WORKSPACE_TAIL, { filter: { conversation: { conversationId: "é", userId: "é" } } }, null],
      ["a tail after such a cursor", CONVERSATION_TAIL, { conversationId: "c-1", after: "é" }, "BAD_USER_INPUT"],
    ])("answers %s over WebSocket with a clear code, or follows it", async (_name, text, variables, code) => {
      const tails = () => server.services.liveTail.activeSubscriptions;
      const before = tails();
      const socket = await openSocket(server.wsUrl, admin);
      try {
        socket.send({ id: "tail", type: "subscribe", payload: { query: text, variables } });
        if (code) expect(await socket.next()).toMatchObject({ id: "tail", type: "next", payload: { errors: [{ extensions: { code } }] } });
        else await until(() => tails() > before, 5_000, "the tail to start");
      } finally {
        socket.close();
      }
      await until(() => tails() === before, 5_000, "the tail to end");
    });

    it.each([
      ["a conversation filter", { filter: { conversation: { conversationId: "é", userId: "é" } } }],
      ["a user filter", { filter: { allEvents: { userId: "é" } } }],
      ["a customer name filter", { filter: { customer: { customerName: "é" } } }],
    ])("gives an empty page for %s naming such ids", async (_name, variables) => {
      const response = await query(WORKSPACE_LOG, variables);
      expect(response.body.errors).toBeUndefined();
      expect(response.body.data).toEqual({ workspaceAuditLog: { edges: [] } });
    });
  });

  // Documents over the configurable limits (tokens, bytes, cost): tests/operation-limits.test.ts.
  describe("documents too deep to parse", () => {
    // Compact, so that 10,000 levels fit in one WebSocket message.
    const deepSelection = (levels: number) => `{${"a{".repeat(levels)}b${"}".repeat(levels)}}`;
    const deepList = (levels: number) => `{ auditEvent(id: ${"[".repeat(levels)}"x"${"]".repeat(levels)}) { id } }`;

    it.each([
      ["a selection nested 10,000 levels", deepSelection(10_000), "levels"],
      ["a list nested 10,000 levels", deepList(10_000), "levels"],
      [`a selection nested ${MAX_DOCUMENT_DEPTH + 1} levels`, deepSelection(MAX_DOCUMENT_DEPTH), "levels"],
    ])("refuses %s over HTTP with BAD_USER_INPUT", async (_name, document, limit) => {
      const response = await query(document);
      expect(response.status).toBe(400);
      const answer = refusal(response);
      expect(answer.code).toBe("BAD_USER_INPUT");
      expect(answer.message).toContain(limit);
    });

    it("refuses it without a token too", async () => {
      const response = await postGraphQL(server.graphqlUrl, { query: deepSelection(10_000) });
      expect(errorCodes(response)).toEqual(["BAD_USER_INPUT"]);
    });

    it.each([
      ["a selection nested 10,000 levels", deepSelection(10_000)],
      ["a list nested 10,000 levels", deepList(10_000)],
    ])("refuses %s over WebSocket with BAD_USER_INPUT and keeps the connection", async (_name, document) => {
      const socket = await openSocket(server.wsUrl, admin);
      try {
        socket.send({ id: "deep", type: "subscribe", payload: { query: document } });
        expect(await socket.next()).toMatchObject({ id: "deep", type: "error", payload: [{ extensions: { code: "BAD_USER_INPUT" } }] });
        // The connection still serves.
        socket.send({ id: "after", type: "subscribe", payload: { query: "{ viewer { userId } }" } });
        expect(await socket.next()).toMatchObject({ id: "after", type: "next", payload: { data: { viewer: { userId: "u-ana" } } } });
      } finally {
        socket.close();
      }
    });

    it("answers a syntax error over WebSocket as an error of the operation, not by closing", async () => {
      const socket = await openSocket(server.wsUrl, admin);
      try {
        socket.send({ id: "bad", type: "subscribe", payload: { query: "{ viewer { " } });
        expect(await socket.next()).toMatchObject({ id: "bad", type: "error", payload: [{ extensions: { code: "GRAPHQL_PARSE_FAILED" } }] });
      } finally {
        socket.close();
      }
    });

    it(`runs a document nested ${MAX_DOCUMENT_DEPTH} levels`, async () => {
      const ofTypes = MAX_DOCUMENT_DEPTH - 2;
      const response = await query(`{ __type(name: "AuditEvent") { ${"ofType { ".repeat(ofTypes)}name${" }".repeat(ofTypes)} } }`);
      expect(response.body.errors).toBeUndefined();
      expect(response.body.data).toEqual({ __type: { ofType: null } });
    });
  });

  describe("subscriptions over HTTP", () => {
    it("refuses them with BAD_USER_INPUT saying to use WebSocket", async () => {
      const response = await query(CONVERSATION_TAIL, { conversationId: "c-1" });
      const answer = refusal(response);
      expect(answer.code).toBe("BAD_USER_INPUT");
      expect(answer.message).toMatch(/WebSocket/);
      expect(response.status).toBe(400);
    });
  });
});

/** A graphql-transport-ws socket, acknowledged. */
async function openSocket(url: string, token: string): Promise<QueuedSocket> {
  const socket = await QueuedSocket.open(url);
  socket.send({ type: "connection_init", payload: { authorization: token } });
  expect(await socket.next()).toMatchObject({ type: "connection_ack" });
  return socket;
}
