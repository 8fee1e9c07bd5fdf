import { readdirSync, readFileSync } from "node:fs";
import type { GatewayGraphQLRequestContext } from "@apollo/server-gateway-interface";
import path from "node:path";
import {
  GraphQLError,
  GraphQLInputObjectType,
  GraphQLInt,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLScalarType,
  GraphQLSchema,
  GraphQLString,
  Kind,
  OperationDefinitionNode,
  parse,
  print,
} from "graphql";
import { Arg, buildSchema, Field, Int, Mutation, ObjectType, Query, Resolver } from "type-graphql";
import { dataSource } from "../ormconfig";
import { authChecker } from "../src/auth/auth-checker";
import { DEMO_WORKSPACE } from "../src/demo/demo-data";
import { seedDemo } from "../src/demo/demo-seeder";
import { AuditEventType } from "../src/events/audit-event.enums";
import { CompiledExecutor, ExecutionRequest } from "../src/server/compiled-execution";
import { useTestDatabase } from "./support/database";
import { eventInput } from "./support/events";
import { GraphQLResponse, postGraphQL, useTestServer } from "./support/server";
import { Role, tokenFor } from "./support/tokens";

const EXAMPLES = path.resolve(__dirname, "..", "schema", "examples");

/** Every query of every example file, as its own document (its variables take their defaults). */
const EXAMPLE_QUERIES = readdirSync(EXAMPLES)
  .filter((file) => file.endsWith(".graphql"))
  .flatMap((file) =>
    parse(readFileSync(path.join(EXAMPLES, file), "utf8"))
      .definitions.filter((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION && definition.operation === "query")
      .map((operation) => ({ name: `${file}: ${operation.name?.value}`, query: print(operation) })),
  );

const PAGE = `query Page($first: Int, $after: String, $filter: AuditEventFilter, $range: DateRange) {
  workspaceAuditLog(first: $first, after: $after, filter: $filter, range: $range) {
    edges { cursor node { __typename id type action occurredAt recordedAt description actor { kind id name } changes { field before after } } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const EVENT = `query Event($id: ID!) { auditEvent(id: $id) { id type description } }`;
const RECORD = `mutation Record($events: [AuditEventInput!]!) { recordAuditEvents(events: $events) { duplicates events { id type action occurredAt description } } }`;
const DEFAULTED_PAGE = `query DefaultedPage($first: Int! = 5) { workspaceAuditLog(first: $first) { edges { cursor } } }`;

interface Case {
  name: string;
  query: string;
  /** Read when the case runs (a cursor exists only once the server has answered a first page). */
  variables?: () => Record<string, unknown>;
  role?: Role.ADMIN | Role.AGENT;
  /** What the answer must hold, whichever way it was executed. */
  expectAnswer?: (response: GraphQLResponse) => void;
  /** Variables refused before execution: graphql-js answers every time, even once the document is compiled. */
  refusedVariables?: true;
}

const codes = (response: GraphQLResponse) => (response.body.errors ?? []).map((error) => error.extensions?.code);

/** The response without what differs on every request (the request id of an internal error). */
function comparable(response: GraphQLResponse): unknown {
  const errors = response.body.errors?.map(({ extensions, ...error }) => {
    const { requestId: _requestId, ...rest } = extensions ?? {};
    return { ...error, extensions: rest };
  });
  return { status: response.status, body: { ...response.body, ...(errors ? { errors } : {}) } };
}

describe("compiled execution over HTTP, against the demo workspace", () => {
  useTestDatabase();
  const server = useTestServer();
  const tokens: Partial<Record<Role, string>> = {};
  let endCursor = "";

  beforeAll(async () => {
    await seedDemo(server.services.recorder);
    tokens[Role.ADMIN] = await tokenFor(Role.ADMIN, { workspaceId: DEMO_WORKSPACE, userId: "u-ana" });
    tokens[Role.AGENT] = await tokenFor(Role.AGENT, { workspaceId: DEMO_WORKSPACE, userId: "u-ben" });
    const first = await postGraphQL<{ workspaceAuditLog: { pageInfo: { endCursor: string } } }>(
      server.graphqlUrl,
      { query: PAGE, variables: { first: 10 } },
      { token: tokens[Role.ADMIN] },
    );
    endCursor = first.body.data!.workspaceAuditLog.pageInfo.endCursor;
  }, 120_000);

  const CASES: Case[] = [
    ...EXAMPLE_QUERIES.map((example) => ({ ...example, expectAnswer: (response: GraphQLResponse) => expect(response.body.errors).toBeUndefined() })),
    {
      name: "a page after a cursor, every field of the events",
      query: PAGE,
      variables: () => ({ first: 10, after: endCursor }),
      expectAnswer: (response) => expect(response.body.data?.workspaceAuditLog).toMatchObject({ edges: expect.arrayContaining([expect.anything()]) }),
    },
    {
      name: "a filter and a range",
      query: PAGE,
      variables: () => ({ first: 10, filter: { allEvents: { userId: "u-ana" } }, range: { from: "2020-01-01T00:00:00Z" } }),
      expectAnswer: (response) => expect(response.body.errors).toBeUndefined(),
    },
    { name: "a variable left to its default", query: DEFAULTED_PAGE, expectAnswer: (response) => expect(response.body.data?.workspaceAuditLog).toMatchObject({ edges: Array(5).fill({ cursor: expect.any(String) }) }) },
    { name: "an event that does not exist", query: EVENT, variables: () => ({ id: "no-such-event" }), expectAnswer: (response) => expect(response.body.data?.auditEvent).toBeNull() },
    { name: "a cursor this service did not issue", query: PAGE, variables: () => ({ after: "not-a-cursor" }), expectAnswer: (response) => expect(codes(response)).toEqual(["BAD_USER_INPUT"]) },
    {
      name: "two members of a oneOf filter",
      query: PAGE,
      variables: () => ({ filter: { allEvents: { userId: "u-ana" }, billing: { userId: "u-ana" } } }),
      expectAnswer: (response) => expect(response.body.errors?.[0].message).toMatch(/exactly one key/i),
      refusedVariables: true,
    },
    {
      name: "a date that is not one",
      query: PAGE,
      variables: () => ({ range: { from: "yesterday" } }),
      expectAnswer: (response) => expect(codes(response)).toEqual(["BAD_USER_INPUT"]),
      refusedVariables: true,
    },
    { name: "a page size out of range", query: PAGE, variables: () => ({ first: 100_000 }), expectAnswer: (response) => expect(codes(response)).toEqual(["BAD_USER_INPUT"]) },
    { name: "a required variable left out", query: EVENT, expectAnswer: (response) => expect(codes(response)).toEqual(["BAD_USER_INPUT"]), refusedVariables: true },
    { name: "an agent asking for the workspace log", query: PAGE, role: Role.AGENT, expectAnswer: (response) => expect(codes(response)).toEqual(["FORBIDDEN"]) },
  ];

  it("has a case of every example query", () => {
    expect(EXAMPLE_QUERIES.length).toBeGreaterThanOrEqual(10);
  });

  it.each(CASES.map((testCase) => [testCase.name, testCase] as const))(
    "answers %s the same compiled as through graphql-js",
    async (_name, testCase) => {
      const variables = testCase.variables?.();
      // A comment makes the document one the server has never seen: its first execution goes through graphql-js.
      const query = `# ${testCase.name}\n${testCase.query}`;
      const send = () => postGraphQL(server.graphqlUrl, { query, variables }, { token: tokens[testCase.role ?? Role.ADMIN] });
      const before = server.executor.executions();
      const interpreted = await send();
      const afterFirst = server.executor.executions();
      expect(afterFirst.interpreted - before.interpreted).toBe(1);
      expect(afterFirst.compiled - before.compiled).toBe(0);
      testCase.expectAnswer?.(interpreted);

      const compiledAnswers = [await send(), await send()];
      const afterAll = server.executor.executions();
      expect(afterAll.interpreted - afterFirst.interpreted).toBe(testCase.refusedVariables ? 2 : 0);
      expect(afterAll.compiled - afterFirst.compiled).toBe(testCase.refusedVariables ? 0 : 2);
      expect(afterAll.compilations - afterFirst.compilations).toBe(1);
      for (const compiled of compiledAnswers) expect(comparable(compiled)).toEqual(comparable(interpreted));
    },
  );

  it("is handed a response head whose status is its class's accessor, not a getter made for the request (patches/)", async () => {
    const handed: GatewayGraphQLRequestContext[] = [];
    const execute = server.executor.execute;
    server.executor.execute = function (request) {
      handed.push(request as GatewayGraphQLRequestContext);
      return execute.call(this, request);
    };
    try {
      const answer = await postGraphQL(server.graphqlUrl, { query: EVENT, variables: { id: "no-such-event" } }, { token: tokens[Role.ADMIN] });
      expect(answer.body.data?.auditEvent).toBeNull();
    } finally {
      server.executor.execute = execute;
    }
    expect(handed).toHaveLength(1);
    const head = handed[0].response!.http!;
    expect(Object.getOwnPropertyDescriptor(head, "status")).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(Object.getPrototypeOf(head), "status")).toMatchObject({ get: expect.any(Function), set: expect.any(Function) });
    expect(head.status).toBeUndefined();
  });

  it("records through the compiled mutation from its second execution, answering as graphql-js did", async () => {
    const token = await tokenFor(Role.SERVICE, { workspaceId: DEMO_WORKSPACE });
    const event = eventInput(AuditEventType.SETTINGS, "settings.updated");
    const before = server.executor.executions();
    const answers = [];
    for (let n = 0; n < 3; n++) answers.push(await postGraphQL(server.graphqlUrl, { query: RECORD, variables: { events: [event] } }, { token }));
    const after = server.executor.executions();
    expect(answers.map((answer) => answer.body.errors)).toEqual([undefined, undefined, undefined]);
    const stored = (answers[0].body.data as { recordAuditEvents: { events: unknown[] } }).recordAuditEvents.events[0];
    expect(answers.map((answer) => answer.body.data)).toEqual([0, 1, 1].map((duplicates) => ({ recordAuditEvents: { duplicates, events: [stored] } })));
    expect(after.interpreted - before.interpreted).toBe(1);
    expect(after.compiled - before.compiled).toBe(2);
    expect(after.compilations - before.compilations).toBe(1);
  });

  it("answers variables the compiled mutation refuses with graphql-js's errors, and records nothing", async () => {
    const token = await tokenFor(Role.SERVICE, { workspaceId: DEMO_WORKSPACE });
    const countEvents = async () =>
      Number((await dataSource.query<{ events: string }[]>("SELECT COUNT(*) AS events FROM audit_events"))[0].events);
    // The document is compiled by now (the test above ran it three times).
    const good = eventInput(AuditEventType.SETTINGS, "settings.updated");
    await postGraphQL(server.graphqlUrl, { query: RECORD, variables: { events: [good] } }, { token });
    const stored = await countEvents();
    const before = server.executor.executions();
    const answer = await postGraphQL(server.graphqlUrl, { query: RECORD, variables: { events: [eventInput(AuditEventType.SETTINGS, "settings.updated"), { ...good, type: "NOPE" }] } }, { token });
    expect(answer.body.errors?.map((error) => [error.message, error.extensions?.code])).toEqual([
      ['Variable "$events" got invalid value "NOPE" at "events[1].type"; Value "NOPE" does not exist in "AuditEventType" enum.', "BAD_USER_INPUT"],
    ]);
    expect(answer.body.data).toBeUndefined();
    const after = server.executor.executions();
    expect(after.interpreted - before.interpreted).toBe(1);
    expect(after.compiled - before.compiled).toBe(0);
    expect(await countEvents()).toBe(stored);
  });
});

