/**
 * `npm run bench`: ingest, queries, live tail and GraphQL overhead of the
 * real service on this machine, each beside its baseline. Writes
 * bench/results/<date>-<commit>[-smoke].json (not committed), then
 * docs/performance.md and beside it docs/performance.json, the run it cites.
 *
 *   node dist/bench/run.js [--size full|smoke] [--only ingest,queries,live,overhead]
 *   node dist/bench/run.js --report <results>.json   (renders docs/performance.md again, measures nothing)
 *   node dist/bench/run.js --only ingest,queries,live --service <checkout>
 *     (measures another checkout's build, e.g. the code before a change, with this bench; writes
 *     only its results file, since the report describes this checkout's code)
 *   --skip-search leaves out the workspace log's search queries (minutes each at full size):
 *     for comparisons that do not touch search; such a run writes only its results file.
 *   --batches 100,500 measures only those batch sizes in part 1 (each costs minutes a
 *     configuration): for the index's and the Merkle log's prices; such a run writes only its
 *     results file.
 */
import "reflect-metadata";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BenchContext, Part, PARTS, Size } from "./context";
import { BenchDatabase, currentCommit, databaseServer, machineFacts, REPOSITORY } from "./database";
import { BATCH_SIZES, runIngest } from "./ingest";
import { runLiveTail } from "./live-tail";
import { runOverhead } from "./overhead";
import { SERVICE_MAIN, stopAllProcesses } from "./processes";
import { runQueries } from "./queries";
import { BenchResults, HAND_WRITTEN, renderReport } from "./report";

const RUNNERS: Record<Part, (context: BenchContext) => Promise<unknown>> = { ingest: runIngest, queries: runQueries, live: runLiveTail, overhead: runOverhead };
const REPORT = path.join(REPOSITORY, "docs", "performance.md");
const CITED_RUN = path.join(REPOSITORY, "docs", "performance.json");
const USAGE =
  "usage: node dist/bench/run.js [--size full|smoke] [--only ingest,queries,live,overhead] [--service <checkout>] [--skip-search] [--batches 1,100,500] | --report <results>.json";

interface Options {
  size: Size;
  parts: Part[];
  report?: string;
  /** Another checkout whose dist/src/main.js the service processes run. */
  service?: string;
  skipSearch: boolean;
  /** Part 1's batch sizes, when `--batches` chose some. */
  batches?: number[];
}

function log(line: string): void {
  process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

function parseOptions(argv: string[]): Options {
  const options: Options = { size: "full", parts: [...PARTS], skipSearch: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--skip-search") {
      options.skipSearch = true;
      continue;
    }
    const [flag, inline] = argv[i].split("=", 2);
    const value = inline ?? argv[++i] ?? "";
    if (flag === "--size" && (value === "full" || value === "smoke")) options.size = value;
    else if (flag === "--only" && value.split(",").every((part) => PARTS.includes(part as Part))) options.parts = PARTS.filter((part) => value.split(",").includes(part));
    else if (flag === "--report" && value.endsWith(".json")) options.report = value;
    else if (flag === "--batches" && value.split(",").every((batch) => (BATCH_SIZES as readonly number[]).includes(Number(batch)))) {
      options.batches = BATCH_SIZES.filter((batch) => value.split(",").map(Number).includes(batch));
    }
    else if (flag === "--service" && existsSync(serviceMainOf(value))) options.service = path.resolve(value);
    else throw new Error(`${argv[i]}: ${USAGE}${flag === "--service" ? ` (${serviceMainOf(value)} must exist: build that checkout first)` : ""}`);
  }
  // Part 4 sets the service over HTTP beside this checkout's schema in process: both must be the same code.
  if (options.service && options.parts.includes("overhead")) throw new Error(`--service measures ingest, queries and live only: ${USAGE}`);
  return options;
}

function serviceMainOf(checkout: string): string {
  return path.resolve(checkout, "dist", "src", "main.js");
}

