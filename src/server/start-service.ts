import http from "node:http";
import type { AddressInfo } from "node:net";
import { ApolloServer, ApolloServerPlugin } from "@apollo/server";
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from "@apollo/server/plugin/disabled";
import { expressMiddleware } from "@as-integrations/express5";
import express, { ErrorRequestHandler, RequestHandler } from "express";
import type { DataSource } from "typeorm";
import { WebSocketServer } from "ws";
import { TokenVerifier } from "../auth/tokens";
import { settleWithin } from "../common/deadline";
import { checkDocumentLimits } from "../common/document-limits";
import { AppError, BadUserInputError, ErrorCode, maskError, unwrap } from "../common/errors";
import type { Logger } from "../common/logger";
import type { AppConfig } from "../config";
import { RunningStatements } from "../database/running-statements";
import { AppServices, createServices } from "./app-services";
import { CompiledExecutor, compiledExecutionGateway } from "./compiled-execution";
import { AppContext, ContextFactory } from "./context";
import { graphiqlRouter } from "./graphiql";
import { HttpDrain } from "./http-drain";
import { buildAppSchema } from "./schema";
import { MAX_WEBSOCKET_MESSAGE_BYTES, serveGraphQLOverWebSocket } from "./websocket";

/** Largest accepted HTTP request body: a batch of 1000 events is about 0.5 MB. @default "2mb" */
export const MAX_BODY = "2mb";
/**
 * How long the requests whose statements a stop cancelled (once
 * `config.shutdownGraceMs` has passed) have to send their answers before
 * their connections are cut. @default 2000
 */
export const CANCEL_MARGIN_MS = 2_000;
/** How long /readyz waits for the database. @default 2000 */
export const READY_TIMEOUT_MS = 2_000;
/** The `Retry-After` of a SERVICE_UNAVAILABLE answer (HTTP 503), in seconds. @default 5 */
export const RETRY_AFTER_SECONDS = 5;

export interface ServiceOptions {
  config: AppConfig;
  /** An initialized DataSource. */
  dataSource: DataSource;
  logger: Logger;
}

export interface RunningService {
  /** http://host:port of the listening server. */
  url: string;
  port: number;
  /** The service layer the server runs on (its publisher, recorder, ...). */
  services: AppServices;
  /** Executes the HTTP operations; compiles the query and mutation documents that keep coming back. */
  executor: CompiledExecutor;
  /**
   * Stops accepting, closes WebSockets with 1001 and lets the requests it
   * took finish and answer. Past `config.shutdownGraceMs` it refuses the
   * recording calls still waiting and cancels the running statements: those
   * requests answer SERVICE_UNAVAILABLE (at most CANCEL_MARGIN_MS later), then
   * every connection left is cut. The pool stays open.
   */
  stop(): Promise<void>;
}

