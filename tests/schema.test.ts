import { readFileSync } from "node:fs";
import path from "node:path";
import { graphql, GraphQLInputObjectType, GraphQLResolveInfo, GraphQLSchema, isAbstractType, isInterfaceType, isObjectType, parse } from "graphql";
import { compileQuery, isCompiledQuery } from "graphql-jit";
import { Arg, Authorized, buildSchema, Ctx, Directive, Field, FieldResolver, InputType, Int, InterfaceType, ObjectType, Query, Resolver, Root } from "type-graphql";
import { dataSource } from "../ormconfig";
import { authChecker } from "../src/auth/auth-checker";
import { applyDirectFieldResolvers, DIRECT_FIELD_RESOLVER } from "../src/common/direct-field-resolvers";
import { createLogger } from "../src/common/logger";
import { config } from "../src/config";
import { AuditEventType } from "../src/events/audit-event.enums";
import type { AuditEventRecord } from "../src/events/audit-event.record";
import { EVENT_TYPE_NAMES } from "../src/events/audit-event.types";
import { createServices } from "../src/server/app-services";
import { applyOneOf, applyTypeResolvers, buildAppSchema, printAppSchema } from "../src/server/schema";

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

@InterfaceType("Shape", { resolveType: (shape: { sides: number }) => (shape.sides === 3 ? "Triangle" : "Square") })
abstract class Shape {
  @Field(() => Int)
  sides!: number;
}

@ObjectType("Triangle", { implements: Shape })
class Triangle extends Shape {}

@ObjectType("Square", { implements: Shape })
class Square extends Shape {}

@Resolver()
class ShapeResolver {
  @Query(() => [Shape])
  shapes(): { sides: number }[] {
    return [{ sides: 3 }, { sides: 4 }];
  }
}

describe("applyTypeResolvers", () => {
  const services = () => createServices(dataSource, config, createLogger("silent"));
  const resolveTypeOf = (schema: GraphQLSchema, name: string, value: unknown) => {
    const type = schema.getType(name);
    if (!isInterfaceType(type) || !type.resolveType) throw new Error(`${name} has no type resolver`);
    return type.resolveType(value, {}, {} as GraphQLResolveInfo, type);
  };

  it("gives AuditEvent a resolver that answers without a promise", async () => {
    const schema = await buildAppSchema(services());
    for (const type of Object.values(AuditEventType)) {
      expect(resolveTypeOf(schema, "AuditEvent", { type } as AuditEventRecord)).toBe(EVENT_TYPE_NAMES[type]);
    }
  });

  it("replaces type-graphql's resolver, which answers with a promise, and types resolve as before", async () => {
    const built = await buildSchema({ resolvers: [ShapeResolver], orphanedTypes: [Triangle, Square], authChecker, validate: false });
    const triangle = { sides: 3 };
    expect(resolveTypeOf(built, "Shape", triangle)).toBeInstanceOf(Promise);
    const schema = applyTypeResolvers(built, { Shape: (shape: { sides: number }) => (shape.sides === 3 ? "Triangle" : "Square") });
    expect(resolveTypeOf(schema, "Shape", triangle)).toBe("Triangle");
    const source = `{ shapes { __typename sides } }`;
    const expected = { data: { shapes: [{ __typename: "Triangle", sides: 3 }, { __typename: "Square", sides: 4 }] } };
    expect(await graphql({ schema: built, source })).toEqual(expected);
    expect(await graphql({ schema, source })).toEqual(expected);
  });

  it("lets graphql-jit complete an interface, which it cannot do from type-graphql's promise", async () => {
    const built = await buildSchema({ resolvers: [ShapeResolver], orphanedTypes: [Triangle, Square], authChecker, validate: false });
    const schema = applyTypeResolvers(built, { Shape: (shape: { sides: number }) => (shape.sides === 3 ? "Triangle" : "Square") });
    const document = parse(`{ shapes { __typename sides } }`);
    const run = async (target: GraphQLSchema) => {
      const compiled = compileQuery(target, document);
      if (!isCompiledQuery(compiled)) throw new Error("did not compile");
      return compiled.query(undefined, {}, {});
    };
    expect((await run(built)).errors?.[0]?.message).toMatch(/Abstract type Shape must resolve to an Object type at runtime/);
    expect(await run(schema)).toEqual({ data: { shapes: [{ __typename: "Triangle", sides: 3 }, { __typename: "Square", sides: 4 }] } });
  });

  it("covers every abstract type of the app's schema", async () => {
    const schema = await buildAppSchema(services());
    const abstract = Object.values(schema.getTypeMap()).filter(isAbstractType);
    expect(abstract.map((type) => type.name)).toEqual(["AuditEvent"]);
  });
});

