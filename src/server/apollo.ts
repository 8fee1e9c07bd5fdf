import { ApolloServer, ApolloServerPlugin } from "@apollo/server";
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from "@apollo/server/plugin/disabled";
import type { GraphQLSchema } from "graphql";
import { AppError, BadUserInputError, ErrorCode, maskError, unwrap } from "../common/errors";
import { CompiledExecutor, compiledExecutionGateway } from "./compiled-execution";
import type { AppContext } from "./context";

/** The `Retry-After` of a SERVICE_UNAVAILABLE answer (HTTP 503), in seconds. */
const RETRY_AFTER_SECONDS = 5;

/**
 * Apollo Server for the HTTP API: operations run through the compiled
 * executor; errors are masked (internals only in development), logged once
 * when unexpected, and SERVICE_UNAVAILABLE answers HTTP 503.
 */
export function createApollo(schema: GraphQLSchema, executor: CompiledExecutor, options: { introspection: boolean; exposeInternals: boolean }): ApolloServer<AppContext> {
  const { exposeInternals } = options;
  return new ApolloServer<AppContext>({
    gateway: compiledExecutionGateway(schema, executor),
    introspection: options.introspection,
    includeStacktraceInErrorResponses: false,
    // main.ts owns the signals: it stops the service, then the pool, then exits 0.
    stopOnTerminationSignals: false,
    formatError: (formatted, error) => maskError(formatted, error, { exposeInternals }).formatted,
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      // No HTTP caching of audit data, and no tracing: both would wrap every field resolver.
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      subscriptionRefusalPlugin(),
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
            if (formatted.extensions?.code !== ErrorCode.SERVICE_UNAVAILABLE) continue;
            response.http.status = 503;
            response.http.headers.set("retry-after", String(RETRY_AFTER_SECONDS));
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
