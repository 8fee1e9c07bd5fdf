import { MapperKind, mapSchema } from "@graphql-tools/utils";
import type { GraphQLFieldResolver, GraphQLSchema } from "graphql";
import { getMetadataStorage } from "type-graphql";

/**
 * Field resolvers that take only the parent value, or the parent value and
 * the context, called directly.
 *
 * type-graphql wraps each `@FieldResolver` method in a function that, on
 * every call, builds its resolver data, asks the container for the resolver
 * instance, runs the (empty) middleware chain, sorts and maps the method's
 * parameters, and copies a parent value typed as a class (`Actor`,
 * `Conversation`) into a new instance of that class. A log's page calls such
 * fields several times per event. A method with no role, no middleware and
 * no other parameter than a whole `@Root()` and `@Ctx()` gets the same values
 * from a direct call, without that work; any other keeps type-graphql's
 * wrapper. The schema is built without global middlewares, which the direct
 * call would skip.
 *
 * It works around type-graphql, so it stays only because it pays for a log's
 * pages (`docs/performance.md`, "Figures behind choices in the code").
 */

/** The mark of a resolver this module made, for tests. */
export const DIRECT_FIELD_RESOLVER = Symbol("direct field resolver");

/**
 * Replaces type-graphql's wrapper of every field resolver that qualifies
 * (see above) and whose resolver class has an instance in `instances`.
 */
export function applyDirectFieldResolvers(schema: GraphQLSchema, instances: ReadonlyMap<Function, object>): GraphQLSchema {
  const storage = getMetadataStorage();
  const typeNames = new Map<Function, string>(storage.objectTypes.map((type) => [type.target, type.name]));
  const direct = new Map<string, GraphQLFieldResolver<unknown, unknown>>();
  for (const metadata of storage.fieldResolvers) {
    const instance = instances.get(metadata.target);
    const typeName = metadata.getObjectType && typeNames.get(metadata.getObjectType());
    if (metadata.kind !== "external" || !instance || !typeName || metadata.roles !== undefined || (metadata.middlewares?.length ?? 0) > 0) continue;
    const kinds = [...(metadata.params ?? [])]
      .sort((a, b) => a.index - b.index)
      .map((param) => ("propertyName" in param && param.propertyName ? "partial" : param.kind));
    const method = (instance as Record<string, unknown>)[metadata.methodName];
    if (typeof method !== "function") continue;
    const resolve = resolverFor(kinds.join(","), method as (...args: unknown[]) => unknown, instance);
    if (resolve) direct.set(`${typeName}.${metadata.schemaName}`, Object.assign(resolve, { [DIRECT_FIELD_RESOLVER]: true }));
  }
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (field, fieldName, typeName) => {
      const resolve = direct.get(`${typeName}.${fieldName}`);
      return resolve ? { ...field, resolve } : field;
    },
  });
}

/** The direct call for a method's parameters, in order; undefined for parameters it does not take. */
function resolverFor(parameters: string, method: (...args: unknown[]) => unknown, instance: object): GraphQLFieldResolver<unknown, unknown> | undefined {
  switch (parameters) {
    case "root":
      return (source) => method.call(instance, source);
    case "root,context":
      return (source, _args, context) => method.call(instance, source, context);
    default:
      return undefined;
  }
}
