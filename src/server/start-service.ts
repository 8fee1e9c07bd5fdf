import type { AddressInfo } from "node:net";
import express from "express";
import type { DataSource } from "typeorm";
import { WebSocketServer } from "ws";
import { TokenVerifier } from "../auth/tokens";
import { settleWithin } from "../common/deadline";
import type { Logger } from "../common/logger";
import type { AppConfig } from "../config";
import { boundPool, poolLevels } from "../database/pool-bounds";
import { RunningStatements } from "../database/running-statements";
import { AppServices, createServices } from "./app-services";
import { createApollo } from "./apollo";
import { CompiledExecutor } from "./compiled-execution";
import { ContextFactory } from "./context";
import { createExpressHttpServer } from "./express-http-server";
import { graphiqlRouter } from "./graphiql";
import { healthRouter } from "./health";
import { graphqlHttpRouter } from "./http";
import { HttpDrain } from "./http-drain";
import { startMetricsServer } from "./metrics-server";
import { securityHeaders } from "./security-headers";
import { buildAppSchema } from "./schema";
import { MAX_WEBSOCKET_MESSAGE_BYTES, serveGraphQLOverWebSocket } from "./websocket";

/**
 * How long the requests whose statements a stop cancelled (once
 * `config.shutdownGraceMs` has passed) have to send their answers before
 * their connections are cut.
 */
const CANCEL_MARGIN_MS = 2_000;
/** How long a client has to send a request's headers, in milliseconds. @default 10000 */
const HEADERS_TIMEOUT_MS = 10_000;
/** How long a client has to send a whole request (a 2 MiB recording included), in milliseconds. @default 30000 */
const RECEIVE_TIMEOUT_MS = 30_000;

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
  /** Where the Prometheus metrics are served (METRICS_PORT); undefined when they are not. */
  metricsUrl?: string;
  /** Executes the HTTP operations; compiles the query and mutation documents that keep coming back. */
  executor: CompiledExecutor;
  /** What the WebSockets hold that their clients have not taken yet: in all, and on the fullest socket. */
  webSocketBacklog(): { sockets: number; unsentBytes: number; largestUnsentBytes: number };
  /**
   * Stops accepting, closes WebSockets with 1001 and lets the requests it
   * took finish and answer. Past `config.shutdownGraceMs` it refuses the
   * recording calls still waiting and cancels the running statements: those
   * requests answer SERVICE_UNAVAILABLE (at most CANCEL_MARGIN_MS later), then
   * every connection left is cut. The pool stays open.
   */
  stop(): Promise<void>;
}

/**
 * Builds the services and the schema, and serves them on `config.port`:
 * health, GraphiQL and GraphQL over HTTP, GraphQL over WebSocket.
 */
export async function startService({ config, dataSource, logger }: ServiceOptions): Promise<RunningService> {
  boundPool(dataSource, { waitMs: config.database.poolWaitMs, answerTimeoutMs: config.database.answerTimeoutMs });
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
  const httpServer = createExpressHttpServer(app);
  // A client that sends its request slowly holds a socket and a parser: it gets this long for the headers, and for the whole request.
  httpServer.headersTimeout = HEADERS_TIMEOUT_MS;
  httpServer.requestTimeout = RECEIVE_TIMEOUT_MS;
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
    limits: config.operationLimits,
    budgets: services.budgets,
    metrics: services.metrics,
    requestTimeoutMs: config.requestTimeoutMs,
  });

  const executor = new CompiledExecutor(schema);
  const apollo = createApollo(schema, executor, {
    introspection: config.introspection,
    exposeInternals,
    limits: config.operationLimits,
    budgets: services.budgets,
    metrics: services.metrics,
  });
  await apollo.start();

  app.use(securityHeaders());
  app.use(healthRouter(dataSource, services.bus));
  app.use(graphiqlRouter());
  app.use(graphqlHttpRouter(apollo, contexts, { limits: config.operationLimits, requestTimeoutMs: config.requestTimeoutMs }, logger));
  // Express's own 404 page would drop the security headers.
  app.use((_req, res) => {
    res.status(404).type("text/plain").send("Not found: the API is at /graphql, health at /healthz and /readyz.");
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(config.port, () => {
      httpServer.off("error", reject);
      resolve();
    });
  });
  const { port } = httpServer.address() as AddressInfo;
  services.metrics.observe({
    subscriptions: () => services.liveTail.activeSubscriptions,
    sockets: () => wsServer.clients.size,
    pool: () => poolLevels(dataSource),
    reads: () => services.reads.load,
  });
  const metricsServer = config.metricsPort === undefined ? undefined : await startMetricsServer(services.metrics, config.metricsPort, logger);
  if (config.searchIndexing || config.merkleLog) services.background.start();
  return {
    url: `http://localhost:${port}`,
    port,
    metricsUrl: metricsServer?.url,
    services,
    executor,
    webSocketBacklog: () => {
      const unsent = [...wsServer.clients].map((socket) => socket.bufferedAmount);
      return { sockets: unsent.length, unsentBytes: unsent.reduce((sum, bytes) => sum + bytes, 0), largestUnsentBytes: Math.max(0, ...unsent) };
    },
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
      await services.background.stop();
      services.liveTail.close();
      await services.bus.close();
      await services.budgets.close();
      await metricsServer?.stop();
    },
  };
}
