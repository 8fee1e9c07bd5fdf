import type { Part, Size } from "./context";
import type { MachineFacts } from "./database";
import type { IndexPrice, IngestResults } from "./ingest";
import type { IntegrityResults } from "./integrity";
import { type LiveResults, type LiveRun, withinTarget } from "./live-tail";
import type { LatencySummary, LoadResult } from "./load";
import type { OverheadResults } from "./overhead";
import type { FairnessResults } from "./fairness";
import type { QueryMeasurement, QueryResults } from "./queries";

/**
 * docs/performance.md from a run's results: the run and the machine, every
 * target with its measured value, its baseline from the same run and MET or
 * MISSED, then each part's figures. Tables only: what a miss means is
 * written by hand below {@link HAND_WRITTEN}, which a new report keeps.
 */

/** Everything one run measured: bench/results/*.json, and what the report is written from. */
export interface BenchResults {
  format: 1;
  size: Size;
  parts: Part[];
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  machine: MachineFacts;
  /** Set when the service processes ran another checkout's build (`--service`). */
  service?: { checkout: string; commit: string };
  /** The run left out the search queries (`--skip-search`). */
  skipSearch?: true;
  /** The batch sizes part 1 measured, when `--batches` chose some. */
  batches?: number[];
  ingest?: IngestResults;
  queries?: QueryResults;
  live?: LiveResults;
  overhead?: OverheadResults;
  failures: { part: Part; message: string }[];
}

/** The line above which the bench writes docs/performance.md; what follows it is written by hand and kept. */
export const HAND_WRITTEN = "<!-- Written by hand below this line; `npm run bench` rewrites only what is above it. -->";

/** The issue's targets. */
const TARGETS = {
  singleEventsPerSecond: 1_500,
  batchedOverRaw: 0.5,
  /** Events/s with the search index kept up, over the same without it. */
  indexedOverWithout: 0.9,
  pageP95Ms: 10,
  p50OverRaw: 3,
  c8P95OverRaw: 3,
  deepOverFirstP95: 1.5,
  searchP95Ms: 50,
  searchC8P95Ms: 150,
  rssPerSubscriptionBytes: 30 * 1024,
  /** The service's CPU per delivery over the plain ws floor's. */
  cpuPerDeliveryOverFloor: 3,
  /** Another token's page p95, and recording p99, while one token floods, over the same without the flood. */
  floodedOverIdle: 3,
  /** Events/s with the Merkle log kept up, over the same without it. */
  loggedOverWithout: 0.9,
  inclusionProofP95Ms: 20,
};

interface Check {
  part: string;
  subject: string;
  target: string;
  measured: string;
  baseline: string;
  /** Null: not measured. */
  met: boolean | null;
}

