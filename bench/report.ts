import { ROUNDS_IN_FLIGHT } from "../src/recording/record-queue";
import { BATCHED_TARGET_RATIO, EMPTY_REQUEST, SINGLE_TARGET_EVENTS_PER_SECOND } from "./ingest";
import type { InProcessSide, IngestConfiguration, IngestResults, IngestSide, RequestFloor } from "./ingest";
import type { LiveResults, LiveRun } from "./live-tail";
import { CPU_ROUND_MS, CPU_ROUNDS, DATABASE_SAMPLES, MachineSpeed } from "./machine-speed";
import { ONE_CALLER_HTTP, OverheadResults, PageLayer } from "./overhead";
import { QUERY_TARGETS } from "./queries";
import type { Check, QueryMeasurement, QueryResult, QueryResults } from "./queries";
import type { ResourceUse } from "./resources";
import type { BenchResults } from "./results-file";


/**
 * docs/performance.md, written from a run's results: the machine, one table
 * per part with target, measured value, baseline and MET/MISSED, and for each
 * miss what was measured while it ran. A reading is only stated when a
 * measurement shows it (a saturated process, lock waits, disk reads);
 * otherwise the report says the cause is not yet measured.
 */

/** A process above this share of one core counts as saturated. */
const SATURATED_PERCENT = 80;
/** A directory upsert seen in at least this share of samples is where the writers of one workspace waited. */
const WAITED_IN_PERCENT = 20;

const number = (value: number, decimals = 0) =>
  Number.isFinite(value) ? value.toLocaleString("en", { minimumFractionDigits: decimals, maximumFractionDigits: decimals }) : "n/a";
const ms = (value: number) => (Number.isFinite(value) ? (value >= 100 ? number(value, 0) : value >= 10 ? number(value, 1) : number(value, 2)) : "n/a");
const mib = (bytes: number) => `${number(bytes / 2 ** 20, bytes < 10 * 2 ** 20 ? 1 : 0)} MiB`;
const status = (met: boolean | null) => (met === null ? "not measured" : met ? "MET" : "**MISSED**");
const escape = (text: string) => text.replace(/\|/g, "\\|");

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((row) => `| ${row.map(escape).join(" | ")} |`)].join("\n");
}

interface SummaryLine {
  part: string;
  subject: string;
  check: Check;
  /** Misses of one measurement share their evidence: they are listed together. */
  group: string;
  /** What was measured while the missed target's figure was taken, and the reading it supports. */
  cause?: string;
}

/** `renderedAt`: the commit whose report code renders a stored run again (`--report`), when that is not the run's. */
export function renderReport(results: BenchResults, jsonPath: string, renderedAt?: string): string {
  const summary: SummaryLine[] = [];
  const sections: string[] = [];
  if (results.ingest) sections.push(ingestSection(results.ingest, summary, results.machine.cores));
  const split = results.overhead ? pageCpuSplit(results.overhead) : null;
  if (results.queries) sections.push(querySection(results.queries, summary, results.machine.cores, split));
  if (results.live) sections.push(liveSection(results.live, summary, results.machine.cores));
  if (results.overhead) sections.push(overheadSection(results.overhead));
  const machine = results.machine;
  const settings = machine.database.settings;
  const lines = [
    "# Performance",
    "",
    `Written by \`npm run bench\` (\`--size ${results.size}\`, parts: ${results.parts.join(", ")}) on ${results.startedAt.slice(0, 10)} ` +
      `at commit \`${machine.commit}\`${machine.dirty ? " with uncommitted changes in the work tree" : ""}; it ran ${number(results.durationMs / 60_000, 1)} min. ` +
      `Every figure below comes from that run; all raw figures are in [\`${jsonPath}\`](../${jsonPath}), a copy of that run's results file.` +
      (renderedAt && renderedAt !== machine.commit ? ` The text, and the readings it draws from those figures, were rendered again at commit \`${renderedAt}\` (\`--report\`).` : ""),
    "",
    ...(results.size === "smoke"
      ? [
          "> **Smoke size.** Counts are far below the issue's (few events, few subscribers, seconds of load): the run proves the harness works end to end. " +
            "Its figures are not the issue's measurements, and its MET/MISSED marks only say how this small run compared. Run `npm run bench` (full size) for the real ones.",
          "",
        ]
      : []),
    "## Machine",
    "",
    table(
      ["what", "value"],
      [
        ["CPU", `${machine.cores} cores (${machine.cpuModel})`],
        ["memory", `${number(machine.memoryBytes / 2 ** 30, 1)} GiB`],
        ["OS", machine.os],
        ["Node.js", machine.node],
        ["database server", machine.database.version],
        ["innodb_buffer_pool_size", settings.innodb_buffer_pool_size ? mib(Number(settings.innodb_buffer_pool_size)) : "n/a"],
        ["innodb_flush_log_at_trx_commit", settings.innodb_flush_log_at_trx_commit ?? "n/a"],
        ["other server settings", Object.entries(settings).filter(([name]) => !["innodb_buffer_pool_size", "innodb_flush_log_at_trx_commit"].includes(name)).map(([name, value]) => `${name}=${value}`).join(", ")],
        ["redis-server", machine.redisServer ?? "not installed"],
        ["commit", `${machine.commit}${machine.dirty ? " (work tree had uncommitted changes)" : ""}`],
      ],
    ),
    "",
    "The load generator, the service, the subscriber processes and the database server all run on this one machine and share its cores: " +
      "every throughput figure is what the whole machine did, and each table shows the CPU each process used while it was measured.",
    "",
    ...speedSection(results),
    "## Targets",
    "",
    ...targetSummary(summary),
    "",
    ...(results.failures.length > 0
      ? ["## Parts that failed", "", ...results.failures.map((failure) => `- **${failure.part}**: ${failure.message.split("\n")[0]}`), ""]
      : []),
    ...sections,
    "## Misses and their measured causes",
    "",
    ...missList(summary),
    "",
  ];
  return `${lines.join("\n")}\n`;
}

