import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { buildSchema, getIntrospectionQuery, GraphQLError, isInterfaceType, isObjectType, Kind, OperationDefinitionNode, parse, valueFromASTUntyped } from "graphql";
import { AuditEventType } from "../src/events/audit-event.enums";
import { DEFAULT_OPERATION_LIMITS, OperationLimits } from "../src/config";
import { checkDocumentLimits } from "../src/common/document-limits";
import { operationCost, SIZED_FIELD_COORDINATES } from "../src/limits/operation-cost";
import { useTestDatabase } from "./support/database";
import { eventInput, RECORD_EVENTS, SCREEN_EVENT_FRAGMENT } from "./support/events";
import { statementsDuring } from "./support/statements";
import { errorCodes, GraphQLResponse, postGraphQL, useTestServer } from "./support/server";
import { Role, tokenFor } from "./support/tokens";
import { createTestWsClient, TestWsClient } from "./support/ws-client";

const ROOT = path.resolve(__dirname, "..");
const SCHEMA = buildSchema(readFileSync(path.join(ROOT, "schema", "schema.graphql"), "utf8"));

/** The attack the limits exist for: 15 aliases of the largest page, with every event's metadata. */
const ALIAS_BOMB = `{ ${Array.from({ length: 15 }, (_, n) => `a${n}: workspaceAuditLog(first: 200) { edges { node { metadata } } }`).join(" ")} }`;
/** 1 for the connection, 200 x (1 for the edge, 1 for the event, 2 for its metadata): 801 an alias. */
const ALIAS_BOMB_COST = 15 * 801;
/** 1 + 20 x (1 + 1 + 2) + 1 for pageInfo. */
const SMALL_PAGE = `query Small($first: Int = 20) { workspaceAuditLog(first: $first) { edges { node { id metadata } } pageInfo { hasNextPage } } }`;
const SMALL_PAGE_COST = 82;
/** What a log screen shows of each event, at the largest page. */
const SCREEN_PAGE = `query Screen { workspaceAuditLog(first: 200) { ...Page } }
fragment Page on AuditEventConnection { edges { cursor node { ...UiEvent } } pageInfo { hasNextPage endCursor } }
${SCREEN_EVENT_FRAGMENT}`;
const aliases = (count: number) => `{ ${Array.from({ length: count }, (_, n) => `v${n}: viewer { userId }`).join(" ")} }`;
const directives = (count: number) => `{ viewer { ${"userId @include(if: true) ".repeat(count)}} }`;

const cost = (document: string, variables: Record<string, unknown> = {}, limits: OperationLimits = DEFAULT_OPERATION_LIMITS) =>
  operationCost(SCHEMA, parse(document), undefined, variables, limits).cost;

/** The error `operationCost` throws, or the test fails. */
function refusal(document: string, limits: OperationLimits = DEFAULT_OPERATION_LIMITS): GraphQLError {
  try {
    cost(document, {}, limits);
  } catch (error) {
    if (error instanceof GraphQLError) return error;
    throw error;
  }
  throw new Error("the operation passed the limits");
}