const number = (value: number, decimals = 0) => (Number.isFinite(value) ? value.toLocaleString("en", { minimumFractionDigits: decimals, maximumFractionDigits: decimals }) : "n/a");
const ms = (value: number) => (value >= 100 ? number(value) : value >= 10 ? number(value, 1) : number(value, 2));
const x = (value: number) => `${number(value, 2)} x`;
const latencies = (latency: LatencySummary, keys: ("p50" | "p95" | "p99")[]) => keys.map((key) => ms(latency[key])).join(" / ");
const microseconds = (milliseconds: number) => `${number(milliseconds * 1000, 1)} µs`;
const kib = (bytes: number) => `${number(bytes / 1024, 1)} KiB`;
const result = (met: boolean | null) => (met === null ? "not measured" : met ? "MET" : "**MISSED**");

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((cell) => cell.replace(/\|/g, "\\|")).join(" | ")} |`;
  return [line(header), `|${header.map(() => "---").join("|")}|`, ...rows.map(line)].join("\n");
}

function ingestChecks(ingest: IngestResults): Check[] {
  const costs = ingest.configurations.flatMap(({ batch, clients, workspaces, indexPrice, merklePrice }): Check[] => {
    const cost = (price: IndexPrice | undefined, what: string, limit: number): Check[] =>
      price
        ? [
            {
              part: "ingest",
              subject: `batch ${batch}, ${clients} client(s), ${workspaces} workspace(s): ${what}'s cost`,
              target: `>= ${limit} x without ${what}`,
              measured: `${price.ratio} x (${number(price.indexed)} events/s: ${price.indexedRuns.map((run) => number(run)).join(", ")})`,
              baseline: `without ${what} ${number(price.without)} events/s: ${price.withoutRuns.map((run) => number(run)).join(", ")}`,
              met: price.errors === 0 && price.ratio >= limit,
            },
          ]
        : [];
    return [...cost(indexPrice, "the search index", TARGETS.indexedOverWithout), ...cost(merklePrice, "the Merkle log", TARGETS.loggedOverWithout)];
  });
  return [...ingest.configurations.map((c): Check => {
    const subject = `batch ${c.batch}, ${c.clients} client(s), ${c.workspaces} workspace(s)`;
    const baseline = `raw ${number(c.raw.eventsPerSecond)} events/s`;
    const ok = c.service.load.errors === 0;
    return c.batch === 1
      ? { part: "ingest", subject, target: `>= ${number(TARGETS.singleEventsPerSecond)} events/s`, measured: `${number(c.service.eventsPerSecond)} events/s`, baseline, met: ok && c.service.eventsPerSecond >= TARGETS.singleEventsPerSecond }
      : { part: "ingest", subject, target: `>= ${TARGETS.batchedOverRaw} x raw`, measured: `${c.serviceOverRaw} x raw (${number(c.service.eventsPerSecond)} events/s)`, baseline, met: ok && c.serviceOverRaw >= TARGETS.batchedOverRaw };
  }), ...costs];
}

function integrityChecks(integrity: IntegrityResults): Check[] {
  const { proofs, eventReads, workspaceEvents } = integrity;
  return [
    {
      part: "queries",
      subject: `an event's inclusion proof against the latest checkpoint, ${number(workspaceEvents)} events in the log, c=1`,
      target: `p95 <= ${TARGETS.inclusionProofP95Ms} ms`,
      measured: `${ms(proofs.latency.p95)} ms`,
      baseline: `auditEvent(id) p95 ${ms(eventReads.latency.p95)} ms`,
      met: proofs.errors === 0 && proofs.latency.p95 <= TARGETS.inclusionProofP95Ms,
    },
  ];
}

function integritySection(integrity: IntegrityResults): string[] {
  const { proofs, eventReads, space } = integrity;
  return [
    "### The Merkle log",
    "",
    `The largest workspace's log holds ${number(integrity.workspaceEvents)} events; it held the last one ${ms(integrity.loggedAfterMs)} ms after the search index did. Proofs are asked for random events of it against its latest checkpoint, one client.`,
    "",
    table(
      ["query", "p50 / p95 / p99 ms", "errors"],
      [
        ["auditEventInclusionProof(id)", latencies(proofs.latency, ["p50", "p95", "p99"]), number(proofs.errors)],
        ["auditEvent(id), the same events", latencies(eventReads.latency, ["p50", "p95", "p99"]), number(eventReads.errors)],
      ],
    ),
    "",
    `The tree takes ${number(space.tileBytesPerEvent, 1)} bytes per event (\`merkle_tiles\`: ${number(space.tileBytes / 1024 / 1024, 1)} MiB for ${number(space.events)} events); the checkpoints ${kib(space.checkpointBytes)}.`,
    "",
  ];
}