const QUERY_KINDS: Record<string, string> = {
  "first-page-p95": `any first page without search, concurrency 1: p95 <= ${QUERY_TARGETS.firstPageP95Ms} ms`,
  "c8-p95-ratio": `concurrency 8: p95 <= ${QUERY_TARGETS.httpOverRawP95AtConcurrency8} x the raw query's p95`,
  "deep-page": `deep page p95 <= ${QUERY_TARGETS.deepOverFirstP95} x page 1 p95`,
  "p50-ratio": `GraphQL over HTTP <= ${QUERY_TARGETS.httpOverRawP50} x raw SQL at p50`,
  "search-ratio": `search p95 <= ${QUERY_TARGETS.searchOverFulltextP95} x the raw FULLTEXT query`,
};

/** One row per target: ingest and live per configuration, queries per kind of target (details in part 2). */
function targetSummary(summary: SummaryLine[]): string[] {
  if (summary.length === 0) return ["No target was measured in this run."];
  const rows: string[][] = [];
  for (const line of summary.filter((item) => item.part !== "queries")) {
    rows.push([line.part, line.subject, line.check.target, line.check.measured, status(line.check.met)]);
  }
  const queries = summary.filter((item) => item.part === "queries");
  for (const [kind, text] of Object.entries(QUERY_KINDS)) {
    const lines = queries.filter((item) => item.check.kind === kind);
    if (lines.length === 0) continue;
    const met = lines.filter((item) => item.check.met === true).length;
    const missed = lines.filter((item) => item.check.met === false);
    const unmeasured = lines.filter((item) => item.check.met === null).length;
    rows.push([
      "queries",
      `${lines.length} measurements`,
      text,
      `${met} met, ${missed.length} missed${unmeasured ? `, ${unmeasured} not measured` : ""}` +
        (missed.length > 0 ? `; e.g. ${missed[0].subject}, ${missed[0].check.target.split(":")[0]}: ${missed[0].check.measured}` : ""),
      missed.length > 0 ? "**MISSED**" : met > 0 ? "MET" : "not measured",
    ]);
  }
  return [
    table(["part", "what", "target", "measured", "result"], rows),
    "",
    `${summary.filter((line) => line.check.met === true).length} checks met, ${summary.filter((line) => line.check.met === false).length} missed, ${summary.filter((line) => line.check.met === null).length} not measured.`,
  ];
}

function missList(summary: SummaryLine[]): string[] {
  const misses = summary.filter((line) => line.check.met === false);
  if (misses.length === 0) return ["No target was missed in this run."];
  const groups = new Map<string, SummaryLine[]>();
  for (const line of misses) groups.set(line.group, [...(groups.get(line.group) ?? []), line]);
  return [...groups.entries()].map(([group, lines]) => {
    const targets = lines.map((line) => `${line.check.target} (measured ${line.check.measured})`).join("; ");
    const causes = [...new Set(lines.map((line) => line.cause ?? "Cause not yet measured."))].join(" ");
    return `- **${group}**: missed ${targets}. ${causes}`;
  });
}

/** The service's CPU (all its processes) over a measurement, in ms per request, delivery or other unit of work. */
function serviceCpuMsPer(resources: ResourceUse, count: number): number {
  return (resources.serviceCpuSeconds * 1000) / Math.max(1, count);
}

/** CPU of each process during a measurement, and the reading when one was saturated. */
function cpuFacts(resources: ResourceUse, cores: number, serviceName = "service"): { facts: string; readings: string[] } {
  const facts =
    `${serviceName} ${number(resources.serviceCpuPercent)}%, database server ${number(resources.databaseCpuPercent)}%, load generator ${number(resources.benchCpuPercent + (resources.helperCpuPercent || 0))}%` +
    `${resources.otherCpuPercent >= 5 ? `, other processes on the machine ${number(resources.otherCpuPercent)}%` : ""} of one core; the ${cores} cores were ${number(resources.machineBusyPercent)}% busy`;
  const readings: string[] = [];
  if (resources.serviceCpuPercent >= SATURATED_PERCENT * (serviceName.endsWith("s") ? 2 : 1)) {
    readings.push(`the ${serviceName} process was CPU-bound (${number(resources.serviceCpuPercent)}% of one core; its JavaScript runs on one thread)`);
  }
  if (resources.machineBusyPercent >= 90) {
    readings.push(
      `the machine's ${cores} cores were saturated (${number(resources.machineBusyPercent)}% busy)` +
        (resources.otherCpuPercent >= 20 ? `, ${number(resources.otherCpuPercent)}% of one core of it by processes outside this benchmark, which slowed every figure of this measurement` : ""),
    );
  }
  return { facts, readings };
}

/** The reference work timed at the start and the end of the run (runs made before it was measured have none). */
function speedSection(results: BenchResults): string[] {
  if (!results.speed) return [];
  const row = (when: string, speed: MachineSpeed) => [
    when,
    speed.at.slice(11, 19),
    `${number(speed.cpu.p50)} (${number(speed.cpu.min)}–${number(speed.cpu.max)})`,
    ms(speed.roundTripMs),
    ms(speed.commitMs),
  ];
  return [
    "### Machine speed",
    "",
    `The same fixed work, timed before the first part and after the last: a batch of 100 events (about 43 KB of JSON) parsed, written back and hashed, on one core, in ${number(CPU_ROUNDS)} rounds of ${number(CPU_ROUND_MS)} ms (the median round, and the slowest to the fastest); ` +
      "`SELECT 1` through mysql2; a single-row autocommit `INSERT` (a round trip with its commit's log flush), " +
      `${number(DATABASE_SAMPLES)} of each, p50. This machine's speed changes from day to day, and work that allocates as the service does swings from one round to the next: ` +
      "compare another run's absolute figures with this one's only beside these.",
    "",
    table(["when", "time (UTC)", "reference CPU work, iterations/s: median (slowest–fastest)", "SELECT 1 ms", "single-row commit ms"], [row("start", results.speed.start), row("end", results.speed.end)]),
    "",
  ];
}

