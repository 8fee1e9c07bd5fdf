import { hash } from "node:crypto";
import { BenchDatabase, DatabaseServer } from "./bench-database";
import { makeEvent, toInput, workspacePlan } from "./event-factory";
import { monotonicMs, summarize } from "./stats";

/**
 * How fast this machine was, on fixed reference work, when a run started and
 * when it ended. A virtual machine's speed changes from one day to the next
 * (and within a run): two runs' absolute figures compare only beside these.
 */
export interface MachineSpeed {
  /** When it was measured (ISO). */
  at: string;
  /**
   * Iterations per second of {@link cpuWork} on one core: the median round,
   * and the slowest and fastest: on a shared machine, work that allocates as
   * much as the service does varies widely from one round to the next.
   */
  cpu: { p50: number; min: number; max: number };
  /** `SELECT 1` through mysql2 over one connection, p50 in ms: a database round trip. */
  roundTripMs: number;
  /** A single-row autocommit INSERT, p50 in ms: a round trip with its commit's log flush. */
  commitMs: number;
}

/** Rounds of {@link cpuWork} measured. @default 20 */
export const CPU_ROUNDS = 20;
/** Rounds run first and not counted. @default 3 */
export const CPU_WARMUP_ROUNDS = 3;
/** Milliseconds per CPU round. @default 100 */
export const CPU_ROUND_MS = 100;
/** Statements timed for each database figure. @default 1000 */
export const DATABASE_SAMPLES = 1_000;

/**
 * A request's CPU work in miniature, always the same: a batch of 100 events
 * as a producer sends them (about 43 KB of JSON) parsed, written back and
 * hashed with SHA-256.
 */
const REFERENCE_BATCH = (() => {
  const plan = workspacePlan("ws-speed", { users: 200, customers: 5_000, conversations: 20_000 }, 7);
  const epoch = Date.UTC(2026, 0, 1);
  return JSON.stringify(Array.from({ length: 100 }, (_, n) => toInput(makeEvent(plan, n, new Date(epoch + n * 1_000), "speed"))));
})();

function cpuWork(): number {
  const parsed = JSON.parse(REFERENCE_BATCH) as unknown[];
  return JSON.stringify(parsed).length + hash("sha256", REFERENCE_BATCH, "buffer")[0];
}

function cpuIterationsPerSecond(): MachineSpeed["cpu"] {
  const rates: number[] = [];
  let sink = 0;
  // The first rounds warm the code up and are not counted.
  for (let round = -CPU_WARMUP_ROUNDS; round < CPU_ROUNDS; round++) {
    const start = monotonicMs();
    let iterations = 0;
    while (monotonicMs() - start < CPU_ROUND_MS) {
      sink += cpuWork();
      iterations++;
    }
    if (round >= 0) rates.push((iterations / (monotonicMs() - start)) * 1000);
  }
  if (sink === 0) throw new Error("the reference work produced nothing");
  const { p50, max } = summarize(rates);
  return { p50: Math.round(p50), min: Math.round(Math.min(...rates)), max: Math.round(max) };
}

async function p50Ms(run: (index: number) => Promise<unknown>): Promise<number> {
  const samples: number[] = [];
  for (let index = 0; index < DATABASE_SAMPLES; index++) {
    const start = monotonicMs();
    await run(index);
    samples.push(monotonicMs() - start);
  }
  return summarize(samples).p50;
}

/** Measures {@link MachineSpeed} in a scratch database of its own, dropped after. */
export async function measureMachineSpeed(server: DatabaseServer, label: string): Promise<MachineSpeed> {
  const at = new Date().toISOString();
  const cpu = cpuIterationsPerSecond();
  const database = await BenchDatabase.create(server, `speed_${label}`);
  try {
    const pool = database.pool(1);
    await BenchDatabase.warm(pool, 1);
    const roundTripMs = await p50Ms(() => pool.query("SELECT 1"));
    const commitMs = await p50Ms((index) => pool.query("INSERT INTO workspaces (id, last_seq) VALUES (?, 0)", [`speed-${index}`]));
    return { at, cpu, roundTripMs, commitMs };
  } finally {
    await database.drop();
  }
}