function queryChecks(queries: QueryResults): Check[] {
  const checks: Check[] = [];
  for (const query of queries.queries) {
    const failed = (m: QueryMeasurement) => m.http.errors > 0 || m.raw.errors > 0;
    const at = (m: QueryMeasurement) => `page ${m.page}, c=${m.concurrency}`;
    const add = (target: string, measured: string, baseline: string, met: boolean | null) => checks.push({ part: "queries", subject: query.name, target, measured, baseline, met });
    /** The measurement with the highest HTTP/raw ratio of a percentile, judged against `limit`. */
    const worst = (target: string, key: "p50" | "p95", limit: number, among: QueryMeasurement[]) => {
      if (among.length === 0) return;
      const ratioOf = (m: QueryMeasurement) => m.http.latency[key] / m.raw.latency[key];
      const m = among.reduce((a, b) => (ratioOf(b) > ratioOf(a) ? b : a));
      add(target, `${x(ratioOf(m))} at ${at(m)} (${ms(m.http.latency[key])} ms)`, `raw ${key} ${ms(m.raw.latency[key])} ms`, among.every((n) => !failed(n) && ratioOf(n) <= limit));
    };
    const first = query.measurements.find((m) => m.page === 1 && m.concurrency === 1);
    const deep = query.measurements.find((m) => m.page !== 1 && m.concurrency === 1);
    const within = (m: QueryMeasurement, limit: number) =>
      add(`page ${m.page}, c=${m.concurrency}: p95 <= ${limit} ms`, `${ms(m.http.latency.p95)} ms`, `raw p95 ${ms(m.raw.latency.p95)} ms`, !failed(m) && m.http.latency.p95 <= limit);
    if (query.search) {
      // Search is judged in milliseconds: the raw FULLTEXT query it replaced is no bar to clear.
      for (const m of query.measurements.filter((n) => n.page === 1)) within(m, m.concurrency === 1 ? TARGETS.searchP95Ms : TARGETS.searchC8P95Ms);
    } else {
      for (const m of [first, deep]) if (m) within(m, TARGETS.pageP95Ms);
      worst(`every page and concurrency: p50 <= ${TARGETS.p50OverRaw} x raw p50`, "p50", TARGETS.p50OverRaw, query.measurements);
      worst(`c=8: p95 <= ${TARGETS.c8P95OverRaw} x raw p95`, "p95", TARGETS.c8P95OverRaw, query.measurements.filter((m) => m.concurrency === 8));
    }
    const deepTarget = `page ${deep?.page ?? query.deepPage ?? queries.deepPage} p95 <= ${TARGETS.deepOverFirstP95} x page 1 p95 (c=1)`;
    if (first && deep) {
      add(deepTarget, `${ms(deep.http.latency.p95)} ms`, `page 1: ${ms(first.http.latency.p95)} ms`, !failed(deep) && deep.http.latency.p95 <= TARGETS.deepOverFirstP95 * first.http.latency.p95);
    } else if (first && query.pagesAvailable !== undefined) {
      add(deepTarget, `not measured: the log has ${query.pagesAvailable} pages`, "", null);
    }
  }
  return checks;
}

function fairnessChecks(fairness: FairnessResults): Check[] {
  const part = "fair sharing";
  const subject = "8 clients of one token flood pages of 200 (default budgets)";
  const over = (flooded: number, idle: number) => flooded <= TARGETS.floodedOverIdle * idle;
  const { page, recording, readyz } = fairness;
  return [
    {
      part,
      subject,
      target: `other tokens' first page p95 <= ${TARGETS.floodedOverIdle} x idle`,
      measured: `${ms(page.flooded.p95)} ms (${x(page.flooded.p95 / page.idle.p95)})`,
      baseline: `idle: ${ms(page.idle.p95)} ms`,
      met: page.errors === 0 && over(page.flooded.p95, page.idle.p95),
    },
    {
      part,
      subject,
      target: `recording p99 <= ${TARGETS.floodedOverIdle} x idle`,
      measured: `${ms(recording.flooded.p99)} ms (${x(recording.flooded.p99 / recording.idle.p99)})`,
      baseline: `idle: ${ms(recording.idle.p99)} ms`,
      met: recording.errors === 0 && over(recording.flooded.p99, recording.idle.p99),
    },
    { part, subject, target: "/readyz stays 200", measured: `${number(readyz.notReady)} of ${number(readyz.checks)} not 200`, baseline: "", met: readyz.checks > 0 && readyz.notReady === 0 },
  ];
}