// 1. Ingest ------------------------------------------------------------------

function ingestCause(configuration: IngestConfiguration, all: IngestConfiguration[], cores: number, floor: RequestFloor[] = []): string {
  const service = configuration.service;
  const raw = configuration.raw;
  const requests = Math.max(1, service.requests);
  const counters = service.resources.counters;
  const cpu = cpuFacts(service.resources, cores);
  const readings = [...cpu.readings];
  // The same clients over several workspaces: what this load does when no workspace's transactions take turns.
  const spread = all.find((other) => other.batch === configuration.batch && other.clients === configuration.clients && other.workspaces > 1);
  if (configuration.workspaces === 1 && configuration.clients > 1 && counters.Innodb_row_lock_waits > 0) {
    // A directory upsert the connections sat in for a large share of the run: they waited there, on rows the previous transaction held.
    const waitedIn = service.activity?.seen.find(
      (item) => /^(INSERT INTO|UPDATE) /.test(item.statement) && item.statement !== "INSERT INTO audit_events" && item.percent >= WAITED_IN_PERCENT,
    );
    readings.push(
      `the ${configuration.clients} writers of one workspace waited on row locks ${number(counters.Innodb_row_lock_waits)} times (${number(counters.Innodb_row_lock_time)} ms in all)` +
        (waitedIn
          ? `, and the statement their connections were seen in most, after the events' own INSERT, was \`${waitedIn.statement}\` (${number(waitedIn.percent)}% of samples): ` +
            "the rows the previous transaction of the workspace holds until its commit"
          : "") +
        // Batched configurations name the same load over several workspaces in their scaling reading.
        (spread && configuration.batch === 1 ? `; the same load over ${spread.workspaces} workspaces stored ${number(spread.service.eventsPerSecond)} events/s` : ""),
    );
  }
  if (configuration.batch > 1 && configuration.workspaces === 1 && configuration.clients > 1) {
    const one = all.find((other) => other.batch === configuration.batch && other.clients === 1);
    if (one) readings.push(oneWorkspaceScaling(configuration, one, spread));
  }
  const transactions = counters.Com_commit ?? 0;
  if (configuration.workspaces === 1 && transactions > 0 && transactions < 0.9 * requests) {
    const statements = counters.Questions / transactions;
    readings.push(
      `the service stored ${number(requests / transactions, 1)} requests per transaction (it gathers the calls of a workspace that wait into its next transaction, and runs at most ${ROUNDS_IN_FLIGHT} of a workspace's transactions at once), ` +
        `each transaction ${number(statements, 1)} statements in one or two round trips` +
        (cpu.readings.length === 0
          ? `; with neither the service (${number(service.resources.serviceCpuPercent)}%) nor the database server (${number(service.resources.databaseCpuPercent)}%) saturated, the time is those round trips and the waits on row locks`
          : ""),
    );
  }
  const cpuPerRequest = serviceCpuMsPer(service.resources, requests);
  if (cpuPerRequest >= 0.5 * service.load.latency.p50) {
    readings.push(
      `the service's own CPU work was ${ms(cpuPerRequest)} ms of the ${ms(service.load.latency.p50)} ms a request took at p50, while raw stored the same rows in ${ms(raw.load.latency.p50)} ms`,
    );
  }
  if (configuration.batch === 1) {
    readings.push(
      `each single-event request took ${ms(service.load.latency.p50)} ms at p50, so ${configuration.clients} client(s) can send at most about ${number((configuration.clients / Math.max(0.001, service.load.latency.mean)) * 1000)} requests/s`,
    );
    const empty = floor.find((item) => item.clients === configuration.clients);
    if (empty) readings.push(floorReading(configuration, empty, cpuPerRequest));
    if (configuration.inProcess) readings.push(inProcessReading(configuration.inProcess, cpuPerRequest));
  }
  const activity = service.activity;
  const seenIn =
    activity && activity.samples > 0
      ? ` The service's database connections, sampled every ${number(activity.intervalMs)} ms (${number(activity.samples)} samples), were seen in: ` +
        `${activity.seen.slice(0, 4).map((item) => `\`${item.statement}\` (${item.state}) ${number(item.percent)}%`).join(", ")} of samples.`
      : "";
  return (
    `Measured while it ran: ${cpu.facts}; ${number(cpuPerRequest, 2)} ms of service CPU, ` +
    `${number(counters.Questions / requests, 1)} statements and ${number(counters.Innodb_data_fsyncs / requests, 2)} fsyncs per request ` +
    `(raw: ${number(raw.resources.counters.Questions / Math.max(1, raw.requests), 1)} statements and ${number(raw.resources.counters.Innodb_data_fsyncs / Math.max(1, raw.requests), 2)} fsyncs).${seenIn} ` +
    (readings.length > 0 ? `Reading: ${readings.join("; ")}.` : "Cause not yet measured: no process was saturated and no lock wait was counted.")
  );
}

/**
 * How several clients of one workspace scale against one client, beside
 * raw's connections and the same clients over several workspaces. The
 * ratio to raw is the one-client ratio times the service's scaling over
 * raw's, an identity: while the service scales less than raw, this ratio
 * stays below the one-client ratio.
 */
function oneWorkspaceScaling(configuration: IngestConfiguration, one: IngestConfiguration, spread: IngestConfiguration | undefined): string {
  const scaling = (many: IngestSide, single: IngestSide) => many.eventsPerSecond / Math.max(1, single.eventsPerSecond);
  const service = scaling(configuration.service, one.service);
  const raw = scaling(configuration.raw, one.raw);
  return (
    `${configuration.clients} clients of one workspace stored ${number(service, 2)} times what 1 client stored at this batch (${number(configuration.service.eventsPerSecond)} against ${number(one.service.eventsPerSecond)} events/s)` +
    (spread ? `, ${configuration.clients} clients of ${spread.workspaces} workspaces ${number(scaling(spread.service, one.service), 2)} times` : "") +
    `, and raw's ${configuration.clients} connections ${number(raw, 2)} times what its 1 stored` +
    (service < raw
      ? ": a workspace's transactions take turns on its seq row (seq order is commit order) and on the directory rows they share, where raw's connections take none"
      : "") +
    `; this ratio is the 1-client ratio (${number(one.serviceOverRaw, 2)}) times ${number(service, 2)} / ${number(raw, 2)}`
  );
}

