import type { GatewayExecutionResult, GatewayGraphQLRequestContext, GatewayInterface } from "@apollo/server-gateway-interface";
import {
  execute,
  ExecutionResult,
  getNamedType,
  getVariableValues,
  GraphQLError,
  GraphQLInputType,
  GraphQLSchema,
  isInputObjectType,
  printSchema,
  typeFromAST,
  valueFromASTUntyped,
  VariableDefinitionNode,
} from "graphql";
import { CompiledQuery, compileQuery, isCompiledQuery } from "graphql-jit";

/**
 * A query or mutation document is compiled on this execution of it; the
 * ones before run through graphql-js, so a document sent once never pays for
 * compiling, which costs more than executing it.
 */
const COMPILE_ON_EXECUTION = 2;
/** Documents whose executions are counted (and kept compiled); the oldest is forgotten first. */
const MAX_TRACKED_DOCUMENTS = 1_000;

/** A compiled operation, with the default value of each variable that has one (as JSON). */
interface Compiled {
  query: CompiledQuery;
  defaults: [name: string, value: unknown][];
  /** Whether a variable's type reaches a oneOf input, which graphql-jit does not know: graphql-js checks those variables first. */
  reachesOneOf: boolean;
}

/** A document the executor has seen: how often it ran, and its compiled form once it has one. */
interface Tracked {
  executions: number;
  /** Set once compiled; `false` when graphql-jit refused the document (it then stays on graphql-js). */
  compiled?: Compiled | false;
}

/** What the executor reads of the request Apollo Server hands over. */
export type ExecutionRequest = Pick<GatewayGraphQLRequestContext, "document" | "operation" | "operationName" | "queryHash" | "context" | "request">;

/** What the executor did, for tests and diagnostics. */
export interface ExecutionCounts {
  /** Operations executed by graphql-js (also those whose variables graphql-jit refused). */
  interpreted: number;
  /** Operations executed by their compiled form. */
  compiled: number;
  /** Documents compiled. */
  compilations: number;
}

/**
 * Executes the operations Apollo Server has parsed and validated. An
 * operation that keeps coming back (every client of the logs sends the same
 * few queries, every producer the same recording mutation) is compiled by
 * graphql-jit into one function per document. It resolves the same fields
 * through the same resolvers, but without graphql-js's per-field work (a
 * first page resolves every selected field of every event, and graphql-js
 * spent more CPU on them than the page's SQL), and it coerces variables with
 * code generated for their types, which matters for a batch of events.
 * One-off documents and subscriptions run through graphql-js.
 *
 * Clients get graphql-js's variable errors, whatever runs the operation:
 * when graphql-jit refuses the variables, graphql-js executes the operation
 * instead, and answers with its own errors (or runs it, should it accept
 * them). graphql-jit does not know oneOf inputs: when a variable's type
 * reaches one, graphql-js checks the variables first.
 */
