import { BenchContext, Role, token } from "./context";
import { BenchDatabase } from "./database";
import { makeEvent, rawInsertSql, rawRow, toInput, withIdentity, workspacePlan } from "./events";
import { closedLoop, GraphQLHttpClient, LoadResult, monotonicMs, ratio, sleep } from "./load";
import { ServiceProcess } from "./processes";

/**
 * 1. Ingest: recordAuditEvents over HTTP in batches of 1, 100 and 500, from
 * 1 and 4 clients, beside the raw baseline: a multi-row INSERT of rows of the
 * same columns into the same table, through mysql2, from as many connections.
 * Every configuration starts from empty tables, for the service and for raw.
 * The service's time runs until its search index and its Merkle log have
 * caught up too. At batch 100 and 500 an instance that does not index
 * (SEARCH_INDEXING off) records the same events, which prices the index, and
 * one without the Merkle log (MERKLE_LOG off), which prices the log: see
 * {@link Price}.
 */

export const RECORD_EVENTS = `mutation Record($events: [AuditEventInput!]!) {
  recordAuditEvents(events: $events) { duplicates events { id } }
}`;

/** The batch sizes part 1 measures (`--batches` may choose some). */
export const BATCH_SIZES = [1, 100, 500] as const;
/** Batches at which the search index is priced. */
const PRICED_BATCHES: readonly number[] = [100, 500];
/** 1 client; 4 clients of one workspace; 4 clients of 4 workspaces. */
const LAYOUTS = [
  { clients: 1, workspaces: 1 },
  { clients: 4, workspaces: 1 },
  { clients: 4, workspaces: 4 },
] as const;

const SIZES = {
  // Single events run at a few hundred a second here: each side stops after 2 minutes.
  full: { events: { 1: 200_000, 100: 200_000, 500: 200_000 }, maxMs: 120_000 },
  smoke: { events: { 1: 300, 100: 2_000, 500: 3_000 }, maxMs: 8_000 },
};

type Side = { events: number; eventsPerSecond: number; load: LoadResult };

export interface IngestConfiguration {
  batch: number;
  clients: number;
  workspaces: number;
  /** Until the last event is in the search index and the Merkle log as well (`indexedAfterMs` after the last call returned). */
  service: Side & { indexedAfterMs: number };
  raw: Side;
  serviceOverRaw: number;
  /** Batches 100 and 500. */
  indexPrice?: IndexPrice;
  /** Batches 100 and 500: the Merkle log's price, as the index's. */
  merklePrice?: IndexPrice;
}

/** The instances the part records through: whole, without the search index, without the Merkle log. */
type Variant = { searchIndexing: boolean; merkleLog: boolean };
const WHOLE: Variant = { searchIndexing: true, merkleLog: true };
const WITHOUT_INDEX: Variant = { searchIndexing: false, merkleLog: true };
const WITHOUT_LOG: Variant = { searchIndexing: true, merkleLog: false };

/**
 * Which instance records each run that prices the index (or the Merkle log),
 * in order: whole, without, without, whole, twice. A drift of the machine between runs then
 * weighs on both sides alike, and each side's figure is the mean of four
 * runs (two runs a side spread by up to 29% on this shared machine).
 */
const PRICE_ORDER = [true, false, false, true, true, false, false, true] as const;

/**
 * What the search index costs ingest: the same events recorded through the
 * instance that indexes (counted until indexed) and through one that does
 * not, in {@link PRICE_ORDER}; the figures are the means of each side's runs.
 */
export interface IndexPrice {
  /** Events/s of each run through the indexing instance; the first is `service`. */
  indexedRuns: number[];
  /** Events/s of each run through the instance that does not index. */
  withoutRuns: number[];
  indexed: number;
  without: number;
  /** `indexed` over `without`. */
  ratio: number;
  /** Failed calls in all the runs. */
  errors: number;
}

export type IngestResults = Awaited<ReturnType<typeof runIngest>>;