@ObjectType()
class Counter {
  @Field(() => Int)
  value!: number;
}

@Resolver()
class CounterResolver {
  private value = 0;

  @Query(() => Counter)
  counter(@Arg("plus", () => Int, { defaultValue: 0 }) plus: number): Counter {
    return { value: this.value + plus };
  }

  @Query(() => Int, { description: "Breaks its promise of a value: graphql answers with an error of its own." })
  broken(): number {
    return null as unknown as number;
  }

  @Mutation(() => Counter)
  increment(): Counter {
    this.value += 1;
    return { value: this.value };
  }
}

/** Inputs where graphql-jit and graphql-js part ways: a scalar that makes NaN (graphql-js takes it, graphql-jit does not), a oneOf input, a subscription. */
function edgeSchema(): GraphQLSchema {
  const Loose = new GraphQLScalarType({ name: "Loose", parseValue: (value) => Number(value) });
  const Pick = new GraphQLInputObjectType({ name: "Pick", isOneOf: true, fields: { left: { type: GraphQLInt }, right: { type: GraphQLInt } } });
  return new GraphQLSchema({
    query: new GraphQLObjectType({
      name: "Query",
      fields: {
        loose: { type: GraphQLString, args: { value: { type: new GraphQLNonNull(Loose) } }, resolve: (_, { value }: { value: number }) => String(value) },
        picked: {
          type: GraphQLString,
          args: { pick: { type: new GraphQLNonNull(Pick) } },
          resolve: (_, { pick }: { pick: Record<string, number> }) => Object.entries(pick).map(([side, value]) => `${side} ${value}`).join(),
        },
      },
    }),
    subscription: new GraphQLObjectType({ name: "Subscription", fields: { ticks: { type: GraphQLInt, resolve: () => 1 } } }),
  });
}

