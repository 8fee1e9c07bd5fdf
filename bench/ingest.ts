import { newEventId } from "../src/database/audit-event.storage";
import { BenchDatabase } from "./bench-database";
import { BenchContext, Role, token } from "./context";
import { insertEventsSql, makeEvent, rowValues, toInput, toRecord, workspacePlan } from "./event-factory";
import { GraphQLHttpClient, operationBody } from "./http-client";
import { InProcessApi } from "./in-process";
import { ServiceProcess } from "./processes";
import { ResourceMonitor, ResourceUse } from "./resources";
import { StatementActivity, StatementSampler } from "./statement-sampler";
import { closedLoop, LoadResult, ratio } from "./stats";

/**
 * 1. Ingest: recordAuditEvents over HTTP in batches of 1, 100 and 500, from
 * 1 and 4 concurrent clients, beside the raw mysql2 multi-row INSERT of the
 * same rows into the same table from as many connections. Every
 * configuration starts from empty tables, for the service and for raw alike.
 */

export const RECORD_EVENTS = `mutation Record($events: [AuditEventInput!]!) {
  recordAuditEvents(events: $events) { duplicates events { id } }
}`;

/** The cheapest operation the service answers: what any request costs before it does anything. */
export const EMPTY_REQUEST = `query Empty { __typename }`;

export const BATCH_SIZES = [1, 100, 500] as const;
type BatchSize = (typeof BATCH_SIZES)[number];

/** Client layouts: 1 client; 4 clients of one workspace; 4 clients of 4 workspaces (the workspace lock out of the way). */
const LAYOUTS = [
  { clients: 1, workspaces: 1 },
  { clients: 4, workspaces: 1 },
  { clients: 4, workspaces: 4 },
] as const;

/** Share of raw throughput batched recording must reach. */
export const BATCHED_TARGET_RATIO = 0.5;
/** Events per second single-event requests must reach. */
export const SINGLE_TARGET_EVENTS_PER_SECOND = 1_500;

export interface IngestSide {
  events: number;
  requests: number;
  eventsPerSecond: number;
  load: LoadResult;
  resources: ResourceUse;
  /** Where the service's database connections were seen while it ran (the service side only). */
  activity?: StatementActivity;
}

/** Single events executed in the benchmark's process, without HTTP: CPU is the benchmark process's. */
export interface InProcessSide {
  eventsPerSecond: number;
  load: LoadResult;
  resources: ResourceUse;
}

export interface IngestConfiguration {
  batch: BatchSize;
  clients: number;
  workspaces: number;
  service: IngestSide;
  raw: IngestSide;
  /** Batch 1 only: the same calls executed in process (absent from results written before it was measured). */
  inProcess?: InProcessSide;
  /** service events/s over raw events/s. */
  serviceOverRaw: number;
  target: { text: string; met: boolean };
}

/** The empty request over the same HTTP stack, with a producer's token: the floor under single-event requests. */
export interface RequestFloor {
  clients: number;
  load: LoadResult;
  resources: ResourceUse;
}

export interface IngestResults {
  eventsPerConfiguration: Record<BatchSize, number>;
  eventBytes: number;
  configurations: IngestConfiguration[];
  /** Absent from results written before it was measured. */
  floor?: RequestFloor[];
}

