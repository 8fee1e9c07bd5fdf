import type mysql from "mysql2/promise";
import { decodePostings } from "../src/database/search-postings.repository";
import { SettingsSection } from "../src/events/audit-event.enums";
import { BenchContext, Role, token } from "./context";
import { BenchDatabase } from "./database";
import { FairnessResults, runFairness } from "./fairness";
import { conversationId, customerId, customerName, makeEvent, toInput, userId, WorkspacePlan, workspacePlan } from "./events";
import { RECORD_EVENTS, untilIndexed } from "./ingest";
import { IntegrityResults, measureIntegrity } from "./integrity";
import { alternatedLoops, closedLoop, GraphQLHttpClient, LoadResult, monotonicMs, operationBody, round } from "./load";
import { ServiceProcess } from "./processes";

/**
 * 2. Queries: every log and every filter of the workspace log, its first page
 * and a deep page reached by cursors, at concurrency 1 and 8, over HTTP and
 * as the raw baseline: the bench's own keyset SELECT of the same page through
 * mysql2, at the same concurrency.
 */

const PAGE_SIZE = 50;
const WORKSPACE = "ws-large";
const SIZES = {
  full: { events: 2_000_000, deepPage: 100, searchDeepPage: 20, requests: 1_000, rounds: 10, warmup: 20, serviceWarmupMs: 30_000, maxMs: 20_000 },
  smoke: { events: 40_000, deepPage: 10, searchDeepPage: 3, requests: 30, rounds: 3, warmup: 3, serviceWarmupMs: 1_000, maxMs: 1_000 },
};

/**
 * What a log screen shows of each event: who acted, by their current name,
 * the conversation's subject and its customer, the customer, the settings
 * section. Every log and filter is measured with it.
 */
const SCREEN_FIELDS = `fragment Page on AuditEventConnection {
  edges { cursor node { ...UiEvent } }
  pageInfo { hasNextPage endCursor }
}
fragment UiEvent on AuditEvent {
  id type action occurredAt description
  actor { kind id name user { name } }
  changes { field before after }
  ... on ConversationEvent { conversation { id subject customer { name } } csat { rating } }
  ... on CustomerEvent { customer { name } }
  ... on SettingsEvent { section objectName }
}`;
/** An event's own columns only, no names from the directory: the second row of the workspace log. */
const COLUMN_FIELDS = `fragment Page on AuditEventConnection {
  edges { cursor node { id type action occurredAt recordedAt description actor { kind id name } changes { field before after } } }
  pageInfo { hasNextPage endCursor }
}`;
const logQueries = (fields: string) => ({
  workspace: `query WorkspaceLog($filter: AuditEventFilter, $range: DateRange, $search: String, $first: Int, $after: String) {
  log: workspaceAuditLog(filter: $filter, range: $range, search: $search, first: $first, after: $after) { ...Page }
}
${fields}`,
  customer: `query CustomerLog($customerId: ID!, $first: Int, $after: String) {
  log: customerAuditLog(customerId: $customerId, first: $first, after: $after) { ...Page }
}
${fields}`,
  conversation: `query ConversationLog($conversationId: ID!, $first: Int, $after: String) {
  log: conversationAuditLog(conversationId: $conversationId, first: $first, after: $after) { ...Page }
}
${fields}`,
});
const SCREEN = logQueries(SCREEN_FIELDS);
const COLUMNS = logQueries(COLUMN_FIELDS);
export const WORKSPACE_LOG = SCREEN.workspace;

/** One keyset scan of the raw page: an index (null: FULLTEXT decides) and conditions after `workspace_id = ?`. */
interface RawScan {
  index: string | null;
  where: string[];
  params: unknown[];
  /** The index is the customer log's entries' (alias `entry`), read first, each joining its event by primary key. */
  throughEntries?: boolean;
}

interface QuerySpec {
  name: string;
  query: string;
  /** GraphQL variables, without first/after. */
  variables: Record<string, unknown>;
  /** The raw page's scans (one per customer of the name, for that filter). */
  raw(pool: mysql.Pool): Promise<RawScan[]>;
  search: boolean;
  /** Whether the raw page joins the directory rows that supply the screen's names. */
  names: boolean;
  /** The deep page measured; null: only the first; absent: the size's `deepPage`. */
  deepPage?: number | null;
}

