import { readdirSync, readFileSync } from "node:fs";
import type mysql from "mysql2/promise";
import { monotonicMs, round } from "./stats";

/**
 * What the processes and the database server did during a measurement: CPU
 * of the service, of the database server and of the benchmark itself, and
 * the server's counters (statements, row-lock waits, buffer-pool reads,
 * fsyncs). These are the evidence a missed target's cause is read from. The
 * counters are server-wide: anything else using the server at the same time
 * is counted too.
 */

const COUNTERS = [
  "Questions",
  "Com_select",
  "Com_insert",
  "Com_update",
  "Com_commit",
  "Innodb_row_lock_waits",
  "Innodb_row_lock_time",
  "Innodb_buffer_pool_reads",
  "Innodb_buffer_pool_read_requests",
  "Innodb_data_fsyncs",
] as const;
type Counter = (typeof COUNTERS)[number];

/** CLK_TCK on Linux. */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a process has used so far; NaN when unknown. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // After the command: state is field 3, utime 14 and stime 15 (1-based, whole line).
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** Busy and total jiffies of all cores, from /proc/stat; NaN when unknown. */
function machineJiffies(): { busy: number; total: number } {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = values[3] + (values[4] ?? 0);
    const total = values.slice(0, 8).reduce((sum, value) => sum + value, 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

/** The database server's pid (mariadbd or mysqld), when it runs on this machine and /proc shows it. */
export function databaseServerPid(): number | null {
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const name = readFileSync(`/proc/${entry}/comm`, "utf8").trim();
        if (name === "mariadbd" || name === "mysqld") return Number(entry);
      } catch {
        // The process ended meanwhile.
      }
    }
  } catch {
    // No /proc.
  }
  return null;
}

export interface ResourceUse {
  elapsedMs: number;
  /** Share of one core, in percent, over the measurement. */
  serviceCpuPercent: number;
  databaseCpuPercent: number;
  benchCpuPercent: number;
  /** The benchmark's helper processes (live-tail subscribers), in percent of one core. */
  helperCpuPercent: number;
  /**
   * How busy the machine's cores were, in percent of all of them, whoever
   * used them; `otherCpuPercent` is the part used by processes other than
   * the service, the database server and the benchmark and its helpers (in percent of one core).
   */
  machineBusyPercent: number;
  otherCpuPercent: number;
  /** CPU seconds the service process(es) used. */
  serviceCpuSeconds: number;
  /** Server-wide counter deltas. */
  counters: Record<Counter, number>;
}

interface Snapshot {
  at: number;
  service: number;
  database: number;
  bench: number;
  helpers: number;
  machine: { busy: number; total: number };
  counters: Record<Counter, number>;
}

export class ResourceMonitor {
  private readonly databasePid = databaseServerPid();

  constructor(
    private readonly pool: mysql.Pool,
    /** The pids of the service processes measured (their CPU is added up). */
    private readonly servicePids: () => number[],
    /** The benchmark's own helper processes (subscribers), counted as the benchmark's. */
    private readonly helperPids: () => number[] = () => [],
  ) {}

  async snapshot(): Promise<Snapshot> {
    const [rows] = (await this.pool.query(`SHOW GLOBAL STATUS WHERE Variable_name IN (${COUNTERS.map(() => "?").join(", ")})`, [
      ...COUNTERS,
    ])) as unknown as [{ Variable_name: string; Value: string }[]];
    const counters = Object.fromEntries(COUNTERS.map((name) => [name, 0])) as Record<Counter, number>;
    for (const row of rows) counters[row.Variable_name as Counter] = Number(row.Value);
    const usage = process.cpuUsage();
    return {
      at: monotonicMs(),
      service: this.servicePids().reduce((sum, pid) => sum + cpuSeconds(pid), 0),
      database: this.databasePid === null ? NaN : cpuSeconds(this.databasePid),
      bench: (usage.user + usage.system) / 1e6,
      helpers: this.helperPids().reduce((sum, pid) => sum + cpuSeconds(pid), 0),
      machine: machineJiffies(),
      counters,
    };
  }

  static between(before: Snapshot, after: Snapshot): ResourceUse {
    const seconds = (after.at - before.at) / 1000;
    const percent = (a: number, b: number) => round(((b - a) / seconds) * 100, 1);
    const counters = Object.fromEntries(COUNTERS.map((name) => [name, after.counters[name] - before.counters[name]])) as Record<Counter, number>;
    const busyJiffies = after.machine.busy - before.machine.busy;
    const totalJiffies = after.machine.total - before.machine.total;
    const known = after.service - before.service + (after.database - before.database || 0) + (after.bench - before.bench) + (after.helpers - before.helpers);
    return {
      elapsedMs: round(after.at - before.at),
      machineBusyPercent: round((busyJiffies / totalJiffies) * 100, 1),
      otherCpuPercent: round(Math.max(0, (busyJiffies / TICKS_PER_SECOND - known) / seconds) * 100, 1),
      serviceCpuPercent: percent(before.service, after.service),
      serviceCpuSeconds: round(after.service - before.service, 2),
      databaseCpuPercent: percent(before.database, after.database),
      benchCpuPercent: percent(before.bench, after.bench),
      helperCpuPercent: percent(before.helpers, after.helpers),
      counters,
    };
  }

  /** Runs `work` and returns its result with the resources it used. */
  async measure<T>(work: () => Promise<T>): Promise<{ result: T; resources: ResourceUse }> {
    const before = await this.snapshot();
    const result = await work();
    const after = await this.snapshot();
    return { result, resources: ResourceMonitor.between(before, after) };
  }
}
