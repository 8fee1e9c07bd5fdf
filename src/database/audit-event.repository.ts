import type { AuditEventRecord } from "../events/audit-event.record";
import { AuditEventRow, EVENT_COLUMNS, insertValues, recordFromRow, SELECT_EVENT_COLUMNS } from "./audit-event.storage";
import type { BatchedTransaction, Queryable } from "./statements";

/**
 * `audit_events`: the statements of the write path, the logs' pages, the
 * live tail's reads in seq order, and the read of one event.
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

/** A place in a log, newest first: the events after it are older, or as old with a lower seq. */
export interface KeysetPosition {
  occurredAt: Date;
  seq: number;
}

/** A column of `audit_events` a page compares, and the values it may equal: one, or any of several (the customers a name covers). */
export interface ColumnCondition {
  readonly column: string;
  readonly values: readonly string[];
}

/** What one page of a log asks for. */
export interface EventPageQuery {
  workspaceId: string;
  /** All hold for every event of the page. */
  conditions: readonly ColumnCondition[];
  /** Inclusive; null: no lower bound. */
  from: Date | null;
  /** Exclusive; null: no upper bound. */
  to: Date | null;
  /** A FULLTEXT boolean-mode expression, or null. */
  search: string | null;
  /** Where the page starts; null: at the newest event. */
  after: KeysetPosition | null;
  /** Events in the page. */
  size: number;
}

/** The one statement of a page, as sent. */
export interface PageStatement {
  sql: string;
  params: unknown[];
  /** The index the page scans (for each part, when it is a union); null when search decides. */
  index: string | null;
}

/** A page of events, newest first, and whether older ones follow. */
export interface EventPage {
  events: AuditEventRecord[];
  hasMore: boolean;
}

/**
 * The keyset indexes, each with the columns it holds after workspace_id and
 * before (occurred_at, seq), the most selective first: a page scans the
 * first whose columns its conditions all fix.
 */
const PAGE_INDEXES: readonly { name: string; columns: readonly string[] }[] = [
  { name: "ix_audit_events_customer_type", columns: ["customer_id", "type"] },
  { name: "ix_audit_events_customer", columns: ["customer_id"] },
  { name: "ix_audit_events_conversation", columns: ["conversation_id"] },
  { name: "ix_audit_events_section", columns: ["settings_section"] },
  { name: "ix_audit_events_type_actor", columns: ["type", "actor_kind", "actor_id"] },
  { name: "ix_audit_events_actor", columns: ["actor_kind", "actor_id"] },
  { name: "ix_audit_events_time", columns: [] },
];

const NEWEST_FIRST = "ORDER BY occurred_at DESC, seq DESC";

/** One SELECT on one index, with its WHERE conditions. */
interface ScanPart {
  conditions: string[];
  params: unknown[];
}

/**
 * One page of a log. Every page is a keyset scan, newest first, on an index
 * whose equality columns the conditions fix and that ends in
 * (occurred_at, seq): no OFFSET, no filesort. One row past the page tells
 * whether older events follow. A condition with no value covers no event:
 * such a page is empty without asking.
 */
export async function findEventPage(database: Queryable, query: EventPageQuery): Promise<EventPage> {
  const statement = eventPageStatement(query);
  if (!statement) return { events: [], hasMore: false };
  const rows = (await database.query(statement.sql, statement.params)) as AuditEventRow[];
  const events = (rows.length > query.size ? rows.slice(0, query.size) : rows).map(recordFromRow);
  return { events, hasMore: rows.length > query.size };
}

/**
 * The statement {@link findEventPage} sends; null when it sends none. The
 * index is named in the SQL so that the plan does not depend on the
 * optimizer's statistics.
 */
export function eventPageStatement(query: EventPageQuery): PageStatement | null {
  // The FULLTEXT index finds the matches; the other conditions then narrow them.
  const index = query.search ? null : pageIndexFor(query.conditions);
  const parts = scanParts(query.workspaceId, query.conditions).map((part) => withRangeAndPosition(part, query));
  if (parts.length === 0) return null;
  const limit = query.size + 1;
  const select = (part: ScanPart) => {
    const hint = index ? ` FORCE INDEX (${index})` : "";
    return `SELECT ${SELECT_EVENT_COLUMNS} FROM audit_events${hint} WHERE ${part.conditions.join(" AND ")} ${NEWEST_FIRST} LIMIT ?`;
  };
  if (parts.length === 1) {
    const [part] = parts;
    return { sql: select(part), params: [...part.params, limit], index };
  }
  // Several values of one column: each is a keyset scan of its own, merged over at most limit rows each.
  const sql = `SELECT * FROM (${parts.map((part) => `(${select(part)})`).join(" UNION ALL ")}) AS page ${NEWEST_FIRST} LIMIT ?`;
  return { sql, params: [...parts.flatMap((part) => [...part.params, limit]), limit], index };
}

