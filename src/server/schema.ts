import { MapperKind, mapSchema } from "@graphql-tools/utils";
import { GraphQLInputObjectType, GraphQLSchema, printSchema } from "graphql";
import { buildSchema, ContainerType } from "type-graphql";
import { authChecker } from "../auth/auth-checker";
import { AUDIT_EVENT_FIELD_RESOLVERS } from "../audit/audit-event-fields.resolver";
import { AuditEventResolver } from "../audit/audit-event.resolver";
import { AuditLogResolver } from "../audit-log/audit-log.resolver";
import { ViewerResolver } from "../auth/viewer.resolver";
import { DirectoryResolver } from "../directory/directory.resolver";
import { LiveTailResolver } from "../live-tail/live-tail.resolver";
import { applyPlainArguments } from "../common/plain-argument";
import { DateTimeScalar } from "../common/scalars";
import type { AppServices } from "./services";

/** Every resolver class; each is constructed once with the services. */
const RESOLVERS = [
  ViewerResolver,
  AuditEventResolver,
  AuditLogResolver,
  DirectoryResolver,
  LiveTailResolver,
  ...AUDIT_EVENT_FIELD_RESOLVERS,
] as const;

/**
 * Builds the executable schema. Resolvers get the services through their
 * constructor; inputs declared with `@Directive("@oneOf")` become real
 * graphql-js oneOf inputs (see {@link applyOneOf}), and arguments declared
 * with `@PlainArg` reach their resolvers as plain values (see
 * {@link applyPlainArguments}).
 */
export async function buildAppSchema(services: AppServices): Promise<GraphQLSchema> {
  const instances = new Map<unknown, unknown>();
  const container: ContainerType = {
    get(resolverClass: new (services: AppServices) => unknown) {
      if (!instances.has(resolverClass)) instances.set(resolverClass, new resolverClass(services));
      return instances.get(resolverClass);
    },
  };
  const schema = await buildSchema({
    resolvers: [...RESOLVERS],
    container,
    authChecker,
    authMode: "error",
    validate: false,
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    pubSub: services.bus.pubSub,
  });
  return applyPlainArguments(applyOneOf(schema));
}

/**
 * type-graphql 2.0 has no oneOf: it prints `@oneOf` as a directive on the
 * input's AST but leaves `isOneOf` false. Rebuilding those inputs with the flag
 * makes graphql-js itself reject none or several members, over variables too.
 */
export function applyOneOf(schema: GraphQLSchema): GraphQLSchema {
  return mapSchema(schema, {
    [MapperKind.INPUT_OBJECT_TYPE]: (type) => {
      const marked = type.astNode?.directives?.some((directive) => directive.name.value === "oneOf");
      return marked ? new GraphQLInputObjectType({ ...type.toConfig(), isOneOf: true }) : type;
    },
  });
}

/** The schema as SDL, in declaration order: what `schema/schema.graphql` holds. */
export function printAppSchema(schema: GraphQLSchema): string {
  return `${printSchema(schema)}\n`;
}