/** Writes docs/performance.md above the hand-written marker, keeping what is below it, and copies the run to docs/performance.json. */
function publish(results: BenchResults, jsonFile: string, renderedAt?: string): void {
  const existing = existsSync(REPORT) ? readFileSync(REPORT, "utf8") : "";
  const handWritten = existing.includes(HAND_WRITTEN) ? existing.slice(existing.indexOf(HAND_WRITTEN) + HAND_WRITTEN.length).replace(/^\n+/, "") : "";
  if (path.resolve(jsonFile) !== CITED_RUN) copyFileSync(jsonFile, CITED_RUN);
  writeFileSync(REPORT, renderReport(results, path.relative(REPOSITORY, CITED_RUN), renderedAt) + handWritten);
}

async function cleanUp(): Promise<void> {
  await stopAllProcesses();
  await BenchDatabase.dropAll();
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (options.report) {
    const jsonFile = path.resolve(REPOSITORY, options.report);
    publish(JSON.parse(readFileSync(jsonFile, "utf8")) as BenchResults, jsonFile, currentCommit());
    log(`rendered docs/performance.md from ${path.relative(REPOSITORY, jsonFile)}`);
    return 0;
  }
  const server = databaseServer();
  const started = new Date();
  const machine = await machineFacts(server);
  log(`size ${options.size}, parts ${options.parts.join(", ")}, commit ${machine.commit}${machine.dirty ? " (dirty)" : ""}, ${machine.cores} cores, ${machine.database.version}`);
  const serviceMain = options.service ? serviceMainOf(options.service) : SERVICE_MAIN;
  const context: BenchContext = { server, secret: randomBytes(48).toString("base64url"), size: options.size, serviceMain, skipSearch: options.skipSearch, batches: options.batches, log };
  const results: BenchResults = { format: 1, size: options.size, parts: options.parts, startedAt: started.toISOString(), finishedAt: "", durationMs: 0, machine, failures: [] };
  if (options.service) {
    results.service = { checkout: options.service, commit: currentCommit(options.service) };
    log(`service: ${options.service} at ${results.service.commit}`);
  }
  if (options.skipSearch) results.skipSearch = true;
  if (options.batches) results.batches = options.batches;
  for (const part of options.parts) {
    const partStarted = Date.now();
    try {
      (results as unknown as Record<Part, unknown>)[part] = await RUNNERS[part](context);
      log(`${part}: done in ${((Date.now() - partStarted) / 1000).toFixed(1)} s`);
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      results.failures.push({ part, message });
      log(`${part}: FAILED: ${message}`);
    } finally {
      await cleanUp();
    }
  }
  results.finishedAt = new Date().toISOString();
  results.durationMs = Date.now() - started.getTime();
  const serviceSuffix = results.service ? `-service-${results.service.commit}` : "";
  const jsonFile = path.join(REPOSITORY, "bench", "results", `${results.startedAt.slice(0, 10)}-${machine.commit}${serviceSuffix}${options.skipSearch ? "-no-search" : ""}${options.batches ? `-batches-${options.batches.join("-")}` : ""}${options.size === "smoke" ? "-smoke" : ""}.json`);
  mkdirSync(path.dirname(jsonFile), { recursive: true });
  writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
  if (results.service || results.skipSearch || results.batches) {
    const partial = results.service ? "another checkout's service" : results.skipSearch ? "no search queries" : "some batch sizes";
    log(`wrote ${path.relative(REPOSITORY, jsonFile)} (${partial}: docs/performance.md is left as it is)`);
    return results.failures.length > 0 ? 1 : 0;
  }
  publish(results, jsonFile);
  log(`wrote ${path.relative(REPOSITORY, jsonFile)}, docs/performance.md and docs/performance.json`);
  return results.failures.length > 0 ? 1 : 0;
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping the processes and dropping the databases`);
    cleanUp().finally(() => process.exit(130));
  });
}

// Exit explicitly: a driver's keep-alive timer must not keep a finished run alive.
main().then(
  (code) => process.exit(code),
  async (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    await cleanUp();
    process.exit(1);
  },
);