@ObjectType("Box")
class Box {
  @Field(() => String)
  label!: string;
}

@Resolver()
class BoxQueryResolver {
  @Query(() => Box)
  box(): { label: string } {
    return { label: "b" };
  }
}

/** Field resolvers of each kind: called directly (`plain`, `rootOnly`), or kept in type-graphql's wrapper (a role, an argument). */
@Resolver(() => Box)
class BoxFieldResolver {
  @FieldResolver(() => String)
  plain(@Root() box: Box, @Ctx() context: { suffix: string }): string {
    return `${box.label}${context.suffix} copied:${box instanceof Box}`;
  }

  @FieldResolver(() => String)
  rootOnly(@Root() box: Box): string {
    return box.label.toUpperCase();
  }

  @Authorized("ADMIN")
  @FieldResolver(() => String)
  guarded(@Root() box: Box): string {
    return box.label;
  }

  @FieldResolver(() => String)
  repeated(@Root() box: Box, @Arg("times", () => Int) times: number): string {
    return box.label.repeat(times);
  }
}

describe("applyDirectFieldResolvers", () => {
  const build = async () => {
    const resolvers = [BoxQueryResolver, BoxFieldResolver] as const;
    const instances = new Map<Function, object>(resolvers.map((resolver) => [resolver, new resolver()]));
    const built = await buildSchema({ resolvers, container: { get: (resolver: Function) => instances.get(resolver)! }, authChecker, validate: false });
    return { built, schema: applyDirectFieldResolvers(built, instances) };
  };
  const isDirect = (schema: GraphQLSchema, type: string, field: string) => {
    const found = schema.getType(type);
    if (!isObjectType(found)) throw new Error(`${type} is not an object type`);
    return (found.getFields()[field].resolve as { [DIRECT_FIELD_RESOLVER]?: boolean } | undefined)?.[DIRECT_FIELD_RESOLVER] === true;
  };

  it("calls a method of the parent value and the context directly, with the parent as it is, and keeps the wrapper of one with a role or an argument", async () => {
    const { built, schema } = await build();
    expect(["plain", "rootOnly", "guarded", "repeated"].map((field) => isDirect(schema, "Box", field))).toEqual([true, true, false, false]);
    const source = `{ box { plain rootOnly repeated(times: 2) } }`;
    // type-graphql copies the parent into an instance of its class; the direct call hands it over as it is.
    expect(await graphql({ schema: built, source, contextValue: { suffix: "!" } })).toEqual({ data: { box: { plain: "b! copied:true", rootOnly: "B", repeated: "bb" } } });
    expect(await graphql({ schema, source, contextValue: { suffix: "!" } })).toEqual({ data: { box: { plain: "b! copied:false", rootOnly: "B", repeated: "bb" } } });
    const compiled = compileQuery(schema, parse(source));
    if (!isCompiledQuery(compiled)) throw new Error("did not compile");
    expect(await compiled.query(undefined, { suffix: "?" }, {})).toEqual({ data: { box: { plain: "b? copied:false", rootOnly: "B", repeated: "bb" } } });
  });

  it("leaves the role check in place", async () => {
    const { schema } = await build();
    const result = await graphql({ schema, source: `{ box { guarded } }`, contextValue: { principal: null } });
    expect(result.data).toBeNull();
    expect(result.errors?.[0].extensions?.code).toBeDefined();
  });

  it("calls every field resolver of an event directly in the app's schema", async () => {
    const schema = await buildAppSchema(createServices(dataSource, config, createLogger("silent")));
    const eventFields: [string, string][] = [
      ["Actor", "user"],
      ["Conversation", "customer"],
      ["ConversationEvent", "conversation"],
      ["ConversationEvent", "customer"],
      ["ConversationEvent", "csat"],
      ["CustomerEvent", "customer"],
      ["SettingsEvent", "section"],
      ["SettingsEvent", "objectName"],
      ["WorkSessionEvent", "queue"],
      ["AuthorizationEvent", "subjectUser"],
    ];
    expect(eventFields.filter(([type, field]) => !isDirect(schema, type, field))).toEqual([]);
  });
});
