import type { ExecutionResult, FormattedExecutionResult, GraphQLSchema } from "graphql";
import { DocumentNode, execute, GraphQLError, NoSchemaIntrospectionCustomRule, specifiedRules, validate } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import type { WebSocketServer } from "ws";
import type { Principal } from "../auth/principal";
import { TokenVerifier } from "../auth/tokens";
import { parseWithinLimits } from "../common/document-limits";
import {
  AppError,
  AuthenticationError,
  BadUserInputError,
  ErrorCode,
  maskError,
  QueryTooComplexError,
  RateLimitedError,
  ServiceUnavailableError,
  unwrap,
  withoutSchemaSuggestions,
} from "../common/errors";
import type { Logger } from "../common/logger";
import type { OperationLimits } from "../config";
import type { CostBudgets } from "../limits/cost-budget";
import type { ServiceMetrics } from "../metrics/service-metrics";
import { admitOperation } from "../limits/admission";
import { MAX_UNSENT_BYTES, MAX_WAITING_DELIVERIES, SharedSubscriptionExecution, TailConnection } from "../live-tail/shared-execution";
import type { AppContext, ContextFactory, ResponseExtensions } from "./context";

const CLOSING_BRACE = "}".charCodeAt(0);
/** Time a client has to send `connection_init` before the socket is closed with 4408. */
const CONNECTION_INIT_TIMEOUT_MS = 3_000;
/** Largest incoming WebSocket message; larger ones close the socket with 1009. */
export const MAX_WEBSOCKET_MESSAGE_BYTES = 64 * 1024;
/** Active operations one socket may have; more are refused with an error. */
export const MAX_SUBSCRIPTIONS_PER_SOCKET = 50;
/**
 * Close code for a client that does not read what it subscribed to: the
 * socket holds more than {@link MAX_UNSENT_BYTES} it has not taken, or
 * more than {@link MAX_WAITING_DELIVERIES} deliveries of one subscription
 * wait (see live-tail/shared-execution.ts).
 */
export const CLOSE_TOO_SLOW = 4480;

export interface WebSocketOptions {
  schema: GraphQLSchema;
  wsServer: WebSocketServer;
  contexts: ContextFactory;
  logger: Logger;
  introspection: boolean;
  exposeInternals: boolean;
  limits: OperationLimits;
  budgets: CostBudgets;
  metrics: ServiceMetrics;
  /** How long a query or mutation may take to be answered (REQUEST_TIMEOUT_MS). */
  requestTimeoutMs: number;
}