function ingestSection(ingest: IngestResults, summary: SummaryLine[], cores: number): string {
  const rows = ingest.configurations.map((c) => [
    number(c.batch),
    number(c.clients),
    number(c.workspaces),
    number(c.service.events),
    number(c.service.eventsPerSecond),
    `${ms(c.service.load.latency.p50)} / ${ms(c.service.load.latency.p99)}`,
    number(c.raw.eventsPerSecond),
    `${ms(c.raw.load.latency.p50)} / ${ms(c.raw.load.latency.p99)}`,
    ratioAgainst(c.serviceOverRaw, BATCHED_TARGET_RATIO),
    `${number(c.service.resources.serviceCpuPercent)}% / ${number(c.service.resources.databaseCpuPercent)}%`,
    ms(serviceCpuMsPer(c.service.resources, c.service.requests)),
    number(c.service.resources.counters.Innodb_row_lock_waits),
    c.target.text,
    status(c.target.met) + (c.service.load.errors ? ` (${c.service.load.errors} errors)` : ""),
  ]);
  for (const c of ingest.configurations) {
    summary.push({
      part: "ingest",
      subject: `batch ${c.batch}, ${c.clients} client(s), ${c.workspaces} workspace(s)`,
      group: `ingest, batch ${c.batch}, ${c.clients} client(s), ${c.workspaces} workspace(s)`,
      check: { target: c.target.text, measured: c.batch === 1 ? `${number(c.service.eventsPerSecond)} events/s` : `${ratioAgainst(c.serviceOverRaw, BATCHED_TARGET_RATIO)} x raw (${number(c.service.eventsPerSecond)} vs ${number(c.raw.eventsPerSecond)} events/s)`, met: c.target.met },
      cause: c.target.met ? undefined : ingestCause(c, ingest.configurations, cores, ingest.floor),
    });
  }
  return [
    "## 1. Ingest",
    "",
    `\`recordAuditEvents\` over HTTP (keep-alive, one socket per client), ${Object.entries(ingest.eventsPerConfiguration).map(([batch, events]) => `${number(events)} events at batch ${batch}`).join(", ")} per configuration ` +
      `(about ${number(ingest.eventBytes)} bytes of JSON per event, the event types and actions of a help desk). ` +
      "Raw: the same rows (the recorder's own row mapping) as one multi-row `INSERT` per batch into `audit_events`, autocommit, through mysql2 from as many connections. " +
      "Every configuration starts from empty tables, for the service and for raw. " +
      `Targets: batched (100, 500) >= ${BATCHED_TARGET_RATIO} x raw at the same batch size and clients; single-event requests >= ${number(SINGLE_TARGET_EVENTS_PER_SECOND)} events/s. ` +
      "The 4-workspace rows spread the 4 clients over 4 workspaces, which the service does not serialize against each other.",
    "",
    table(
      ["batch", "clients", "workspaces", "events", "service events/s", "service p50 / p99 ms", "raw events/s", "raw p50 / p99 ms", "service / raw", "service / database CPU", "service CPU ms per request", "row-lock waits", "target", "result"],
      rows,
    ),
    "",
    ...floorSection(ingest.floor),
    ...inProcessSection(ingest.configurations),
  ].join("\n");
}

/**
 * A ratio to two decimals, or three where two would round it onto or across
 * the target (0.495 against 0.5 reads 0.495, not a missed 0.50).
 */
function ratioAgainst(value: number, target: number): string {
  const rounded = Math.round(value * 100) / 100;
  return (rounded >= target) === (value >= target) ? number(value, 2) : number(value, 3);
}

/** The CPU the benchmark's process spent per call executed in it. */
function inProcessCpuMsPerCall(side: InProcessSide): number {
  return (side.resources.benchCpuPercent * side.resources.elapsedMs) / 100 / Math.max(1, side.load.completed);
}

/** What the same single-event calls reached without the HTTP stack. */
function inProcessReading(side: InProcessSide, cpuPerRequest: number): string {
  const target = SINGLE_TARGET_EVENTS_PER_SECOND;
  return (
    `executed in the benchmark's process without HTTP, from as many callers, the same calls stored ${number(side.eventsPerSecond)} events/s ` +
    `with ${ms(inProcessCpuMsPerCall(side))} ms of CPU per call (against ${ms(cpuPerRequest)} ms of service CPU per request over HTTP)` +
    (side.load.errors > 0
      ? `, and ${number(side.load.errors)} calls failed`
      : side.eventsPerSecond >= target
        ? `: without the HTTP stack the recording reaches the target of ${number(target)}`
        : `: below the target of ${number(target)} even without the HTTP stack`)
  );
}

