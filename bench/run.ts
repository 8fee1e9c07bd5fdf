/**
 * `npm run bench`: ingest, queries, live tail and execution overhead of the
 * real service on this machine. Writes bench/results/<date>-<commit>.json
 * (`-smoke` before .json for the smoke size; the folder is not committed),
 * then docs/performance.md and beside it docs/performance.json, the copy of
 * the run that the report cites.
 *
 *   node dist/bench/run.js [--size full|smoke] [--only ingest,queries,live,overhead]
 *   node dist/bench/run.js --report bench/results/<file>.json   (renders the report again, measures nothing)
 *
 * It creates its own databases (audit_bench_*) on the server DATABASE_URL
 * names (default mysql://root@127.0.0.1:3306, which must be on this machine)
 * and drops them at the end; every process it starts is stopped by its pid.
 */
import "reflect-metadata";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BenchDatabase, databaseServer } from "./bench-database";
import { BenchContext, newSecret } from "./context";
import { runIngest } from "./ingest";
import { runLiveTail } from "./live-tail";
import { currentCommit, machineFacts, REPOSITORY } from "./machine";
import { MachineSpeed, measureMachineSpeed } from "./machine-speed";
import { parseOptions, Part } from "./options";
import { runOverhead } from "./overhead";
import { stopAllProcesses } from "./processes";
import { runQueries } from "./queries";
import { renderReport } from "./report";
import type { BenchResults } from "./results-file";

const RUNNERS: Record<Part, (context: BenchContext) => Promise<unknown>> = {
  ingest: runIngest,
  queries: runQueries,
  live: runLiveTail,
  overhead: runOverhead,
};

function log(line: string): void {
  process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

async function cleanUp(): Promise<void> {
  await stopAllProcesses();
  await BenchDatabase.dropAll();
}

/** The report, and the one run it cites: the only results the repository keeps. */
const REPORT = path.join(REPOSITORY, "docs", "performance.md");
const CITED_RUN = path.join(REPOSITORY, "docs", "performance.json");

/** Writes docs/performance.md from the results in `jsonFile`, and copies that file to docs/performance.json. */
function publish(results: BenchResults, jsonFile: string, renderedAt?: string): void {
  mkdirSync(path.dirname(REPORT), { recursive: true });
  if (path.resolve(jsonFile) !== CITED_RUN) copyFileSync(jsonFile, CITED_RUN);
  writeFileSync(REPORT, renderReport(results, path.relative(REPOSITORY, CITED_RUN), renderedAt));
}

/** Renders docs/performance.md again from a stored run: the report's wording changes, the figures do not. */
function rerender(resultsFile: string): number {
  const jsonFile = path.resolve(REPOSITORY, resultsFile);
  const results = JSON.parse(readFileSync(jsonFile, "utf8")) as BenchResults;
  publish(results, jsonFile, currentCommit());
  log(`rendered docs/performance.md from ${path.relative(REPOSITORY, jsonFile)} (copied to docs/performance.json)`);
  return 0;
}

function describeSpeed(speed: MachineSpeed): string {
  return `reference CPU work ${speed.cpu.p50}/s (${speed.cpu.min}-${speed.cpu.max}), SELECT 1 ${speed.roundTripMs} ms, single-row commit ${speed.commitMs} ms (p50)`;
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (options.report) return rerender(options.report);
  const server = databaseServer();
  const started = new Date();
  const machine = await machineFacts(server);
  log(`size ${options.profile.size}, parts ${options.parts.join(", ")}, commit ${machine.commit}${machine.dirty ? " (dirty)" : ""}, ${machine.cores} cores, ${machine.database.version}`);
  const context: BenchContext = { server, secret: newSecret(), profile: options.profile, log };
  const results: BenchResults = {
    format: 1,
    size: options.profile.size,
    parts: options.parts,
    startedAt: started.toISOString(),
    finishedAt: "",
    durationMs: 0,
    machine,
    failures: [],
  };
  const speedAtStart = await measureMachineSpeed(server, "start");
  log(`machine speed: ${describeSpeed(speedAtStart)}`);
  for (const part of options.parts) {
    const partStarted = Date.now();
    log(`${part}: starting`);
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
  const speedAtEnd = await measureMachineSpeed(server, "end");
  log(`machine speed: ${describeSpeed(speedAtEnd)}`);
  results.speed = { start: speedAtStart, end: speedAtEnd };
  const finished = new Date();
  results.finishedAt = finished.toISOString();
  results.durationMs = finished.getTime() - started.getTime();

  const name = `${started.toISOString().slice(0, 10)}-${machine.commit}${options.profile.size === "smoke" ? "-smoke" : ""}.json`;
  const jsonFile = path.join(REPOSITORY, "bench", "results", name);
  mkdirSync(path.dirname(jsonFile), { recursive: true });
  writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
  publish(results, jsonFile);
  log(`wrote ${path.relative(REPOSITORY, jsonFile)}, docs/performance.md and docs/performance.json in ${(results.durationMs / 1000).toFixed(1)} s`);
  return results.failures.length > 0 ? 1 : 0;
}

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping the processes and dropping the databases`);
    cleanUp().finally(() => process.exit(130));
  });
}

main().then(
  // Exit explicitly: a driver's keep-alive timer must not keep a finished run alive.
  (code) => process.exit(code),
  async (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    await cleanUp();
    process.exit(1);
  },
);