export interface QueryMeasurement {
  page: number;
  concurrency: number;
  http: LoadResult;
  raw: LoadResult;
}

export interface QueryResult {
  name: string;
  search: boolean;
  /** The deep page measured; null when the log has fewer pages. */
  deepPage: number | null;
  pagesAvailable?: number;
  measurements: QueryMeasurement[];
}

/** The words the search queries use, chosen from the dataset's index by how many of the largest workspace's events hold them. */
export interface SearchWords {
  common: WordShare;
  rare: WordShare;
  /** A word that most often comes with the common one, searched with it. */
  companion: WordShare;
  /** The common word's first three letters. */
  prefix: WordShare;
  absent: string;
}

export interface WordShare {
  word: string;
  /** Events of the largest workspace that hold a term starting with the word. */
  events: number;
}

/** What the search index took, beside the table it indexes. */
export interface SearchIndexFacts {
  /** Milliseconds from the dataset's last recording until every event was indexed. */
  indexedAfterMs: number;
  /** Data and indexes on disk, as the server reports them after ANALYZE TABLE. */
  postingsBytes: number;
  eventsBytes: number;
  postingRows: number;
  /** The raw baseline's FULLTEXT index on search_text, built for the comparison, and how long it took. */
  fulltextBuildMs: number;
}

export interface QueryResults {
  /** The Merkle log's proofs and space on this dataset (absent from runs before it existed). */
  integrity?: IntegrityResults;
  dataset: { events: number; workspaces: number; largestWorkspaceEvents: number; elapsedMs: number; eventsPerSecond: number };
  search?: { words: SearchWords; index: SearchIndexFacts };
  pageSize: number;
  deepPage: number;
  requestsPerMeasurement: number;
  /** Blocks a page's HTTP and raw loads took turns in (absent from runs that measured one after the other). */
  alternatedBlocks?: number;
  queries: QueryResult[];
  /** One token flooding while another reads and a producer records (absent in runs before it was measured). */
  fairness?: FairnessResults;
}

/** The columns a page shows. */
const RAW_SELECT = "seq, id, type, action, occurred_at, recorded_at, actor_kind, actor_id, actor_name, customer_id, conversation_id, subject_user_id, settings_section, description, details, changes, metadata";
const ORDER = "ORDER BY occurred_at DESC, seq DESC";
/** The directory rows that supply the screen's names, joined by primary key to each event of the raw page (`page`). */
const RAW_NAMES = {
  select: "actor_user.name AS actor_user_name, conversation.subject AS conversation_subject, conversation_customer.name AS conversation_customer_name, customer.name AS customer_name",
  joins: [
    "LEFT JOIN users AS actor_user ON actor_user.workspace_id = page.workspace_id AND page.actor_kind = 'USER' AND actor_user.id = page.actor_id",
    "LEFT JOIN conversations AS conversation ON conversation.workspace_id = page.workspace_id AND conversation.id = page.conversation_id",
    "LEFT JOIN customers AS conversation_customer ON conversation_customer.workspace_id = page.workspace_id AND conversation_customer.id = conversation.customer_id",
    "LEFT JOIN customers AS customer ON customer.workspace_id = page.workspace_id AND customer.id = page.customer_id",
  ].join(" "),
};

