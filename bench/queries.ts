import type { Principal } from "../src/auth/principal";
import { createLogger } from "../src/common/logger";
import { SettingsSection } from "../src/events/audit-event.enums";
import type { AuditEventFilter } from "../src/logs/audit-log.inputs";
import type { LogRequest } from "../src/logs/audit-log.service";
import { createServices } from "../src/server/app-services";
import { BenchDatabase } from "./bench-database";
import { BenchContext, Role, serviceConfig, token } from "./context";
import { datasetPlan, loadDataset, LoadReport } from "./dataset";
import { conversationId, customerId, customerName, userId } from "./event-factory";
import { GraphQLHttpClient, operationBody } from "./http-client";
import { ServiceProcess } from "./processes";
import { ResourceMonitor, ResourceUse } from "./resources";
import { closedLoop, LoadResult, monotonicMs, ratio } from "./stats";

/**
 * 2. Queries: every log and every filter of the workspace log, its first page
 * and a deep page reached by cursors, at concurrency 1 and 8, over HTTP and
 * as the raw SQL the service itself builds for that page (its
 * `logs.pageQuery`) run through mysql2 at the same concurrency.
 */

export const PAGE_SIZE = 50;
export const CONCURRENCIES = [1, 8] as const;
const WORKSPACE = "ws-large";

const PAGE_FIELDS = `fragment Page on AuditEventConnection {
  edges { cursor node { id type action occurredAt recordedAt description actor { kind id name } changes { field before after } } }
  pageInfo { hasNextPage endCursor }
}`;
export const WORKSPACE_LOG = `query WorkspaceLog($filter: AuditEventFilter, $range: DateRange, $search: String, $first: Int, $after: String) {
  log: workspaceAuditLog(filter: $filter, range: $range, search: $search, first: $first, after: $after) { ...Page }
}
${PAGE_FIELDS}`;
const CUSTOMER_LOG = `query CustomerLog($customerId: ID!, $first: Int, $after: String) {
  log: customerAuditLog(customerId: $customerId, first: $first, after: $after) { ...Page }
}
${PAGE_FIELDS}`;
const CONVERSATION_LOG = `query ConversationLog($conversationId: ID!, $first: Int, $after: String) {
  log: conversationAuditLog(conversationId: $conversationId, first: $first, after: $after) { ...Page }
}
${PAGE_FIELDS}`;

/** Targets of the issue. */
export const QUERY_TARGETS = {
  firstPageP95Ms: 10,
  httpOverRawP95AtConcurrency8: 3,
  deepOverFirstP95: 1.5,
  httpOverRawP50: 4,
  searchOverFulltextP95: 1.5,
};

interface QuerySpec {
  name: string;
  query: string;
  /** GraphQL variables, without first/after. */
  variables: Record<string, unknown>;
  /** The same request as the service's pageQuery takes it, without first/after. */
  request: LogRequest;
  search: boolean;
}

export interface QueryMeasurement {
  page: number;
  concurrency: number;
  http: LoadResult;
  raw: LoadResult;
  httpResources: ResourceUse;
  rawResources: ResourceUse;
}

export interface Check {
  /** Which of the issue's targets this is (for the summary), e.g. "first-page-p95". */
  kind?: string;
  target: string;
  measured: string;
  /** Null: not measured. */
  met: boolean | null;
}

export interface QueryResult {
  name: string;
  search: boolean;
  /** The deep page measured; null when the filter has fewer pages. */
  deepPage: number | null;
  /** Pages walked when the deep page was out of reach. */
  pagesAvailable?: number;
  /** The page SQL the service runs (first page). */
  sql: string;
  measurements: QueryMeasurement[];
  checks: Check[];
}

export interface QueryResults {
  dataset: LoadReport;
  bufferPoolBytes: number;
  /** Buffer-pool reads from disk and logical reads over all query measurements (server-wide). */
  bufferPool: { diskReads: number; readRequests: number; hitRatio: number };
  pageSize: number;
  deepPage: number;
  requestsPerMeasurement: number;
  /** How long the service served first pages before the first measurement (absent in results of earlier runs). */
  serviceWarmupMs?: number;
  queries: QueryResult[];
}