/** Builds the schema and serves HTTP and WebSocket on `config.port`. */
export async function startService({ config, dataSource, logger }: ServiceOptions): Promise<RunningService> {
  const services = createServices(dataSource, config, logger);
  const schema = await buildAppSchema(services);
  const contexts = new ContextFactory({
    verifier: new TokenVerifier(config.auth),
    services,
    logger,
    introspection: config.introspection,
  });
  const exposeInternals = config.nodeEnv === "development";

  const app = express();
  app.disable("x-powered-by");
  // An ETag is a hash of the whole body: GraphQL answers would pay it on every request, and no client revalidates them.
  app.disable("etag");
  const httpServer = http.createServer(app);
  const drain = new HttpDrain(httpServer);
  const statements = new RunningStatements(dataSource, config.database);
  const wsServer = new WebSocketServer({ server: httpServer, path: "/graphql", maxPayload: MAX_WEBSOCKET_MESSAGE_BYTES });
  const webSockets = serveGraphQLOverWebSocket({
    schema,
    wsServer,
    contexts,
    logger,
    introspection: config.introspection,
    exposeInternals,
  });

  const executor = new CompiledExecutor(schema);
  const apollo = new ApolloServer<AppContext>({
    gateway: compiledExecutionGateway(schema, executor),
    introspection: config.introspection,
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
  await apollo.start();

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", async (_req, res) => {
    const [database, redis] = await Promise.all([
      settleWithin(dataSource.query("SELECT 1").then(() => true), READY_TIMEOUT_MS, false),
      services.bus.redisAnswers(),
    ]);
    // Without Redis, recording goes on and the live tail reads new events from the database: degraded, still serving.
    const status = !database ? "unavailable" : redis === false ? "degraded" : "ready";
    res.status(database ? 200 : 503).json({
      status,
      database: database ? "up" : "down",
      ...(redis === null ? {} : { redis: redis ? "up" : "down" }),
    });
  });
  app.use(graphiqlRouter());
  app.use(
    "/graphql",
    requestIdMiddleware(contexts),
    express.json({ limit: MAX_BODY }),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const query = req.method === "GET" ? req.query.query : (req.body as { query?: unknown } | undefined)?.query;
        // Before Apollo parses the document: the context is built first, and an error building it is the request's answer.
        if (typeof query === "string") checkDocumentLimits(query);
        return contexts.forHttp({ authorization: req.headers.authorization, query, requestId: String(res.getHeader("x-request-id")) });
      },
    }),
  );
  app.use(bodyErrorHandler(logger));

  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(config.port, () => {
      httpServer.off("error", reject);
      resolve();
    });
  });
  const { port } = httpServer.address() as AddressInfo;
  return {
    url: `http://localhost:${port}`,
    port,
    services,
    executor,
    stop: async () => {
      // graphql-ws closes each socket with 1001 and waits for its client's close; a failure there must not look like the grace ending.
      const socketsClosed = Promise.resolve(webSockets.dispose()).catch((error: unknown) => logger.warn({ err: error }, "closing the WebSockets failed"));
      const finished = Promise.all([drain.stop(), socketsClosed]).then(() => true);
      if (!(await settleWithin(finished, config.shutdownGraceMs, false))) {
        // What still runs would hold the pool's close until it ends: it is refused or cancelled, and answers so.
        services.recorder.stop();
        const cancelled = await statements.cancel().catch((error: unknown) => {
          logger.warn({ err: error }, "could not cancel the running statements");
          return 0;
        });
        logger.warn({ graceMs: config.shutdownGraceMs, connections: cancelled }, "shutdown grace over: running statements cancelled");
        await settleWithin(finished, CANCEL_MARGIN_MS, false);
      }
      drain.destroyConnections();
      for (const client of wsServer.clients) client.terminate();
      await apollo.stop();
      services.liveTail.close();
      await services.bus.close();
    },
  };
}

/** Every response carries `x-request-id`, the id its logs are written under. */
function requestIdMiddleware(contexts: ContextFactory): RequestHandler {
  return (req, res, next) => {
    res.setHeader("x-request-id", contexts.newRequestId(req.headers["x-request-id"]));
    next();
  };
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

/** Body parsing failures: a clear JSON error instead of Express's HTML page. */
function bodyErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error, _req, res, next) => {
    if (res.headersSent) return next(error);
    const status = typeof error?.status === "number" ? error.status : 500;
    if (status === 413) {
      res.status(413).json({
        errors: [{ message: `The request body is larger than the ${MAX_BODY.toUpperCase()} limit; send fewer events per call.`, extensions: { code: "PAYLOAD_TOO_LARGE" } }],
      });
      return;
    }
    if (status === 400) {
      res.status(400).json({ errors: [{ message: "The request body is not valid JSON.", extensions: { code: "BAD_REQUEST" } }] });
      return;
    }
    logger.error({ err: error }, "unexpected HTTP error");
    res.status(500).json({ errors: [{ message: "Internal server error", extensions: { code: "INTERNAL_SERVER_ERROR" } }] });
  };
}