export async function runIngest(context: BenchContext): Promise<IngestResults> {
  const profile = context.profile.ingest;
  const database = await BenchDatabase.create(context.server, "ingest");
  const service = await ServiceProcess.start({ databaseUrl: database.url, secret: context.secret });
  const api = await InProcessApi.start(context, database);
  const pool = database.pool(4);
  await BenchDatabase.warm(pool, 4);
  // The process-list sampler has a connection of its own: raw's connections are all at work while it runs.
  const samplerPool = database.pool(1);
  const monitor = new ResourceMonitor(pool, () => [service.pid]);
  const inProcessMonitor = new ResourceMonitor(pool, () => []);
  const workspaceIds = Array.from({ length: 4 }, (_, w) => `ws-ingest-${w}`);
  const tokens = await Promise.all(workspaceIds.map((id) => token(context, Role.SERVICE, id, "producer")));
  const configurations: IngestConfiguration[] = [];
  try {
    // Built before any timing, so that neither side's figure includes the load generator building events.
    const events = prepareEvents(Math.max(...BATCH_SIZES.map((batch) => profile.events[batch])));
    context.log(`ingest: ${events.inputs.length.toLocaleString("en")} events prepared`);
    const floor = await measureFloor(service, tokens[0], monitor, profile.shortRunMs);
    for (const f of floor) context.log(`ingest: empty request, ${f.clients} client(s): ${Math.round(f.load.perSecond)} requests/s, p50 ${f.load.latency.p50} ms`);
    for (const batch of BATCH_SIZES) {
      for (const layout of LAYOUTS) {
        const total = profile.events[batch];
        const requests = Math.ceil(total / batch);
        const range = (index: number) => [index * batch, Math.min(total, (index + 1) * batch)] as const;
        const workspaceOf = (worker: number) => (layout.workspaces === 1 ? 0 : worker);
        const label = `ingest: batch ${batch}, ${layout.clients} client(s), ${layout.workspaces} workspace(s)`;

        await emptyTables(pool);
        const client = new GraphQLHttpClient(service.graphqlUrl, layout.clients);
        const sampler = StatementSampler.start(samplerPool, database.name);
        const serviceRun = await monitor.measure(() =>
          closedLoop({
            concurrency: layout.clients,
            operations: requests,
            maxMs: profile.maxMs,
            run: async (index, worker) => {
              const [from, to] = range(index);
              const body = `{"query":${JSON.stringify(RECORD_EVENTS)},"variables":{"events":[${events.inputs.slice(from, to).join(",")}]}}`;
              await client.expectData(body, tokens[workspaceOf(worker)]);
            },
          }),
        );
        const activity = await sampler.stop();
        client.close();

        await emptyTables(pool);
        const rawRun = await monitor.measure(() =>
          closedLoop({
            concurrency: layout.clients,
            operations: requests,
            maxMs: profile.maxMs,
            run: async (index, worker) => {
              const [from, to] = range(index);
              const recordedAt = new Date();
              const values: unknown[] = [];
              for (let n = from; n < to; n++) {
                const row = events.rows[n].slice();
                row[0] = workspaceIds[workspaceOf(worker)];
                row[1] = n + 1;
                row[2] = newEventId(recordedAt.getTime());
                row[8] = recordedAt;
                for (const value of row) values.push(value);
              }
              await pool.query(insertEventsSql(to - from), values);
            },
          }),
        );

        const side = (run: { result: LoadResult; resources: ResourceUse }): IngestSide => {
          const stored = Math.min(total, run.result.completed * batch);
          return {
            events: stored,
            requests: run.result.completed,
            eventsPerSecond: Math.round((stored / run.result.elapsedMs) * 1000),
            load: run.result,
            resources: run.resources,
          };
        };
        // Single events once more, executed in this process without HTTP, from as many callers: what the HTTP stack adds to each.
        const inProcess =
          batch === 1
            ? await measureInProcess(
                profile.shortRunMs,
                layout.clients,
                events.inputs.length,
                (index, worker) => api.run(RECORD_EVENTS, { events: JSON.parse(`[${events.inputs[index]}]`) }, tokens[workspaceOf(worker)]),
                () => emptyTables(pool),
                inProcessMonitor,
              )
            : undefined;

        const serviceSide = { ...side(serviceRun), activity };
        const rawSide = side(rawRun);
        const serviceOverRaw = ratio(serviceSide.eventsPerSecond, rawSide.eventsPerSecond);
        const target =
          batch === 1
            ? { text: `>= ${SINGLE_TARGET_EVENTS_PER_SECOND.toLocaleString("en")} events/s`, met: serviceSide.eventsPerSecond >= SINGLE_TARGET_EVENTS_PER_SECOND && serviceSide.load.errors === 0 }
            : { text: `>= ${BATCHED_TARGET_RATIO} x raw`, met: serviceOverRaw >= BATCHED_TARGET_RATIO && serviceSide.load.errors === 0 };
        configurations.push({ batch, clients: layout.clients, workspaces: layout.workspaces, service: serviceSide, raw: rawSide, ...(inProcess ? { inProcess } : {}), serviceOverRaw, target });
        context.log(
          `${label}: service ${serviceSide.eventsPerSecond} ev/s (p50 ${serviceSide.load.latency.p50} ms, p99 ${serviceSide.load.latency.p99} ms${serviceSide.load.errors ? `, ${serviceSide.load.errors} errors: ${serviceSide.load.firstError}` : ""}), raw ${rawSide.eventsPerSecond} ev/s, ratio ${serviceOverRaw}` +
            (inProcess ? `; in process ${inProcess.eventsPerSecond} ev/s${inProcess.load.errors ? `, ${inProcess.load.errors} errors: ${inProcess.load.firstError}` : ""}` : ""),
        );
      }
    }
    return { eventsPerConfiguration: profile.events, eventBytes: Math.round(events.inputBytes / events.inputs.length), configurations, floor };
  } finally {
    await api.close();
    await service.stop();
    await database.drop();
  }
}