function fairnessSection(fairness: FairnessResults): string[] {
  const { page, recording, flood, budgets } = fairness;
  return [
    "### Fair sharing",
    "",
    `An instance with the default budgets (${number(budgets.user.capacity)} points per user, refilling at ${number(budgets.user.refillPerSecond)} a second) on the same dataset. ` +
      `One admin token floods it from 8 clients with the screen's page of 200 events (${flood.costPoints === null ? "its cost not seen" : `${number(flood.costPoints)} points`}) while other users (a token each) read the screen's first page, a producer records 10 events a call and a probe polls \`/readyz\` every 50 ms; the same without the flood first. ` +
      `The flood sent ${number(flood.requests)} requests (${number(flood.perSecond)} a second), ${number(flood.rateLimited)} of them refused with 429.`,
    "",
    table(
      ["measured", "idle p50 / p95 / p99", "flooded p50 / p95 / p99", "errors"],
      [
        ["other users' first page", latencies(page.idle, ["p50", "p95", "p99"]), latencies(page.flooded, ["p50", "p95", "p99"]), number(page.errors)],
        ["recording, 10 events", latencies(recording.idle, ["p50", "p95", "p99"]), latencies(recording.flooded, ["p50", "p95", "p99"]), number(recording.errors)],
      ],
    ),
  ];
}

/** Runs written before the target was stored in the run held it in their checks' text. */
function p99Target(run: LiveRun & { checks?: { target: string }[] }): number | undefined {
  return run.p99TargetMs ?? run.checks?.map((check) => Number(/^p99 <= (\d+) ms$/.exec(check.target)?.[1])).find(Number.isFinite);
}

function liveChecks(live: LiveResults): Check[] {
  const checks: Check[] = [];
  const floorOf = (run: LiveRun) => live.runs.find((floor) => floor.kind === "floor" && floor.scenario === run.scenario);
  const served = live.runs.filter((run) => run.kind !== "floor");
  for (const run of served) {
    const floor = floorOf(run);
    const d = run.delivery;
    const subject = `${run.scenario}${run.kind === "redis" ? ", 2 instances + Redis" : ""}`;
    const allOpen = run.opened.failed === 0 && run.ready.notReady === 0;
    if (run.eventsPerSecond === 0) {
      // Where the open-file limit capped the sockets, the scenario's own count was not tried.
      const capped = run.requestedSubscribers === undefined ? "" : `; ${number(run.requestedSubscribers)} asked, the open-file limit (${number(run.fileLimit ?? NaN)} per process) leaves room for ${number(run.subscribers)}`;
      checks.push({
        part: "live tail",
        subject,
        target: "every idle subscription opens",
        measured: `${number(run.opened.connected)} opened, ${run.opened.failed} failed, ${run.ready.notReady} not live${capped}`,
        baseline: floor ? `floor: ${number(floor.opened.connected)} opened` : "",
        met: allOpen && capped ? null : allOpen,
      });
      continue;
    }
    checks.push({
      part: "live tail",
      subject,
      target: "nothing lost or duplicated",
      measured: `${d.lost} lost, ${d.duplicated} duplicated, ${d.unexpected} misrouted of ${number(d.expected)}${allOpen ? "" : `; ${run.opened.failed} subscribers failed to open, ${run.ready.notReady} not ready`}`,
      baseline: floor ? `floor: ${floor.delivery.lost} lost of ${number(floor.delivery.expected)}` : "",
      met: d.lost === 0 && d.duplicated === 0 && d.unexpected === 0 && allOpen && run.recordErrors === 0,
    });
    const target = p99Target(run);
    if (target !== undefined) {
      checks.push({ part: "live tail", subject, target: `p99 <= ${target} ms`, measured: `${ms(d.fromSent.p99)} ms`, baseline: floor ? `floor: ${ms(floor.delivery.fromSent.p99)} ms` : "", met: d.lost === 0 && d.fromSent.p99 <= target });
    }
    if (run.recordP99TargetMs !== undefined) {
      const recordTarget = run.recordP99TargetMs;
      checks.push({ part: "live tail", subject, target: `recording p99 <= ${recordTarget} ms meanwhile`, measured: `${ms(run.recordLatency.p99)} ms`, baseline: "", met: run.recordErrors === 0 && run.recordLatency.p99 <= recordTarget });
    }
    if (run.priced && run.kind === "service") {
      const floorCpu = floor?.cpuPerDeliveryMs;
      const over = floorCpu ? run.cpuPerDeliveryMs / floorCpu : NaN;
      checks.push({
        part: "live tail",
        subject,
        target: `CPU per delivery <= ${TARGETS.cpuPerDeliveryOverFloor} x the floor's`,
        measured: `${x(over)} (${microseconds(run.cpuPerDeliveryMs)} per delivery)`,
        baseline: floorCpu ? `floor: ${microseconds(floorCpu)}` : "",
        met: Number.isFinite(over) && over <= TARGETS.cpuPerDeliveryOverFloor,
      });
    }
  }
  const services = served.filter((run) => run.kind === "service");
  if (services.length > 0) {
    // Judged on the run with the most subscribers: on a few, the RSS per subscription is noise.
    const largest = services.reduce((a, b) => (b.subscribers > a.subscribers ? b : a));
    const floor = floorOf(largest);
    checks.push({
      part: "live tail",
      subject: largest.scenario,
      target: `<= ${number(TARGETS.rssPerSubscriptionBytes / 1024)} KiB RSS per idle subscription`,
      measured: `${kib(largest.rssPerSubscriptionBytes)} (RSS ${number(largest.rssBeforeBytes / 2 ** 20, 1)} -> ${number(largest.rssIdleBytes / 2 ** 20, 1)} MiB)`,
      baseline: floor ? `floor: ${kib(floor.rssPerSubscriptionBytes)}` : "",
      met: largest.rssPerSubscriptionBytes <= TARGETS.rssPerSubscriptionBytes,
    });
  }
  return checks;
}