export class CompiledExecutor {
  private readonly documents = new Map<string, Tracked>();
  private readonly counts: ExecutionCounts = { interpreted: 0, compiled: 0, compilations: 0 };

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly compileOnExecution = COMPILE_ON_EXECUTION,
    private readonly maxTrackedDocuments = MAX_TRACKED_DOCUMENTS,
  ) {}

  /** Executes one operation as Apollo Server hands it over. */
  async execute(request: ExecutionRequest): Promise<GatewayExecutionResult> {
    const compiled = request.operation.operation === "subscription" ? undefined : this.compiledFor(request);
    if (!compiled) return this.interpret(request);
    const variables = request.request.variables ?? {};
    if (compiled.reachesOneOf) {
      const coerced = getVariableValues(this.schema, request.operation.variableDefinitions ?? [], variables, { maxErrors: 50 });
      if (coerced.errors) return this.interpret(request);
    }
    const result = await compiled.query.query(undefined, request.context, withDefaults(variables, compiled.defaults));
    // graphql-jit answers without data only when it refused the variables, before running anything.
    if (!("data" in result)) return this.interpret(request);
    this.counts.compiled += 1;
    return result.errors ? { ...result, errors: result.errors.map(asGraphQLError) } : result;
  }

  /** A copy of the counts so far. */
  executions(): ExecutionCounts {
    return { ...this.counts };
  }

  private interpret(request: ExecutionRequest): Promise<GatewayExecutionResult> {
    this.counts.interpreted += 1;
    return Promise.resolve(
      execute({
        schema: this.schema,
        document: request.document,
        contextValue: request.context,
        variableValues: request.request.variables,
        operationName: request.operationName,
      }),
    );
  }

  /** The document's compiled operation, once it has run often enough to have one. */
  private compiledFor(request: ExecutionRequest): Compiled | undefined {
    const key = `${request.queryHash}:${request.operationName ?? ""}`;
    let tracked = this.documents.get(key);
    if (!tracked) {
      if (this.documents.size >= this.maxTrackedDocuments) this.documents.delete(this.documents.keys().next().value!);
      tracked = { executions: 0 };
      this.documents.set(key, tracked);
    }
    tracked.executions += 1;
    if (tracked.compiled === undefined && tracked.executions >= this.compileOnExecution) {
      tracked.compiled = this.compile(request);
      if (tracked.compiled) this.counts.compilations += 1;
    }
    return tracked.compiled || undefined;
  }

  private compile(request: ExecutionRequest): Compiled | false {
    let query: CompiledQuery | ExecutionResult;
    try {
      query = compileQuery(this.schema, request.document, request.operationName ?? undefined);
    } catch {
      // A document graphql-jit cannot compile still runs, through graphql-js.
      return false;
    }
    if (!isCompiledQuery(query)) return false;
    const definitions = request.operation.variableDefinitions ?? [];
    const defaults = definitions.flatMap((definition): Compiled["defaults"] =>
      definition.defaultValue ? [[definition.variable.name.value, valueFromASTUntyped(definition.defaultValue)]] : [],
    );
    return { query, defaults, reachesOneOf: reachesOneOf(this.schema, definitions) };
  }
}

/** Whether the type of any of the variables is, or holds at some depth, a oneOf input. */
function reachesOneOf(schema: GraphQLSchema, definitions: readonly VariableDefinitionNode[]): boolean {
  const seen = new Set<string>();
  const reaches = (type: GraphQLInputType | undefined): boolean => {
    const named = type && getNamedType(type);
    if (!isInputObjectType(named) || seen.has(named.name)) return false;
    seen.add(named.name);
    return named.isOneOf || Object.values(named.getFields()).some((field) => reaches(field.type));
  };
  return definitions.some((definition) => reaches(typeFromAST(schema, definition.type) as GraphQLInputType | undefined));
}

/**
 * The variables with each default filled in where the request left the
 * variable out: graphql-jit refuses a missing non-null variable even when it
 * has a default (graphql-js takes the default). The defaults are JSON, as a
 * client would send them, since graphql-jit coerces what it gets.
 */
function withDefaults(variables: Record<string, unknown>, defaults: Compiled["defaults"]): Record<string, unknown> {
  let filled = variables;
  for (const [name, value] of defaults) {
    if (!Object.hasOwn(variables, name)) filled = { ...filled, [name]: value };
  }
  return filled;
}

/**
 * graphql-jit's errors are GraphQLError look-alikes without graphql-js's
 * guarantees (no `extensions` object when the cause has none, which Apollo's
 * error formatting relies on). Each becomes a graphql-js GraphQLError with the
 * same message, locations, path and cause.
 */
function asGraphQLError(error: GraphQLError): GraphQLError {
  const rebuilt = new GraphQLError(error.message, {
    path: error.path,
    originalError: error.originalError ?? undefined,
    ...(error.extensions ? { extensions: error.extensions } : {}),
  });
  return Object.assign(rebuilt, { locations: error.locations });
}

/**
 * Apollo Server 4 and later take a custom executor only through their gateway
 * option; this "gateway" serves one fixed schema and executes with a
 * {@link CompiledExecutor}. Everything before execution (parsing, validation,
 * the context, plugins, error formatting) stays Apollo's own.
 *
 * Apollo builds the request it hands over here with a response head whose
 * `status` was an object literal's getter and setter, made anew for each
 * request: V8 keeps such accessors in its old generation, so every request
 * (its result included) outlived the young collections and was promoted.
 * `patches/@apollo+server+5.5.1.patch` makes that head a class instance;
 * npm install applies it (figures in docs/performance.md).
 */
export function compiledExecutionGateway(schema: GraphQLSchema, executor: CompiledExecutor): GatewayInterface {
  return {
    async load() {
      return { executor: (request) => executor.execute(request) };
    },
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: printSchema(schema) });
      return () => undefined;
    },
    async stop() {},
  };
}