function specs(endMs: number): QuerySpec[] {
  const scan = (index: string | null, where: string[], ...params: unknown[]) => async (): Promise<RawScan[]> => [{ index, where, params }];
  const byUser = (type: string) => scan("ix_audit_events_type_actor", ["page.type = ?", "page.actor_kind = 'USER'", "page.actor_id = ?"], type, userId(0));
  const workspace = (name: string, variables: Record<string, unknown>, raw: QuerySpec["raw"]): QuerySpec => ({ name, query: SCREEN.workspace, variables, raw, search: "search" in variables, names: true });
  const from = new Date(endMs - 30 * 24 * 3600_000);
  return [
    workspace("workspace log, no filter", {}, scan("ix_audit_events_time", [])),
    { name: "workspace log, no filter, event columns only", query: COLUMNS.workspace, variables: {}, raw: scan("ix_audit_events_time", []), search: false, names: false },
    workspace("workspace log, range: last 30 days", { range: { from: from.toISOString() } }, scan("ix_audit_events_time", ["page.occurred_at >= ?"], from)),
    workspace("workspace log, allEvents (user)", { filter: { allEvents: { userId: userId(0) } } }, scan("ix_audit_events_actor", ["page.actor_kind = 'USER'", "page.actor_id = ?"], userId(0))),
    workspace("workspace log, authorization (user)", { filter: { authorization: { userId: userId(0) } } }, byUser("AUTHORIZATION")),
    workspace("workspace log, billing (user)", { filter: { billing: { userId: userId(0) } } }, byUser("BILLING")),
    workspace("workspace log, workSession (user)", { filter: { workSession: { userId: userId(0) } } }, byUser("WORK_SESSION")),
    workspace(
      "workspace log, conversation",
      { filter: { conversation: { conversationId: conversationId(0) } } },
      scan("ix_audit_events_conversation", ["page.conversation_id = ?", "page.type = 'CONVERSATION'"], conversationId(0)),
    ),
    workspace("workspace log, customer (name)", { filter: { customer: { customerName: customerName(0) } } }, async (pool) => {
      const [ids] = (await pool.query("SELECT id FROM customers WHERE workspace_id = ? AND name = ?", [WORKSPACE, customerName(0)])) as unknown as [{ id: string }[]];
      return ids.map(({ id }) => ({ index: "ix_audit_events_customer_type", where: ["page.customer_id = ?", "page.type = 'CUSTOMER'"], params: [id] }));
    }),
    workspace("workspace log, settings (section)", { filter: { settings: { section: SettingsSection.BUSINESS_RULES } } }, scan("ix_audit_events_section", ["page.settings_section = ?"], SettingsSection.BUSINESS_RULES)),
    {
      name: "customer log",
      query: SCREEN.customer,
      variables: { customerId: customerId(0) },
      raw: async () => [{ index: "ix_customer_log_entries_log", where: ["entry.customer_id = ?"], params: [customerId(0)], throughEntries: true }],
      search: false,
      names: true,
    },
    {
      name: "conversation log",
      query: SCREEN.conversation,
      variables: { conversationId: conversationId(0) },
      raw: scan("ix_audit_events_conversation", ["page.conversation_id = ?"], conversationId(0)),
      search: false,
      names: true,
    },
  ];
}

/**
 * The raw page after `after` (the keyset of the previous page's last row), as
 * SQL and parameters; with `names`, its rows joined by primary key with the
 * directory rows that supply the screen's names, in the same statement.
 */
function rawPage(scans: RawScan[], after: { occurred_at: Date; seq: number } | null, limit: number, names = false): { sql: string; params: unknown[] } {
  const columns = ["workspace_id", ...RAW_SELECT.split(", ")].map((column) => `page.${column}`).join(", ");
  const parts = scans.map(({ index, where, params, throughEntries }) => {
    const at = throughEntries ? "entry" : "page";
    const conditions = [`${at}.workspace_id = ?`, ...where, ...(after ? [`(${at}.occurred_at < ? OR (${at}.occurred_at = ? AND ${at}.seq < ?))`] : [])];
    const hint = index ? ` FORCE INDEX (${index})` : "";
    const from = throughEntries
      ? `customer_log_entries AS entry${hint} STRAIGHT_JOIN audit_events AS page ON page.workspace_id = entry.workspace_id AND page.seq = entry.seq`
      : `audit_events AS page${hint}`;
    return { from, where: `WHERE ${conditions.join(" AND ")} ORDER BY ${at}.occurred_at DESC, ${at}.seq DESC LIMIT ${limit}`, params: [WORKSPACE, ...params, ...(after ? [after.occurred_at, after.occurred_at, after.seq] : [])] };
  });
  const withNames = names ? `, ${RAW_NAMES.select}` : "";
  const joins = names ? ` ${RAW_NAMES.joins}` : "";
  if (parts.length === 1) {
    const [part] = parts;
    return { sql: `SELECT ${columns}${withNames} FROM ${part.from}${joins} ${part.where}`, params: part.params };
  }
  // One keyset scan per customer of the name, merged; the page's rows then join the names.
  const merged = `SELECT * FROM (${parts.map((part) => `(SELECT ${columns} FROM ${part.from} ${part.where})`).join(" UNION ALL ")}) AS merged ${ORDER} LIMIT ${limit}`;
  return { sql: `SELECT page.*${withNames} FROM (${merged}) AS page${joins} ORDER BY page.occurred_at DESC, page.seq DESC`, params: parts.flatMap((part) => part.params) };
}

