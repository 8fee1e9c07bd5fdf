import "reflect-metadata";
import { execute, GraphQLSchema, parse, printSchema } from "graphql";
import { Arg, buildSchema, Field, InputType, Int, Query, Resolver } from "type-graphql";
import { applyPlainArguments, PlainArg } from "../src/common/plain-argument";

@InputType()
class PointInput {
  @Field(() => Int)
  x!: number;

  @Field(() => [Int], { nullable: true })
  path?: number[] | null;
}

/** What each resolver received, for the test to look at. */
const received: { plain?: unknown; converted?: unknown; label?: unknown } = {};

@Resolver()
class PointResolver {
  @Query(() => Int)
  plainPoints(@PlainArg("points", () => [PointInput]) points: PointInput[], @PlainArg("label", () => String, { nullable: true }) label: string | null): number {
    received.plain = points;
    received.label = label;
    return points.length;
  }

  @Query(() => Int)
  convertedPoints(@Arg("points", () => [PointInput]) points: PointInput[]): number {
    received.converted = points;
    return points.length;
  }
}

const POINTS = [{ x: 1, path: [1, 2] }, { x: 2 }];
const PLAIN_QUERY = parse(`query ($points: [PointInput!]!, $label: String) { plainPoints(points: $points, label: $label) }`);
const CONVERTED_QUERY = parse(`query ($points: [PointInput!]!) { convertedPoints(points: $points) }`);

describe("plain arguments", () => {
  let built: GraphQLSchema;
  let schema: GraphQLSchema;

  beforeAll(async () => {
    built = await buildSchema({ resolvers: [PointResolver], validate: false });
    schema = applyPlainArguments(built);
  });

  it("declare the same argument @Arg does, so the schema is unchanged", () => {
    expect(printSchema(schema)).toBe(printSchema(built));
    expect(printSchema(schema)).toMatch(/plainPoints\((points: \[PointInput!\]!, label: String|label: String, points: \[PointInput!\]!)\): Int!/);
  });

  it("reach the resolver as graphql-js coerced them, not as instances of the input class", async () => {
    const result = await execute({ schema, document: PLAIN_QUERY, variableValues: { points: POINTS, label: "route" } });
    expect(result).toEqual({ data: { plainPoints: 2 } });
    expect(received.plain).toEqual(POINTS);
    expect((received.plain as object[]).some((point) => point instanceof PointInput)).toBe(false);
    expect(received.label).toBe("route");
  });

  it("pass an omitted optional argument as undefined", async () => {
    const result = await execute({ schema, document: PLAIN_QUERY, variableValues: { points: [] } });
    expect(result).toEqual({ data: { plainPoints: 0 } });
    expect(received.label).toBeUndefined();
  });

  it("leave @Arg arguments converted to instances, as type-graphql does", async () => {
    const result = await execute({ schema, document: CONVERTED_QUERY, variableValues: { points: POINTS } });
    expect(result).toEqual({ data: { convertedPoints: 2 } });
    expect((received.converted as object[]).every((point) => point instanceof PointInput)).toBe(true);
  });

  it("reach no resolver in a schema built without applyPlainArguments", async () => {
    received.plain = "not called";
    const result = await execute({ schema: built, document: PLAIN_QUERY, variableValues: { points: POINTS } });
    expect(received.plain).toBeUndefined();
    expect(result.errors?.[0].message).toMatch(/length/);
  });
});