function ingestSection(ingest: IngestResults): string[] {
  const sizes = Object.entries(ingest.eventsPerConfiguration).map(([batch, events]) => `${number(events)} at batch ${batch}`).join(", ");
  const side = (s: { eventsPerSecond: number; load: LoadResult }) => [number(s.eventsPerSecond), latencies(s.load.latency, ["p50", "p99"])];
  // Runs each side of a priced configuration took (two before the bench ran its order twice).
  const pricedRuns = ingest.configurations.find((c) => c.indexPrice)?.indexPrice?.indexedRuns.length ?? 0;
  return [
    "## 1. Ingest",
    "",
    `\`recordAuditEvents\` over HTTP, one keep-alive socket per client; raw: a multi-row INSERT per batch of rows of the same columns, through mysql2, one connection per client. Events per configuration and side: ${sizes} (each side stops after 2 minutes at full size); ${number(ingest.eventBytes)} bytes of JSON per event. Every configuration starts from empty tables.`,
    "",
    `Service events/s count until the search index and the Merkle log hold the last event too (\`indexed after\`, from the last call's answer). At batches 100 and 500 the index is priced: the same events are recorded again by an instance with \`SEARCH_INDEXING=false\` (while no instance indexes) and by the whole one, back to back in the order whole, without, without, whole${pricedRuns === 4 ? " twice" : ""}; 'with / without index' are the means of each side's ${pricedRuns} runs. The Merkle log is priced the same way, against an instance with \`MERKLE_LOG=false\`.`,
    "",
    table(
      ["batch", "clients", "workspaces", "events", "service events/s", "service p50 / p99 ms", "indexed after ms", "with / without index events/s", "with / without Merkle log events/s", "raw events/s", "raw p50 / p99 ms", "service / raw", "errors"],
      ingest.configurations.map((c) => [
        String(c.batch),
        String(c.clients),
        String(c.workspaces),
        number(c.service.events),
        ...side(c.service),
        c.service.indexedAfterMs === undefined ? "-" : number(c.service.indexedAfterMs),
        c.indexPrice ? `${number(c.indexPrice.indexed)} / ${number(c.indexPrice.without)}` : "-",
        c.merklePrice ? `${number(c.merklePrice.indexed)} / ${number(c.merklePrice.without)}` : "-",
        ...side(c.raw),
        String(c.serviceOverRaw),
        number(c.service.load.errors + c.raw.load.errors + (c.indexPrice?.errors ?? 0) + (c.merklePrice?.errors ?? 0)),
      ]),
    ),
  ];
}

