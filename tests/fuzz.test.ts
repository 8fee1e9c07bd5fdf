import { readFileSync } from "node:fs";
import path from "node:path";
import {
  buildSchema,
  getNamedType,
  getNullableType,
  GraphQLArgument,
  GraphQLField,
  GraphQLInputType,
  GraphQLNamedType,
  GraphQLObjectType,
  GraphQLOutputType,
  GraphQLSchema,
  isAbstractType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
} from "graphql";
import { AuditEventType } from "../src/events/audit-event.enums";
import { useTestDatabase } from "./support/database";
import { eventInput, RECORD_EVENTS } from "./support/events";
import { postGraphQL, useTestServer } from "./support/server";
import { OTHER_WORKSPACE, Role, tokenFor } from "./support/tokens";
import { createTestWsClient } from "./support/ws-client";

const SCHEMA = buildSchema(readFileSync(path.resolve(__dirname, "..", "schema", "schema.graphql"), "utf8"));
/** Operations sent over HTTP, and over WebSocket. */
const HTTP_OPERATIONS = 1_800;
const WS_OPERATIONS = 200;
/** The one seed: a failure names the operation, and the same run repeats it. */
const SEED = 20_261_206;
/** Answers a request may have: the request's own fault, a budget, or a documented 503; never a 5xx of another kind. */
const ALLOWED_STATUSES = new Set([200, 400, 401, 403, 413, 429, 503]);

/** A small seeded generator (mulberry32): the same operations every run. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    next,
    below: (n: number) => Math.floor(next() * n),
    chance: (p: number) => next() < p,
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)],
  };
}
type Random = ReturnType<typeof generator>;

const STRINGS = [
  "",
  " ",
  "a",
  "é",
  "Zoë",
  "c-1",
  "cu-1",
  "u-ana",
  "ws-test",
  "%",
  "_",
  "' OR 1=1 --",
  "\u0000",
  "\ud83d",
  "\udc00x",
  "🙂".repeat(100),
  "x".repeat(256),
  "word ".repeat(60),
  "a".repeat(70_000),
];
const INTS = [0, 1, -1, 2, 20, 50, 200, 201, 1000, 1001, 2_147_483_647, -2_147_483_648, 2 ** 53, -(2 ** 53), 1.5, Number.MAX_VALUE];
const DATES = ["2026-12-06T12:00:00.000Z", "2026-12-06", "1969-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z", "2026-02-30T00:00:00Z", "not a date", "", "+275760-09-13T00:00:00Z"];

/** A value for an input type: mostly of the type, now and then not, null, huge or empty. */
function inputValue(type: GraphQLInputType, random: Random, depth = 0): unknown {
  if (random.chance(0.05)) return null;
  if (random.chance(0.03)) return random.pick<unknown>([random.pick(STRINGS), random.pick(INTS), true, [], {}]);
  const nullable = getNullableType(type) as GraphQLInputType;
  if (isListType(nullable)) {
    const length = random.pick([0, 1, 2, 3, depth === 0 ? 1_001 : 2]);
    return Array.from({ length }, () => inputValue(nullable.ofType, random, depth + 1));
  }
  if (isEnumType(nullable)) return random.chance(0.9) ? random.pick(nullable.getValues()).value : "NOT_A_MEMBER";
  if (isInputObjectType(nullable)) {
    const fields = Object.values(nullable.getFields());
    // A oneOf input is meant to have one member: sometimes none or two.
    const chosen = nullable.isOneOf ? fields.filter(() => random.chance(1.2 / fields.length)) : fields.filter((field) => isNonNullType(field.type) || random.chance(0.5));
    return Object.fromEntries(chosen.map((field) => [field.name, depth > 4 ? null : inputValue(field.type, random, depth + 1)]));
  }
  switch ((nullable as GraphQLNamedType).name) {
    case "Int":
      return random.pick(INTS);
    case "Boolean":
      return random.chance(0.5);
    case "DateTime":
      return random.pick(DATES);
    case "JSON":
      return random.pick<unknown>([{ a: 1 }, [1, "two", null], "text", 3.5, { nested: { deeper: ["\ud83d"] } }, { ["k".repeat(300)]: "v" }]);
    default:
      return random.pick(STRINGS);
  }
}

/** A selection of an output type, a few levels deep, with fragments on the types an interface may be. */
function selection(type: GraphQLOutputType, random: Random, depth: number): string {
  const named = getNamedType(type);
  if (isLeafType(named)) return "";
  if (depth > 3) return "{ __typename }";
  const parts: string[] = ["__typename"];
  if (isObjectType(named) || isInterfaceType(named)) {
    for (const field of Object.values(named.getFields())) {
      if (field.args.length > 0 || !random.chance(0.6)) continue;
      parts.push(`${field.name} ${selection(field.type, random, depth + 1)}`);
    }
  }
  if (isAbstractType(named)) {
    for (const possible of SCHEMA.getPossibleTypes(named)) {
      if (random.chance(0.4)) parts.push(`... on ${possible.name} ${selection(possible, random, depth + 1)}`);
    }
  }
  return `{ ${parts.join(" ")} }`;
}