function specs(endMs: number): QuerySpec[] {
  const topUser = userId(0);
  const topConversation = conversationId(0);
  const topCustomer = customerId(0);
  const workspace = (name: string, args: { filter?: Record<string, unknown>; range?: { from: Date }; search?: string }): QuerySpec => ({
    name,
    query: WORKSPACE_LOG,
    variables: {
      ...(args.filter ? { filter: args.filter } : {}),
      ...(args.range ? { range: { from: args.range.from.toISOString() } } : {}),
      ...(args.search ? { search: args.search } : {}),
    },
    request: { log: "workspace", filter: (args.filter ?? null) as AuditEventFilter | null, range: args.range ?? null, search: args.search ?? null },
    search: Boolean(args.search),
  });
  return [
    workspace("workspace log, no filter", {}),
    workspace("workspace log, range: last 30 days", { range: { from: new Date(endMs - 30 * 24 * 3600_000) } }),
    workspace("workspace log, allEvents (user)", { filter: { allEvents: { userId: topUser } } }),
    workspace("workspace log, authorization (user)", { filter: { authorization: { userId: topUser } } }),
    workspace("workspace log, billing (user)", { filter: { billing: { userId: topUser } } }),
    workspace("workspace log, workSession (user)", { filter: { workSession: { userId: topUser } } }),
    workspace("workspace log, conversation", { filter: { conversation: { conversationId: topConversation } } }),
    workspace("workspace log, customer (name)", { filter: { customer: { customerName: customerName(0) } } }),
    workspace("workspace log, settings (section)", { filter: { settings: { section: SettingsSection.BUSINESS_RULES } } }),
    workspace("workspace log, search one word", { search: "refund" }),
    workspace("workspace log, search two words", { search: "damaged order" }),
    {
      name: "customer log",
      query: CUSTOMER_LOG,
      variables: { customerId: topCustomer },
      request: { log: "customer", customerId: topCustomer },
      search: false,
    },
    {
      name: "conversation log",
      query: CONVERSATION_LOG,
      variables: { conversationId: topConversation },
      request: { log: "conversation", conversationId: topConversation },
      search: false,
    },
  ];
}