function querySection(queries: QueryResults): string[] {
  const d = queries.dataset;
  return [
    "## 2. Queries",
    "",
    `Dataset: ${number(d.events)} events over 12 months in ${d.workspaces} workspaces (the largest, where every query runs, holds ${number(d.largestWorkspaceEvents)}), loaded in ${number(d.elapsedMs / 1000, 1)} s. ` +
      `Pages of ${queries.pageSize}, ADMIN token, ${number(queries.requestsPerMeasurement)} requests per measurement after a warm-up${queries.alternatedBlocks ? `, a page's HTTP and raw loads taking turns in ${queries.alternatedBlocks} blocks each (a search's one after the other)` : ""}; page ${queries.deepPage} is reached by following endCursor. ` +
      "Each page selects what a log screen shows: the event, who acted by their current name, the conversation's subject and its customer's name, the customer's name, the settings section; the row marked 'event columns only' selects no names. " +
      `Raw: the same page as a keyset SELECT through mysql2, joined by primary key with the directory rows that supply the names, in one statement; as many connections as HTTP clients. Latencies in ms.`,
    ...(queries.search ? ["", searchParagraph(queries.search)] : []),
    "",
    table(
      ["query", "page", "clients", "HTTP p50 / p95 / p99", "raw p50 / p95 / p99", "HTTP/raw p50", "HTTP/raw p95", "HTTP req/s", "errors"],
      queries.queries.flatMap((query) =>
        query.measurements.map((m) => [
          query.name,
          String(m.page),
          String(m.concurrency),
          latencies(m.http.latency, ["p50", "p95", "p99"]),
          latencies(m.raw.latency, ["p50", "p95", "p99"]),
          number(m.http.latency.p50 / m.raw.latency.p50, 1),
          number(m.http.latency.p95 / m.raw.latency.p95, 1),
          number(m.http.perSecond),
          number(m.http.errors + m.raw.errors),
        ]),
      ),
    ),
    ...(queries.fairness ? ["", ...fairnessSection(queries.fairness)] : []),
    ...(queries.integrity ? ["", ...integritySection(queries.integrity)] : []),
  ];
}

function searchParagraph({ words, index }: NonNullable<QueryResults["search"]>): string {
  const mib = (bytes: number) => `${number(bytes / 2 ** 20, 0)} MiB`;
  return (
    `Search: words chosen from the largest workspace's index by how many of its events hold them (a common word near 1%, a rare one near 0.01%, the word most often with the common one, the common word's first three letters, a word no event holds); ` +
    `the search's deep page is page 20 of the common word. Raw: the FULLTEXT query search used to run (\`MATCH … AGAINST\` in boolean mode, every word a required prefix), on a FULLTEXT index the bench builds on the same rows (in ${number(index.fulltextBuildMs / 1000, 1)} s). ` +
    `The search index was complete ${number(index.indexedAfterMs / 1000, 1)} s after the last recording; it takes ${mib(index.postingsBytes)} on disk (${number(index.postingRows)} rows) beside ${mib(index.eventsBytes)} for audit_events (data and indexes, after ANALYZE TABLE, before the FULLTEXT index).`
  );
}