function inProcessSection(configurations: IngestConfiguration[]): string[] {
  const measured = configurations.filter((c) => c.inProcess);
  if (measured.length === 0) return [];
  const rows = measured.map((c) => {
    const side = c.inProcess!;
    return [
      number(c.clients),
      number(c.workspaces),
      number(c.service.eventsPerSecond),
      ms(serviceCpuMsPer(c.service.resources, c.service.requests)),
      number(side.eventsPerSecond),
      `${ms(side.load.latency.p50)} / ${ms(side.load.latency.p99)}`,
      ms(inProcessCpuMsPerCall(side)) + (side.load.errors ? ` (${side.load.errors} errors)` : ""),
    ];
  });
  return [
    "Single events without HTTP: after each batch-1 configuration, the same calls (the same JSON, parsed per call) executed in the benchmark's process " +
      "with graphql-js `execute` on the service's own schema, services and context factory (the token verified per call), from as many callers, " +
      "on tables emptied again, after as long again unmeasured. Its CPU is the benchmark process's, its own loop included.",
    "",
    table(["clients", "workspaces", "over HTTP events/s", "service CPU ms per request", "in process events/s", "in process p50 / p99 ms", "CPU ms per call in process"], rows),
    "",
  ];
}

/**
 * What the empty request says of a single-event miss. One client waits, on
 * every event, for the HTTP stack and for a commit, one after the other:
 * their sum bounds what it can send whatever the recording costs. Several
 * clients share the service's one JavaScript thread: the empty request's CPU
 * is spent on every request before any recording work.
 */
function floorReading(configuration: IngestConfiguration, empty: RequestFloor, cpuPerRequest: number): string {
  const target = SINGLE_TARGET_EVENTS_PER_SECOND;
  const emptyCpu = serviceCpuMsPer(empty.resources, empty.load.completed);
  if (configuration.clients === 1) {
    const bound = 1000 / (empty.load.latency.p50 + configuration.raw.load.latency.p50);
    return (
      `one client waits, on every event, for the HTTP stack and for a commit: the empty request took ${ms(empty.load.latency.p50)} ms at p50 over the same stack, ` +
      `and raw committed a single event in ${ms(configuration.raw.load.latency.p50)} ms, so one client can send at most about ${number(bound)} requests/s on this machine ` +
      (bound < target ? `whatever the recording costs: below the target of ${number(target)}` : `if the recording cost nothing more`)
    );
  }
  return (
    `the empty request took ${ms(emptyCpu)} ms of service CPU (of the ${ms(cpuPerRequest)} ms per recording) and reached ${number(empty.load.perSecond)} requests/s from ${empty.clients} clients; ` +
    `at ${number(target)} requests/s, the empty request's work alone would take ${number((emptyCpu * target) / 10)}% of one core`
  );
}

function floorSection(floor: RequestFloor[] | undefined): string[] {
  if (!floor || floor.length === 0) return [];
  const rows = floor.map((item) => [
    number(item.clients),
    number(item.load.perSecond),
    `${ms(item.load.latency.p50)} / ${ms(item.load.latency.p99)}`,
    `${number(item.resources.serviceCpuPercent)}%`,
    ms(serviceCpuMsPer(item.resources, item.load.completed)),
  ]);
  return [
    `The floor under every request: the empty request \`${EMPTY_REQUEST}\` over the same HTTP stack, with the producer's token, ` +
      "measured on the same service process before the configurations above (each client count after as long again unmeasured).",
    "",
    table(["clients", "requests/s", "p50 / p99 ms", "service CPU", "service CPU ms per request"], rows),
    "",
  ];
}

// 2. Queries -----------------------------------------------------------------

function perRequest(resources: ResourceUse, requests: number, counter: keyof ResourceUse["counters"]): number {
  return resources.counters[counter] / Math.max(1, requests);
}

/** The measurement a query check was taken from. */
function measurementOf(query: QueryResult, check: Check, deepPage: number): QueryMeasurement | undefined {
  if (check.kind === "deep-page") return query.measurements.find((item) => item.page === deepPage && item.concurrency === 1);
  const page = /^(?:search, )?page (\d+)/.exec(check.target)?.[1];
  const concurrency = Number(/c=(\d+)/.exec(check.target)?.[1] ?? 1);
  return query.measurements.find((item) => item.page === (page ? Number(page) : 1) && item.concurrency === concurrency);
}

function queryCause(query: QueryResult, check: Check, m: QueryMeasurement, queries: QueryResults, cores: number, split: PageCpuSplit | null): string {
  const readings: string[] = [];
  const cpu = cpuFacts(m.httpResources, cores);
  readings.push(...cpu.readings);
  const httpStatements = perRequest(m.httpResources, m.http.completed, "Questions");
  const rawStatements = perRequest(m.rawResources, m.raw.completed, "Questions");
  const cpuPerRequest = serviceCpuMsPer(m.httpResources, m.http.completed);
  const diskReads = m.httpResources.counters.Innodb_buffer_pool_reads + m.rawResources.counters.Innodb_buffer_pool_reads;
  if (cpuPerRequest >= 2 * m.raw.latency.p50) {
    readings.push(
      `the service spent ${ms(cpuPerRequest)} ms of CPU per request while the SQL took ${ms(m.raw.latency.p50)} ms at p50: the time goes to the service's own work` +
        (split ? ` (part 4 splits a first page's ${ms(split.total)} ms: ${splitText(split)})` : " (part 4 profiles it)"),
    );
  }
  if (diskReads > 0) readings.push(`${number(diskReads)} pages were read from disk during these measurements (buffer pool ${mib(queries.bufferPoolBytes)}, audit_events ${mib(queries.dataset.auditEventsBytes)})`);
  if (check.kind === "first-page-p95" && m.raw.latency.p95 > QUERY_TARGETS.firstPageP95Ms) {
    readings.push(`the page's SQL alone takes ${ms(m.raw.latency.p95)} ms at p95`);
  }
  if (check.kind === "deep-page") {
    const first = query.measurements.find((item) => item.page === 1 && item.concurrency === 1);
    if (first && m.raw.latency.p95 > first.raw.latency.p95 * QUERY_TARGETS.deepOverFirstP95) {
      readings.push(`the SQL itself is slower on page ${queries.deepPage} (raw p95 ${ms(m.raw.latency.p95)} vs ${ms(first.raw.latency.p95)} ms)`);
    }
  }
  if (httpStatements > rawStatements + 0.5) readings.push(`each HTTP request ran ${number(httpStatements, 1)} statements against raw's ${number(rawStatements, 1)}`);
  return (
    `Measured over HTTP: ${cpu.facts}; ${ms(cpuPerRequest)} ms of service CPU and ${number(httpStatements, 1)} statements per request (raw ${number(rawStatements, 1)}); ` +
    `HTTP p50 ${ms(m.http.latency.p50)} ms against raw ${ms(m.raw.latency.p50)} ms. ` +
    (readings.length > 0 ? `Reading: ${readings.join("; ")}.` : "Cause not yet measured: no process was saturated and no page came from disk.")
  );
}

