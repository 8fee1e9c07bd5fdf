import type mysql from "mysql2/promise";
import type { Batch } from "./producers";

/** Runs a SELECT and gives its rows: over a DataSource, or over a plain connection ({@link rowsOf}). */
export type RowReader = (sql: string, values: unknown[]) => Promise<Record<string, unknown>[]>;

/** A RowReader over a mysql2 connection (a private server's). */
export function rowsOf(connection: mysql.Connection): RowReader {
  return async (sql, values) => (await connection.query<mysql.RowDataPacket[]>(sql, values))[0];
}

/** Events as the clients count them against what the database holds. */
export interface Tally {
  /** Events in acknowledged batches. */
  acknowledged: number;
  /** Rows of the workspace. */
  stored: number;
  /** Acknowledged events with no row. */
  lost: number;
  /** Rows beyond the first for one idempotency key. */
  duplicated: number;
  /** Rows whose key no batch sent. */
  unknown: number;
  /** Batches stored in part. */
  partialBatches: number;
  /** Seqs missing between 1 and the highest stored. */
  seqGaps: number;
}

/** Counts the workspace's rows against the batches the producers sent. */
export async function tally(read: RowReader, workspaceId: string, batches: readonly Batch[]): Promise<Tally> {
  const rows = await read(`SELECT idempotency_key AS idempotencyKey, seq FROM audit_events WHERE workspace_id = ?`, [workspaceId]);
  const rowsByKey = new Map<string, number>();
  for (const row of rows) rowsByKey.set(row.idempotencyKey as string, (rowsByKey.get(row.idempotencyKey as string) ?? 0) + 1);
  const sent = new Set(batches.flatMap((batch) => batch.keys));
  const seqs = new Set(rows.map((row) => Number(row.seq)));
  const highest = Math.max(0, ...seqs);
  let acknowledged = 0;
  let lost = 0;
  let partialBatches = 0;
  for (const batch of batches) {
    const present = batch.keys.filter((key) => rowsByKey.has(key)).length;
    if (present > 0 && present < batch.keys.length) partialBatches++;
    if (!batch.acknowledged) continue;
    acknowledged += batch.keys.length;
    lost += batch.keys.length - present;
  }
  return {
    acknowledged,
    stored: rows.length,
    lost,
    duplicated: [...rowsByKey.values()].reduce((sum, count) => sum + count - 1, 0),
    unknown: [...rowsByKey.keys()].filter((key) => !sent.has(key)).length,
    partialBatches,
    seqGaps: highest - seqs.size,
  };
}
