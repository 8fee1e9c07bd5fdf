import type { GraphQLSchema } from "graphql";
import { DocumentNode, GraphQLError, NoSchemaIntrospectionCustomRule, specifiedRules, validate } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import type { WebSocketServer } from "ws";
import type { Principal } from "../auth/principal";
import { TokenVerifier } from "../auth/tokens";
import { parseWithinLimits } from "../common/document-limits";
import { AuthenticationError, BadUserInputError, maskError } from "../common/errors";
import type { Logger } from "../common/logger";
import type { TailConnection } from "../live-tail/live-tail.service";
import { SharedSubscriptionExecution } from "../live-tail/shared-execution";
import type { AppContext, ContextFactory } from "./context";

/** Time a client has to send `connection_init` before the socket is closed with 4408. */
const CONNECTION_INIT_TIMEOUT_MS = 3_000;
/** Largest incoming WebSocket message; larger ones close the socket with 1009. */
export const MAX_WEBSOCKET_MESSAGE_BYTES = 64 * 1024;
/** Active operations one socket may have; more are refused with an error. */
export const MAX_SUBSCRIPTIONS_PER_SOCKET = 50;
/** Unsent bytes a socket may hold before its client counts as too slow. */
const MAX_UNSENT_BYTES = 1024 * 1024;
/**
 * Close code for a client that does not read what it subscribed to: events
 * waited 5 s with none taken by the socket, more than 10,000 wait on one
 * subscription, or more than MAX_UNSENT_BYTES are unsent.
 */
export const CLOSE_TOO_SLOW = 4480;

export interface WebSocketOptions {
  schema: GraphQLSchema;
  wsServer: WebSocketServer;
  contexts: ContextFactory;
  logger: Logger;
  introspection: boolean;
  exposeInternals: boolean;
}

/** Fields graphql-ws keeps on each connection for us. */
interface ConnectionExtra extends Record<PropertyKey, unknown> {
  principal: Principal;
}

/**
 * GraphQL over WebSocket (graphql-ws, subprotocol graphql-transport-ws) on the
 * HTTP server's `/graphql`. The token in `connectionParams.authorization` is
 * checked at connect (close 4403 when it fails), and its expiry again when an
 * operation starts and before each subscription delivery (the latter in
 * {@link SharedSubscriptionExecution}); errors are masked as over HTTP.
 */
export function serveGraphQLOverWebSocket(options: WebSocketOptions): { dispose(): void | Promise<void> } {
  const { contexts, logger } = options;
  const rules = options.introspection ? specifiedRules : [...specifiedRules, NoSchemaIntrospectionCustomRule];
  const shared = new SharedSubscriptionExecution();
  return useServer<Record<string, unknown>, ConnectionExtra>(
    {
      schema: options.schema,
      subscribe: shared.subscribe,
      connectionInitWaitTimeout: CONNECTION_INIT_TIMEOUT_MS,
      onConnect: async (ctx) => {
        try {
          ctx.extra.principal = await contexts.authenticateConnection(ctx.connectionParams?.authorization);
          return true;
        } catch {
          return false;
        }
      },
      // Parsed and validated here rather than by graphql-ws, which parses without limits and closes the socket (4500) on a syntax error.
      onSubscribe: (ctx, _id, payload) => {
        const { principal } = ctx.extra;
        if (!principal || !TokenVerifier.isCurrent(principal)) return [new AuthenticationError("The token has expired.")];
        // graphql-ws has already reserved this operation's slot.
        if (Object.keys(ctx.subscriptions).length > MAX_SUBSCRIPTIONS_PER_SOCKET) {
          return [new BadUserInputError(`A connection may have at most ${MAX_SUBSCRIPTIONS_PER_SOCKET} active operations; complete one first.`)];
        }
        let document: DocumentNode;
        try {
          document = parseWithinLimits(payload.query);
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const errors = validate(options.schema, document, rules);
        if (errors.length > 0) return errors;
        return { schema: options.schema, document, operationName: payload.operationName, variableValues: payload.variables };
      },
      context: (ctx) => {
        const { principal, socket } = ctx.extra;
        if (!principal) throw new GraphQLError("The connection is not authenticated.");
        const connection: TailConnection = {
          congested: () => socket.bufferedAmount > MAX_UNSENT_BYTES,
          closeTooSlow: () => socket.close(CLOSE_TOO_SLOW, "Too slow: the client does not read its subscriptions"),
        };
        return contexts.forWebSocket(principal, contexts.newRequestId(), connection);
      },
      // Errors before execution: graphql-js's syntax and validation errors, which Apollo tags over HTTP.
      onError: (_ctx, _id, _payload, errors) =>
        errors.map((error) => {
          const formatted = error.toJSON();
          const tagged =
            formatted.extensions?.code || error.originalError
              ? formatted
              : { ...formatted, extensions: { ...formatted.extensions, code: "GRAPHQL_VALIDATION_FAILED" } };
          return maskError(tagged, error, { exposeInternals: options.exposeInternals }).formatted;
        }),
      onNext: (_ctx, _id, _payload, args, result) => {
        const context = args.contextValue as AppContext | undefined;
        const noted = context && Object.keys(context.responseExtensions).length > 0 ? context.responseExtensions : undefined;
        if (!result.errors?.length && !noted) return;
        const requestId = context?.requestId;
        const errors = result.errors?.map((error) => {
          const masked = maskError(error.toJSON(), error, { exposeInternals: options.exposeInternals, requestId });
          if (masked.unexpected) logger.error({ err: error.originalError ?? error, requestId }, "unexpected error over WebSocket");
          return masked.formatted;
        });
        return { ...result, ...(errors ? { errors } : {}), ...(noted ? { extensions: { ...result.extensions, ...noted } } : {}) };
      },
    },
    options.wsServer,
  );
}