export async function runIngest(context: BenchContext) {
  const size = SIZES[context.size];
  const database = await BenchDatabase.create(context.server, "ingest");
  const pool = await database.pool(4);
  // One instance at a time, whole or without a job: a whole instance would index and log the other's events.
  let service = await ServiceProcess.start({ main: context.serviceMain, databaseUrl: database.url, secret: context.secret });
  let running: Variant = WHOLE;
  const instance = async (variant: Variant) => {
    if (running !== variant) {
      await service.stop();
      // Emptied before the next instance starts, so that its first sweep finds nothing left from the last one.
      await emptyTables(pool);
      service = await ServiceProcess.start({ main: context.serviceMain, databaseUrl: database.url, secret: context.secret, ...variant });
      running = variant;
    }
    return service;
  };
  try {
    const workspaceIds = ["ws-ingest-0", "ws-ingest-1", "ws-ingest-2", "ws-ingest-3"];
    const tokens = await Promise.all(workspaceIds.map((id) => token(context, Role.SERVICE, id, "producer")));
    // Built before any timing, so that neither side's figure includes building events.
    const plan = workspacePlan("ws-ingest", { users: 200, customers: 5_000, conversations: 20_000 }, 100);
    const base = Date.now() - 10 * 60_000;
    const inputs = Array.from({ length: Math.max(...Object.values(size.events)) }, (_, n) => toInput({ ...makeEvent(plan, n, new Date(base + n)), idempotencyKey: `ingest-${n}` }));
    const json = inputs.map((input) => JSON.stringify(input));
    const rows = inputs.map(rawRow);
    const configurations: IngestConfiguration[] = [];
    for (const batch of BATCH_SIZES.filter((size) => !context.batches || context.batches.includes(size))) {
      for (const { clients, workspaces } of LAYOUTS) {
        const total = size.events[batch];
        const range = (index: number) => [index * batch, Math.min(total, (index + 1) * batch)] as const;
        const workspaceOf = (worker: number) => (workspaces === 1 ? 0 : worker);
        const loop = (run: (from: number, to: number, worker: number) => Promise<unknown>) =>
          closedLoop({ concurrency: clients, operations: Math.ceil(total / batch), maxMs: size.maxMs, run: (index, worker) => run(...range(index), worker) });
        const side = (load: LoadResult) => {
          const events = Math.min(total, load.completed * batch);
          return { events, eventsPerSecond: Math.round((events / load.elapsedMs) * 1000), load };
        };

        const record = async (variant: Variant) => {
          const target = await instance(variant);
          await emptyTables(pool);
          const client = new GraphQLHttpClient(target.graphqlUrl, clients);
          const run = await loop((from, to, worker) =>
            client.expectData(`{"query":${JSON.stringify(RECORD_EVENTS)},"variables":{"events":[${json.slice(from, to).join(",")}]}}`, tokens[workspaceOf(worker)]),
          );
          client.close();
          // The events count as stored once searches find them through the index and the Merkle log holds them.
          const started = monotonicMs();
          if (variant.searchIndexing) await untilIndexed(pool);
          if (variant.merkleLog) await untilLogged(pool);
          const indexedAfterMs = Math.round(monotonicMs() - started);
          return { ...side({ ...run, elapsedMs: run.elapsedMs + indexedAfterMs }), indexedAfterMs };
        };
        const served = await record(WHOLE);
        let indexPrice: IndexPrice | undefined;
        let merklePrice: IndexPrice | undefined;
        if (PRICED_BATCHES.includes(batch)) {
          // The first run of each order is the one above.
          const price = async (without: Variant) => {
            const runs = [{ withIndex: true, run: served }];
            for (const whole of PRICE_ORDER.slice(1)) runs.push({ withIndex: whole, run: await record(whole ? WHOLE : without) });
            return priceIndex(runs);
          };
          indexPrice = await price(WITHOUT_INDEX);
          merklePrice = await price(WITHOUT_LOG);
        }

        await emptyTables(pool);
        const rawRun = await loop((from, to, worker) => {
          const recordedAt = new Date();
          const values = rows.slice(from, to).flatMap((row, k) => withIdentity(row, workspaceIds[workspaceOf(worker)], from + k + 1, recordedAt));
          return pool.query(rawInsertSql(to - from), values);
        });
        const raw = side(rawRun);
        configurations.push({
          batch,
          clients,
          workspaces,
          service: served,
          raw,
          serviceOverRaw: ratio(served.eventsPerSecond, raw.eventsPerSecond),
          ...(indexPrice ? { indexPrice } : {}),
          ...(merklePrice ? { merklePrice } : {}),
        });
        context.log(
          `ingest: batch ${batch}, ${clients} client(s), ${workspaces} workspace(s): service ${served.eventsPerSecond} events/s (indexed ${served.indexedAfterMs} ms after the last call)` +
            `${served.load.errors ? ` (${served.load.errors} errors: ${served.load.firstError})` : ""}, raw ${raw.eventsPerSecond} events/s` +
            (indexPrice ? `; with the index ${indexPrice.indexedRuns.join(", ")} events/s, without ${indexPrice.withoutRuns.join(", ")}: ${indexPrice.ratio} x` : "") +
            (merklePrice ? `; with the Merkle log ${merklePrice.indexedRuns.join(", ")} events/s, without ${merklePrice.withoutRuns.join(", ")}: ${merklePrice.ratio} x` : ""),
        );
      }
    }
    // eventBytes: the mean bytes of an event's JSON.
    return {
      eventsPerConfiguration: size.events as Record<number, number>,
      eventBytes: Math.round(json.reduce((sum, text) => sum + Buffer.byteLength(text), 0) / json.length),
      configurations,
    };
  } finally {
    await service.stop();
    await database.drop();
  }
}