function querySection(queries: QueryResults, summary: SummaryLine[], cores: number, split: PageCpuSplit | null): string {
  const d = queries.dataset;
  const rows: string[][] = [];
  for (const query of queries.queries) {
    for (const m of query.measurements) {
      rows.push([
        query.name,
        m.page === 1 ? "1" : number(m.page),
        String(m.concurrency),
        `${ms(m.http.latency.p50)} / ${ms(m.http.latency.p95)} / ${ms(m.http.latency.p99)}`,
        `${ms(m.raw.latency.p50)} / ${ms(m.raw.latency.p95)} / ${ms(m.raw.latency.p99)}`,
        number(m.http.latency.p50 / m.raw.latency.p50, 1),
        number(m.http.latency.p95 / m.raw.latency.p95, 1),
        number(m.http.perSecond),
        `${number(m.httpResources.serviceCpuPercent)}%`,
        m.http.errors || m.raw.errors ? `${m.http.errors + m.raw.errors}` : "0",
      ]);
    }
    if (query.deepPage === null) rows.push([query.name, number(queries.deepPage), "-", `not measured: only ${number(query.pagesAvailable ?? 0)} pages`, "", "", "", "", "", ""]);
    for (const check of query.checks) {
      const m = measurementOf(query, check, queries.deepPage);
      summary.push({
        part: "queries",
        subject: query.name,
        check,
        group: m ? `${query.name}, page ${m.page}, ${m.concurrency} client(s)` : query.name,
        cause: check.met === false && m ? queryCause(query, check, m, queries, cores, split) : undefined,
      });
    }
  }
  const pool = queries.bufferPoolBytes;
  const fits = d.auditEventsBytes <= pool;
  return [
    "## 2. Queries",
    "",
    `Dataset: ${number(d.events)} events over 12 months in ${number(d.workspaces)} workspaces (the largest holds ${number(d.largestWorkspaceEvents)}; the others share the rest in proportion to 1/rank), ` +
      "actors, customers and conversations Zipf-distributed (s = 1.07) within each workspace; " +
      `written with multi-row INSERTs in ${number(d.elapsedMs / 1000, 1)} s (${number(d.eventsPerSecond)} events/s), then ANALYZE TABLE. ` +
      `\`audit_events\` holds ${mib(d.auditEventsDataBytes)} of rows and ${mib(d.auditEventsIndexBytes)} of indexes.`,
    "",
    `Every query runs in the largest workspace on its busiest user, conversation and customer (the deepest logs), with an ADMIN token. Pages of ${queries.pageSize}; ` +
      `page ${queries.deepPage} is reached by following \`endCursor\` over HTTP, then measured like page 1. ${number(queries.requestsPerMeasurement)} requests per measurement after a warm-up. ` +
      (queries.serviceWarmupMs
        ? `Before the first measurement, the new service process serves every non-search query's first page for ${number(queries.serviceWarmupMs / 1000)} s in all, unmeasured (V8 optimizes the service's code only after many requests). `
        : "") +
      "HTTP: the operation over keep-alive HTTP, selecting id, type, action, occurredAt, recordedAt, description, actor and changes of each event, and pageInfo. " +
      "Raw: the SQL the service builds for the same page (`logs.pageQuery`, its own query builder), run through a mysql2 pool with as many connections as there are HTTP clients. " +
      "Latencies in ms as p50 / p95 / p99.",
    "",
    table(["query", "page", "clients", "HTTP p50 / p95 / p99", "raw p50 / p95 / p99", "HTTP/raw p50", "HTTP/raw p95", "HTTP req/s", "service CPU", "errors"], rows),
    "",
    table(
      ["query", "target", "measured", "result"],
      queries.queries.flatMap((query) => query.checks.map((check) => [query.name, check.target, check.measured, status(check.met)])),
    ),
    "",
    `Targets: at concurrency 1, p95 <= ${QUERY_TARGETS.firstPageP95Ms} ms for any first page without search; at concurrency 8, p95 <= ${QUERY_TARGETS.httpOverRawP95AtConcurrency8} x raw p95; ` +
      `page ${queries.deepPage} p95 <= ${QUERY_TARGETS.deepOverFirstP95} x page 1 p95 (concurrency 1); HTTP/raw <= ${QUERY_TARGETS.httpOverRawP50} x at p50; ` +
      `search p95 <= ${QUERY_TARGETS.searchOverFulltextP95} x the raw FULLTEXT query of the same words (the service's own search SQL).`,
    "",
    "### Buffer pool",
    "",
    `The server's buffer pool was ${mib(pool)}; the dataset's \`audit_events\` takes ${mib(d.auditEventsBytes)} (rows and indexes), ` +
      `so it ${fits ? "fits in the pool" : `is ${number(d.auditEventsBytes / pool, 1)} times the pool`}. ` +
      `Over all query measurements the server read ${number(queries.bufferPool.diskReads)} pages from disk for ${number(queries.bufferPool.readRequests)} page requests ` +
      `(hit ratio ${number(queries.bufferPool.hitRatio * 100, 3)}%; server-wide counters).`,
    "",
    queries.bufferPool.diskReads > 0
      ? `What a production-sized buffer pool changes: the ${number(queries.bufferPool.diskReads)} disk reads measured here are pages that did not fit; ` +
        `a pool of at least ${mib(d.auditEventsBytes * 1.1)} (rows plus indexes, with some room) keeps them in memory, which removes those reads from the measured latencies. ` +
        "Each measurement's own disk reads are in the JSON (`httpResources` and `rawResources`)."
      : "What a production-sized buffer pool changes: nothing in this run, since no measured query read a page from disk: the pages the measured queries touch stayed in the pool. " +
        "A pool smaller than the working set, or cold pages (first queries after a restart, rarely read workspaces), would add disk reads; the queries above repeat, so they measure a warm pool.",
    "",
  ].join("\n");
}