describe("CompiledExecutor", () => {
  let executor: CompiledExecutor;
  let edges: CompiledExecutor;
  beforeEach(async () => {
    const schema = await buildSchema({ resolvers: [CounterResolver], authChecker, validate: false });
    executor = new CompiledExecutor(schema, 2, 2);
    edges = new CompiledExecutor(edgeSchema(), 2, 2);
  });

  /** The request as Apollo Server hands it over, with what the executor reads. */
  const request = (source: string, variables: Record<string, unknown> = {}): ExecutionRequest => {
    const document = parse(source);
    const operation = document.definitions[0] as OperationDefinitionNode;
    return { document, operation, queryHash: source, operationName: operation.name?.value ?? null, request: { variables }, context: {} };
  };

  it("compiles a query on its second execution and answers the same", async () => {
    const query = `query Plus($plus: Int) { counter(plus: $plus) { value } }`;
    const answers = [await executor.execute(request(query, { plus: 2 })), await executor.execute(request(query, { plus: 2 })), await executor.execute(request(query, { plus: 3 }))];
    expect(answers).toEqual([{ data: { counter: { value: 2 } } }, { data: { counter: { value: 2 } } }, { data: { counter: { value: 3 } } }]);
    expect(executor.executions()).toEqual({ interpreted: 1, compiled: 2, compilations: 1 });
  });

  it("compiles a mutation on its second execution and runs it at every execution", async () => {
    const mutation = `mutation { increment { value } }`;
    const answers = [];
    for (let n = 0; n < 3; n++) answers.push(await executor.execute(request(mutation)));
    expect(answers).toEqual([1, 2, 3].map((value) => ({ data: { increment: { value } } })));
    expect(executor.executions()).toEqual({ interpreted: 1, compiled: 2, compilations: 1 });
  });

  it("never compiles a subscription", async () => {
    const subscription = `subscription { ticks }`;
    for (let n = 0; n < 3; n++) await edges.execute(request(subscription));
    expect(edges.executions()).toEqual({ interpreted: 3, compiled: 0, compilations: 0 });
  });

  it("forgets the oldest document beyond the ones it tracks, and counts it afresh", async () => {
    const [a, b, c] = [1, 2, 3].map((plus) => `{ counter(plus: ${plus}) { value } }`);
    await executor.execute(request(a));
    await executor.execute(request(b));
    await executor.execute(request(c)); // a is forgotten
    await executor.execute(request(a)); // a counts from 1 again: not compiled
    expect(executor.executions()).toEqual({ interpreted: 4, compiled: 0, compilations: 0 });
    await executor.execute(request(a));
    expect(executor.executions()).toEqual({ interpreted: 4, compiled: 1, compilations: 1 });
  });

  it("answers an error of graphql's own with graphql-js's fields, compiled or not", async () => {
    const query = `{ broken }`;
    const [interpreted, compiled] = [await executor.execute(request(query)), await executor.execute(request(query))];
    expect(executor.executions()).toEqual({ interpreted: 1, compiled: 1, compilations: 1 });
    const fields = (error: GraphQLError) => ({ message: error.message, locations: error.locations, path: error.path, extensions: error.extensions });
    expect(compiled.errors?.map(fields)).toEqual(interpreted.errors?.map(fields));
    // Apollo Server's error formatting reads extensions.code: graphql-js always gives an object.
    expect(compiled.errors?.[0].extensions).toEqual({});
    expect(compiled.errors?.[0]).toBeInstanceOf(GraphQLError);
  });

  it("refuses bad variables with graphql-js's errors, compiled or not", async () => {
    const query = `query Plus($plus: Int!) { counter(plus: $plus) { value } }`;
    const answers = [await executor.execute(request(query, { plus: "two" })), await executor.execute(request(query, { plus: "two" }))];
    expect(answers[0].errors?.map((error) => error.message)).toEqual(['Variable "$plus" got invalid value "two"; Int cannot represent non-integer value: "two"']);
    expect(answers[1]).toEqual(answers[0]);
    // graphql-jit refused the variables of the compiled query: graphql-js answered.
    expect(executor.executions()).toEqual({ interpreted: 2, compiled: 0, compilations: 1 });
  });

  it("runs through graphql-js what graphql-js accepts and graphql-jit refuses", async () => {
    // A scalar that makes NaN of what is not a number: graphql-js takes NaN, graphql-jit refuses it.
    const query = `query Loose($value: Loose!) { loose(value: $value) }`;
    const answers = [];
    for (let n = 0; n < 3; n++) answers.push(await edges.execute(request(query, { value: n === 0 ? "1.5" : "many" })));
    expect(answers).toEqual([{ data: { loose: "1.5" } }, { data: { loose: "NaN" } }, { data: { loose: "NaN" } }]);
    expect(edges.executions()).toEqual({ interpreted: 3, compiled: 0, compilations: 1 });
  });

  it("sends the variables of an operation that reaches a oneOf input past graphql-js first", async () => {
    const query = `query Pick($pick: Pick!) { picked(pick: $pick) }`;
    const both = { pick: { left: 1, right: 2 } };
    const answers = [await edges.execute(request(query, both)), await edges.execute(request(query, both)), await edges.execute(request(query, { pick: { left: 1 } }))];
    expect(answers[0].errors?.map((error) => error.message)).toEqual(['Variable "$pick" got invalid value { left: 1, right: 2 }; Exactly one key must be specified for OneOf type "Pick".']);
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual({ data: { picked: "left 1" } });
    expect(edges.executions()).toEqual({ interpreted: 2, compiled: 1, compilations: 1 });
  });
});
