import { randomUUID } from "node:crypto";
import { execute, OperationDefinitionNode, parse, validate } from "graphql";
import { TokenVerifier } from "../src/auth/tokens";
import { createLogger } from "../src/common/logger";
import { createServices } from "../src/server/app-services";
import { CompiledExecutor, ExecutionRequest } from "../src/server/compiled-execution";
import { ContextFactory } from "../src/server/context";
import { buildAppSchema } from "../src/server/schema";
import { BenchContext, Role, serviceConfig, token } from "./context";
import { BenchDatabase } from "./database";
import { makeEvent, toInput, workspacePlan } from "./events";
import { RECORD_EVENTS } from "./ingest";
import { closedLoop, GraphQLHttpClient, LoadResult, operationBody } from "./load";
import { ServiceProcess } from "./processes";
import { datasetPlan, recordDataset, WORKSPACE_LOG } from "./queries";

/**
 * 4. GraphQL overhead: `viewer`, a first page of 50 and the recording of one
 * event through the whole HTTP stack (a service process), beside the same
 * operation executed in the bench's process on the service's own schema,
 * services and context factory (the token verified on every call): by
 * graphql-js `execute`, and by the service's CompiledExecutor.
 */

const SIZES = {
  full: { events: 20_000, seconds: 15, warmupMs: 3_000 },
  smoke: { events: 2_000, seconds: 2, warmupMs: 500 },
};
const CONCURRENCY = 8;

interface Operation {
  name: string;
  query: string;
  /** Variables of call n (a recording needs a new idempotency key each time). */
  variables(n: number): Record<string, unknown>;
  role: Role;
}

export interface OverheadOperation {
  name: string;
  http: LoadResult;
  /** graphql-js `execute` in process. */
  execute: LoadResult;
  /** The service's CompiledExecutor in process (absent from runs made before it was measured). */
  compiled?: LoadResult;
}

export interface OverheadResults {
  concurrency: number;
  seconds: number;
  events: number;
  operations: OverheadOperation[];
}

export async function runOverhead(context: BenchContext): Promise<OverheadResults> {
  const size = SIZES[context.size];
  const database = await BenchDatabase.create(context.server, "overhead");
  const plan = datasetPlan(size.events, 1);
  const workspace = plan.workspaces[0].plan.id;
  const run = Date.now().toString(36);
  const event = toInput(makeEvent(workspacePlan(workspace, { users: 50, customers: 1_000, conversations: 4_000 }, 7), 1, new Date(Date.now() - 60_000)));
  const operations: Operation[] = [
    { name: "viewer", query: `query Viewer { viewer { userId role workspaceId } }`, variables: () => ({}), role: Role.ADMIN },
    { name: "first page of 50", query: WORKSPACE_LOG, variables: () => ({ first: 50 }), role: Role.ADMIN },
    { name: "recordAuditEvents, 1 event", query: RECORD_EVENTS, variables: (n) => ({ events: [{ ...event, idempotencyKey: `overhead-${run}-${n}` }] }), role: Role.SERVICE },
  ];
  const tokens = { [Role.ADMIN]: await token(context, Role.ADMIN, workspace), [Role.SERVICE]: await token(context, Role.SERVICE, workspace, "producer") } as Record<Role, string>;
  let calls = 0;
  const measure = async (call: (operation: Operation) => Promise<unknown>) => {
    const results = new Map<string, LoadResult>();
    for (const operation of operations) {
      const load = (maxMs: number) => closedLoop({ concurrency: CONCURRENCY, operations: Number.MAX_SAFE_INTEGER, maxMs, run: () => call(operation) });
      await load(size.warmupMs);
      const result = await load(size.seconds * 1000);
      if (result.errors > 0) throw new Error(`${operation.name}: ${result.firstError}`);
      results.set(operation.name, result);
    }
    return results;
  };

  const service = await ServiceProcess.start({ main: context.serviceMain, databaseUrl: database.url, secret: context.secret });
  let http: Map<string, LoadResult>;
  try {
    await recordDataset(context, service, plan);
    const client = new GraphQLHttpClient(service.graphqlUrl, CONCURRENCY);
    http = await measure((operation) => client.expectData(operationBody(operation.query, operation.variables(calls++)), tokens[operation.role]));
    client.close();
  } finally {
    await service.stop();
  }

  const config = serviceConfig(context, database.url);
  const logger = createLogger("silent");
  const services = createServices(await database.dataSource(), config, logger);
  try {
    const schema = await buildAppSchema(services);
    const contexts = new ContextFactory({ verifier: new TokenVerifier(config.auth), services, logger, introspection: config.introspection });
    const executor = new CompiledExecutor(schema);
    const documents = new Map(
      operations.map((operation) => {
        const document = parse(operation.query);
        const problems = validate(schema, document);
        if (problems.length > 0) throw new Error(`${operation.name}: ${problems[0].message}`);
        return [operation.name, document] as const;
      }),
    );
    const inProcess = (compiled: boolean) => async (operation: Operation) => {
      const contextValue = await contexts.forHttp({ authorization: `Bearer ${tokens[operation.role]}`, query: operation.query, requestId: randomUUID() });
      const document = documents.get(operation.name)!;
      const variables = operation.variables(calls++);
      const result = compiled
        ? await executor.execute({ document, operation: document.definitions[0] as OperationDefinitionNode, operationName: null, queryHash: operation.name, context: contextValue, request: { variables } } as ExecutionRequest)
        : await execute({ schema, document, variableValues: variables, contextValue });
      if (result.errors?.length) throw new Error(result.errors[0].message);
    };
    const executed = await measure(inProcess(false));
    const compiled = await measure(inProcess(true));
    const results = operations.map(({ name }) => ({ name, http: http.get(name)!, execute: executed.get(name)!, compiled: compiled.get(name)! }));
    for (const r of results) context.log(`overhead: ${r.name}: HTTP ${r.http.perSecond}/s, execute ${r.execute.perSecond}/s, compiled ${r.compiled.perSecond}/s`);
    return { concurrency: CONCURRENCY, seconds: size.seconds, events: size.events, operations: results };
  } finally {
    await services.bus.close();
    await database.drop();
  }
}
