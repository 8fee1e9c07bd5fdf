import type { AuditEventRecord } from "../events/audit-event.record";
import { AuditEventRow, EVENT_COLUMNS, insertValues, recordFromRow, SELECT_EVENT_COLUMNS } from "./audit-event.storage";
import type { BatchedTransaction, Queryable } from "./statements";

/**
 * `audit_events`: the statements of the write path, and the read of one
 * event. (The logs' page queries are built in src/logs.)
 */

/** Rows per INSERT statement. */
const INSERT_CHUNK = 500;

/** A stored event, with the hash of the content it was recorded with. */
export interface StoredEvent {
  event: AuditEventRecord;
  contentHash: Buffer;
}

/** One event of the workspace by id, or null. */
export async function findEventById(database: Queryable, workspaceId: string, id: string): Promise<AuditEventRecord | null> {
  const rows = (await database.query(`SELECT ${SELECT_EVENT_COLUMNS} FROM audit_events WHERE id = ? AND workspace_id = ?`, [id, workspaceId])) as AuditEventRow[];
  return rows.length > 0 ? recordFromRow(rows[0]) : null;
}

/** The workspace's stored events whose key the database takes for one of `keys` (each carries its own key as stored). */
export function findEventsByKeys(transaction: BatchedTransaction, workspaceId: string, keys: readonly string[]): Promise<StoredEvent[]> {
  return transaction.read(
    { sql: `SELECT ${SELECT_EVENT_COLUMNS} FROM audit_events WHERE workspace_id = ? AND idempotency_key IN (?)`, values: [workspaceId, keys] },
    (rows) => (rows as AuditEventRow[]).map((row) => ({ event: recordFromRow(row), contentHash: Buffer.from(row.content_hash) })),
  );
}

/**
 * The positions among `keys` of those the database finds stored, asked key
 * by key: each comparison is the key column's own, where rows read back
 * cannot tell which key matched them.
 */
export function positionsOfStoredKeys(transaction: BatchedTransaction, workspaceId: string, keys: readonly string[]): Promise<number[]> {
  return transaction.read(
    {
      sql: keys.map(() => `SELECT ? AS position FROM audit_events WHERE workspace_id = ? AND idempotency_key = ?`).join(" UNION ALL "),
      values: keys.flatMap((key, position) => [position, workspaceId, key]),
    },
    (rows) => (rows as { position: number }[]).map((row) => Number(row.position)),
  );
}

/** Gives each conversation's events that have no customer that customer: `ties` pairs a conversation's id with its new customer's. */
export function tieEventsToCustomers(transaction: BatchedTransaction, workspaceId: string, ties: ReadonlyArray<readonly [string, string]>): void {
  if (ties.length === 0) return;
  transaction.add({
    sql: `UPDATE audit_events SET customer_id = CASE conversation_id ${ties.map(() => "WHEN ? THEN ?").join(" ")} END
     WHERE workspace_id = ? AND conversation_id IN (?) AND customer_id IS NULL`,
    values: [...ties.flat(), workspaceId, ties.map(([id]) => id)],
  });
}

/**
 * Inserts new events whose seqs the workspace repository's `reserveSeqs`
 * has just taken, in the same round trip: the last event takes the last seq
 * reserved, each one before it the seq before. The seq column counts back
 * from the session's LAST_INSERT_ID(), which the reservation set.
 */
export function insertReservedEvents(transaction: BatchedTransaction, events: readonly AuditEventRecord[], contentHashOf: (position: number) => Buffer): void {
  for (let start = 0; start < events.length; start += INSERT_CHUNK) {
    const end = Math.min(events.length, start + INSERT_CHUNK);
    const values: unknown[] = [];
    for (let position = start; position < end; position++) {
      const row = insertValues(events[position], contentHashOf(position));
      row[SEQ_COLUMN] = events.length - 1 - position;
      for (const value of row) values.push(value);
    }
    transaction.add({ sql: `INSERT INTO audit_events (${EVENT_COLUMNS.join(", ")}, search_text) VALUES ${new Array(end - start).fill(INSERT_ROW).join(", ")}`, values });
  }
}

/** Where the seq is among an INSERT row's values. */
const SEQ_COLUMN = EVENT_COLUMNS.indexOf("seq");
/** One row of {@link insertReservedEvents}: every value a placeholder, the seq counted back from LAST_INSERT_ID(). */
const INSERT_ROW = `(${[...EVENT_COLUMNS, "search_text"].map((column) => (column === "seq" ? "LAST_INSERT_ID() - ?" : "?")).join(", ")})`;