function pageIndexFor(conditions: readonly ColumnCondition[]): string {
  const fixed = new Set(conditions.map((condition) => condition.column));
  return PAGE_INDEXES.find((index) => index.columns.every((column) => fixed.has(column)))!.name;
}

/** The conditions as keyset scans: one, or for a condition of several values, one per value (each an equality the index can seek), in value order. */
function scanParts(workspaceId: string, conditions: readonly ColumnCondition[]): ScanPart[] {
  let parts: ScanPart[] = [{ conditions: ["workspace_id = ?"], params: [workspaceId] }];
  for (const condition of conditions) {
    const comparison = `${condition.column} = ?`;
    const values = condition.values.length === 1 ? condition.values : [...condition.values].sort();
    parts = parts.flatMap((part) => values.map((value) => ({ conditions: [...part.conditions, comparison], params: [...part.params, value] })));
  }
  return parts;
}

function withRangeAndPosition(part: ScanPart, query: EventPageQuery): ScanPart {
  const conditions = [...part.conditions];
  const params = [...part.params];
  const { from, to, after, search } = query;
  if (from) {
    conditions.push("occurred_at >= ?");
    params.push(from);
  }
  if (to) {
    conditions.push("occurred_at < ?");
    params.push(to);
  }
  if (after) {
    // Written out rather than as a row comparison, which MariaDB cannot range-scan.
    conditions.push("(occurred_at < ? OR (occurred_at = ? AND seq < ?))");
    params.push(after.occurredAt, after.occurredAt, after.seq);
  }
  if (search) {
    conditions.push("MATCH (search_text) AGAINST (? IN BOOLEAN MODE)");
    params.push(search);
  }
  return { conditions, params };
}

/** Up to `limit` of the workspace's events after seq `afterSeq`, in seq order; only the conversation's, given one. */
export async function findEventsAfterSeq(
  database: Queryable,
  workspaceId: string,
  afterSeq: number,
  limit: number,
  conversationId: string | null = null,
): Promise<AuditEventRecord[]> {
  const rows = (await (conversationId === null
    ? database.query(`SELECT ${SELECT_EVENT_COLUMNS} FROM audit_events WHERE workspace_id = ? AND seq > ? ORDER BY seq LIMIT ?`, [workspaceId, afterSeq, limit])
    : database.query(`SELECT ${SELECT_EVENT_COLUMNS} FROM audit_events WHERE workspace_id = ? AND conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?`, [
        workspaceId,
        conversationId,
        afterSeq,
        limit,
      ]))) as AuditEventRow[];
  return rows.map(recordFromRow);
}

/** Up to `limit` of the workspace's events with a seq from `fromSeq` to `toSeq`, in seq order. */
export async function findEventsInSeqRange(database: Queryable, workspaceId: string, fromSeq: number, toSeq: number, limit: number): Promise<AuditEventRecord[]> {
  const rows = (await database.query(
    `SELECT ${SELECT_EVENT_COLUMNS} FROM audit_events WHERE workspace_id = ? AND seq BETWEEN ? AND ? ORDER BY seq LIMIT ?`,
    [workspaceId, fromSeq, toSeq, limit],
  )) as AuditEventRow[];
  return rows.map(recordFromRow);
}

/** How many events the workspace holds; without one, all workspaces together. */
export async function countEvents(database: Queryable, workspaceId?: string): Promise<number> {
  const rows = (workspaceId
    ? await database.query(`SELECT COUNT(*) AS n FROM audit_events WHERE workspace_id = ?`, [workspaceId])
    : await database.query(`SELECT COUNT(*) AS n FROM audit_events`)) as { n: number }[];
  return Number(rows[0].n);
}

/** Deletes every event of the workspace. */
export async function deleteEventsOfWorkspace(database: Queryable, workspaceId: string): Promise<void> {
  await database.query(`DELETE FROM audit_events WHERE workspace_id = ?`, [workspaceId]);
}
