import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { BenchDatabase } from "./bench-database";
import { BenchContext, Role, token } from "./context";
import { ProfileSummary, summarizeProfile } from "./cpu-profile";
import { datasetPlan, loadDataset } from "./dataset";
import { makeEvent, toInput, workspacePlan } from "./event-factory";
import { GraphQLHttpClient, operationBody } from "./http-client";
import { InProcessApi } from "./in-process";
import { RECORD_EVENTS } from "./ingest";
import type { PageLayersReply } from "./page-layers";
import { HelperProcess, ServiceProcess } from "./processes";
import { WORKSPACE_LOG } from "./queries";
import { ResourceMonitor, ResourceUse } from "./resources";
import { closedLoop, LoadResult, ratio } from "./stats";

/**
 * 4. Execution overhead: requests per second of `viewer`, of a first page of
 * 50 (and of recording one event, which parts 1 and 3 lean on) through the
 * whole HTTP stack (a service process), beside graphql-js
 * `execute` of the same operation on the same schema in this process, with a
 * context from the service's own ContextFactory (the token is verified each
 * time, as over HTTP). Then a CPU profile of a service process under each
 * load, summarized by package and function.
 */

const WORKSPACE = "ws-large";
const VIEWER = `query Viewer { viewer { userId role workspaceId } }`;

interface Operation {
  name: string;
  query: string;
  /** Variables of call n (a recording needs a new idempotency key each time). */
  variables(n: number): Record<string, unknown>;
  role: Role.ADMIN | Role.SERVICE;
}

/** One realistic event to record, keyed per call. */
const oneEvent = (() => {
  const plan = workspacePlan(WORKSPACE, { users: 50, customers: 1_000, conversations: 4_000 }, 7);
  const input = toInput(makeEvent(plan, 1, new Date(Date.now() - 60_000), "overhead"));
  const run = Date.now().toString(36);
  return (n: number) => ({ events: [{ ...input, idempotencyKey: `overhead-${run}-${n}` }] });
})();

const OPERATIONS: Operation[] = [
  { name: "viewer", query: VIEWER, variables: () => ({}), role: Role.ADMIN },
  { name: "first page of 50", query: WORKSPACE_LOG, variables: () => ({ first: 50 }), role: Role.ADMIN },
  { name: "recordAuditEvents, 1 event", query: RECORD_EVENTS, variables: oneEvent, role: Role.SERVICE },
];

export interface OverheadOperation {
  name: string;
  http: LoadResult;
  httpResources: ResourceUse;
  execute: LoadResult;
  executeResources: ResourceUse;
  /** HTTP requests/s over execute operations/s. */
  httpOverExecute: number;
  profile?: ProfileSummary;
}

/** One layer of serving a first page, measured alone by one caller. */
export interface PageLayer {
  name: string;
  /** CPU per operation, in ms (user + system), of the process that runs the layer. */
  cpuMsPerOperation: number;
  latency: LoadResult["latency"];
  completed: number;
}

/** The name of the last layer: the whole HTTP stack, the service process's CPU. */
export const ONE_CALLER_HTTP = "over HTTP: the service process, one keep-alive client";

export interface OverheadResults {
  concurrency: number;
  seconds: number;
  events: number;
  operations: OverheadOperation[];
  /** The first page, layer by layer (absent from runs before it was measured). */
  pageLayers?: PageLayer[];
  profileNote: string;
}