/** Fields graphql-ws keeps on each connection for us. */
interface ConnectionExtra extends Record<PropertyKey, unknown> {
  principal: Principal;
  /** The cost of each query or mutation checked and not yet started, by operation id, for its result's `extensions.cost`. */
  costs?: Map<string, NonNullable<ResponseExtensions["cost"]>>;
  /** When each query or mutation under way arrived (performance.now()) and its name, by operation id, for the metrics. */
  arrivals?: Map<string, { at: number; name: string | null }>;
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
  /** A result as the client gets it: errors masked as over HTTP, what the operation noted in `extensions`. */
  const format = (result: ExecutionResult, context: AppContext | undefined): FormattedExecutionResult => {
    const noted = context && Object.keys(context.responseExtensions).length > 0 ? context.responseExtensions : undefined;
    const requestId = context?.requestId;
    const errors = result.errors?.map((error) => {
      const json = error.toJSON();
      // graphql-js's own errors before anything ran (a variable that does not coerce to its type) carry no code: bad input, as Apollo tags them over HTTP.
      const cause = unwrap(error);
      const isCoercion = result.data === undefined && json.extensions?.code === undefined && cause instanceof GraphQLError && !(cause instanceof AppError);
      const tagged = isCoercion ? { ...json, extensions: { ...json.extensions, code: ErrorCode.BAD_USER_INPUT } } : json;
      const masked = maskError(tagged, error, { exposeInternals: options.exposeInternals, requestId });
      if (masked.unexpected) logger.error({ err: error.originalError ?? error, requestId }, "unexpected error over WebSocket");
      return masked.formatted;
    });
    const extensions = noted ? { ...result.extensions, ...noted } : result.extensions;
    return { ...(result.data !== undefined ? { data: result.data } : {}), ...(errors ? { errors } : {}), ...(extensions ? { extensions } : {}) };
  };
  const shared = new SharedSubscriptionExecution(format);
  const documents = new CheckedDocuments((source) => {
    let document: DocumentNode;
    try {
      document = parseWithinLimits(source, options.limits);
    } catch (error) {
      if (error instanceof GraphQLError) return [error];
      throw error;
    }
    const errors = validate(options.schema, document, rules);
    return errors.length > 0 ? errors : document;
  });
  return useServer<Record<string, unknown>, ConnectionExtra>(
    {
      schema: options.schema,
      subscribe: shared.subscribe,
      // A query or mutation answers by the deadline, as over HTTP; its late result is dropped.
      execute: (args) => withinDeadline(execute(args), options.requestTimeoutMs),
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
      onSubscribe: async (ctx, id, payload) => {
        const arrived = performance.now();
        const { principal } = ctx.extra;
        if (!principal || !TokenVerifier.isCurrent(principal)) return [new AuthenticationError("The token has expired.")];
        // graphql-ws has already reserved this operation's slot.
        if (Object.keys(ctx.subscriptions).length > MAX_SUBSCRIPTIONS_PER_SOCKET) {
          return [new BadUserInputError(`A connection may have at most ${MAX_SUBSCRIPTIONS_PER_SOCKET} active operations; complete one first.`)];
        }
        const checked = documents.get(payload.query);
        if (Array.isArray(checked)) return checked;
        const document = checked as DocumentNode;
        try {
          // As over HTTP; a subscription's cost is its selection's for one event, charged once.
          const operation = { schema: options.schema, document, operationName: payload.operationName, variables: payload.variables };
          const { cost, kind, name } = await admitOperation(operation, principal, options.limits, options.budgets);
          if (kind === "subscription") {
            // Its deliveries are counted apart; the operation counts once, as it starts.
            options.metrics.operationDone("ws", name, "OK", (performance.now() - arrived) / 1000, cost.requested);
          } else {
            (ctx.extra.costs ??= new Map()).set(id, cost);
            (ctx.extra.arrivals ??= new Map()).set(id, { at: arrived, name });
          }
        } catch (error) {
          if (error instanceof QueryTooComplexError || error instanceof RateLimitedError) return [error];
          throw error;
        }
        return { schema: options.schema, document, operationName: payload.operationName, variableValues: payload.variables };
      },
      context: (ctx, id) => {
        const { principal, socket } = ctx.extra;
        if (!principal) throw new GraphQLError("The connection is not authenticated.");
        // graphql-ws's `next` message, as a text frame, around a payload serialized once for every subscriber of the operation.
        const envelope = Buffer.from(`{"id":${JSON.stringify(id)},"type":"next","payload":`);
        const connection: TailConnection = {
          sendResult: (payloadJson, sent) => {
            options.metrics.delivered();
            const message = Buffer.allocUnsafe(envelope.length + payloadJson.length + 1);
            envelope.copy(message, 0);
            payloadJson.copy(message, envelope.length);
            message[message.length - 1] = CLOSING_BRACE;
            socket.send(message, { binary: false }, sent && (() => sent()));
          },
          unsentBytes: () => socket.bufferedAmount,
          closeTooSlow: () => {
            if (socket.readyState !== socket.OPEN) return;
            options.metrics.slowConsumerClosed();
            logger.warn({ workspaceId: principal.workspaceId, userId: principal.userId }, "closing a live tail whose client does not keep up");
            socket.close(CLOSE_TOO_SLOW, "Too slow: the client does not read its subscriptions");
          },
        };
        const context = contexts.forWebSocket(principal, contexts.newRequestId(), connection);
        const cost = ctx.extra.costs?.get(id);
        if (cost !== undefined) {
          ctx.extra.costs!.delete(id);
          context.responseExtensions.cost = cost;
        }
        return context;
      },
      // Errors before execution: graphql-js's syntax and validation errors, which Apollo tags over HTTP.
      onError: (_ctx, _id, payload, errors) => {
        const code = errors[0]?.extensions?.code;
        options.metrics.operationDone("ws", payload.operationName, typeof code === "string" ? code : "GRAPHQL_VALIDATION_FAILED", 0);
        return errors.map((error) => {
          const json = error.toJSON();
          const formatted = options.introspection ? json : { ...json, message: withoutSchemaSuggestions(json.message) };
          const tagged =
            formatted.extensions?.code || error.originalError
              ? formatted
              : { ...formatted, extensions: { ...formatted.extensions, code: "GRAPHQL_VALIDATION_FAILED" } };
          return maskError(tagged, error, { exposeInternals: options.exposeInternals }).formatted;
        });
      },
      // Queries and mutations over WebSocket; subscriptions write their results themselves (SharedSubscriptionExecution).
      onNext: (ctx, id, _payload, args, result) => {
        const context = args.contextValue as AppContext | undefined;
        const formatted = format(result, context);
        const arrival = ctx.extra.arrivals?.get(id);
        if (arrival !== undefined) {
          ctx.extra.arrivals!.delete(id);
          const code = formatted.errors?.[0]?.extensions?.code;
          const seconds = (performance.now() - arrival.at) / 1000;
          options.metrics.operationDone("ws", arrival.name, code === undefined ? "OK" : String(code), seconds, context?.responseExtensions.cost?.requested);
        }
        return formatted;
      },
    },
    options.wsServer,
  );
}

/** The result, or at `ms` a SERVICE_UNAVAILABLE result in its place (the operation runs on; what it returns then is dropped). */
async function withinDeadline(result: ReturnType<typeof execute>, ms: number): Promise<ExecutionResult> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<ExecutionResult>((resolve) => {
    timer = setTimeout(() => resolve({ errors: [ServiceUnavailableError.pastDeadline(ms)] }), ms);
  });
  try {
    return await Promise.race([Promise.resolve(result), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Documents kept parsed and validated, at most. @default 500 */
const CHECKED_DOCUMENTS = 500;
/** Longer texts are checked each time, not kept. @default 16384 */
const CHECKED_DOCUMENT_MAX_LENGTH = 16 * 1024;

/**
 * WebSocket operations' documents, parsed and validated once per text and
 * kept (least recently used out): the subscribers of one operation, often
 * thousands, share one document, which spares each its parse, its
 * validation and the memory of its own syntax tree, and lets them share
 * results (live-tail/shared-execution.ts).
 */
class CheckedDocuments {
  private readonly entries = new Map<string, DocumentNode | readonly GraphQLError[]>();

  constructor(private readonly check: (source: string) => DocumentNode | readonly GraphQLError[]) {}

  get(source: string): DocumentNode | readonly GraphQLError[] {
    if (source.length > CHECKED_DOCUMENT_MAX_LENGTH) return this.check(source);
    let entry = this.entries.get(source);
    if (entry === undefined) {
      entry = this.check(source);
      if (this.entries.size >= CHECKED_DOCUMENTS) this.entries.delete(this.entries.keys().next().value!);
    } else {
      this.entries.delete(source);
    }
    this.entries.set(source, entry);
    return entry;
  }
}