/** The index's price from its runs, each through the indexing instance or not. */
function priceIndex(runs: { withIndex: boolean; run: { eventsPerSecond: number; load: LoadResult } }[]): IndexPrice {
  const indexedRuns = runs.filter((entry) => entry.withIndex).map((entry) => entry.run.eventsPerSecond);
  const withoutRuns = runs.filter((entry) => !entry.withIndex).map((entry) => entry.run.eventsPerSecond);
  const mean = (values: number[]) => Math.round(values.reduce((sum, value) => sum + value, 0) / values.length);
  const indexed = mean(indexedRuns);
  const without = mean(withoutRuns);
  return { indexedRuns, withoutRuns, indexed, without, ratio: ratio(indexed, without), errors: runs.reduce((sum, entry) => sum + entry.run.load.errors, 0) };
}

async function emptyTables(pool: import("mysql2/promise").Pool): Promise<void> {
  const tables = ["audit_events", "customer_log_entries", "users", "customers", "conversations", "workspaces", "search_postings", "search_progress", "merkle_trees", "merkle_tiles", "merkle_checkpoints"];
  for (const table of tables) await pool.query(`TRUNCATE TABLE ${table}`);
}

/** Milliseconds until every workspace's events are in the search index. */
export function untilIndexed(pool: import("mysql2/promise").Pool, maxMs = 600_000): Promise<number> {
  return untilCaughtUp(pool, "search_progress", "indexed_seq", "the search index", maxMs);
}

/** Milliseconds until every workspace's events are in its Merkle log. */
export function untilLogged(pool: import("mysql2/promise").Pool, maxMs = 600_000): Promise<number> {
  return untilCaughtUp(pool, "merkle_trees", "size", "the Merkle log", maxMs);
}

/** Milliseconds until no workspace's last seq is past its progress in `table`. */
async function untilCaughtUp(pool: import("mysql2/promise").Pool, table: string, column: string, what: string, maxMs: number): Promise<number> {
  const started = monotonicMs();
  for (;;) {
    const [behind] = (await pool.query(
      `SELECT COUNT(*) AS n FROM workspaces AS w LEFT JOIN ${table} AS p ON p.workspace_id = w.id WHERE w.last_seq > COALESCE(p.${column}, 0)`,
    )) as unknown as [{ n: number }[]];
    const elapsed = monotonicMs() - started;
    if (Number(behind[0].n) === 0) return Math.round(elapsed);
    if (elapsed > maxMs) throw new Error(`${what} did not catch up within ${maxMs} ms`);
    await sleep(20);
  }
}