export async function runQueries(context: BenchContext): Promise<QueryResults> {
  const size = SIZES[context.size];
  const database = await BenchDatabase.create(context.server, "queries");
  // Checkpoints every second, so that the proofs are measured against one covering the whole dataset soon after it is recorded.
  const service = await ServiceProcess.start({ main: context.serviceMain, databaseUrl: database.url, secret: context.secret, environment: { AUDIT_CHECKPOINT_INTERVAL: "1s" } });
  try {
    const plan = datasetPlan(size.events, 100);
    context.log(`queries: recording ${plan.total.toLocaleString("en")} events in ${plan.workspaces.length} workspaces`);
    const dataset = await recordDataset(context, service, plan);
    context.log(`queries: dataset recorded in ${round(dataset.elapsedMs / 1000, 1)} s (${dataset.eventsPerSecond} events/s)`);
    const pool = await database.pool(8);
    const indexedAfterMs = await untilIndexed(pool);
    context.log(`queries: search index complete ${round(indexedAfterMs / 1000, 1)} s after the last recording`);
    await pool.query("ANALYZE TABLE audit_events, customer_log_entries, users, customers, conversations, search_postings");
    let search: QueryResults["search"];
    const searches: QuerySpec[] = [];
    if (!context.skipSearch) {
      const words = await chooseSearchWords(pool, plan.workspaces[0].events);
      context.log(`queries: search words ${JSON.stringify(words)}`);
      const sizes = await indexSizes(pool);
      // The raw baseline is the FULLTEXT query search used to run: its index is built on this dataset for it.
      const fulltextStarted = monotonicMs();
      await pool.query("ALTER TABLE audit_events ADD FULLTEXT INDEX ft_bench_search (search_text)");
      const fulltextBuildMs = Math.round(monotonicMs() - fulltextStarted);
      await pool.query("ANALYZE TABLE audit_events");
      search = { words, index: { indexedAfterMs, fulltextBuildMs, ...sizes } };
      searches.push(...searchSpecs(words, size.searchDeepPage));
    }
    const adminToken = await token(context, Role.ADMIN, WORKSPACE);
    const client = new GraphQLHttpClient(service.graphqlUrl, 8);
    const all = [...specs(plan.endMs), ...searches];
    // V8 optimizes the service's code only after many requests: every non-search first page is served unmeasured first.
    for (const spec of all.filter((spec) => !spec.search)) {
      const body = operationBody(spec.query, { ...spec.variables, first: PAGE_SIZE });
      await closedLoop({ concurrency: 4, operations: Number.MAX_SAFE_INTEGER, maxMs: size.serviceWarmupMs / all.length, run: () => client.expectData(body, adminToken) });
    }
    const warmUp = (concurrency: number, run: () => Promise<unknown>) => closedLoop({ concurrency, operations: size.warmup, maxMs: size.maxMs, run });
    const measure = async (concurrency: number, run: () => Promise<unknown>) => {
      await warmUp(concurrency, run);
      return closedLoop({ concurrency, operations: size.requests, maxMs: size.maxMs, run });
    };
    // A page and its raw statement take turns in blocks (see alternatedLoops). A search stays one load after the other:
    // its raw FULLTEXT statement takes seconds, and a block would hold one or two of them.
    const measurePair = async (spec: QuerySpec, concurrency: number, http: () => Promise<unknown>, raw: () => Promise<unknown>) => {
      if (spec.search) return [await measure(concurrency, http), await measure(concurrency, raw)] as const;
      for (const run of [http, raw]) await warmUp(concurrency, run);
      return alternatedLoops({ concurrency, operations: size.requests, maxMs: size.maxMs, rounds: size.rounds, runs: [http, raw] });
    };
    const queries: QueryResult[] = [];
    for (const spec of all) {
      const scans = await spec.raw(pool);
      const deepPage = spec.deepPage === undefined ? size.deepPage : spec.deepPage;
      const walk = deepPage === null ? { cursor: null, pages: 1 } : await cursorOf(client, adminToken, spec, deepPage, size.maxMs * 10);
      const pages: { page: number; after: string | null }[] = [{ page: 1, after: null }];
      if (walk.cursor && deepPage !== null) pages.push({ page: deepPage, after: walk.cursor });
      const measurements: QueryMeasurement[] = [];
      for (const { page, after } of pages) {
        // The raw page starts after the same row as the cursor: the last row of the page before it.
        const boundary = after ? await lastRowBefore(pool, scans, (page - 1) * PAGE_SIZE) : null;
        const raw = rawPage(scans, boundary, PAGE_SIZE + 1, spec.names);
        const body = operationBody(spec.query, { ...spec.variables, first: PAGE_SIZE, ...(after ? { after } : {}) });
        for (const concurrency of [1, 8]) {
          const [http, rawLoad] = await measurePair(
            spec,
            concurrency,
            () => client.expectData(body, adminToken),
            () => pool.query(raw.sql, raw.params),
          );
          measurements.push({ page, concurrency, http, raw: rawLoad });
          context.log(`queries: ${spec.name}, page ${page}, c=${concurrency}: HTTP p50 ${http.latency.p50} / p95 ${http.latency.p95} ms, raw p50 ${rawLoad.latency.p50} / p95 ${rawLoad.latency.p95} ms${http.errors ? `, ${http.errors} errors: ${http.firstError}` : ""}`);
        }
      }
      const measuredDeep = walk.cursor ? deepPage : null;
      queries.push({ name: spec.name, search: spec.search, deepPage: measuredDeep, ...(walk.cursor || deepPage === null ? {} : { pagesAvailable: walk.pages }), measurements });
    }
    client.close();
    // Fair sharing, on the same dataset: the screen's page of 50 for one token, its largest page of 200 for the flooding one.
    const largest = plan.workspaces[0].plan;
    const fairness = await runFairness(context, {
      databaseUrl: database.url,
      workspace: WORKSPACE,
      pageQuery: SCREEN.workspace,
      floodQuery: SCREEN.workspace.replace("$first: Int", "$first: Int = 200"),
      events: (call) => Array.from({ length: 10 }, (_, k) => toInput(makeEvent(largest, call * 10 + k, new Date(), "fairness"))),
    });
    const integrity = await measureIntegrity(context, { graphqlUrl: service.graphqlUrl, pool, workspace: WORKSPACE, requests: size.requests, warmup: size.warmup, maxMs: size.maxMs * 3 });
    return { dataset, ...(search ? { search } : {}), pageSize: PAGE_SIZE, deepPage: size.deepPage, requestsPerMeasurement: size.requests, alternatedBlocks: size.rounds, queries, fairness, integrity };
  } finally {
    await service.stop();
    await database.drop();
  }
}