export async function runOverhead(context: BenchContext): Promise<OverheadResults> {
  const profile = context.profile.overhead;
  const database = await BenchDatabase.create(context.server, "overhead");
  const profileDir = mkdtempSync(path.join(os.tmpdir(), "audit-bench-prof-"));
  let service: ServiceProcess | undefined;
  let profiled: ServiceProcess | undefined;
  try {
    const loadPool = database.pool(3);
    await loadDataset(loadPool, database.name, datasetPlan(profile.events, { workspaces: 1 }), context.log);
    await loadPool.end();
    const pool = database.pool(2);
    const tokens = { [Role.ADMIN]: await token(context, Role.ADMIN, WORKSPACE, "admin-bench"), [Role.SERVICE]: await token(context, Role.SERVICE, WORKSPACE, "producer") };
    let calls = 0;
    const seconds = profile.seconds * 1000;
    const load = (run: () => Promise<unknown>): Promise<LoadResult> =>
      closedLoop({ concurrency: profile.concurrency, operations: Number.MAX_SAFE_INTEGER, maxMs: seconds, run: () => run().then(() => undefined) });
    const warm = (run: () => Promise<unknown>) =>
      closedLoop({ concurrency: profile.concurrency, operations: 2_000, maxMs: profile.warmupMs, run: () => run().then(() => undefined) });

    // Over HTTP, against a service process.
    service = await ServiceProcess.start({ databaseUrl: database.url, secret: context.secret });
    const runningService = service;
    const httpMonitor = new ResourceMonitor(pool, () => [runningService.pid]);
    const client = new GraphQLHttpClient(service.graphqlUrl, profile.concurrency);
    const http = new Map<string, { result: LoadResult; resources: ResourceUse }>();
    for (const operation of OPERATIONS) {
      const request = () => client.expectData(operationBody(operation.query, operation.variables(calls++)), tokens[operation.role]);
      await warm(request);
      http.set(operation.name, await httpMonitor.measure(() => load(request)));
    }
    client.close();
    // The first page once more, from one caller: the top layer of the split below.
    const oneCaller = new GraphQLHttpClient(service.graphqlUrl, 1);
    const pageRequest = () => oneCaller.expectData(operationBody(WORKSPACE_LOG, { first: 50 }), tokens[Role.ADMIN]);
    await closedLoop({ concurrency: 1, operations: 2_000, maxMs: profile.warmupMs, run: () => pageRequest().then(() => undefined) });
    const oneCallerPage = await httpMonitor.measure(() =>
      closedLoop({ concurrency: 1, operations: Number.MAX_SAFE_INTEGER, maxMs: seconds, run: () => pageRequest().then(() => undefined) }),
    );
    oneCaller.close();
    await service.stop();
    service = undefined;

    // In this process: the same schema, the same context factory, graphql-js execute.
    const api = await InProcessApi.start(context, database);
    const executeMonitor = new ResourceMonitor(pool, () => []);
    const executed = new Map<string, { result: LoadResult; resources: ResourceUse }>();
    try {
      for (const operation of OPERATIONS) {
        const run = () => api.run(operation.query, operation.variables(calls++), tokens[operation.role]);
        await warm(run);
        executed.set(operation.name, await executeMonitor.measure(() => load(run)));
      }
    } finally {
      await api.close();
    }

    // A first page layer by layer, in a fresh process whose heap holds nothing of the benchmark's.
    const layersHelper = HelperProcess.start<PageLayersReply>("page-layers", [], { NODE_ENV: "production" });
    let pageLayers: PageLayer[];
    try {
      const reply = await layersHelper.request(
        { type: "measure", databaseUrl: database.url, databaseName: database.name, secret: context.secret, token: tokens[Role.ADMIN], seconds: profile.seconds, warmupMs: profile.warmupMs },
        "layers",
        (profile.seconds * 4 + 60) * 1000,
      );
      const { latency, completed } = oneCallerPage.result;
      const cpuMsPerOperation = (oneCallerPage.resources.serviceCpuSeconds * 1000) / Math.max(1, completed);
      pageLayers = [...reply.layers, { name: ONE_CALLER_HTTP, cpuMsPerOperation, latency, completed }];
    } finally {
      await layersHelper.stop();
    }

    // Where the time goes: a profiled service process under each load in turn.
    profiled = await ServiceProcess.start({ databaseUrl: database.url, secret: context.secret, nodeArgs: ["--cpu-prof", "--cpu-prof-dir", profileDir] });
    const profileClient = new GraphQLHttpClient(profiled.graphqlUrl, profile.concurrency);
    const windows = new Map<string, { fromUs: number; toUs: number }>();
    for (const operation of OPERATIONS) {
      const request = () => profileClient.expectData(operationBody(operation.query, operation.variables(calls++)), tokens[operation.role]);
      await warm(request);
      const fromUs = Number(process.hrtime.bigint() / 1000n);
      await load(request);
      windows.set(operation.name, { fromUs, toUs: Number(process.hrtime.bigint() / 1000n) });
    }
    profileClient.close();
    await profiled.stop();
    profiled = undefined;
    const profileFile = readdirSync(profileDir).find((name) => name.endsWith(".cpuprofile"));

    const operations = OPERATIONS.map((operation): OverheadOperation => {
      const overHttp = http.get(operation.name)!;
      const inProcess = executed.get(operation.name)!;
      return {
        name: operation.name,
        http: overHttp.result,
        httpResources: overHttp.resources,
        execute: inProcess.result,
        executeResources: inProcess.resources,
        httpOverExecute: ratio(overHttp.result.perSecond, inProcess.result.perSecond),
        ...(profileFile ? { profile: summarizeProfile(path.join(profileDir, profileFile), windows.get(operation.name)) } : {}),
      };
    });
    for (const operation of operations) {
      context.log(
        `overhead: ${operation.name}: HTTP ${operation.http.perSecond} req/s (p50 ${operation.http.latency.p50} ms), execute ${operation.execute.perSecond} op/s (p50 ${operation.execute.latency.p50} ms)`,
      );
    }
    return {
      concurrency: profile.concurrency,
      seconds: profile.seconds,
      events: profile.events,
      operations,
      pageLayers,
      profileNote: profileFile
        ? "node --cpu-prof on a separate service process (1 ms sampling), samples cut to each load's window; percentages are of the main thread's busy (non-idle) time."
        : "no CPU profile was written",
    };
  } finally {
    await service?.stop();
    await profiled?.stop();
    rmSync(profileDir, { recursive: true, force: true });
    await database.drop();
  }
}