export async function runQueries(context: BenchContext): Promise<QueryResults> {
  const profile = context.profile.queries;
  const database = await BenchDatabase.create(context.server, "queries");
  let service: ServiceProcess | undefined;
  try {
    const loadPool = database.pool(3);
    const plan = datasetPlan(profile.events);
    context.log(`queries: generating ${plan.total.toLocaleString("en")} events in ${plan.workspaces.length} workspaces`);
    const dataset = await loadDataset(loadPool, database.name, plan, context.log);
    context.log(`queries: dataset loaded in ${(dataset.elapsedMs / 1000).toFixed(1)} s (${dataset.eventsPerSecond} events/s), audit_events ${(dataset.auditEventsBytes / 2 ** 20).toFixed(0)} MiB`);
    await loadPool.end();

    service = await ServiceProcess.start({ databaseUrl: database.url, secret: context.secret });
    const runningService = service;
    const pool = database.pool(8);
    await BenchDatabase.warm(pool, 8);
    const monitor = new ResourceMonitor(pool, () => [runningService.pid]);
    const [[{ pool: bufferPoolBytes }]] = (await pool.query("SELECT @@innodb_buffer_pool_size AS pool")) as unknown as [{ pool: number }[]];

    const dataSource = await database.dataSource();
    const config = serviceConfig(context, database.url);
    const services = createServices(dataSource, config, createLogger("silent"));
    const principal: Principal = { userId: "admin-bench", workspaceId: WORKSPACE, role: Role.ADMIN, expiresAt: Date.now() + 6 * 3600_000 };
    const adminToken = await token(context, Role.ADMIN, WORKSPACE, principal.userId);
    const client = new GraphQLHttpClient(service.graphqlUrl, 8);

    await warmService(client, adminToken, specs(plan.endMs), profile.serviceWarmupMs);
    const before = await monitor.snapshot();
    const results: QueryResult[] = [];
    for (const spec of specs(plan.endMs)) {
      const walk = await cursorOf(client, adminToken, spec, profile.deepPage, profile.maxMs * 10);
      const pages: { page: number; after: string | null }[] = [{ page: 1, after: null }];
      if (walk.cursor) pages.push({ page: profile.deepPage, after: walk.cursor });
      const measurements: QueryMeasurement[] = [];
      let firstSql = "";
      for (const { page, after } of pages) {
        const built = await services.logs.pageQuery(principal, { ...spec.request, first: PAGE_SIZE, after } as LogRequest);
        if (!built) throw new Error(`${spec.name}: the service answers this page without SQL`);
        if (page === 1) firstSql = built.query.sql;
        const body = operationBody(spec.query, { ...spec.variables, first: PAGE_SIZE, ...(after ? { after } : {}) });
        for (const concurrency of CONCURRENCIES) {
          const http = await measure(monitor, profile, concurrency, () => client.expectData(body, adminToken).then(() => undefined));
          const raw = await measure(monitor, profile, concurrency, () => pool.query(built.query.sql, built.query.params).then(() => undefined));
          measurements.push({ page, concurrency, http: http.result, raw: raw.result, httpResources: http.resources, rawResources: raw.resources });
          context.log(
            `queries: ${spec.name}, page ${page}, c=${concurrency}: http p50 ${http.result.latency.p50} / p95 ${http.result.latency.p95} ms, raw p50 ${raw.result.latency.p50} / p95 ${raw.result.latency.p95} ms${http.result.errors ? `, ${http.result.errors} errors: ${http.result.firstError}` : ""}`,
          );
        }
      }
      results.push({
        name: spec.name,
        search: spec.search,
        deepPage: walk.cursor ? profile.deepPage : null,
        ...(walk.cursor ? {} : { pagesAvailable: walk.pages }),
        sql: firstSql,
        measurements,
        checks: checks(spec, measurements, profile.deepPage),
      });
    }
    const after = await monitor.snapshot();
    const use = ResourceMonitor.between(before, after);
    client.close();
    await services.bus.close();
    return {
      dataset,
      bufferPoolBytes: Number(bufferPoolBytes),
      bufferPool: {
        diskReads: use.counters.Innodb_buffer_pool_reads,
        readRequests: use.counters.Innodb_buffer_pool_read_requests,
        hitRatio: ratio(use.counters.Innodb_buffer_pool_read_requests - use.counters.Innodb_buffer_pool_reads, use.counters.Innodb_buffer_pool_read_requests),
      },
      pageSize: PAGE_SIZE,
      deepPage: profile.deepPage,
      requestsPerMeasurement: profile.requests,
      serviceWarmupMs: profile.serviceWarmupMs,
      queries: results,
    };
  } finally {
    await service?.stop();
    await database.drop();
  }
}

/**
 * Serves every non-search query's first page for an equal share of `totalMs`,
 * four requests at a time, unmeasured. Search is left out: it runs the same
 * resolvers, and one request takes seconds.
 */
async function warmService(client: GraphQLHttpClient, token: string, all: QuerySpec[], totalMs: number): Promise<void> {
  const warmed = all.filter((spec) => !spec.search);
  for (const spec of warmed) {
    const body = operationBody(spec.query, { ...spec.variables, first: PAGE_SIZE });
    const result = await closedLoop({ concurrency: 4, operations: Number.MAX_SAFE_INTEGER, maxMs: totalMs / warmed.length, run: () => client.expectData(body, token).then(() => undefined) });
    if (result.errors > 0) throw new Error(`${spec.name}: warm-up failed: ${result.firstError}`);
  }
}

async function measure(
  monitor: ResourceMonitor,
  profile: BenchContext["profile"]["queries"],
  concurrency: number,
  run: () => Promise<void>,
): Promise<{ result: LoadResult; resources: ResourceUse }> {
  await closedLoop({ concurrency, operations: profile.warmup, maxMs: profile.maxMs, run });
  return monitor.measure(() => closedLoop({ concurrency, operations: profile.requests, maxMs: profile.maxMs, run }));
}