// 3. Live tail ---------------------------------------------------------------

/** Server CPU over the recording phase divided by the deliveries made (recording included). */
function cpuPerDelivery(run: LiveRun): number {
  return serviceCpuMsPer(run.resources, run.delivery.delivered);
}

function liveCause(run: LiveRun, check: Check, live: LiveResults, cores: number): string {
  const cpu = cpuFacts(run.resources, cores, run.kind === "redis" ? "service instances" : "service");
  const readings = [...cpu.readings];
  if (run.clientCpuPercent >= SATURATED_PERCENT) readings.push(`the subscriber process was saturated (${number(run.clientCpuPercent)}% of one core), so receipt times include its own queueing`);
  const closes = Object.entries(run.delivery.closes).filter(([code]) => code !== "1000");
  if (closes.length > 0) {
    readings.push(
      `sockets were closed during the run: ${closes.map(([code, count]) => `${count} with ${code}`).join(", ")}${closes.some(([code]) => code === "4480") ? " (4480: the service judged the client too slow)" : ""}`,
    );
  }
  if (run.opened.failed > 0 || run.ready.notReady > 0) readings.push(`${run.opened.failed} subscribers failed to open and ${run.ready.notReady} never received the warm-up event`);
  if (run.recordErrors > 0) readings.push(`${run.recordErrors} recording requests failed (${run.firstRecordError ?? ""})`);
  if (run.recorderLateMs > 50) readings.push(`the recorder started requests up to ${ms(run.recorderLateMs)} ms behind its schedule`);
  if (check.target.startsWith("p99")) readings.push(`the recording request itself took ${ms(run.recordLatency.p99)} ms at p99, and is part of 'from sent'`);
  const floor = live.runs.find((other) => other.kind === "floor" && other.scenario === run.scenario);
  const floorText = floor ? ` The plain ws floor for the same sockets: p99 ${ms(floor.delivery.fromSent.p99)} ms.` : "";
  const perDelivery = cpuPerDelivery(run);
  const floorPerDelivery = floor ? ` (floor: ${ms(cpuPerDelivery(floor))} ms)` : "";
  return `Measured during recording: ${cpu.facts}; subscriber process ${number(run.clientCpuPercent)}% of one core; ${ms(perDelivery)} ms of server CPU per delivery, recording included${floorPerDelivery}.${floorText} ${readings.length > 0 ? `Reading: ${readings.join("; ")}.` : "Cause not yet measured."}`;
}

function liveSection(live: LiveResults, summary: SummaryLine[], cores: number): string {
  const rows = live.runs.map((run) => [
    run.scenario,
    run.kind === "redis" ? "2 instances + Redis" : run.kind === "floor" ? "plain ws floor" : "service",
    number(run.opened.connected) + (run.opened.failed ? ` (${run.opened.failed} failed)` : "") + (run.ready.notReady ? ` (${run.ready.notReady} never live)` : ""),
    number(run.ready.warmupRounds),
    number(run.eventsPerSecond),
    `${number(run.delivery.delivered)} / ${number(run.delivery.expected)}`,
    `${ms(run.delivery.fromSent.p50)} / ${ms(run.delivery.fromSent.p99)}`,
    `${ms(run.delivery.fromResponse.p50)} / ${ms(run.delivery.fromResponse.p99)}`,
    number(run.delivery.lost),
    number(run.delivery.duplicated),
    `${number(run.rssPerSubscriptionBytes / 1024, 1)} KiB`,
    `${number(run.heapPerSubscriptionBytes / 1024, 1)} KiB`,
    `${number(run.resources.serviceCpuPercent)}% / ${number(run.clientCpuPercent)}%`,
    ms(cpuPerDelivery(run)),
  ]);
  for (const run of live.runs) {
    for (const check of run.checks) {
      summary.push({
        part: "live tail",
        subject: `${run.scenario}${run.kind === "redis" ? ", 2 instances + Redis" : ""}`,
        group: `live tail, ${run.scenario}${run.kind === "redis" ? ", 2 instances + Redis" : ""}`,
        check,
        cause: check.met === false ? liveCause(run, check, live, cores) : undefined,
      });
    }
  }
  const seconds = live.runs[0]?.seconds ?? 0;
  return [
    "## 3. Live tail",
    "",
    "Subscribers run in a separate process, one graphql-ws client (one socket) per subscription: " +
      "`subscription($id: ID!) { conversationAuditEvents(conversationId: $id) { cursor node { id metadata } } }`, or `workspaceAuditEvents` for the workspace rows (ADMIN token). " +
      `Each scenario opens its subscribers, then records rounds of one warm-up event per conversation, a second apart, until every subscriber has received one of its own (a subscription is owed only the events recorded after it started; the rounds needed are shown), then records events one per request at the fixed rate for ${number(seconds)} s, round-robin over the conversations. ` +
      "Each subscriber's received ids are compared with the ids recorded on its conversation: lost, duplicated and misrouted deliveries are counted. " +
      "RSS per idle subscription is the service's RSS once the subscribers are open and idle, minus its RSS before they connected, over the subscribers; both are read after a full garbage collection (through the inspector), in a fresh service process per scenario. The V8 heap in use after that collection is shown per subscription beside it. " +
      "The floor is a plain `ws` server in its own process sending the same JSON bytes (a graphql-ws `next` message of the same shape and size) to the same sockets when the recorder posts to it.",
    "",
    `What "commit" means here: ${live.commitDefinition}`,
    "",
    ...(live.redisSkipped ? [`Redis runs skipped: ${live.redisSkipped}.`, ""] : live.redisVersion ? [`Redis: a private redis-server ${live.redisVersion}, two service instances; subscribers alternate between them, and so do recordings.`, ""] : []),
    table(
      ["scenario", "server", "subscribers", "warm-up rounds", "events/s", "delivered / expected", "from sent p50 / p99 ms", "from response p50 / p99 ms", "lost", "duplicated", "RSS per subscription", "heap per subscription", "server / subscriber CPU", "server CPU ms per delivery"],
      rows,
    ),
    "",
    "Targets: 5,000 subscribers over 50 conversations at 20 events/s, p99 <= 100 ms; 1,000 subscribers on one conversation at 10 events/s, p99 <= 250 ms; nothing lost or duplicated; <= 50 KB RSS per idle subscription (judged on the service run with the most subscribers).",
    "",
  ].join("\n");
}

