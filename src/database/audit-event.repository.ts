import { ActorKind } from "../events/audit-event.enums";
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

/** One event of the workspace by id, with the directory's entries for what it mentions, or null. */
export async function findEventById(database: Queryable, workspaceId: string, id: string): Promise<AuditEventRecord | null> {
  const rows = (await database.query(
    `SELECT ${columnsOf(EVENT)}, ${CURRENT_ENTRY_COLUMNS} FROM audit_events AS ${EVENT} ${currentEntryJoins(EVENT)} WHERE ${EVENT}.id = ? AND ${EVENT}.workspace_id = ?`,
    [id, workspaceId],
  )) as EventWithEntriesRow[];
  return rows.length > 0 ? recordWithEntries(rows[0]) : null;
}

/*
 * The directory's entries for what an event mentions, joined to the event by
 * primary key in the statement that reads it: the acting user, the
 * conversation and the customer the directory ties it to, the event's
 * customer, and the user the action applied to. A page of a log thus reads
 * the names it shows in its one statement, always as the directory holds
 * them at that moment, whichever instance recorded them.
 */

/** The alias of `audit_events` in a statement that joins the directory. */
const EVENT = "e";

function columnsOf(alias: string): string {
  return EVENT_COLUMNS.map((column) => `${alias}.${column}`).join(", ");
}

function currentEntryJoins(event: string): string {
  return [
    `LEFT JOIN users AS actor_user ON actor_user.workspace_id = ${event}.workspace_id AND ${event}.actor_kind = '${ActorKind.USER}' AND actor_user.id = ${event}.actor_id`,
    `LEFT JOIN conversations AS conversation ON conversation.workspace_id = ${event}.workspace_id AND conversation.id = ${event}.conversation_id`,
    `LEFT JOIN customers AS conversation_customer ON conversation_customer.workspace_id = ${event}.workspace_id AND conversation_customer.id = conversation.customer_id`,
    `LEFT JOIN customers AS customer ON customer.workspace_id = ${event}.workspace_id AND customer.id = ${event}.customer_id`,
    `LEFT JOIN users AS subject_user ON subject_user.workspace_id = ${event}.workspace_id AND subject_user.id = ${event}.subject_user_id`,
  ].join(" ");
}

/** The joined entries' columns; a name is NOT NULL in its table, so a null name means no entry. */
const CURRENT_ENTRY_COLUMNS = [
  "actor_user.name AS current_actor_name",
  "actor_user.email AS current_actor_email",
  "conversation.id AS current_conversation_id",
  "conversation.subject AS current_conversation_subject",
  "conversation.customer_id AS current_conversation_customer_id",
  "conversation_customer.name AS current_conversation_customer_name",
  "customer.name AS current_customer_name",
  "subject_user.name AS current_subject_user_name",
  "subject_user.email AS current_subject_user_email",
].join(", ");

interface EventWithEntriesRow extends AuditEventRow {
  current_actor_name: string | null;
  current_actor_email: string | null;
  current_conversation_id: string | null;
  current_conversation_subject: string | null;
  current_conversation_customer_id: string | null;
  current_conversation_customer_name: string | null;
  current_customer_name: string | null;
  current_subject_user_name: string | null;
  current_subject_user_email: string | null;
}

function recordWithEntries(row: EventWithEntriesRow): AuditEventRecord {
  const event = recordFromRow(row);
  const { actor } = event;
  if (actor.kind === ActorKind.USER && actor.id !== null) {
    actor.current = row.current_actor_name === null ? null : { id: actor.id, name: row.current_actor_name, email: row.current_actor_email };
  }
  const conversationCustomerId = row.current_conversation_customer_id;
  event.current = {
    conversation:
      row.current_conversation_id === null
        ? null
        : {
            id: row.current_conversation_id,
            subject: row.current_conversation_subject,
            customerId: conversationCustomerId,
            customer: conversationCustomerId === null || row.current_conversation_customer_name === null ? null : { id: conversationCustomerId, name: row.current_conversation_customer_name },
          },
    customer: row.customer_id === null || row.current_customer_name === null ? null : { id: row.customer_id, name: row.current_customer_name },
    subjectUser:
      row.subject_user_id === null || row.current_subject_user_name === null
        ? null
        : { id: row.subject_user_id, name: row.current_subject_user_name, email: row.current_subject_user_email },
  };
  return event;
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
  /** Where the page starts; null: at the newest event. */
  after: KeysetPosition | null;
  /** Events in the page. */
  size: number;
}