describe("an operation's cost", () => {
  it("counts each item a page may hold: 15 aliases of a 200-event page with metadata cost 12,015", () => {
    expect(cost(SMALL_PAGE)).toBe(SMALL_PAGE_COST);
    expect(cost(SMALL_PAGE, { first: 40 })).toBe(1 + 40 * 4 + 1);
    expect(refusal(ALIAS_BOMB).extensions).toMatchObject({ code: "QUERY_TOO_COMPLEX", cost: ALIAS_BOMB_COST, limit: 5_000 });
  });

  it("takes a page's default size when `first` is left out, and its maximum when `first` is over it (the resolver refuses that)", () => {
    expect(cost(`{ workspaceAuditLog { edges { node { id } } } }`)).toBe(1 + 50 * 2);
    expect(cost(`{ workspaceAuditLog(first: 1000000) { edges { node { id } } } }`)).toBe(1 + 200 * 2);
    expect(cost(`{ customers(nameContains: "a") { id } }`)).toBe(20);
    expect(cost(`{ users(first: 100) { id } }`)).toBe(100);
  });

  it("weighs an event's metadata and changes more than its scalars", () => {
    const perEvent = (selection: string) => (cost(`{ workspaceAuditLog(first: 1) { edges { node { ${selection} } } } }`) - 1 - 1 - 1);
    expect(perEvent("id description occurredAt")).toBe(0);
    expect(perEvent("metadata")).toBe(2);
    expect(perEvent("changes { field before after }")).toBe(5);
  });

  it("counts a recording's events, and what it selects of each", () => {
    const events = Array.from({ length: 3 }, () => eventInput(AuditEventType.CUSTOMER, "customer.updated"));
    expect(cost(RECORD_EVENTS, { events })).toBe(3 + 1 + 3);
    const thousand = Array.from({ length: 1_000 }, () => ({}));
    expect(cost(`mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { duplicates events { id } } }`, { e: thousand })).toBe(2_001);
  });

  it("counts every fragment an event might match, and nothing for introspection", () => {
    expect(cost(SCREEN_PAGE)).toBe(1 + 200 * 13 + 1);
    expect(cost(getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, inputValueDeprecation: true }))).toBe(0);
  });

  it("knows the page size of every field of the schema that takes `first`", () => {
    const withFirst = Object.values(SCHEMA.getTypeMap())
      .filter((type) => isObjectType(type) || isInterfaceType(type))
      .flatMap((type) => Object.values((type as import("graphql").GraphQLObjectType).getFields()).filter((field) => field.args.some((arg) => arg.name === "first")).map((field) => `${type.name}.${field.name}`));
    expect(withFirst.length).toBeGreaterThan(0);
    expect(SIZED_FIELD_COORDINATES).toEqual(expect.arrayContaining(withFirst));
  });

  it("lets every example of schema/examples, the GraphiQL page's query and a screen of 200 events through", () => {
    const examples = readdirSync(path.join(ROOT, "schema", "examples")).filter((file) => file.endsWith(".graphql"));
    const documents = examples.map((file) => readFileSync(path.join(ROOT, "schema", "examples", file), "utf8"));
    const page = /const DEFAULT_QUERY = `([\s\S]*?)`;/.exec(readFileSync(path.join(ROOT, "ui", "main.tsx"), "utf8"))?.[1];
    expect(page).toBeDefined();
    for (const text of [...documents, page!, SCREEN_PAGE, getIntrospectionQuery()]) {
      const document = parse(text);
      for (const operation of document.definitions.filter((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION)) {
        // The examples run with their variables' defaults.
        const variables = Object.fromEntries(
          (operation.variableDefinitions ?? []).filter((definition) => definition.defaultValue).map((definition) => [definition.variable.name.value, valueFromASTUntyped(definition.defaultValue!)]),
        );
        const checked = operationCost(SCHEMA, document, operation.name?.value, variables, DEFAULT_OPERATION_LIMITS);
        expect(checked.cost).toBeLessThanOrEqual(DEFAULT_OPERATION_LIMITS.maxCost);
      }
    }
  });

  it("counts the same parsed document again for each page size, batch length and operation it is sent with", () => {
    // Apollo hands over one parsed document for every request of the same text: its counts are kept by what they depend on.
    const pages = parse(`${SMALL_PAGE} query Big { workspaceAuditLog(first: 200) { edges { node { id } } } }`);
    const costOf = (variables: Record<string, unknown>, operationName = "Small") => operationCost(SCHEMA, pages, operationName, variables, DEFAULT_OPERATION_LIMITS).cost;
    for (let round = 0; round < 2; round++) {
      expect(costOf({})).toBe(SMALL_PAGE_COST);
      expect(costOf({ first: 40 })).toBe(1 + 40 * 4 + 1);
      expect(costOf({ first: 40, unused: [1, 2, 3] })).toBe(1 + 40 * 4 + 1);
      // Not a number: the page's default size, as the count without a cache takes it.
      expect(costOf({ first: "40" })).toBe(1 + 50 * 4 + 1);
      expect(costOf({ first: null })).toBe(1 + 50 * 4 + 1);
      expect(costOf({}, "Big")).toBe(1 + 200 * 2);
    }
    const limits = { ...DEFAULT_OPERATION_LIMITS, maxCost: 500 };
    expect(operationCost(SCHEMA, pages, "Small", { first: 100 }, limits).cost).toBe(1 + 100 * 4 + 1);
    expect(() => operationCost(SCHEMA, pages, "Small", { first: 200 }, limits)).toThrow("The operation costs 802 points, over the limit of 500.");
    expect(() => operationCost(SCHEMA, pages, "Small", { first: 200 }, limits)).toThrow("The operation costs 802 points, over the limit of 500.");

    const batch = parse(`mutation Batch($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { duplicates events { id } } }`);
    const batchCost = (length: number) => operationCost(SCHEMA, batch, undefined, { e: Array.from({ length }, () => ({})) }, DEFAULT_OPERATION_LIMITS).cost;
    expect([batchCost(3), batchCost(1_000), batchCost(3)]).toEqual([7, 2_001, 7]);
  });

  it("refuses more aliases, directives or depth than the limits, saying which and how many", () => {
    expect(refusal(aliases(16)).extensions).toMatchObject({ code: "QUERY_TOO_COMPLEX", aliases: 16, limit: 15 });
    expect(cost(aliases(15))).toBe(15);
    expect(refusal(directives(51)).extensions).toMatchObject({ code: "QUERY_TOO_COMPLEX", directives: 51, limit: 50 });
    expect(cost(directives(50))).toBe(1);
    // The schema nests at most 6 fields: a lower limit shows the check.
    const shallow = { ...DEFAULT_OPERATION_LIMITS, maxDepth: 4 };
    expect(refusal(`{ workspaceAuditLog { edges { node { actor { name } } } } }`, shallow).extensions).toMatchObject({ depth: 5, limit: 4 });
    expect(cost(`{ workspaceAuditLog { edges { node { id } } } }`, {}, shallow)).toBe(101);
  });
});

