import { PassThrough } from "node:stream";
import { dataSource } from "../../ormconfig";
import { createLogger } from "../../src/common/logger";
import { config as processConfig, AppConfig } from "../../src/config";
import type { AppServices } from "../../src/server/app-services";
import type { CompiledExecutor } from "../../src/server/compiled-execution";
import { RunningService, startService } from "../../src/server/start-service";

export interface TestServer {
  /** http://localhost:port */
  url: string;
  graphqlUrl: string;
  wsUrl: string;
  /** Every log line the server wrote, parsed. */
  logs: Record<string, unknown>[];
  /** The running server's services (its publisher, for instance). */
  services: AppServices;
  /** What executes its HTTP operations (and how often it compiled them). */
  executor: CompiledExecutor;
  webSocketBacklog: RunningService["webSocketBacklog"];
  /** Where its metrics are served, when the config gives a METRICS_PORT. */
  metricsUrl?: string;
}

/**
 * Budgets no test's traffic runs out of: a test file sends hundreds of
 * operations a second with one token. The tests of the budgets set their own
 * (tests/rate-limits.test.ts).
 */
const AMPLE_BUDGET = { capacity: 100_000_000, refillPerSecond: 100_000_000 };

/**
 * Starts the real service in this process on a free port before the file's
 * tests and stops it after. Call after {@link useTestDatabase}.
 */
export function useTestServer(adjust: (config: AppConfig) => AppConfig = (config) => config): TestServer {
  const server = { url: "", graphqlUrl: "", wsUrl: "", logs: [] } as unknown as TestServer;
  let running: RunningService | undefined;
  beforeAll(async () => {
    const config = adjust({ ...processConfig, port: 0, rateLimits: { ...processConfig.rateLimits, user: AMPLE_BUDGET, service: AMPLE_BUDGET } });
    const stream = new PassThrough();
    stream.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) server.logs.push(JSON.parse(line));
    });
    running = await startService({ config, dataSource, logger: createLogger("info", stream) });
    server.url = running.url;
    server.graphqlUrl = `${running.url}/graphql`;
    server.wsUrl = `ws://localhost:${running.port}/graphql`;
    server.services = running.services;
    server.executor = running.executor;
    server.webSocketBacklog = running.webSocketBacklog;
    server.metricsUrl = running.metricsUrl;
  });
  afterAll(async () => {
    await running?.stop();
  });
  return server;
}

export interface GraphQLResponse<TData = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: {
    data?: TData | null;
    errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
    extensions?: Record<string, unknown>;
  };
}

/** POSTs one GraphQL operation, with the token as a bearer credential when given. */
export async function postGraphQL<TData = Record<string, unknown>>(
  url: string,
  operation: { query: string; variables?: Record<string, unknown>; operationName?: string },
  options: { token?: string; authorization?: string; headers?: Record<string, string> } = {},
): Promise<GraphQLResponse<TData>> {
  const headers: Record<string, string> = { "content-type": "application/json", ...options.headers };
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  else if (options.token) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(url, { method: "POST", headers, body: JSON.stringify(operation) });
  return { status: response.status, headers: response.headers, body: (await response.json()) as GraphQLResponse<TData>["body"] };
}

/** The `extensions.code` of each error of a response. */
export function errorCodes(response: GraphQLResponse<unknown>): unknown[] {
  return (response.body.errors ?? []).map((error) => error.extensions?.code);
}