/** The search queries: each word's first page, the common word's deep page too, raw as the FULLTEXT query search used to run. */
function searchSpecs(words: SearchWords, deepPage: number): QuerySpec[] {
  const fulltext = (...prefixes: string[]) => async (): Promise<RawScan[]> => [
    { index: null, where: ["MATCH (page.search_text) AGAINST (? IN BOOLEAN MODE)"], params: [prefixes.map((word) => `+${word}*`).join(" ")] },
  ];
  const spec = (name: string, search: string, raw: QuerySpec["raw"], deep: number | null = null): QuerySpec => ({
    name: `workspace log, search: ${name}`,
    query: SCREEN.workspace,
    variables: { search },
    raw,
    search: true,
    names: true,
    deepPage: deep,
  });
  const share = (word: WordShare) => `"${word.word}", ${word.events.toLocaleString("en")} events`;
  return [
    spec(`common word (${share(words.common)})`, words.common.word, fulltext(words.common.word), deepPage),
    spec(`rare word (${share(words.rare)})`, words.rare.word, fulltext(words.rare.word)),
    spec(`two words ("${words.common.word} ${words.companion.word}")`, `${words.common.word} ${words.companion.word}`, fulltext(words.common.word, words.companion.word)),
    spec(`3-letter prefix (${share(words.prefix)})`, words.prefix.word, fulltext(words.prefix.word)),
    spec(`absent word ("${words.absent}")`, words.absent, fulltext(words.absent)),
  ];
}

