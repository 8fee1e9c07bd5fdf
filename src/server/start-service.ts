import http from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import type { DataSource } from "typeorm";
import { WebSocketServer } from "ws";
import { TokenVerifier } from "../auth/tokens";
import { settleWithin } from "../common/deadline";
import type { Logger } from "../common/logger";
import type { AppConfig } from "../config";
import { RunningStatements } from "../database/running-statements";
import { AppServices, createServices } from "./app-services";
import { createApollo } from "./apollo";
import { CompiledExecutor } from "./compiled-execution";
import { ContextFactory } from "./context";
import { graphiqlRouter } from "./graphiql";
import { healthRouter } from "./health";
import { graphqlHttpRouter } from "./http";
import { HttpDrain } from "./http-drain";
import { buildAppSchema } from "./schema";
import { MAX_WEBSOCKET_MESSAGE_BYTES, serveGraphQLOverWebSocket } from "./websocket";

/**
 * How long the requests whose statements a stop cancelled (once
 * `config.shutdownGraceMs` has passed) have to send their answers before
 * their connections are cut.
 */
const CANCEL_MARGIN_MS = 2_000;

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
  const apollo = createApollo(schema, executor, { introspection: config.introspection, exposeInternals });
  await apollo.start();

  app.use(healthRouter(dataSource, services.bus));
  app.use(graphiqlRouter());
  app.use(graphqlHttpRouter(apollo, contexts, logger));

  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(config.port, () => {
      httpServer.off("error", reject);
      resolve();
    });
  });
  const { port } = httpServer.address() as AddressInfo;
  if (config.searchIndexing) services.searchIndexer.start();
  return {
    url: `http://localhost:${port}`,
    port,
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
      await services.searchIndexer.stop();
      services.liveTail.close();
      await services.bus.close();
    },
  };
}