/** Follows endCursor page after page over HTTP; the cursor that opens `page`, or null when the log is shorter. */
async function cursorOf(client: GraphQLHttpClient, token: string, spec: QuerySpec, page: number, maxMs: number): Promise<{ cursor: string | null; pages: number }> {
  let after: string | null = null;
  const deadline = monotonicMs() + maxMs;
  for (let current = 1; current < page; current++) {
    if (monotonicMs() > deadline) return { cursor: null, pages: current - 1 };
    const data: { log: { pageInfo: { hasNextPage: boolean; endCursor: string | null } } } = await client.data(
      spec.query,
      { ...spec.variables, first: PAGE_SIZE, ...(after ? { after } : {}) },
      token,
    );
    if (!data.log.pageInfo.hasNextPage || !data.log.pageInfo.endCursor) return { cursor: null, pages: current };
    after = data.log.pageInfo.endCursor;
  }
  return { cursor: after, pages: page };
}

function checks(spec: QuerySpec, measurements: QueryMeasurement[], deepPage: number): Check[] {
  const find = (page: number, concurrency: number) => measurements.find((m) => m.page === page && m.concurrency === concurrency);
  const result: Check[] = [];
  const failed = (m: QueryMeasurement) => m.http.errors > 0 || m.raw.errors > 0;
  const first1 = find(1, 1);
  if (first1 && !spec.search) {
    result.push({
      kind: "first-page-p95",
      target: `first page, c=1: p95 <= ${QUERY_TARGETS.firstPageP95Ms} ms`,
      measured: `${first1.http.latency.p95} ms`,
      met: !failed(first1) && first1.http.latency.p95 <= QUERY_TARGETS.firstPageP95Ms,
    });
  }
  for (const m of measurements) {
    const pageName = m.page === 1 ? "first page" : `page ${m.page}`;
    if (m.concurrency === 8) {
      const r = ratio(m.http.latency.p95, m.raw.latency.p95);
      result.push({ kind: "c8-p95-ratio", target: `${pageName}, c=8: p95 <= ${QUERY_TARGETS.httpOverRawP95AtConcurrency8} x raw p95`, measured: `${r} x (${m.http.latency.p95} vs ${m.raw.latency.p95} ms)`, met: !failed(m) && r <= QUERY_TARGETS.httpOverRawP95AtConcurrency8 });
    }
    const r50 = ratio(m.http.latency.p50, m.raw.latency.p50);
    result.push({ kind: "p50-ratio", target: `${pageName}, c=${m.concurrency}: p50 <= ${QUERY_TARGETS.httpOverRawP50} x raw p50`, measured: `${r50} x (${m.http.latency.p50} vs ${m.raw.latency.p50} ms)`, met: !failed(m) && r50 <= QUERY_TARGETS.httpOverRawP50 });
    if (spec.search) {
      const rs = ratio(m.http.latency.p95, m.raw.latency.p95);
      result.push({ kind: "search-ratio", target: `search, ${pageName}, c=${m.concurrency}: p95 <= ${QUERY_TARGETS.searchOverFulltextP95} x raw FULLTEXT p95`, measured: `${rs} x (${m.http.latency.p95} vs ${m.raw.latency.p95} ms)`, met: !failed(m) && rs <= QUERY_TARGETS.searchOverFulltextP95 });
    }
  }
  const deep1 = find(deepPage, 1);
  if (first1 && deep1) {
    const r = ratio(deep1.http.latency.p95, first1.http.latency.p95);
    result.push({ kind: "deep-page", target: `page ${deepPage} p95 <= ${QUERY_TARGETS.deepOverFirstP95} x page 1 p95 (c=1)`, measured: `${r} x (${deep1.http.latency.p95} vs ${first1.http.latency.p95} ms)`, met: !failed(deep1) && r <= QUERY_TARGETS.deepOverFirstP95 });
  } else if (first1) {
    result.push({ kind: "deep-page", target: `page ${deepPage} p95 <= ${QUERY_TARGETS.deepOverFirstP95} x page 1 p95 (c=1)`, measured: "not measured: the log has fewer pages on this dataset", met: null });
  }
  return result;
}
