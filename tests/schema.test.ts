import { readFileSync } from "node:fs";
import path from "node:path";
import { graphql, GraphQLInputObjectType } from "graphql";
import { Arg, buildSchema, Directive, Field, InputType, Query, Resolver } from "type-graphql";
import { dataSource } from "../ormconfig";
import { createLogger } from "../src/common/logger";
import { config } from "../src/config";
import { authChecker } from "../src/auth/auth-checker";
import { applyOneOf, buildAppSchema, printAppSchema } from "../src/server/schema";
import { createServices } from "../src/server/services";

const SCHEMA_FILE = path.resolve(__dirname, "..", "schema", "schema.graphql");

describe("schema/schema.graphql", () => {
  it("is what the code builds (run `npm run schema` after changing the API)", async () => {
    const built = printAppSchema(await buildAppSchema(createServices(dataSource, config, createLogger("silent"))));
    expect(readFileSync(SCHEMA_FILE, "utf8")).toBe(built);
  });
});

@InputType()
@Directive("@oneOf")
class PickOne {
  @Field(() => String, { nullable: true })
  left?: string;

  @Field(() => String, { nullable: true })
  right?: string;
}

@Resolver()
class PickResolver {
  @Query(() => String)
  pick(@Arg("choice", () => PickOne) choice: PickOne): string {
    return Object.keys(choice).join(",");
  }
}

describe("applyOneOf", () => {
  let schema: Awaited<ReturnType<typeof buildSchema>>;
  beforeAll(async () => {
    schema = applyOneOf(await buildSchema({ resolvers: [PickResolver], authChecker, validate: false }));
  });

  it("gives inputs marked @oneOf graphql-js's isOneOf flag", () => {
    expect((schema.getType("PickOne") as GraphQLInputObjectType).isOneOf).toBe(true);
  });

  it("lets exactly one member through", async () => {
    const result = await graphql({ schema, source: `{ pick(choice: { left: "a" }) }` });
    expect(result).toEqual({ data: { pick: "left" } });
  });

  it.each([
    ["two members inline", `{ pick(choice: { left: "a", right: "b" }) }`, undefined],
    ["no member inline", `{ pick(choice: {}) }`, undefined],
    ["two members in variables", `query($c: PickOne!) { pick(choice: $c) }`, { c: { left: "a", right: "b" } }],
    ["no member in variables", `query($c: PickOne!) { pick(choice: $c) }`, { c: {} }],
  ])("rejects %s in graphql itself", async (_name, source, variableValues) => {
    const result = await graphql({ schema, source, variableValues });
    expect(result.data ?? undefined).toBeUndefined();
    expect(result.errors?.[0].message).toMatch(/exactly one key/i);
  });
});