/**
 * Words of the largest workspace, read from its search index: a common word
 * in about 1% of its events, a rare one (or number) in about 0.01%, the word
 * that comes most often with the common one, and the common word's first
 * three letters.
 */
async function chooseSearchWords(pool: mysql.Pool, events: number): Promise<SearchWords> {
  const [rows] = (await pool.query("SELECT term, delta_postings FROM search_postings WHERE workspace_id = ?", [WORKSPACE])) as unknown as [
    { term: string; delta_postings: Buffer }[],
  ];
  const counts = new Map<string, number>();
  for (const row of rows) counts.set(row.term, (counts.get(row.term) ?? 0) + decodePostings(row.delta_postings).length);
  const all = [...counts].map(([word, events]) => ({ word, events }));
  // Words of letters; a rare one may be a number too, as a ticket number is.
  const terms = all.filter((term) => /^[a-z]{4,}$/.test(term.word));
  const closestTo = (target: number, among = terms) => among.reduce((a, b) => (Math.abs(Math.log(b.events / target)) < Math.abs(Math.log(a.events / target)) ? b : a));
  const common = closestTo(events * 0.01);
  const rare = closestTo(events * 0.0001, all.filter((term) => /^[a-z0-9]{4,}$/.test(term.word)));
  // The newest events with the common word: the term that most often comes with it.
  const [texts] = (await pool.query(
    "SELECT search_text FROM audit_events WHERE workspace_id = ? AND (search_text LIKE ? OR search_text LIKE ?) ORDER BY occurred_at DESC, seq DESC LIMIT 2000",
    [WORKSPACE, `${common.word}%`, `% ${common.word}%`],
  )) as unknown as [{ search_text: string }[]];
  const together = new Map<string, number>();
  for (const { search_text } of texts) for (const term of new Set(search_text.split(" "))) if (term !== common.word) together.set(term, (together.get(term) ?? 0) + 1);
  const companion = terms.filter((term) => term.word !== common.word && together.has(term.word)).reduce((a, b) => (together.get(b.word)! > together.get(a.word)! ? b : a));
  const prefix = common.word.slice(0, 3);
  const prefixEvents = await eventsWithPrefix(pool, prefix);
  return { common, rare, companion, prefix: { word: prefix, events: prefixEvents }, absent: "qzxjvk" };
}

/** Events of the largest workspace with a term that starts with `prefix`. */
async function eventsWithPrefix(pool: mysql.Pool, prefix: string): Promise<number> {
  const [rows] = (await pool.query(
    "SELECT COUNT(*) AS n FROM audit_events WHERE workspace_id = ? AND (search_text LIKE ? OR search_text LIKE ?)",
    [WORKSPACE, `${prefix}%`, `% ${prefix}%`],
  )) as unknown as [{ n: number | string }[]];
  return Number(rows[0].n);
}

async function indexSizes(pool: mysql.Pool): Promise<Omit<SearchIndexFacts, "indexedAfterMs" | "fulltextBuildMs">> {
  const [tables] = (await pool.query(
    "SELECT TABLE_NAME AS name, DATA_LENGTH + INDEX_LENGTH AS bytes FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('search_postings', 'audit_events')",
  )) as unknown as [{ name: string; bytes: number | string }[]];
  const bytesOf = (name: string) => Number(tables.find((table) => table.name === name)?.bytes ?? NaN);
  const [rows] = (await pool.query("SELECT COUNT(*) AS n FROM search_postings")) as unknown as [{ n: number | string }[]];
  return { postingsBytes: bytesOf("search_postings"), eventsBytes: bytesOf("audit_events"), postingRows: Number(rows[0].n) };
}

async function lastRowBefore(pool: mysql.Pool, scans: RawScan[], rows: number): Promise<{ occurred_at: Date; seq: number }> {
  const { sql, params } = rawPage(scans, null, rows);
  const [page] = (await pool.query(sql, params)) as unknown as [{ occurred_at: Date; seq: number }[]];
  return page[page.length - 1];
}

