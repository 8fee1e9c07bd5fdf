import { MapperKind, mapSchema } from "@graphql-tools/utils";
import { GraphQLInputObjectType, GraphQLInterfaceType, GraphQLSchema, GraphQLTypeResolver, printSchema } from "graphql";
import { buildSchema, ContainerType } from "type-graphql";
import { authChecker } from "../auth/auth-checker";
// Resolvers add their root fields as their modules load: the order of these imports is the order of Query's fields.
import { AUDIT_EVENT_FIELD_RESOLVERS } from "../events/audit-event-fields.resolver";
import { RecordingResolver } from "../recording/recording.resolver";
import { resolveAuditEventType } from "../events/audit-event.types";
import { AuditLogResolver } from "../logs/audit-log.resolver";
import { ViewerResolver } from "../auth/viewer.resolver";
import { DirectoryResolver } from "../directory/directory.resolver";
import { LiveTailResolver } from "../live-tail/live-tail.resolver";
import { IntegrityResolver } from "../integrity/integrity.resolver";
import { applyDirectFieldResolvers } from "../common/direct-field-resolvers";
import { applyPlainArguments } from "../common/plain-argument";
import { DateTimeScalar } from "../common/scalars";
import { applyWellFormedArguments } from "../common/well-formed";
import type { AppServices } from "./app-services";

/**
 * Every resolver class, and how it is made from the services: each gets only
 * what it uses, through its constructor. (Subscriptions' `subscribe` is the
 * exception type-graphql imposes: it gets the live tail from the context.)
 */
const RESOLVERS: readonly (readonly [Function, (services: AppServices) => object])[] = [
  [ViewerResolver, () => new ViewerResolver()],
  [RecordingResolver, (services) => new RecordingResolver(services.recorder)],
  [AuditLogResolver, (services) => new AuditLogResolver(services.logs, services.events)],
  [DirectoryResolver, (services) => new DirectoryResolver(services.directory)],
  [LiveTailResolver, () => new LiveTailResolver()],
  [IntegrityResolver, (services) => new IntegrityResolver(services.integrity)],
  ...AUDIT_EVENT_FIELD_RESOLVERS.map((resolver) => [resolver, () => new resolver()] as const),
];

/**
 * Builds the executable schema. Resolvers are made once, as RESOLVERS says;
 * inputs declared with `@Directive("@oneOf")` become real graphql-js oneOf
 * inputs (see {@link applyOneOf}), arguments declared
 * with `@PlainArg` reach their resolvers as plain values (see
 * {@link applyPlainArguments}), other arguments must be well-formed Unicode
 * (see {@link applyWellFormedArguments}), interfaces resolve their types
 * without a promise (see {@link applyTypeResolvers}), and field resolvers of
 * the parent value and the context are called directly (see
 * {@link applyDirectFieldResolvers}).
 */
export async function buildAppSchema(services: AppServices): Promise<GraphQLSchema> {
  const instances = new Map(RESOLVERS.map(([resolverClass, make]) => [resolverClass, make(services)]));
  const container: ContainerType = {
    get(resolverClass: Function) {
      const instance = instances.get(resolverClass);
      if (!instance) throw new Error(`${resolverClass.name} is not in RESOLVERS`);
      return instance;
    },
  };
  const schema = await buildSchema({
    resolvers: RESOLVERS.map(([resolverClass]) => resolverClass) as [Function, ...Function[]],
    container,
    authChecker,
    authMode: "error",
    validate: false,
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    pubSub: services.bus.pubSub,
  });
  return applyTypeResolvers(applyWellFormedArguments(applyPlainArguments(applyOneOf(applyDirectFieldResolvers(schema, instances)))));
}

/** Type resolvers by interface name; each is called only with values of its own interface. */
export type TypeResolvers = Readonly<Partial<Record<string, GraphQLTypeResolver<never, unknown>>>>;

/** The type resolver of each interface of the app's schema. */
const TYPE_RESOLVERS: TypeResolvers = {
  AuditEvent: resolveAuditEventType,
};

/**
 * type-graphql wraps every `resolveType` in an async function. graphql-jit,
 * which runs every operation once it is compiled (see CompiledExecutor),
 * takes a type resolver's answer as it comes and cannot complete an
 * abstract type from a promise: each event of a compiled operation would
 * fail. Each interface takes its own synchronous resolver from
 * {@link TYPE_RESOLVERS} instead, which graphql-js takes as well.
 */
export function applyTypeResolvers(schema: GraphQLSchema, resolvers: TypeResolvers = TYPE_RESOLVERS): GraphQLSchema {
  return mapSchema(schema, {
    [MapperKind.INTERFACE_TYPE]: (type) => {
      const resolveType = resolvers[type.name] as GraphQLTypeResolver<unknown, unknown> | undefined;
      return resolveType ? new GraphQLInterfaceType({ ...type.toConfig(), resolveType }) : type;
    },
  });
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