function liveSection(live: LiveResults): string[] {
  const server = (run: LiveRun) => (run.kind === "service" ? "service" : run.kind === "redis" ? "2 instances + Redis" : "plain ws floor");
  return [
    "## 3. Live tail",
    "",
    "Subscribers in a separate process, one socket and one subscription each (the graphql-transport-ws protocol, parsed with one JSON.parse per message as the floor's clients do), on a conversation (AGENT tokens) or on the whole workspace (ADMIN tokens); events recorded one per request at a fixed rate, round-robin over the conversations. The hot workload puts 90% of its subscribers on 5 conversations and 10% on the workspace. " +
      "'From sent': from just before the recording request was sent to receipt (the targets use it); 'from response': from its response to receipt. " +
      "RSS per subscription: the server's RSS once the subscribers idle minus before they connected, both after a full garbage collection. CPU per delivery: the server processes' CPU time (user and system) from the first measured recording to the end of the collection, over the deliveries. The floor is a plain ws server sending a message of the same shape and size to the same sockets." +
      (live.redisSkipped ? ` Redis runs skipped: ${live.redisSkipped}.` : ""),
    "",
    table(
      ["scenario", "server", "subscribers", "warm-up rounds", "events/s", "delivered / expected", "from sent p50 / p99 ms", "from response p50 / p99 ms", "lost", "duplicated", "recording p99 ms", "CPU per delivery", "RSS per subscription"],
      live.runs.map((run) => [
        run.scenario,
        server(run),
        number(run.subscribers),
        String(run.ready.warmupRounds),
        String(run.eventsPerSecond),
        `${number(run.delivery.delivered)} / ${number(run.delivery.expected)}`,
        latencies(run.delivery.fromSent, ["p50", "p99"]),
        latencies(run.delivery.fromResponse, ["p50", "p99"]),
        number(run.delivery.lost),
        number(run.delivery.duplicated),
        ms(run.recordLatency.p99),
        Number.isFinite(run.cpuPerDeliveryMs) ? microseconds(run.cpuPerDeliveryMs) : "-",
        kib(run.rssPerSubscriptionBytes),
      ]),
    ),
    ...live.runs.flatMap((run) => (run.ramp ? rampSection(run) : [])),
  ];
}

/** One instance under the same subscribers at its measured rate, then at rising ones: its ceiling. */
function rampSection(run: LiveRun): string[] {
  const measured = {
    eventsPerSecond: run.eventsPerSecond,
    deliveriesPerSecond: run.delivery.delivered / run.seconds,
    fromSent: run.delivery.fromSent,
    lost: run.delivery.lost,
    recordLatency: run.recordLatency,
    recordErrors: run.recordErrors,
    cpuSeconds: run.cpuSeconds,
    deliveriesPerCpuSecond: run.cpuSeconds > 0 ? run.delivery.delivered / run.cpuSeconds : NaN,
  };
  const steps = [measured, ...(run.ramp ?? [])];
  const target = run.p99TargetMs ?? Infinity;
  const ceiling = steps.filter((step) => withinTarget(step, target)).at(-1);
  return [
    "",
    `One instance's ceiling: ${run.scenario}, the measured run, then ${run.ramp?.[0] ? `${run.ramp.length === 1 ? "one step" : `${number(run.ramp.length)} steps`} of ${run.ramp[0].seconds} s` : "no step"} at higher rates, until the delivery p99 passes ${ms(target)} ms or an event is lost. ` +
      (ceiling
        ? `The highest rate within it: ${ceiling.eventsPerSecond} events/s, ${number(ceiling.deliveriesPerSecond)} deliveries/s, ${number(ceiling.deliveriesPerCpuSecond)} deliveries per second of the service's CPU.`
        : "No rate was within it."),
    "",
    table(
      ["events/s", "deliveries/s", "from sent p50 / p99 ms", "lost", "recording p99 ms", "service CPU s", "deliveries per CPU second"],
      steps.map((step) => [String(step.eventsPerSecond), number(step.deliveriesPerSecond), latencies(step.fromSent, ["p50", "p99"]), number(step.lost), ms(step.recordLatency.p99), number(step.cpuSeconds, 2), number(step.deliveriesPerCpuSecond)]),
    ),
  ];
}