/** Follows endCursor over HTTP: the cursor that opens `page`, or null when the log is shorter. */
async function cursorOf(client: GraphQLHttpClient, token: string, spec: QuerySpec, page: number, maxMs: number): Promise<{ cursor: string | null; pages: number }> {
  let after: string | null = null;
  const deadline = monotonicMs() + maxMs;
  for (let current = 1; current < page; current++) {
    if (monotonicMs() > deadline) return { cursor: null, pages: current - 1 };
    const { log }: { log: { pageInfo: { hasNextPage: boolean; endCursor: string | null } } } = await client.data(spec.query, { ...spec.variables, first: PAGE_SIZE, ...(after ? { after } : {}) }, token);
    if (!log.pageInfo.hasNextPage || !log.pageInfo.endCursor) return { cursor: null, pages: current };
    after = log.pageInfo.endCursor;
  }
  return { cursor: after, pages: page };
}

export interface DatasetPlan {
  workspaces: { plan: WorkspacePlan; events: number }[];
  total: number;
  startMs: number;
  endMs: number;
}

/**
 * `total` events over twelve months; with 100 workspaces the largest
 * (`ws-large`) takes 55% and 99 others share the rest in proportion to 1/k.
 */
export function datasetPlan(total: number, workspaces: 1 | 100): DatasetPlan {
  const endMs = Date.now() - 3600_000;
  const sizes = (events: number) => ({
    users: Math.max(5, Math.min(400, Math.round(events / 4_000))),
    customers: Math.max(20, Math.min(80_000, Math.round(events / 25))),
    conversations: Math.max(50, Math.min(200_000, Math.round(events / 10))),
  });
  const largest = workspaces === 1 ? total : Math.round(total * 0.55);
  const weights = Array.from({ length: workspaces - 1 }, (_, k) => 1 / (k + 1));
  const weightSum = weights.reduce((a, b) => a + b, 0);
  const counts = [largest, ...weights.map((weight) => Math.max(1, Math.floor(((total - largest) * weight) / weightSum)))];
  const plans = counts.map((events, k) => ({ plan: workspacePlan(k === 0 ? WORKSPACE : `ws-${String(k).padStart(3, "0")}`, sizes(events), 2026 + k), events }));
  return { workspaces: plans, total: counts.reduce((a, b) => a + b, 0), startMs: endMs - 365 * 24 * 3600_000, endMs };
}

/** Records the dataset through the service's API in batches of 500, from 4 clients, each workspace's events in time order. */
export async function recordDataset(context: BenchContext, service: ServiceProcess, plan: DatasetPlan): Promise<QueryResults["dataset"]> {
  const batches = plan.workspaces.flatMap(({ plan: workspace, events }) => Array.from({ length: Math.ceil(events / 500) }, (_, b) => ({ workspace, events, from: b * 500 })));
  const tokens = new Map(await Promise.all(plan.workspaces.map(async ({ plan: { id } }) => [id, await token(context, Role.SERVICE, id, "producer")] as const)));
  const client = new GraphQLHttpClient(service.graphqlUrl, 4);
  const result = await closedLoop({
    concurrency: 4,
    operations: batches.length,
    maxMs: Number.MAX_SAFE_INTEGER,
    run: async (index) => {
      const { workspace, events, from } = batches[index];
      const step = (plan.endMs - plan.startMs) / events;
      const inputs = [];
      for (let k = from; k < Math.min(events, from + 500); k++) inputs.push(toInput(makeEvent(workspace, k, new Date(Math.floor(plan.startMs + (k + ((k * 7919) % 1000) / 1000) * step)), "seed")));
      await client.expectData(operationBody(RECORD_EVENTS, { events: inputs }), tokens.get(workspace.id)!);
    },
  });
  client.close();
  if (result.errors > 0) throw new Error(`recording the dataset failed: ${result.firstError}`);
  return { events: plan.total, workspaces: plan.workspaces.length, largestWorkspaceEvents: plan.workspaces[0].events, elapsedMs: result.elapsedMs, eventsPerSecond: Math.round((plan.total / result.elapsedMs) * 1000) };
}