describe("a document's limits", () => {
  it("refuses a document every time it is over the limits it is checked against, even after it passed others", () => {
    const document = `{ ${"__typename ".repeat(30)}}`;
    const roomy = { maxTokens: 100, maxDocumentBytes: 10_000 };
    const tight = { maxTokens: 20, maxDocumentBytes: 10_000 };
    for (let round = 0; round < 2; round++) {
      expect(() => checkDocumentLimits(document, roomy)).not.toThrow();
      expect(() => checkDocumentLimits(document, tight)).toThrow("The document has more than 20 tokens");
    }
    const deep = `{ a${"(b: [".repeat(70)}`;
    for (let round = 0; round < 2; round++) expect(() => checkDocumentLimits(deep, { ...roomy, maxTokens: 1_000 })).toThrow("levels of nested brackets");
  });
});

describe("operation limits over HTTP and WebSocket", () => {
  const dataSource = useTestDatabase();
  const server = useTestServer();
  const strict = useTestServer((config) => ({ ...config, introspection: false, operationLimits: { ...config.operationLimits, maxCost: 100 } }));
  let admin: string;
  let ws: TestWsClient;

  beforeAll(async () => {
    admin = await tokenFor(Role.ADMIN);
    ws = createTestWsClient(server.wsUrl, { authorization: admin });
    await ws.connected;
  });
  afterAll(async () => {
    await ws.dispose();
  });

  const refusedOverHttp = (response: GraphQLResponse) => {
    expect(response.status).toBe(400);
    expect(response.body.data).toBeUndefined();
    expect(errorCodes(response)).toEqual(["QUERY_TOO_COMPLEX"]);
    return response.body.errors![0];
  };

  it("refuses the alias bomb before it runs: 400, QUERY_TOO_COMPLEX with its cost and the limit, and no statement sent", async () => {
    let response: GraphQLResponse | undefined;
    const statements = await statementsDuring(dataSource, async () => {
      response = await postGraphQL(server.graphqlUrl, { query: ALIAS_BOMB }, { token: admin });
    });
    const error = refusedOverHttp(response!);
    expect(error.extensions).toEqual({ code: "QUERY_TOO_COMPLEX", cost: ALIAS_BOMB_COST, limit: 5_000 });
    expect(error.message).toContain(`${ALIAS_BOMB_COST} points`);
    expect(statements).toEqual([]);
  });

  it("refuses it over WebSocket as an error of the operation, and the connection serves on", async () => {
    await expect(ws.execute({ query: ALIAS_BOMB })).rejects.toEqual([
      expect.objectContaining({ extensions: { code: "QUERY_TOO_COMPLEX", cost: ALIAS_BOMB_COST, limit: 5_000 } }),
    ]);
    expect((await ws.execute({ query: "{ viewer { userId } }" })).data).toEqual({ viewer: { userId: "admin-1" } });
  });

  it("answers the cost of what it ran in extensions.cost, over HTTP and WebSocket", async () => {
    const overHttp = await postGraphQL(server.graphqlUrl, { query: SMALL_PAGE }, { token: admin });
    expect(overHttp.body.errors).toBeUndefined();
    const cost = { requested: SMALL_PAGE_COST, limit: 5_000, throttleStatus: expect.objectContaining({ restoreRate: expect.any(Number) }) };
    expect(overHttp.body.extensions).toEqual({ cost });
    expect((await ws.execute({ query: SMALL_PAGE })).extensions).toEqual({ cost });
  });

  it("counts a recording's events", async () => {
    const producer = await tokenFor(Role.SERVICE);
    const events = [eventInput(AuditEventType.CUSTOMER, "customer.updated"), eventInput(AuditEventType.CUSTOMER, "customer.updated")];
    const response = await postGraphQL(server.graphqlUrl, { query: RECORD_EVENTS, variables: { events } }, { token: producer });
    expect(response.body.errors).toBeUndefined();
    expect(response.body.extensions).toMatchObject({ cost: { requested: 2 + 1 + 2, limit: 5_000 } });
  });

  it.each([
    ["16 aliases", aliases(16), { aliases: 16, limit: 15 }],
    ["51 directives", directives(51), { directives: 51, limit: 50 }],
    ["2,001 tokens", `{ ${"__typename ".repeat(2_001)}}`, { limit: 2_000 }],
    ["more than 100 KiB", `# ${"x".repeat(110_000)}\n{ viewer { userId } }`, { limit: 102_400 }],
  ])("refuses a document of %s with QUERY_TOO_COMPLEX, over HTTP and WebSocket", async (_name, query, counted) => {
    const error = refusedOverHttp(await postGraphQL(server.graphqlUrl, { query }, { token: admin }));
    expect(error.extensions).toEqual({ code: "QUERY_TOO_COMPLEX", ...counted });
    // Over WebSocket a message holds at most 64 KiB: the larger document closes the socket (1009) before any limit of ours.
    if (query.length < 60_000) await expect(ws.execute({ query })).rejects.toEqual([expect.objectContaining({ extensions: { code: "QUERY_TOO_COMPLEX", ...counted } })]);
  });

  it("answers a 1.9 MB document in a few hundred bytes, echoing none of it, even without a token", async () => {
    const huge = `{ viewer { ${"userId ".repeat(270_000)}} }`;
    const response = await postGraphQL(server.graphqlUrl, { query: huge });
    refusedOverHttp(response);
    expect(JSON.stringify(response.body).length).toBeLessThan(500);
  });

  it.each([
    ["a syntax error on a 50,000-character name", { query: `{ viewer { userId } } ${"x".repeat(50_000)}` }, "GRAPHQL_PARSE_FAILED"],
    [
      "a variable of a megabyte that is not the type it should be",
      { query: "query($first: Int) { workspaceAuditLog(first: $first) { edges { cursor } } }", variables: { first: "y".repeat(1_000_000) } },
      "BAD_USER_INPUT",
    ],
  ])("answers %s without echoing it", async (_name, operation, code) => {
    const response = await postGraphQL(server.graphqlUrl, operation, { token: admin });
    expect(errorCodes(response)).toEqual([code]);
    expect(response.body.errors![0].message).toMatch(/(x|y){60}…/);
    expect(JSON.stringify(response.body).length).toBeLessThan(1_500);
  });

  it("applies the configured limits: a server with a cost limit of 100 refuses a page of 60 and runs a page of 24", async () => {
    const over = refusedOverHttp(await postGraphQL(strict.graphqlUrl, { query: SMALL_PAGE, variables: { first: 60 } }, { token: admin }));
    expect(over.extensions).toEqual({ code: "QUERY_TOO_COMPLEX", cost: 1 + 60 * 4 + 1, limit: 100 });
    const within = await postGraphQL(strict.graphqlUrl, { query: SMALL_PAGE, variables: { first: 24 } }, { token: admin });
    expect(within.body.extensions).toMatchObject({ cost: { requested: 1 + 24 * 4 + 1, limit: 100 } });
  });

  it("suggests no field names while introspection is off, over HTTP and WebSocket; does while it is on", async () => {
    const typo = "{ viewer { userld } }";
    const open = await postGraphQL(server.graphqlUrl, { query: typo }, { token: admin });
    expect(open.body.errors![0].message).toMatch(/Did you mean "userId"/);
    const closed = await postGraphQL(strict.graphqlUrl, { query: typo }, { token: admin });
    expect(closed.body.errors![0].message).toBe('Cannot query field "userld" on type "Viewer".');
    const strictWs = createTestWsClient(strict.wsUrl, { authorization: admin });
    try {
      await strictWs.connected;
      await expect(strictWs.execute({ query: typo })).rejects.toEqual([expect.objectContaining({ message: 'Cannot query field "userld" on type "Viewer".' })]);
    } finally {
      await strictWs.dispose();
    }
  });
});
