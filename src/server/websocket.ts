import type { GraphQLSchema } from "graphql";
import { GraphQLError, NoSchemaIntrospectionCustomRule, specifiedRules, validate } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import type { WebSocketServer } from "ws";
import type { ContextFactory } from "../auth/context";
import type { Principal } from "../auth/principal";
import type { Logger } from "../common/logger";
import { maskError } from "../common/errors";

/** Time a client has to send `connection_init` before the socket is closed with 4408. @default 3000 */
export const CONNECTION_INIT_TIMEOUT_MS = 3_000;
/** Largest incoming WebSocket message; larger ones close the socket with 1009. @default 65536 */
export const MAX_WEBSOCKET_MESSAGE_BYTES = 64 * 1024;

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
 * checked at connect (close 4403 when it fails); errors are masked as over HTTP.
 */
export function serveGraphQLOverWebSocket(options: WebSocketOptions): { dispose(): void | Promise<void> } {
  const { contexts, logger } = options;
  const rules = options.introspection ? specifiedRules : [...specifiedRules, NoSchemaIntrospectionCustomRule];
  return useServer<Record<string, unknown>, ConnectionExtra>(
    {
      schema: options.schema,
      connectionInitWaitTimeout: CONNECTION_INIT_TIMEOUT_MS,
      validate: (schema, document) => validate(schema, document, rules),
      onConnect: async (ctx) => {
        try {
          ctx.extra.principal = await contexts.authenticateConnection(ctx.connectionParams?.authorization);
          return true;
        } catch {
          return false;
        }
      },
      context: (ctx) => {
        const { principal } = ctx.extra;
        if (!principal) throw new GraphQLError("The connection is not authenticated.");
        return contexts.forWebSocket(principal, contexts.newRequestId());
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
        if (!result.errors?.length) return;
        const requestId = (args.contextValue as { requestId?: string } | undefined)?.requestId;
        const errors = result.errors.map((error) => {
          const masked = maskError(error.toJSON(), error, { exposeInternals: options.exposeInternals, requestId });
          if (masked.unexpected) logger.error({ err: error.originalError ?? error, requestId }, "unexpected error over WebSocket");
          return masked.formatted;
        });
        return { ...result, errors };
      },
    },
    options.wsServer,
  );
}
