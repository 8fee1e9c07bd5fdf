import { useTestDatabase } from "./support/database";
import { EVENT_FIELDS, RECORD_EVENTS, SCREEN_EVENT_FRAGMENT } from "./support/events";
import { customerUpdate, fixtureInputs, minutes } from "./support/log-fixture";
import { postGraphQL, useTestServer } from "./support/server";
import { statementsDuring } from "./support/statements";
import { OTHER_WORKSPACE, Role, tokenFor } from "./support/tokens";
import { connectedClient, until } from "./support/live";

/**
 * A log's page carries the names a log screen shows: who acted, by their
 * current name, the conversation's subject and its customer, the customer of
 * the event, the user the action applied to. They come with the page's one
 * statement, from the entries this instance keeps for the version of the
 * directory that statement reads, or from one more statement for those it
 * does not keep: as the directory holds them at that moment.
 */

const NODE = `node { ${EVENT_FIELDS} }`;
const WORKSPACE_LOG = `query Log($filter: AuditEventFilter, $first: Int) { log: workspaceAuditLog(filter: $filter, first: $first) { edges { ${NODE} } } }`;
const CUSTOMER_LOG = `query Log($customerId: ID!) { log: customerAuditLog(customerId: $customerId, first: 200) { edges { ${NODE} } } }`;
const CONVERSATION_LOG = `query Log($conversationId: ID!) { log: conversationAuditLog(conversationId: $conversationId, first: 200) { edges { ${NODE} } } }`;
const WORKSPACE_TAIL = `subscription Tail { tail: workspaceAuditEvents { ${NODE} } }`;

const screenPage = (more = "") => `query Screen($first: Int) { log: workspaceAuditLog(first: $first) { edges { node { ...UiEvent ${more} } } } }\n${SCREEN_EVENT_FRAGMENT}`;
/** The parts a screen leaves out, asked for the way a client might: through a named fragment inside an inline one, and under an alias. */
const PARTS_FRAGMENT = `fragment Parts on AuditEvent {
  when: recordedAt metadata actor { user { email } }
  ... on AuthorizationEvent { subjectUser { name email } }
}`;

type Node = Record<string, unknown> & { id: string };
interface LogData {
  log: { edges: { node: Node }[] };
}

/** Later events that rename a user, a customer, a conversation and a subject user. */
function renames(): Record<string, unknown>[] {
  return [
    {
      idempotencyKey: "rename-ana",
      type: "AUTHORIZATION",
      action: "authorization.login_succeeded",
      occurredAt: minutes(100),
      actor: { kind: "USER", id: "u-ana", name: "Ana Diaz-Ruiz" },
    },
    customerUpdate("rename-zoe", 101, { id: "cu-zoe", name: "Zoë Park-Lee" }),
    {
      idempotencyKey: "rename-c-1",
      type: "CONVERSATION",
      action: "conversation.updated",
      occurredAt: minutes(102),
      actor: { kind: "SYSTEM", id: null, name: "Platform" },
      conversation: { id: "c-1", subject: "Refund request #42" },
    },
    {
      idempotencyKey: "rename-ben",
      type: "AUTHORIZATION",
      action: "authorization.role_changed",
      occurredAt: minutes(103),
      actor: { kind: "SYSTEM", id: null, name: "Platform" },
      subjectUser: { id: "u-ben", name: "Benjamin Ode", email: "benjamin@example.com" },
    },
  ];
}