// 4. Overhead ----------------------------------------------------------------

/** A first page's CPU, layer by layer: each part is what a layer adds to the one below it. */
interface PageCpuSplit {
  parts: { name: string; ms: number }[];
  /** The service process's CPU per request over HTTP, from one caller. */
  total: number;
}

const SPLIT_NAMES = ["mysql2 reading the rows", "the service's code (records, cursors)", "GraphQL execution", "the HTTP stack"] as const;

/** Null for runs that measured no layers, or measured them in the benchmark's own process (before the HTTP layer was added). */
function pageCpuSplit(overhead: OverheadResults): PageCpuSplit | null {
  const layers = overhead.pageLayers;
  if (!layers || layers.length !== SPLIT_NAMES.length || layers[SPLIT_NAMES.length - 1].name !== ONE_CALLER_HTTP) return null;
  return {
    parts: layers.map((layer, index) => ({ name: SPLIT_NAMES[index], ms: layer.cpuMsPerOperation - (index > 0 ? layers[index - 1].cpuMsPerOperation : 0) })),
    total: layers[layers.length - 1].cpuMsPerOperation,
  };
}

function splitText(split: PageCpuSplit): string {
  return split.parts.map((part) => `${part.name} ${ms(part.ms)}`).join(", ");
}

function pageLayersText(overhead: OverheadResults): string[] {
  const split = pageCpuSplit(overhead);
  if (!overhead.pageLayers || !split) return [];
  const rows = overhead.pageLayers.map((layer: PageLayer, index) => [
    layer.name,
    number(layer.completed),
    `${ms(layer.latency.p50)} / ${ms(layer.latency.p99)}`,
    ms(layer.cpuMsPerOperation),
    `${split.parts[index].name}: ${ms(split.parts[index].ms)}`,
  ]);
  return [
    "### A first page, layer by layer",
    "",
    `The same first page of 50, one caller at a time for ${number(overhead.seconds)} s per layer, each layer including the ones above it. ` +
      "The first three run in a fresh process of their own (NODE_ENV=production, as the service), the last is the service process over HTTP; " +
      "CPU is that process's, user and system, per page. The database server's work is not in these figures: it is the same for every layer.",
    "",
    table(["layer", "pages", "p50 / p99 ms", "CPU ms per page", "what the layer adds"], rows),
    "",
  ];
}

function overheadSection(overhead: OverheadResults): string {
  const rows = overhead.operations.map((operation) => [
    operation.name,
    number(operation.http.perSecond),
    `${ms(operation.http.latency.p50)} / ${ms(operation.http.latency.p99)}`,
    `${number(operation.httpResources.serviceCpuPercent)}%`,
    ms(serviceCpuMsPer(operation.httpResources, operation.http.completed)),
    number(operation.execute.perSecond),
    `${ms(operation.execute.latency.p50)} / ${ms(operation.execute.latency.p99)}`,
    `${number(operation.executeResources.benchCpuPercent)}%`,
    number(operation.httpOverExecute, 2),
  ]);
  const profiles = overhead.operations.flatMap((operation) =>
    operation.profile
      ? [
          `### Where the time goes: ${operation.name}`,
          "",
          `${number(operation.profile.samples)} samples over ${number(operation.profile.windowMs / 1000, 1)} s${operation.profile.windowed ? "" : " (the whole profile: the load window could not be matched)"}; the main thread was idle ${number(operation.profile.idlePercent, 1)}% of the time. Self time, in percent of busy time:`,
          "",
          table(["package or service folder", "self time"], operation.profile.byPackage.map((share) => [share.name, `${number(share.percent, 1)}%`])),
          "",
          table(["function", "self time"], operation.profile.topFunctions.map((share) => [`\`${share.name}\``, `${number(share.percent, 1)}%`])),
          "",
        ]
      : [],
  );
  return [
    "## 4. Execution overhead",
    "",
    `${overhead.concurrency} concurrent callers for ${number(overhead.seconds)} s per measurement. HTTP: a service process, keep-alive. ` +
      "Execute: graphql-js `execute` of the same parsed and validated document on the schema `buildAppSchema(createServices(...))` builds, in the benchmark's process, " +
      "with a context from the service's own `ContextFactory.forHttp` (the token is verified on every call, as over HTTP), on the same database. " +
      `The first page is \`workspaceAuditLog(first: 50)\` with the selection of part 2, in a workspace of ${number(overhead.events)} events; the recording stores one event (a new idempotency key each call) with the selection of part 1. No target: the figures say what the HTTP stack costs.`,
    "",
    table(["operation", "HTTP req/s", "HTTP p50 / p99 ms", "service CPU", "service CPU ms per request", "execute op/s", "execute p50 / p99 ms", "bench CPU", "HTTP / execute (req/s)"], rows),
    "",
    ...pageLayersText(overhead),
    overhead.profileNote,
    "",
    ...profiles,
  ].join("\n");
}

