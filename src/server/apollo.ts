import { ApolloServer, ApolloServerPlugin } from "@apollo/server";
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from "@apollo/server/plugin/disabled";
import type { GraphQLSchema } from "graphql";
import { AppError, BadUserInputError, ErrorCode, maskError, RateLimitedError, SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS, unwrap } from "../common/errors";
import type { OperationLimits } from "../config";
import { admitOperation } from "../limits/admission";
import type { CostBudgets } from "../limits/cost-budget";
import type { ServiceMetrics } from "../metrics/service-metrics";
import { CompiledExecutor, compiledExecutionGateway } from "./compiled-execution";
import type { AppContext } from "./context";


/**
 * Apollo Server for the HTTP API: operations run through the compiled
 * executor; errors are masked (internals only in development), logged once
 * when unexpected, and SERVICE_UNAVAILABLE answers HTTP 503.
 */
export function createApollo(
  schema: GraphQLSchema,
  executor: CompiledExecutor,
  options: { introspection: boolean; exposeInternals: boolean; limits: OperationLimits; budgets: CostBudgets; metrics: ServiceMetrics },
): ApolloServer<AppContext> {
  const { exposeInternals } = options;
  return new ApolloServer<AppContext>({
    gateway: compiledExecutionGateway(schema, executor),
    introspection: options.introspection,
    includeStacktraceInErrorResponses: false,
    // No "Did you mean ...?" in validation errors: they would list the schema's names to a caller without introspection.
    hideSchemaDetailsFromClientErrors: !options.introspection,
    // main.ts owns the signals: it stops the service, then the pool, then exits 0.
    stopOnTerminationSignals: false,
    formatError: (formatted, error) => maskError(formatted, error, { exposeInternals }).formatted,
    plugins: [
      metricsPlugin(options.metrics),
      ApolloServerPluginLandingPageDisabled(),
      // No HTTP caching of audit data, and no tracing: both would wrap every field resolver.
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      subscriptionRefusalPlugin(),
      operationLimitsPlugin(schema, options.limits, options.budgets),
      responseExtensionsPlugin(),
      errorHandlingPlugin(exposeInternals),
    ],
  });
}

/**
 * A subscription needs the WebSocket's connection: over HTTP graphql-js would
 * run its resolver without a source event.
 */
function subscriptionRefusalPlugin(): ApolloServerPlugin<AppContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          if (operation?.operation === "subscription") {
            throw new BadUserInputError("Subscriptions run over WebSocket (graphql-transport-ws) on /graphql, not over HTTP.", [], { httpStatus: 400 });
          }
        },
      };
    },
  };
}

/** Counts each answer by operation name and code, with its time and cost; a request refused before Apollo's pipeline (its token, its document's size) counts too. */
function metricsPlugin(metrics: ServiceMetrics): ApolloServerPlugin<AppContext> {
  return {
    async contextCreationDidFail({ error }) {
      metrics.operationDone("http", undefined, codeOf(error), 0);
    },
    async requestDidStart() {
      const started = performance.now();
      return {
        async willSendResponse({ operationName, response, contextValue }) {
          const first = response.body.kind === "single" ? response.body.singleResult.errors?.[0] : undefined;
          const code = first ? String(first.extensions?.code ?? ErrorCode.INTERNAL_SERVER_ERROR) : "OK";
          metrics.operationDone("http", operationName, code, (performance.now() - started) / 1000, contextValue.responseExtensions.cost?.requested);
        },
      };
    },
  };
}

/** The code a client sees for an error thrown outside Apollo's pipeline. */
function codeOf(error: unknown): string {
  const code = error instanceof AppError ? error.code : (error as { extensions?: { code?: unknown } } | null)?.extensions?.code;
  return typeof code === "string" ? code : ErrorCode.INTERNAL_SERVER_ERROR;
}

/**
 * Once an operation is parsed and validated, before it runs: refuses it over
 * the limits (QUERY_TOO_COMPLEX, HTTP 400) or over the caller's budget
 * (RATE_LIMITED, HTTP 429), and notes its cost and the budget left for the
 * response's `extensions.cost`.
 */
function operationLimitsPlugin(schema: GraphQLSchema, limits: OperationLimits, budgets: CostBudgets): ApolloServerPlugin<AppContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, request, contextValue }) {
          const operation = { schema, document, operationName: request.operationName, variables: request.variables };
          contextValue.responseExtensions.cost = (await admitOperation(operation, contextValue.principal, limits, budgets)).cost;
        },
      };
    },
  };
}

/** The response's `extensions` carry what the operation noted for the client (see {@link AppContext.responseExtensions}). */
function responseExtensionsPlugin(): ApolloServerPlugin<AppContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, response }) {
          if (response.body.kind !== "single" || Object.keys(contextValue.responseExtensions).length === 0) return;
          const result = response.body.singleResult;
          result.extensions = { ...result.extensions, ...contextValue.responseExtensions };
        },
      };
    },
  };
}

/**
 * Logs each unexpected error once, with the request id the client sees; a
 * SERVICE_UNAVAILABLE error makes the answer a 503 with `Retry-After`.
 */
function errorHandlingPlugin(exposeInternals: boolean): ApolloServerPlugin<AppContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ contextValue, errors, response }) {
          for (const error of errors) {
            const { formatted, unexpected } = maskError(error.toJSON(), error, { exposeInternals });
            const cause = unwrap(error);
            if (unexpected) contextValue.logger.error({ err: cause }, "unexpected error");
            if (cause instanceof RateLimitedError) response.http.headers.set("retry-after", String(cause.retryAfterSeconds));
            if (formatted.extensions?.code !== ErrorCode.SERVICE_UNAVAILABLE) continue;
            response.http.status = 503;
            response.http.headers.set("retry-after", String(SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS));
            if (!(cause instanceof AppError)) contextValue.logger.warn({ err: cause }, "database unavailable");
          }
        },
        async willSendResponse({ contextValue, response }) {
          if (response.body.kind !== "single") return;
          for (const error of response.body.singleResult.errors ?? []) {
            if (error.extensions?.code === "INTERNAL_SERVER_ERROR") {
              (error.extensions as Record<string, unknown>).requestId = contextValue.requestId;
            }
          }
        },
      };
    },
  };
}
