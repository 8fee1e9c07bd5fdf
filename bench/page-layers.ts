/**
 * A first page of the workspace log, layer by layer, in a process of its own
 * (forked by the overhead part with NODE_ENV=production, as the service runs):
 * its heap holds nothing of the benchmark's, so its CPU per page compares with
 * the service process's. One caller at a time; each layer includes the ones
 * before it:
 *
 * 1. the page's SQL through a mysql2 pool, as the raw baseline runs it;
 * 2. the service's call: that SQL through the service's pool, the records,
 *    every cursor signed;
 * 3. the service's CompiledExecutor running the operation compiled (as it runs
 *    a query document it has seen before), with a context from the service's
 *    own ContextFactory (the token verified every time).
 */
import "reflect-metadata";
import { randomUUID } from "node:crypto";
import { OperationDefinitionNode, parse } from "graphql";
import { TokenVerifier } from "../src/auth/tokens";
import { createLogger } from "../src/common/logger";
import { createServices } from "../src/server/app-services";
import { CompiledExecutor } from "../src/server/compiled-execution";
import { ContextFactory } from "../src/server/context";
import { buildAppSchema } from "../src/server/schema";
import { BenchDatabase, databaseServer } from "./bench-database";
import { serviceConfig } from "./context";
import type { PageLayer } from "./overhead";
import { WORKSPACE_LOG } from "./queries";
import { closedLoop } from "./stats";

interface MeasureRequest {
  type: "measure";
  /** The overhead part's database, on the server DATABASE_URL names. */
  databaseUrl: string;
  databaseName: string;
  secret: string;
  token: string;
  seconds: number;
  warmupMs: number;
}

export type PageLayersReply = { type: "layers"; layers: PageLayer[] } | { type: "error"; message: string };

async function measure(request: MeasureRequest): Promise<PageLayersReply> {
  const database = BenchDatabase.open(databaseServer(request.databaseUrl), request.databaseName);
  const config = serviceConfig({ secret: request.secret }, database.url);
  const dataSource = await database.dataSource();
  const pool = database.pool(1);
  const logger = createLogger("silent");
  const services = createServices(dataSource, config, logger);
  try {
    const schema = await buildAppSchema(services);
    const contexts = new ContextFactory({ verifier: new TokenVerifier(config.auth), services, logger, introspection: config.introspection });
    const authorization = `Bearer ${request.token}`;
    const principal = (await contexts.forHttp({ authorization, query: WORKSPACE_LOG, requestId: randomUUID() })).principal!;
    const page = { log: "workspace" as const, first: 50 };
    const built = await services.logs.pageQuery(principal, page);
    if (!built) throw new Error("the first page has no SQL");
    // The service's own executor: the warm-up runs the document often enough for it to be compiled.
    const executor = new CompiledExecutor(schema);
    const document = parse(WORKSPACE_LOG);
    const operation = document.definitions[0] as OperationDefinitionNode;
    const layers: { name: string; run: () => Promise<unknown> }[] = [
      { name: "the page's SQL through mysql2 (the raw baseline)", run: () => pool.query(built.query.sql, built.query.params) },
      {
        name: "the service's call: that SQL, the records, every cursor signed",
        run: async () => {
          const connection = await services.logs.page(principal, page);
          for (const edge of connection.edges) if (!edge.cursor) throw new Error("an edge without a cursor");
        },
      },
      {
        name: "the operation compiled by graphql-jit, as the service runs a query it has seen before (context included)",
        run: async () => {
          const context = await contexts.forHttp({ authorization, query: WORKSPACE_LOG, requestId: randomUUID() });
          const result = await executor.execute({ document, operation, operationName: "WorkspaceLog", queryHash: "first page", context, request: { variables: { first: 50 } } });
          if (result.errors?.length) throw new Error(result.errors[0].message);
        },
      },
    ];
    const measured: PageLayer[] = [];
    for (const layer of layers) {
      const run = () => layer.run().then(() => undefined);
      await closedLoop({ concurrency: 1, operations: 2_000, maxMs: request.warmupMs, run });
      const before = process.cpuUsage();
      const result = await closedLoop({ concurrency: 1, operations: Number.MAX_SAFE_INTEGER, maxMs: request.seconds * 1000, run });
      if (result.errors > 0) throw new Error(`${layer.name}: ${result.firstError}`);
      const used = process.cpuUsage(before);
      measured.push({ name: layer.name, cpuMsPerOperation: (used.user + used.system) / 1000 / Math.max(1, result.completed), latency: result.latency, completed: result.completed });
    }
    const { interpreted } = executor.executions();
    if (interpreted !== 1) throw new Error(`the executor ran the page through graphql-js ${interpreted} times: only the first should`);
    return { type: "layers", layers: measured };
  } finally {
    await services.bus.close();
    await database.close();
  }
}

process.on("message", (message: MeasureRequest) => {
  measure(message).then(
    (reply) => {
      process.send!(reply);
      setTimeout(() => process.exit(0), 100);
    },
    (error: unknown) => process.send!({ type: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});
process.on("disconnect", () => process.exit(0));