function overheadSection(overhead: OverheadResults): string[] {
  const load = (l?: LoadResult) => (l ? [number(l.perSecond), latencies(l.latency, ["p50", "p99"])] : ["-", "-"]);
  return [
    "## 4. GraphQL overhead",
    "",
    `${overhead.concurrency} concurrent callers, ${overhead.seconds} s per measurement, in a workspace of ${number(overhead.events)} events. HTTP: a service process. In process: the service's schema, services and context factory (the token verified on every call) in the bench's process, by graphql-js \`execute\` and by the service's CompiledExecutor. No target: the baselines of the HTTP stack and of GraphQL execution.`,
    "",
    table(
      ["operation", "HTTP req/s", "HTTP p50 / p99 ms", "execute op/s", "execute p50 / p99 ms", "compiled op/s", "compiled p50 / p99 ms"],
      overhead.operations.map((o) => [o.name, ...load(o.http), ...load(o.execute), ...load(o.compiled)]),
    ),
  ];
}

/** The generated part of docs/performance.md. `renderedAt`: the commit that renders a stored run again. */
export function renderReport(results: BenchResults, jsonPath: string, renderedAt?: string): string {
  const m = results.machine;
  const checks = [
    ...(results.ingest ? ingestChecks(results.ingest) : []),
    ...(results.queries ? queryChecks(results.queries) : []),
    ...(results.queries?.fairness ? fairnessChecks(results.queries.fairness) : []),
    ...(results.queries?.integrity ? integrityChecks(results.queries.integrity) : []),
    ...(results.live ? liveChecks(results.live) : []),
  ];
  const count = (met: boolean | null) => checks.filter((check) => check.met === met).length;
  const sections = [
    ...(results.ingest ? ingestSection(results.ingest) : []),
    ...(results.queries ? querySection(results.queries) : []),
    ...(results.live ? liveSection(results.live) : []),
    ...(results.overhead ? overheadSection(results.overhead) : []),
  ];
  return [
    "# Performance",
    "",
    `Written by the bench (\`bench/\`, see its README) from one run; every raw figure is in [\`${jsonPath}\`](../${jsonPath}).`,
    ...(results.size === "smoke" ? ["", "> **Smoke size**: small counts that prove the harness end to end; its figures are not the issue's measurements."] : []),
    "",
    "## The run",
    "",
    table(
      ["what", "value"],
      [
        ["size", results.size],
        ["parts", results.parts.join(", ")],
        ["started", results.startedAt],
        ["duration", `${number(results.durationMs / 60_000, 1)} min`],
        ["commit", `${m.commit}${m.dirty ? " (with uncommitted changes)" : ""}`],
        ...(results.service ? [["service build", `${results.service.commit} (\`--service\`)`]] : []),
        ...(renderedAt && renderedAt !== m.commit ? [["report rendered at", `${renderedAt} (\`--report\`)`]] : []),
        ["failed parts", results.failures.map((failure) => `${failure.part}: ${failure.message.split("\n")[0]}`).join("; ") || "none"],
      ],
    ),
    "",
    "## Machine",
    "",
    "The load generator, the service, the subscribers and the database server share this machine.",
    "",
    table(
      ["what", "value"],
      [
        ["CPU", `${m.cores} cores (${m.cpuModel})`],
        ["memory", `${number(m.memoryBytes / 2 ** 30, 1)} GiB`],
        ["OS", m.os],
        ["Node.js", m.node],
        ["database server", m.database.version],
        ...Object.entries(m.database.settings).map(([name, value]) => [name, value]),
        ["redis-server", m.redisServer ?? "not installed"],
      ],
    ),
    "",
    "## Targets",
    "",
    table(
      ["part", "subject", "target", "measured", "baseline (same run)", "result"],
      checks.map((check) => [check.part, check.subject, check.target, check.measured, check.baseline, result(check.met)]),
    ),
    "",
    `${count(true)} met, ${count(false)} missed, ${count(null)} not measured.`,
    "",
    ...sections.flatMap((line, i) => (line.startsWith("## ") && i > 0 ? ["", line] : [line])),
    "",
    HAND_WRITTEN,
    "",
  ].join("\n");
}
