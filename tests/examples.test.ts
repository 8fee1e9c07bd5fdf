import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Kind, OperationDefinitionNode, parse, print } from "graphql";
import { DEMO_WORKSPACE, demoEvents } from "../src/demo/demo-data";
import { seedDemo } from "../src/demo/demo-seeder";
import { EVENT_CATALOG } from "../src/events/event-catalog";
import { useTestDatabase } from "./support/database";
import { connectedClient, conversationEvent, recordOver } from "./support/live";
import { postGraphQL, useTestServer } from "./support/server";
import { Role, tokenFor } from "./support/tokens";

const EXAMPLES = path.resolve(__dirname, "..", "schema", "examples");

/** Every operation of every example file, as its own document. */
const OPERATIONS = readdirSync(EXAMPLES)
  .filter((file) => file.endsWith(".graphql"))
  .flatMap((file) =>
    parse(readFileSync(path.join(EXAMPLES, file), "utf8"))
      .definitions.filter((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION)
      .map((operation) => [`${file}: ${operation.name?.value}`, operation] as const),
  );

/** True when every root field has something: a non-empty list, a connection with edges, or an object. */
function everyRootFieldHasData(data: Record<string, unknown>): boolean {
  return Object.values(data).every((value) => {
    if (Array.isArray(value)) return value.length > 0;
    if (value && typeof value === "object" && "edges" in value) return (value as { edges: unknown[] }).edges.length > 0;
    return value !== null && value !== undefined;
  });
}

describe("schema/examples against the demo workspace", () => {
  const dataSource = useTestDatabase();
  const server = useTestServer();
  const tokens: Partial<Record<Role, string>> = {};

  beforeAll(async () => {
    await seedDemo(server.services.recorder);
    for (const role of [Role.ADMIN, Role.AGENT, Role.SERVICE]) {
      tokens[role] = await tokenFor(role, { workspaceId: DEMO_WORKSPACE, userId: role === Role.AGENT ? "u-ben" : "u-ana" });
    }
  }, 120_000);

  it("holds the demo workspace: every catalog action, 10 users, 200 customers, 1,000 conversations", async () => {
    const actions: { action: string }[] = await dataSource.query(`SELECT DISTINCT action FROM audit_events WHERE workspace_id = ?`, [DEMO_WORKSPACE]);
    const catalog = Object.values(EVENT_CATALOG).flatMap((spec) => Object.keys(spec.actions));
    expect(actions.map((row) => row.action).sort()).toEqual([...catalog].sort());
    const [counts]: Record<string, number>[] = await dataSource.query(
      `SELECT (SELECT COUNT(*) FROM customers WHERE workspace_id = ?) AS customers,
              (SELECT COUNT(*) FROM conversations WHERE workspace_id = ?) AS conversations,
              (SELECT COUNT(DISTINCT actor_id) FROM audit_events WHERE workspace_id = ? AND actor_kind = 'USER') AS users,
              (SELECT COUNT(DISTINCT actor_id) FROM audit_events WHERE workspace_id = ? AND actor_kind = 'AUTOMATION') AS automations,
              (SELECT TIMESTAMPDIFF(HOUR, MIN(occurred_at), MAX(occurred_at)) DIV 24 FROM audit_events WHERE workspace_id = ?) AS days`,
      Array(5).fill(DEMO_WORKSPACE),
    );
    expect(Object.fromEntries(Object.entries(counts).map(([key, value]) => [key, Number(value)]))).toEqual({
      customers: 200,
      conversations: 1000,
      users: 10,
      automations: 4,
      // 60 days, the last one possibly short of its 24 hours.
      days: expect.any(Number),
    });
    expect(Number(counts.days)).toBeGreaterThanOrEqual(59);
  });

  it("is deterministic: the same day gives the same events", () => {
    const end = new Date(Date.UTC(2026, 10, 20));
    expect(JSON.stringify(demoEvents(end))).toBe(JSON.stringify(demoEvents(end)));
    expect(JSON.stringify(demoEvents(end, 1))).not.toBe(JSON.stringify(demoEvents(end)));
  });

  it("has examples of each log, each filter type and the live tail", () => {
    const names = OPERATIONS.map(([name]) => name).join("\n");
    for (const expected of ["workspaceAuditLog", "customerAuditLog", "conversationAuditLog", "conversationAuditEvents", "workspaceAuditEvents"]) {
      expect(OPERATIONS.some(([, operation]) => print(operation).includes(expected))).toBe(true);
    }
    for (const filter of ["allEvents", "authorization", "billing", "conversation", "customer", "settings", "workSession"]) {
      expect(OPERATIONS.some(([, operation]) => print(operation).includes(`filter: {${filter}:`))).toBe(true);
    }
    expect(names).toContain("ConversationTail");
  });

  it.each(OPERATIONS)("%s runs without errors and returns data", async (_name, operation) => {
    const query = print(operation);
    if (operation.operation === "subscription") {
      const ws = await connectedClient(server.wsUrl, tokens[Role.ADMIN]!);
      try {
        const before = server.services.liveTail.activeSubscriptions;
        const tail = ws.subscribe<Record<string, unknown>>({ query });
        for (let waited = 0; server.services.liveTail.activeSubscriptions === before; waited += 20) {
          if (waited > 5_000) throw new Error("the subscription did not start");
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await recordOver(server.graphqlUrl, tokens[Role.SERVICE]!, [conversationEvent("conv-0001", `example-${operation.name?.value}`)]);
        const result = await tail.next();
        expect(result.errors).toBeUndefined();
        expect(everyRootFieldHasData(result.data!)).toBe(true);
      } finally {
        await ws.dispose();
      }
      return;
    }
    const token = operation.operation === "mutation" ? tokens[Role.SERVICE] : tokens[Role.ADMIN];
    const response = await postGraphQL(server.graphqlUrl, { query }, { token });
    expect(response.body.errors).toBeUndefined();
    expect(everyRootFieldHasData(response.body.data!)).toBe(true);
  });
});