/** One operation on a root field: its arguments as variables (sometimes left out), a random selection. */
function operation(kind: "query" | "mutation" | "subscription", field: GraphQLField<unknown, unknown>, random: Random) {
  const args = field.args.filter((arg: GraphQLArgument) => isNonNullType(arg.type) || random.chance(0.6));
  const variables = Object.fromEntries(args.map((arg) => [arg.name, inputValue(arg.type, random)]));
  const definitions = args.map((arg) => `$${arg.name}: ${arg.type.toString()}`).join(", ");
  const call = args.length > 0 ? `(${args.map((arg) => `${arg.name}: $${arg.name}`).join(", ")})` : "";
  const query = `${kind} Fuzz${definitions ? `(${definitions})` : ""} { ${field.name}${call} ${selection(field.type, random, 1)} }`;
  return { query, variables };
}

function rootFields(type: GraphQLObjectType | null | undefined) {
  return type ? Object.values(type.getFields()) : [];
}

describe("operations generated from the schema, with random and hostile values", () => {
  const dataSource = useTestDatabase();
  const server = useTestServer();

  it(`answers ${HTTP_OPERATIONS} over HTTP and ${WS_OPERATIONS} over WebSocket without an internal error, a 5xx but 503, or a stop`, async () => {
    const tokens = [
      await tokenFor(Role.ADMIN, { userId: "u-ana" }),
      await tokenFor(Role.AGENT, { userId: "u-ben" }),
      await tokenFor(Role.SERVICE),
      await tokenFor(Role.ADMIN, { workspaceId: OTHER_WORKSPACE }),
      undefined,
    ];
    // Something to find: a few events of each type.
    const events = Object.values(AuditEventType).map((type, n) => eventInput(type, `${type.toLowerCase()}.fuzz`, { idempotencyKey: `fuzz-${n}` }));
    await postGraphQL(server.graphqlUrl, { query: RECORD_EVENTS, variables: { events } }, { token: tokens[2] });

    const random = generator(SEED);
    const fields = [
      ...rootFields(SCHEMA.getQueryType()).map((field) => ["query", field] as const),
      ...rootFields(SCHEMA.getMutationType()).map((field) => ["mutation", field] as const),
    ];
    const failures: string[] = [];
    for (let n = 0; n < HTTP_OPERATIONS; n++) {
      const [kind, field] = random.pick(fields);
      const generated = operation(kind, field, random);
      const response = await postGraphQL(server.graphqlUrl, generated, { token: random.pick(tokens) });
      const internal = (response.body.errors ?? []).filter((error) => error.extensions?.code === "INTERNAL_SERVER_ERROR");
      if (!ALLOWED_STATUSES.has(response.status) || internal.length > 0) {
        failures.push(`#${n} ${response.status} ${JSON.stringify(response.body.errors?.[0])}: ${generated.query.slice(0, 300)} ${JSON.stringify(generated.variables).slice(0, 300)}`);
      }
    }

    const ws = createTestWsClient(server.wsUrl, { authorization: tokens[0] });
    try {
      await ws.connected;
      const wsFields = [...fields, ...rootFields(SCHEMA.getSubscriptionType()).map((field) => ["subscription", field] as const)];
      for (let n = 0; n < WS_OPERATIONS; n++) {
        const [kind, field] = random.pick(wsFields);
        const generated = operation(kind, field, random);
        // A message over 64 KiB closes the socket (1009), by design: the rest of the run needs it open.
        if (JSON.stringify(generated).length > 60_000) continue;
        if (kind === "subscription") {
          // A subscription either fails at once or runs: it is ended after its first answer or a moment.
          const subscription = ws.subscribe(generated);
          const first = await subscription.next(200).catch((error: unknown) => error);
          subscription.unsubscribe();
          const errors = (Array.isArray(first) ? first : ((first as { errors?: unknown[] })?.errors ?? [])) as { extensions?: { code?: string } }[];
          if (errors.some((error) => error.extensions?.code === "INTERNAL_SERVER_ERROR")) failures.push(`ws #${n} ${JSON.stringify(errors[0])}: ${generated.query.slice(0, 300)}`);
          continue;
        }
        const result = await ws.execute({ query: generated.query, variables: generated.variables }).catch((errors: unknown) => ({ errors: errors as unknown[] }));
        const errors = ((result as { errors?: { extensions?: { code?: string } }[] }).errors ?? []) as { extensions?: { code?: string } }[];
        if (errors.some((error) => error.extensions?.code === "INTERNAL_SERVER_ERROR")) failures.push(`ws #${n} ${JSON.stringify(errors[0])}: ${generated.query.slice(0, 300)}`);
      }
    } finally {
      await ws.dispose();
    }

    expect(failures).toEqual([]);
    // Still serving, and still storing nothing it should not have.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const [{ n }]: { n: number | string }[] = await dataSource.query(`SELECT COUNT(*) AS n FROM audit_events WHERE workspace_id = ?`, [OTHER_WORKSPACE]);
    expect(Number(n)).toBe(0);
  }, 240_000);
});