/**
 * Single-event calls executed in this process for `ms` from `callers`
 * callers, after as long again unmeasured; the tables are emptied after the
 * warm-up, so the measured calls start from empty tables like the other sides.
 */
async function measureInProcess(
  ms: number,
  callers: number,
  operations: number,
  call: (index: number, worker: number) => Promise<void>,
  emptyTables: () => Promise<void>,
  monitor: ResourceMonitor,
): Promise<InProcessSide> {
  const loop = () => closedLoop({ concurrency: callers, operations, maxMs: ms, run: call });
  await loop();
  await emptyTables();
  const { result, resources } = await monitor.measure(loop);
  return { eventsPerSecond: Math.round((result.completed / result.elapsedMs) * 1000), load: result, resources };
}

/**
 * The empty request from 1 and from 4 clients, each after as long again
 * unmeasured (V8 optimizes the request path only after many requests).
 */
async function measureFloor(service: ServiceProcess, producerToken: string, monitor: ResourceMonitor, ms: number): Promise<RequestFloor[]> {
  const body = operationBody(EMPTY_REQUEST);
  const floor: RequestFloor[] = [];
  for (const clients of [1, 4]) {
    const client = new GraphQLHttpClient(service.graphqlUrl, clients);
    const loop = () =>
      closedLoop({ concurrency: clients, operations: Number.MAX_SAFE_INTEGER, maxMs: ms, run: () => client.expectData(body, producerToken).then(() => undefined) });
    try {
      await loop();
      const { result, resources } = await monitor.measure(loop);
      floor.push({ clients, load: result, resources });
    } finally {
      client.close();
    }
  }
  return floor;
}

/**
 * Event n, as the JSON input a producer sends and as the row the recorder
 * stores (workspace, seq, id and recorded_at are set per insert). The
 * idempotency key does not name the workspace: keys are unique per workspace,
 * so the same inputs serve every workspace.
 */
function prepareEvents(count: number): { inputs: string[]; rows: unknown[][]; inputBytes: number } {
  const plan = workspacePlan("ws-ingest", { users: 200, customers: 5_000, conversations: 20_000 }, 100);
  const base = Date.now() - 10 * 60_000;
  const inputs: string[] = new Array(count);
  const rows: unknown[][] = new Array(count);
  let inputBytes = 0;
  for (let n = 0; n < count; n++) {
    const event = makeEvent(plan, n, new Date(base + n), "ingest");
    event.idempotencyKey = `ingest-${n}`;
    inputs[n] = JSON.stringify(toInput(event));
    inputBytes += Buffer.byteLength(inputs[n]);
    rows[n] = rowValues(toRecord(plan, event, n + 1, new Date()), event);
  }
  return { inputs, rows, inputBytes };
}

async function emptyTables(pool: import("mysql2/promise").Pool): Promise<void> {
  for (const table of ["audit_events", "users", "customers", "conversations", "workspaces"]) await pool.query(`TRUNCATE TABLE ${table}`);
}
