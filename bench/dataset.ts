import type mysql from "mysql2/promise";
import {
  DIRECTORY_INSERTS,
  directoryRows,
  insertEventsSql,
  makeEvent,
  rowValues,
  toRecord,
  WorkspacePlan,
  workspacePlan,
} from "./event-factory";
import { monotonicMs, round } from "./stats";

/**
 * The query dataset: events over twelve months in many workspaces of skewed
 * sizes (one holds most events, a few are mid-sized, most are small), written
 * straight into the tables with multi-row INSERTs and the recorder's own row
 * mapping, plus the directory and each workspace's last_seq.
 */

export interface DatasetWorkspace {
  plan: WorkspacePlan;
  events: number;
}

export interface DatasetPlan {
  workspaces: DatasetWorkspace[];
  total: number;
  startMs: number;
  endMs: number;
}

/** Share of all events in the largest workspace. */
const LARGEST_SHARE = 0.55;
const OTHER_WORKSPACES = 99;
const DAY_MS = 24 * 3600_000;

const clamp = (value: number, low: number, high: number) => Math.max(low, Math.min(high, Math.round(value)));

function directorySizes(events: number) {
  return { users: clamp(events / 4_000, 5, 400), customers: clamp(events / 25, 20, 80_000), conversations: clamp(events / 10, 50, 200_000) };
}

/**
 * `total` events: the largest workspace takes 55%, 99 others share the rest
 * in proportion to 1/k. `workspaces: 1` puts everything in one.
 */
export function datasetPlan(total: number, options: { workspaces?: 1 | 100; seed?: number; now?: number } = {}): DatasetPlan {
  const endMs = (options.now ?? Date.now()) - 3600_000;
  const startMs = endMs - 365 * DAY_MS;
  const seed = options.seed ?? 2026;
  if (options.workspaces === 1) {
    return { workspaces: [{ plan: workspacePlan("ws-large", directorySizes(total), seed), events: total }], total, startMs, endMs };
  }
  const largest = Math.round(total * LARGEST_SHARE);
  const weights = Array.from({ length: OTHER_WORKSPACES }, (_, k) => 1 / (k + 1));
  const weightSum = weights.reduce((a, b) => a + b, 0);
  const sizes = weights.map((weight) => Math.max(1, Math.floor(((total - largest) * weight) / weightSum)));
  const workspaces: DatasetWorkspace[] = [{ plan: workspacePlan("ws-large", directorySizes(largest), seed), events: largest }];
  sizes.forEach((events, k) => {
    const id = `ws-${String(k + 1).padStart(3, "0")}`;
    workspaces.push({ plan: workspacePlan(id, directorySizes(events), seed + k + 1), events });
  });
  return { workspaces, total: workspaces.reduce((sum, workspace) => sum + workspace.events, 0), startMs, endMs };
}

export interface LoadReport {
  events: number;
  workspaces: number;
  largestWorkspaceEvents: number;
  elapsedMs: number;
  eventsPerSecond: number;
  /** data_length + index_length of audit_events after ANALYZE, in bytes. */
  auditEventsBytes: number;
  auditEventsDataBytes: number;
  auditEventsIndexBytes: number;
}

/** Rows per INSERT statement while loading. */
const LOAD_CHUNK = 1_000;
/** INSERT statements in flight while the next chunk is built. */
const IN_FLIGHT = 3;

export async function loadDataset(pool: mysql.Pool, databaseName: string, plan: DatasetPlan, progress: (line: string) => void): Promise<LoadReport> {
  const started = monotonicMs();
  const inFlight: Promise<unknown>[] = [];
  const submit = async (sql: string, values: unknown[]) => {
    if (inFlight.length >= IN_FLIGHT) await inFlight.shift();
    const pending = pool.query(sql, values);
    pending.catch(() => undefined);
    inFlight.push(pending);
  };
  const asOf = new Date(plan.endMs);
  let done = 0;
  let lastReport = monotonicMs();
  for (const { plan: workspace, events } of plan.workspaces) {
    const step = (plan.endMs - plan.startMs) / events;
    for (let start = 0; start < events; start += LOAD_CHUNK) {
      const count = Math.min(LOAD_CHUNK, events - start);
      const values: unknown[] = [];
      for (let k = start; k < start + count; k++) {
        // Time order follows seq, with jitter within a step: the order events are recorded in.
        const occurredAt = new Date(Math.floor(plan.startMs + (k + ((k * 7919) % 1000) / 1000) * step));
        const event = makeEvent(workspace, k, occurredAt, "seed");
        const record = toRecord(workspace, event, k + 1, new Date(occurredAt.getTime() + 250));
        for (const value of rowValues(record, event)) values.push(value);
      }
      await submit(insertEventsSql(count), values);
      done += count;
      if (monotonicMs() - lastReport > 10_000) {
        lastReport = monotonicMs();
        progress(`dataset: ${done.toLocaleString("en")} of ${plan.total.toLocaleString("en")} events`);
      }
    }
    const directory = directoryRows(workspace, asOf);
    for (const table of ["users", "customers", "conversations"] as const) {
      const rows = directory[table];
      for (let start = 0; start < rows.length; start += LOAD_CHUNK) {
        const part = rows.slice(start, start + LOAD_CHUNK);
        await submit(DIRECTORY_INSERTS[table](part.length), part.flat());
      }
    }
  }
  await Promise.all(inFlight);
  const workspaceRows = plan.workspaces.map(({ plan: workspace, events }) => [workspace.id, events]);
  for (let start = 0; start < workspaceRows.length; start += LOAD_CHUNK) {
    const part = workspaceRows.slice(start, start + LOAD_CHUNK);
    await pool.query(`INSERT INTO workspaces (id, last_seq) VALUES ${part.map(() => "(?, ?)").join(", ")}`, part.flat());
  }
  await pool.query("ANALYZE TABLE audit_events, users, customers, conversations, workspaces");
  const elapsedMs = monotonicMs() - started;
  const [sizes] = (await pool.query(
    "SELECT data_length AS data, index_length AS indexes FROM information_schema.TABLES WHERE table_schema = ? AND table_name = 'audit_events'",
    [databaseName],
  )) as unknown as [{ data: number; indexes: number }[]];
  const data = Number(sizes[0]?.data ?? 0);
  const indexes = Number(sizes[0]?.indexes ?? 0);
  return {
    events: plan.total,
    workspaces: plan.workspaces.length,
    largestWorkspaceEvents: plan.workspaces[0].events,
    elapsedMs: round(elapsedMs),
    eventsPerSecond: round((plan.total / elapsedMs) * 1000, 0),
    auditEventsBytes: data + indexes,
    auditEventsDataBytes: data,
    auditEventsIndexBytes: indexes,
  };
}