/** The one statement of a page, as sent. */
export interface PageStatement {
  sql: string;
  params: unknown[];
  /** The index the page scans (for each part, when it is a union). */
  index: string;
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

/** One SELECT on one index, with its WHERE conditions. */
interface ScanPart {
  conditions: string[];
  params: unknown[];
}

/**
 * One page of a log, with the directory's entries for what its events
 * mention. Every page is a keyset scan, newest first, on an index whose
 * equality columns the conditions fix and that ends in (occurred_at, seq):
 * no OFFSET, no filesort. Each event read joins its entries by primary key.
 * One row past the page tells whether older events follow. A condition with
 * no value covers no event: such a page is empty without asking.
 */
export async function findEventPage(database: Queryable, query: EventPageQuery): Promise<EventPage> {
  const statement = eventPageStatement(query);
  if (!statement) return { events: [], hasMore: false };
  const rows = (await database.query(statement.sql, statement.params)) as EventWithEntriesRow[];
  const events = (rows.length > query.size ? rows.slice(0, query.size) : rows).map(recordWithEntries);
  return { events, hasMore: rows.length > query.size };
}

/** What a statement reads of each event: columns of `audit_events`, and whether the directory's entries join. */
interface RowShape {
  eventColumns(alias: string): string;
  entries: boolean;
}

/** The whole event, with the directory's entries for what it mentions. */
const WHOLE_EVENT: RowShape = { eventColumns: columnsOf, entries: true };
/** What search checks an event by: its position and its words. */
const SEARCH_TERMS: RowShape = { eventColumns: (alias) => `${alias}.seq, ${alias}.occurred_at, ${alias}.search_text`, entries: false };

const selectList = (shape: RowShape, alias: string) => (shape.entries ? `${shape.eventColumns(alias)}, ${CURRENT_ENTRY_COLUMNS}` : shape.eventColumns(alias));
const joinsFor = (shape: RowShape, alias: string) => (shape.entries ? ` ${currentEntryJoins(alias)}` : "");

/**
 * The statement {@link findEventPage} sends (one more row than the page, to
 * tell whether older events follow); null when it sends none. The index is
 * named in the SQL so that the plan does not depend on the optimizer's
 * statistics.
 */
export function eventPageStatement(query: EventPageQuery, shape: RowShape = WHOLE_EVENT, limit = query.size + 1): PageStatement | null {
  const index = pageIndexFor(query.conditions);
  const hint = ` FORCE INDEX (${index})`;
  const parts = scanParts(query.workspaceId, query.conditions).map((part) => withRangeAndPosition(part, query));
  if (parts.length === 0) return null;
  const where = (part: ScanPart) => part.conditions.join(" AND ");
  const newestFirst = (alias: string) => `ORDER BY ${alias}.occurred_at DESC, ${alias}.seq DESC`;
  if (parts.length === 1) {
    // audit_events comes first in a LEFT JOIN: read in index order, it stops at the limit, and only those rows join.
    const [part] = parts;
    const sql = `SELECT ${selectList(shape, EVENT)} FROM audit_events AS ${EVENT}${hint}${joinsFor(shape, EVENT)} WHERE ${where(part)} ${newestFirst(EVENT)} LIMIT ?`;
    return { sql, params: [...part.params, limit], index };
  }
  // Several values of one column: each is a keyset scan of its own, merged over at most limit rows each; the page's rows then join.
  const scan = (part: ScanPart) => `(SELECT ${shape.eventColumns(EVENT)} FROM audit_events AS ${EVENT}${hint} WHERE ${where(part)} ${newestFirst(EVENT)} LIMIT ?)`;
  const merged = `SELECT * FROM (${parts.map(scan).join(" UNION ALL ")}) AS merged ${newestFirst("merged")} LIMIT ?`;
  const sql = `SELECT ${selectList(shape, "page")} FROM (${merged}) AS page${joinsFor(shape, "page")} ${newestFirst("page")}`;
  return { sql, params: [...parts.flatMap((part) => [...part.params, limit]), limit], index };
}

/** An event as search checks it: where it is in the log's order, and the text its terms come from. */
export interface EventSearchText {
  /** occurred_at, in milliseconds. */
  time: number;
  seq: number;
  searchText: string;
}

type SearchTextRow = { seq: number | string; occurred_at: Date; search_text: string };
const searchTextOf = (row: SearchTextRow): EventSearchText => ({ time: row.occurred_at.getTime(), seq: Number(row.seq), searchText: row.search_text });

/** Up to `limit` events of the page's log from its position on, newest first, with their search text. */
export async function scanSearchText(database: Queryable, query: EventPageQuery, limit: number): Promise<EventSearchText[]> {
  const statement = searchTextScanStatement(query, limit);
  if (!statement) return [];
  return ((await database.query(statement.sql, statement.params)) as SearchTextRow[]).map(searchTextOf);
}

/** The statement {@link scanSearchText} sends; null when it sends none. */
export function searchTextScanStatement(query: EventPageQuery, limit: number): PageStatement | null {
  return eventPageStatement(query, SEARCH_TERMS, limit);
}

/**
 * Up to `limit` events of the page's log (conditions, range and position)
 * with a seq after `afterSeq`, in seq order, with their search text.
 */
export async function searchTextAfterSeq(database: Queryable, query: EventPageQuery, afterSeq: number, limit: number): Promise<EventSearchText[]> {
  const { conditions, params } = filterConditions(query);
  const rows = (await database.query(
    `SELECT ${selectList(SEARCH_TERMS, EVENT)} FROM audit_events AS ${EVENT} WHERE ${conditions.join(" AND ")} AND ${EVENT}.seq > ? ORDER BY ${EVENT}.seq LIMIT ?`,
    [...params, afterSeq, limit],
  )) as SearchTextRow[];
  return rows.map(searchTextOf);
}

/** The events among `seqs` that the page's log (conditions and range) shows, with their search text, in no order. */
export async function searchTextOfSeqs(database: Queryable, query: EventPageQuery, seqs: readonly number[]): Promise<EventSearchText[]> {
  if (seqs.length === 0) return [];
  const { conditions, params } = filterConditions({ ...query, after: null });
  const rows = (await database.query(`SELECT ${selectList(SEARCH_TERMS, EVENT)} FROM audit_events AS ${EVENT} WHERE ${conditions.join(" AND ")} AND ${EVENT}.seq IN (?)`, [
    ...params,
    seqs,
  ])) as SearchTextRow[];
  return rows.map(searchTextOf);
}

/** The workspace's events with these seqs, whole, with the directory's entries, newest first. */
export async function findEventsBySeqs(database: Queryable, workspaceId: string, seqs: readonly number[]): Promise<AuditEventRecord[]> {
  if (seqs.length === 0) return [];
  const rows = (await database.query(
    `SELECT ${selectList(WHOLE_EVENT, EVENT)} FROM audit_events AS ${EVENT}${joinsFor(WHOLE_EVENT, EVENT)} WHERE ${EVENT}.workspace_id = ? AND ${EVENT}.seq IN (?) ORDER BY ${EVENT}.occurred_at DESC, ${EVENT}.seq DESC`,
    [workspaceId, seqs],
  )) as EventWithEntriesRow[];
  return rows.map(recordWithEntries);
}

/** The page's conditions, range and position as one conjunction, a condition of several values as IN. */
function filterConditions(query: EventPageQuery): ScanPart {
  const base: ScanPart = { conditions: [`${EVENT}.workspace_id = ?`], params: [query.workspaceId] };
  for (const condition of query.conditions) {
    if (condition.values.length === 0) return { conditions: ["FALSE"], params: [] };
    base.conditions.push(`${EVENT}.${condition.column} IN (?)`);
    base.params.push(condition.values);
  }
  return withRangeAndPosition(base, query);
}

function pageIndexFor(conditions: readonly ColumnCondition[]): string {
  const fixed = new Set(conditions.map((condition) => condition.column));
  return PAGE_INDEXES.find((index) => index.columns.every((column) => fixed.has(column)))!.name;
}

/** The conditions as keyset scans: one, or for a condition of several values, one per value (each an equality the index can seek), in value order. */
function scanParts(workspaceId: string, conditions: readonly ColumnCondition[]): ScanPart[] {
  let parts: ScanPart[] = [{ conditions: [`${EVENT}.workspace_id = ?`], params: [workspaceId] }];
  for (const condition of conditions) {
    const comparison = `${EVENT}.${condition.column} = ?`;
    const values = condition.values.length === 1 ? condition.values : [...condition.values].sort();
    parts = parts.flatMap((part) => values.map((value) => ({ conditions: [...part.conditions, comparison], params: [...part.params, value] })));
  }
  return parts;
}

function withRangeAndPosition(part: ScanPart, query: EventPageQuery): ScanPart {
  const conditions = [...part.conditions];
  const params = [...part.params];
  const { from, to, after } = query;
  if (from) {
    conditions.push(`${EVENT}.occurred_at >= ?`);
    params.push(from);
  }
  if (to) {
    conditions.push(`${EVENT}.occurred_at < ?`);
    params.push(to);
  }
  if (after) {
    // Written out rather than as a row comparison, which MariaDB cannot range-scan.
    conditions.push(`(${EVENT}.occurred_at < ? OR (${EVENT}.occurred_at = ? AND ${EVENT}.seq < ?))`);
    params.push(after.occurredAt, after.occurredAt, after.seq);
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