describe("the names a log's page shows", () => {
  const dataSource = useTestDatabase();
  const server = useTestServer();
  /** Another instance of the service on the same database. */
  const other = useTestServer();
  let admin: string;
  let service: string;
  /** The fixture's events as the workspace tail delivered them, resolved through the directory's loaders. */
  let delivered: Map<string, Node>;
  const tails = () => server.services.liveTail.activeSubscriptions;

  const page = async (source: string, variables: Record<string, unknown>, url = server.graphqlUrl): Promise<Node[]> => {
    const response = await postGraphQL<LogData>(url, { query: source, variables }, { token: admin });
    expect(response.body.errors).toBeUndefined();
    return response.body.data!.log.edges.map((edge) => edge.node);
  };
  const record = async (events: unknown[], token = service, url = server.graphqlUrl) => {
    const response = await postGraphQL(url, { query: RECORD_EVENTS, variables: { events } }, { token });
    expect(response.body.errors).toBeUndefined();
  };

  beforeAll(async () => {
    admin = await tokenFor(Role.ADMIN, { userId: "u-ana" });
    service = await tokenFor(Role.SERVICE);
    const inputs = fixtureInputs();
    const ws = await connectedClient(server.wsUrl, admin);
    try {
      const tail = ws.subscribe<{ tail: { node: Node } }>({ query: WORKSPACE_TAIL });
      await until(() => tails() === 1, 5_000, "the tail to start");
      await record(inputs);
      delivered = new Map();
      while (delivered.size < inputs.length) {
        const result = await tail.next(10_000);
        expect(result.errors).toBeUndefined();
        delivered.set(result.data!.tail.node.id, result.data!.tail.node);
      }
      tail.unsubscribe();
    } finally {
      await ws.dispose();
    }
    // The same ids name other people and things in another workspace: none of that may show.
    const elsewhere = JSON.parse(JSON.stringify(fixtureInputs()).replace(/Ana Diaz/g, "Ana Elsewhere").replace(/Zoë Park/g, "Zoë Elsewhere"));
    await record(elsewhere, await tokenFor(Role.SERVICE, { workspaceId: OTHER_WORKSPACE }));
  });

  it("are the names the live tail resolves through the directory, field by field", async () => {
    const nodes = await page(WORKSPACE_LOG, { first: 200 });
    expect(nodes).toHaveLength(delivered.size);
    for (const node of nodes) expect(node).toEqual(delivered.get(node.id));
    const named = nodes.filter((node) => (node.actor as { user: unknown }).user !== null);
    expect(named.length).toBeGreaterThan(0);
    expect(JSON.stringify(nodes)).not.toMatch(/Elsewhere/);
  });

  it.each([
    ["the workspace log", WORKSPACE_LOG, { first: 200 }, 1],
    ["the workspace log of a user", WORKSPACE_LOG, { first: 200, filter: { allEvents: { userId: "u-ben" } } }, 1],
    ["the workspace log of a customer name (after the customers it covers)", WORKSPACE_LOG, { first: 200, filter: { customer: { customerName: "zoë park" } } }, 2],
    ["a customer's log", CUSTOMER_LOG, { customerId: "cu-zoe" }, 1],
    ["a conversation's log", CONVERSATION_LOG, { conversationId: "c-1" }, 1],
  ])("come with the page's own statement alone once kept, whatever its events mention: %s", async (_name, source, variables, expectedStatements) => {
    let nodes: Node[] = [];
    const statements = await statementsDuring(dataSource, async () => {
      nodes = await page(source, variables);
    });
    expect(nodes.length).toBeGreaterThan(1);
    expect(statements).toHaveLength(expectedStatements);
    expect(statements[statements.length - 1]).toMatch(/audit_events AS e\b/);
    for (const node of nodes) expect(node).toEqual(delivered.get(node.id));
  });

  it("are read with only what the operation can show: a screen's page reads no recorded time, metadata, email or subject user", async () => {
    let screen: Node[] = [];
    const [statement] = await statementsDuring(dataSource, async () => {
      screen = await page(screenPage(), { first: 200 });
    });
    expect(statement).not.toMatch(/\b(e\.recorded_at|e\.metadata|actor_user\.email|subject_user)\b/);
    // Nor is a left-out column sent back as NULL, nor the workspace the page was asked for, nor the idempotency key no field shows.
    const selectList = statement.slice(statement.indexOf("SELECT "), statement.indexOf(" FROM "));
    expect(selectList).not.toMatch(/\bNULL\b|workspace_id|idempotency_key/);
    expect(screen).toHaveLength(delivered.size);
    // Each field the screen shows is what a page that reads every part shows (where a customer event's customer is `customerOfEvent`).
    const full = new Map((await page(WORKSPACE_LOG, { first: 200 })).map((node) => [node.id, node]));
    const shownAs = (shape: unknown, from: unknown): unknown => {
      if (Array.isArray(shape)) return shape.map((item, index) => shownAs(item, (from as unknown[])[index]));
      if (shape === null || typeof shape !== "object" || from === null) return from;
      const source = from as Record<string, unknown>;
      return Object.fromEntries(Object.entries(shape).map(([key, value]) => [key, shownAs(value, key === "customer" && source.type === "CUSTOMER" ? source.customerOfEvent : source[key])]));
    };
    for (const node of screen) expect(node).toEqual(shownAs(node, full.get(node.id)));
  });

  it("read a part the operation asks for wherever it asks, through fragments and aliases", async () => {
    let nodes: Node[] = [];
    const statements = await statementsDuring(dataSource, async () => {
      nodes = await page(`${screenPage("... on AuditEvent { ...Parts }")}\n${PARTS_FRAGMENT}`, { first: 200 });
    });
    // The rows the screen's pages kept carry every part: the page reads the keys of its events alone.
    expect(statements).toEqual([expect.stringMatching(/SELECT e\.seq, e\.id, e\.occurred_at, \(SELECT last_seq FROM workspaces/)]);
    // Emails and the users actions applied to come from the directory's entries, as every name does: their values below.
    expect(statements[0]).not.toMatch(/\bJOIN\b/);
    expect(nodes).toHaveLength(delivered.size);
    for (const node of nodes) {
      const whole = delivered.get(node.id)!;
      expect(node.when).toBe(whole.recordedAt);
      expect(node.metadata).toEqual(whole.metadata);
      expect((node.actor as { user: { email: unknown } | null }).user?.email).toEqual((whole.actor as { user: { email: unknown } | null }).user?.email);
      if (whole.type === "AUTHORIZATION") expect(node.subjectUser).toEqual(whole.subjectUser && { name: (whole.subjectUser as { name: string }).name, email: (whole.subjectUser as { email: string }).email });
    }
    expect(nodes.some((node) => (node.actor as { user: { email: unknown } | null }).user?.email)).toBe(true);
    expect(nodes.some((node) => node.type === "AUTHORIZATION" && node.subjectUser)).toBe(true);
  });

  it("follow a rename recorded through another instance on the next page this one reads", async () => {
    const before = await page(WORKSPACE_LOG, { first: 200 });
    await record(renames(), service, other.graphqlUrl);
    const after = new Map((await page(WORKSPACE_LOG, { first: 200 })).map((node) => [node.id, node]));
    const json = (value: unknown) => JSON.stringify(value);
    let anaActs = 0;
    for (const old of before) {
      const node = after.get(old.id)!;
      const actor = node.actor as { id: string | null; name: string; user: { name: string } | null };
      // The name recorded on the event stays; the user's current name follows the directory.
      expect(actor.name).toBe((old.actor as { name: string }).name);
      if (actor.id === "u-ana" && actor.user) {
        anaActs += 1;
        expect(actor.user.name).toBe("Ana Diaz-Ruiz");
      }
      const conversation = node.conversation as { id: string; subject: string | null; customer: { id: string; name: string } | null } | undefined;
      if (conversation?.id === "c-1") expect(conversation.subject).toBe("Refund request #42");
      if (conversation?.customer?.id === "cu-zoe") expect(conversation.customer.name).toBe("Zoë Park-Lee");
      const customer = (node.customer ?? node.customerOfEvent) as { id: string; name: string } | null | undefined;
      if (customer?.id === "cu-zoe") expect(customer.name).toBe("Zoë Park-Lee");
      const subjectUser = node.subjectUser as { id: string; name: string } | null | undefined;
      if (subjectUser?.id === "u-ben") expect(subjectUser.name).toBe("Benjamin Ode");
    }
    expect(anaActs).toBeGreaterThan(5);
    expect(json([...after.values()])).toMatch(/Refund request #42/);
    expect(json([...after.values()])).not.toMatch(/"name":"Zoë Park"/);
    // The instance that recorded the renames reads the same page.
    expect(await page(WORKSPACE_LOG, { first: 200 }, other.graphqlUrl)).toEqual([...after.values()]);
  });

  it("follow a rename recorded through this instance on its next page, and come from memory while no event is recorded", async () => {
    const customerOf = (nodes: Node[]) => nodes.map((node) => (node.customer ?? node.customerOfEvent) as { id: string; name: string } | null | undefined).find((customer) => customer?.id === "cu-zoe");
    const statementsOf = async () => {
      let nodes: Node[] = [];
      const statements = await statementsDuring(dataSource, async () => {
        nodes = await page(WORKSPACE_LOG, { first: 200 });
      });
      return { nodes, statements: statements.length };
    };
    await statementsOf();
    // Kept: the page's statement alone.
    const kept = await statementsOf();
    expect(kept.statements).toBe(1);
    expect(customerOf(kept.nodes)?.name).toBe("Zoë Park-Lee");
    await record([customerUpdate("rename-zoe-again", 110, { id: "cu-zoe", name: "Zoë Lee" })]);
    const renamed = await statementsOf();
    // Every place the customer shows, with its current name (a description keeps the name it was recorded with).
    const shown = JSON.stringify(renamed.nodes).match(/\{"id":"cu-zoe","name":"[^"]*"\}/g) ?? [];
    expect(shown.length).toBeGreaterThan(5);
    expect(new Set(shown)).toEqual(new Set(['{"id":"cu-zoe","name":"Zoë Lee"}']));
    // The page's keys, the new event's row, the renamed customer's entry.
    expect(renamed.statements).toBe(3);
    expect((await statementsOf()).statements).toBe(1);
  });

  describe("a page filtered by a customer's name", () => {
    const NAMED_LOG = `query Log($filter: AuditEventFilter, $range: DateRange) { log: workspaceAuditLog(filter: $filter, range: $range, first: 200) { edges { node { id ... on CustomerEvent { customer { id name } } } } } }`;
    const customerEvent = (key: string, minute: number, customer: { id: string; name: string }) => customerUpdate(`named-${key}`, minute, customer);
    /** The page's events' customers, and the statements this instance sent for it: name lookups and page reads. */
    const namedPage = async (name: string, range?: { from: string }) => {
      let nodes: Node[] = [];
      const statements = await statementsDuring(dataSource, async () => {
        nodes = await page(NAMED_LOG, { filter: { customer: { customerName: name } }, range });
      });
      return {
        customers: nodes.map((node) => (node.customer as { id: string }).id),
        statements: statements
          // A read of the directory's entries the page shows (`AS kind`), or of events' rows not kept (by seq), is neither a name's lookup nor a page.
          .filter((sql) => /\bFROM customers WHERE\b|\baudit_events AS e\b/.test(sql) && !/\bAS kind\b|\be\.seq IN\b/.test(sql))
          .map((sql) => (/\baudit_events AS e\b/.test(sql) ? "page" : "lookup")),
      };
    };

    it("asks the name once, then tests what it recalls in the page's own statement, and follows renames on either instance", async () => {
      await record([customerEvent("nia-1", 200, { id: "cu-nia", name: "Nia Holt" }), customerEvent("nia-2", 201, { id: "cu-nia", name: "Nia Holt" })]);
      // First read: the name is asked, then the page is read.
      expect(await namedPage("nia holt")).toEqual({ customers: ["cu-nia", "cu-nia"], statements: ["lookup", "page"] });
      // Then recalled: one statement, which tests the recalled customers with its rows.
      const [statement] = await statementsDuring(dataSource, async () => {
        expect(await namedPage("nia holt")).toEqual({ customers: ["cu-nia", "cu-nia"], statements: ["page"] });
      });
      expect(statement).toMatch(/\bFROM customers AS named\b/);
      // Another spelling is another question: asked, then recalled.
      expect(await namedPage("NIA HOLT")).toEqual({ customers: ["cu-nia", "cu-nia"], statements: ["lookup", "page"] });

      // Renamed through the other instance, and another customer given the name (in other case): the recalled customer no longer holds.
      await record([customerEvent("nia-3", 202, { id: "cu-nia", name: "Nia Quinn" }), customerEvent("noa-1", 203, { id: "cu-noa", name: "NIA HOLT" })], service, other.graphqlUrl);
      expect(await namedPage("nia holt")).toEqual({ customers: ["cu-noa"], statements: ["page", "lookup", "page"] });
      expect(await namedPage("nia holt")).toEqual({ customers: ["cu-noa"], statements: ["page"] });

      // Renamed through this instance: the name covers no one, and an empty answer is not remembered.
      await record([customerEvent("noa-2", 204, { id: "cu-noa", name: "Noa Berg" })]);
      expect(await namedPage("nia holt")).toEqual({ customers: [], statements: ["page", "lookup"] });
      expect(await namedPage("nia holt")).toEqual({ customers: [], statements: ["lookup"] });
      expect(await namedPage("nia quinn")).toEqual({ customers: ["cu-nia", "cu-nia", "cu-nia"], statements: ["lookup", "page"] });

      // One more customer given the name, the recalled one keeping it: the recalled customers no longer hold either.
      await record([customerEvent("ned-1", 205, { id: "cu-ned", name: "Nia Quinn" })], service, other.graphqlUrl);
      expect(await namedPage("nia quinn")).toEqual({ customers: ["cu-ned", "cu-nia", "cu-nia", "cu-nia"], statements: ["page", "lookup", "page"] });

      // A recalled name whose page is empty cannot tell from its rows: it asks, and reads again only if the answer differs.
      expect(await namedPage("nia quinn", { from: minutes(10_000) })).toEqual({ customers: [], statements: ["page", "lookup"] });
      await record([customerEvent("nia-4", 206, { id: "cu-nia", name: "Nia Holt" }), customerEvent("ivo-1", 207, { id: "cu-ivo-2", name: "Nia Quinn" })], service, other.graphqlUrl);
      expect(await namedPage("nia quinn", { from: minutes(207) })).toEqual({ customers: ["cu-ivo-2"], statements: ["page", "lookup", "page"] });
    });
  });

  it("fall back to what the event recorded where the directory has no entry", async () => {
    await dataSource.query(`DELETE FROM customers WHERE workspace_id = 'ws-test' AND id = 'cu-ivo'`);
    await dataSource.query(`DELETE FROM conversations WHERE workspace_id = 'ws-test' AND id = 'c-2'`);
    const nodes = await page(CONVERSATION_LOG, { conversationId: "c-2" });
    const created = nodes.find((node) => node.action === "conversation.created")!;
    // The conversation as recorded, its customer the event's, whom the directory no longer knows; the customer as recorded.
    expect(created.conversation).toEqual({ id: "c-2", subject: "Broken zipper", customer: null });
    expect(created.customer).toEqual({ id: "cu-ivo", name: "Ivo Lind" });
  });
});
