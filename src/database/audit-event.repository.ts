import { ActorKind } from "../events/audit-event.enums";
import type { AuditEventRecord } from "../events/audit-event.record";
import { AuditEventRow, CUSTOMER_LOG_TABLE, EVENT_COLUMNS, insertValues, READ_EVENT_COLUMNS, recordFromRow, SELECT_EVENT_COLUMNS } from "./audit-event.storage";
import type { ConversationEntry } from "./conversation.repository";
import type { CheckExpression } from "./customer.repository";
import type { EntryIds } from "./directory-entries.repository";
import { BatchedTransaction, Queryable, runStatements } from "./statements";
import type { QueryRunner } from "typeorm";
import type { UserEntry } from "./user.repository";
import { BoundedMap } from "../common/bounded-map";

/**
 * `audit_events`: the statements of the write path, the logs' pages, the
 * live tail's reads in seq order, and the read of one event; and
 * `customer_log_entries`, the customer logs' own index of those events.
 *
 * Rows of `audit_events` are only ever inserted: the database refuses an
 * UPDATE, and a DELETE outside the purge (see the AppendOnlyEvents
 * migration).
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
    `SELECT ${columnsOf(EVENT)}, ${currentEntryColumns()} FROM audit_events AS ${EVENT} ${currentEntryJoins(EVENT)} WHERE ${EVENT}.id = ? AND ${EVENT}.workspace_id = ?`,
    [id, workspaceId],
  )) as EventWithEntriesRow[];
  return rows.length > 0 ? recordWithEntries(rows[0], workspaceId) : null;
}

/*
 * The directory's entries for what an event mentions: the acting user, the
 * conversation and the customer the directory ties it to, the event's
 * customer, and the user the action applied to. An event read by id, and a
 * search's page, join them by primary key in the statement that reads the
 * events. A log's page reads instead the workspace's last seq, and takes
 * the entries from a DirectoryEntrySource, which keeps them in memory for
 * that version of the directory (see {@link findEventPage}): either way as
 * the directory holds them at that statement or later, whichever instance
 * recorded them.
 */

/** The alias of `audit_events` in a statement that joins the directory. */
const EVENT = "e";

/**
 * What a page's operation may show of its events beyond what every page
 * reads. A part no field of the operation can show is left out: the
 * directory's entry of the user the action applied to is not looked up, nor
 * are emails set. A search's page does not read its columns either (its
 * fields stay unset; a non-null field asked for regardless fails the
 * request rather than show a wrong value): each column less is less for the
 * database to send and the driver to parse, on every row. A log's page
 * reads every column once, into the rows it keeps ({@link KeptEventRows}),
 * so that any later page may show them.
 */
export interface EventParts {
  recordedAt: boolean;
  metadata: boolean;
  /** The user the action applied to, as the directory holds them now. */
  subjectUser: boolean;
  /** The email addresses of the acting user and of the user the action applied to, as the directory holds them now. */
  emails: boolean;
}

/** Every part: what an event read by id, or by the live tail, carries. */
export const EVERY_EVENT_PART: Readonly<EventParts> = { recordedAt: true, metadata: true, subjectUser: true, emails: true };

/** The event's columns that a part covers. */
const PART_COLUMNS: Partial<Record<string, keyof EventParts>> = { recorded_at: "recordedAt", metadata: "metadata" };

/**
 * SQL text that depends only on an alias and the parts, built once per pair:
 * every page would otherwise build the same select list and joins again.
 */
function builtOncePerParts(build: (alias: string, parts: Readonly<EventParts>) => string): (alias: string, parts?: Readonly<EventParts>) => string {
  const built = new Map<string, string>();
  return (alias, parts = EVERY_EVENT_PART) => {
    const key = `${alias}:${+parts.recordedAt}${+parts.metadata}${+parts.subjectUser}${+parts.emails}`;
    let text = built.get(key);
    if (text === undefined) built.set(key, (text = build(alias, parts)));
    return text;
  };
}

/**
 * Columns an event read with the directory's entries never carries: every
 * such statement reads one workspace, and the reader knows which (see
 * {@link recordWithEntries}); and no field shows the idempotency key, which
 * only recording compares.
 */
const NEVER_WITH_ENTRIES = new Set(["workspace_id", "idempotency_key"]);

/**
 * The event's columns with the given parts. A column no part asks for is not
 * in the list at all (rather than sent back as NULL): each column costs the
 * driver a definition to read per statement and a value to parse per row.
 * Nor are those of {@link NEVER_WITH_ENTRIES}.
 */
const columnsOf = builtOncePerParts((alias, parts) =>
  READ_EVENT_COLUMNS.filter((column) => {
    const part = PART_COLUMNS[column];
    return !NEVER_WITH_ENTRIES.has(column) && (part === undefined || parts[part]);
  })
    .map((column) => `${alias}.${column}`)
    .join(", "),
);

const currentEntryJoins = builtOncePerParts((event, parts) =>
  [
    `LEFT JOIN users AS actor_user ON actor_user.workspace_id = ${event}.workspace_id AND ${event}.actor_kind = '${ActorKind.USER}' AND actor_user.id = ${event}.actor_id`,
    `LEFT JOIN conversations AS conversation ON conversation.workspace_id = ${event}.workspace_id AND conversation.id = ${event}.conversation_id`,
    `LEFT JOIN customers AS conversation_customer ON conversation_customer.workspace_id = ${event}.workspace_id AND conversation_customer.id = conversation.customer_id`,
    `LEFT JOIN customers AS customer ON customer.workspace_id = ${event}.workspace_id AND customer.id = ${event}.customer_id`,
    ...(parts.subjectUser ? [`LEFT JOIN users AS subject_user ON subject_user.workspace_id = ${event}.workspace_id AND subject_user.id = ${event}.subject_user_id`] : []),
  ].join(" "),
);

/** The joined entries' columns (those of the parts asked for); a name is NOT NULL in its table, so a null name means no entry. */
const currentEntryColumns = (parts?: Readonly<EventParts>) => entryColumnsByParts("", parts);
const entryColumnsByParts = builtOncePerParts((_alias, parts) =>
  [
    "actor_user.name AS current_actor_name",
    ...(parts.emails ? ["actor_user.email AS current_actor_email"] : []),
    "conversation.id AS current_conversation_id",
    "conversation.subject AS current_conversation_subject",
    "conversation.customer_id AS current_conversation_customer_id",
    "conversation_customer.name AS current_conversation_customer_name",
    "customer.name AS current_customer_name",
    ...(parts.subjectUser ? ["subject_user.name AS current_subject_user_name"] : []),
    ...(parts.subjectUser && parts.emails ? ["subject_user.email AS current_subject_user_email"] : []),
  ].join(", "),
);

/**
 * A row read with the directory's entries: the event's columns but those of
 * {@link NEVER_WITH_ENTRIES} and of parts left out, and the entries' columns
 * of the parts asked for (see {@link columnsOf}).
 */
interface EventWithEntriesRow extends Omit<AuditEventRow, "workspace_id" | "idempotency_key" | "recorded_at" | "metadata"> {
  idempotency_key?: string;
  recorded_at?: Date;
  metadata?: AuditEventRow["metadata"];
  current_actor_name: string | null;
  current_actor_email?: string | null;
  current_conversation_id: string | null;
  current_conversation_subject: string | null;
  current_conversation_customer_id: string | null;
  current_conversation_customer_name: string | null;
  current_customer_name: string | null;
  current_subject_user_name?: string | null;
  current_subject_user_email?: string | null;
}

/** The event of a row of `workspaceId`'s, with the directory's entries it was read with. */
function recordWithEntries(row: EventWithEntriesRow, workspaceId: string): AuditEventRecord {
  const subjectUserName = row.current_subject_user_name ?? null;
  return recordWithCurrent(row, workspaceId, {
    actorUser: row.current_actor_name === null ? null : { name: row.current_actor_name, email: row.current_actor_email ?? null },
    conversation:
      row.current_conversation_id === null ? null : { id: row.current_conversation_id, subject: row.current_conversation_subject, customerId: row.current_conversation_customer_id },
    conversationCustomerName: row.current_conversation_customer_name,
    customerName: row.current_customer_name,
    subjectUser: subjectUserName === null ? null : { name: subjectUserName, email: row.current_subject_user_email ?? null },
    emails: true,
  });
}

/**
 * What the directory holds of what an event mentions, wherever it was read
 * from: null where it holds no entry, or where no field asked for shows it.
 */
interface CurrentEntries {
  /** The acting user's entry, when the actor is a user. */
  actorUser: { name: string; email: string | null } | null;
  conversation: ConversationEntry | null;
  /** The name of the customer the directory ties the conversation to. */
  conversationCustomerName: string | null;
  /** The name of the event's own customer. */
  customerName: string | null;
  subjectUser: { name: string; email: string | null } | null;
  /** Whether the users' emails are shown (else left null). */
  emails: boolean;
}

/** The event of a row of `workspaceId`'s, with the directory's current entries; the row itself is left as it is. */
function recordWithCurrent(row: KeptRow, workspaceId: string, current: CurrentEntries): AuditEventRecord {
  // A part left out leaves its fields unset; no field that could show them is asked for. Nor does a field show the idempotency key.
  const event = recordFromRow(row as Omit<AuditEventRow, "workspace_id">, workspaceId);
  const { actor } = event;
  const { actorUser, conversation, conversationCustomerName, customerName, subjectUser, emails } = current;
  if (actor.kind === ActorKind.USER && actor.id !== null) {
    actor.current = actorUser === null ? null : { id: actor.id, name: actorUser.name, email: emails ? actorUser.email : null };
  }
  const conversationCustomerId = conversation?.customerId ?? null;
  event.current = {
    conversation:
      conversation === null
        ? null
        : {
            id: conversation.id,
            subject: conversation.subject,
            customerId: conversationCustomerId,
            customer: conversationCustomerId === null || conversationCustomerName === null ? null : { id: conversationCustomerId, name: conversationCustomerName },
          },
    customer: row.customer_id === null || customerName === null ? null : { id: row.customer_id, name: customerName },
    subjectUser: row.subject_user_id === null || subjectUser === null ? null : { id: row.subject_user_id, name: subjectUser.name, email: emails ? subjectUser.email : null },
  };
  return event;
}

/** The workspace's stored events whose key the database takes for one of `keys` (each carries its own key as stored). */
export function findEventsByKeys(transaction: BatchedTransaction, workspaceId: string, keys: readonly string[]): Promise<StoredEvent[]> {
  return transaction.read(
    { sql: `SELECT ${SELECT_EVENT_COLUMNS}, content_hash FROM audit_events WHERE workspace_id = ? AND idempotency_key IN (?)`, values: [workspaceId, keys] },
    (rows) => (rows as (AuditEventRow & { content_hash: Buffer })[]).map((row) => ({ event: recordFromRow(row, row.workspace_id), contentHash: Buffer.from(row.content_hash) })),
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

/**
 * Files each conversation's earlier events that were recorded without a
 * customer in the log of the customer the conversation now has: `ties` pairs
 * a conversation's id with its first customer's. An event already filed
 * stays where it is.
 */
export function tieEventsToCustomers(transaction: BatchedTransaction, workspaceId: string, ties: ReadonlyArray<readonly [string, string]>): void {
  if (ties.length === 0) return;
  transaction.add({
    sql: `INSERT INTO ${CUSTOMER_LOG_TABLE} (workspace_id, seq, customer_id, occurred_at)
     SELECT e.workspace_id, e.seq, CASE e.conversation_id ${ties.map(() => "WHEN ? THEN ?").join(" ")} END, e.occurred_at FROM audit_events AS e
     WHERE e.workspace_id = ? AND e.conversation_id IN (?) AND e.customer_id IS NULL
       AND NOT EXISTS (SELECT 1 FROM ${CUSTOMER_LOG_TABLE} AS filed WHERE filed.workspace_id = e.workspace_id AND filed.seq = e.seq)`,
    values: [...ties.flat(), workspaceId, ties.map(([id]) => id)],
  });
}

/**
 * Inserts new events whose seqs the workspace repository's `reserveSeqs`
 * has just taken, in the same round trip, and files those with a customer
 * in that customer's log: the last event takes the last seq reserved, each
 * one before it the seq before. The seq column counts back from the
 * session's LAST_INSERT_ID(), which the reservation set (inserting into
 * tables without AUTO_INCREMENT leaves it as it is).
 */
export function insertReservedEvents(transaction: BatchedTransaction, events: readonly AuditEventRecord[], contentHashOf: (position: number) => Buffer): void {
  for (let start = 0; start < events.length; start += INSERT_CHUNK) {
    const end = Math.min(events.length, start + INSERT_CHUNK);
    const values: unknown[] = [];
    const entries: unknown[] = [];
    for (let position = start; position < end; position++) {
      const event = events[position];
      const seqBack = events.length - 1 - position;
      const row = insertValues(event, contentHashOf(position));
      row[SEQ_COLUMN] = seqBack;
      for (const value of row) values.push(value);
      if (event.customerId !== null) entries.push(event.workspaceId, seqBack, event.customerId, event.occurredAt);
    }
    transaction.add({ sql: `INSERT INTO audit_events (${EVENT_COLUMNS.join(", ")}, search_text) VALUES ${new Array(end - start).fill(INSERT_ROW).join(", ")}`, values });
    if (entries.length > 0) {
      const rows = new Array(entries.length / 4).fill(ENTRY_ROW).join(", ");
      transaction.add({ sql: `INSERT INTO ${CUSTOMER_LOG_TABLE} (workspace_id, seq, customer_id, occurred_at) VALUES ${rows}`, values: entries });
    }
  }
}

/** Where the seq is among an INSERT row's values. */
const SEQ_COLUMN = EVENT_COLUMNS.indexOf("seq");
/** One row of {@link insertReservedEvents}: every value a placeholder, the seq counted back from LAST_INSERT_ID(). */
const INSERT_ROW = `(${[...EVENT_COLUMNS, "search_text"].map((column) => (column === "seq" ? "LAST_INSERT_ID() - ?" : "?")).join(", ")})`;
/** One row of the customer log's entries, its seq counted back as the event's. */
const ENTRY_ROW = "(?, LAST_INSERT_ID() - ?, ?, ?)";

/** A place in a log, newest first: the events after it are older, or as old with a lower seq. */
export interface KeysetPosition {
  occurredAt: Date;
  seq: number;
}

/** A column a page compares, and the values it may equal: one, or any of several (the customers a name covers). */
export interface ColumnCondition {
  readonly column: string;
  /** The column's table, when it is not `audit_events`: the customer log's entries. */
  readonly table?: typeof CUSTOMER_LOG_TABLE;
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
  /** What the page's events must carry besides what every page reads; absent: every part. */
  parts?: Readonly<EventParts>;
  /** A premise the page's conditions rest on, tested in the page's own statement (see {@link EventPage.premiseHeld}); absent: none. */
  premise?: CheckExpression;
}

/** The directory's entries of a page's events, by id; null: the directory holds none. */
export interface DirectoryEntryLookup {
  user(id: string): UserEntry | null;
  customerName(id: string): string | null;
  conversation(id: string): ConversationEntry | null;
}

/**
 * Entries of the directory kept outside the page's statement (see
 * `directory/entry-cache.ts`). `version` is the workspace's last seq as the
 * page's statement read it: the entries given are the directory's at that
 * version or later, read through `database` where not kept.
 */
export interface DirectoryEntrySource {
  entriesFor(database: Queryable, workspaceId: string, version: number, ids: EntryIds): Promise<DirectoryEntryLookup>;
}

/** The workspace's last seq, read in a page's statement (the subquery reads one row, once). */
const DIRECTORY_VERSION = "(SELECT last_seq FROM workspaces WHERE id = ?) AS directory_version";

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
  /**
   * Whether the query's premise held in the snapshot the page was read in;
   * undefined without a premise, or when the page read no row to carry it.
   */
  premiseHeld?: boolean;
}

/** A keyset index: the columns it holds after workspace_id and before (occurred_at, seq), in its table. */
interface KeysetIndex {
  name: string;
  table: typeof CUSTOMER_LOG_TABLE | undefined;
  columns: readonly string[];
}

/**
 * The keyset indexes, the most selective first: a page scans the first
 * whose columns its conditions all fix. All are of `audit_events` but the
 * customer log's, which is of its entries (see `CUSTOMER_LOG_TABLE`).
 */
const PAGE_INDEXES: readonly KeysetIndex[] = [
  { name: "ix_customer_log_entries_log", table: CUSTOMER_LOG_TABLE, columns: ["customer_id"] },
  { name: "ix_audit_events_customer_type", table: undefined, columns: ["customer_id", "type"] },
  { name: "ix_audit_events_conversation", table: undefined, columns: ["conversation_id"] },
  { name: "ix_audit_events_section", table: undefined, columns: ["settings_section"] },
  { name: "ix_audit_events_type_actor", table: undefined, columns: ["type", "actor_kind", "actor_id"] },
  { name: "ix_audit_events_actor", table: undefined, columns: ["actor_kind", "actor_id"] },
  { name: "ix_audit_events_time", table: undefined, columns: [] },
];

/** The alias of the customer log's entries in a statement that reads them. */
const ENTRY = "entry";
const aliasOf = (table: typeof CUSTOMER_LOG_TABLE | undefined) => (table === undefined ? EVENT : ENTRY);
const qualified = (table: typeof CUSTOMER_LOG_TABLE | undefined, column: string) => `${aliasOf(table)}.${column}`;

/** What a page's statement reads from: the FROM clause, and the alias whose (workspace_id, occurred_at, seq) the keyset compares. */
interface ScanSource {
  from: string;
  position: string;
}

/**
 * `audit_events`, or the customer log's entries joined to it, with the
 * index named when `hinted`: the entries are read first, in index order, and
 * each joins its event by primary key (STRAIGHT_JOIN), so that a page stops
 * at its limit.
 */
function sourceOf(index: KeysetIndex, hinted: boolean): ScanSource {
  const hint = hinted ? ` FORCE INDEX (${index.name})` : "";
  if (index.table === undefined) return { from: `audit_events AS ${EVENT}${hint}`, position: EVENT };
  return {
    from: `${index.table} AS ${ENTRY}${hint} STRAIGHT_JOIN audit_events AS ${EVENT} ON ${EVENT}.workspace_id = ${ENTRY}.workspace_id AND ${EVENT}.seq = ${ENTRY}.seq`,
    position: ENTRY,
  };
}

/** One SELECT on one index, with its WHERE conditions. */
interface ScanPart {
  conditions: string[];
  params: unknown[];
}

/**
 * One page of a log, with the directory's entries for what its events
 * mention. Every page is a keyset scan, newest first, on an index whose
 * equality columns the conditions fix and that ends in (occurred_at, seq):
 * no OFFSET, no filesort. The page's statement reads where each event is
 * and which it is (seq, id, occurred_at), with the workspace's last seq;
 * the events' rows come from `rows`, and those it does not keep are read by
 * primary key in one more statement; `entries` gives the directory's
 * entries at that version or later. One row past the page tells whether
 * older events follow. A condition with no value covers no event: such a
 * page is empty without asking.
 */
export async function findEventPage(database: Queryable, query: EventPageQuery, entries: DirectoryEntrySource, rows: KeptEventRows): Promise<EventPage> {
  const statement = eventPageKeysStatement(query);
  if (!statement) return { events: [], hasMore: false };
  const keys = (await database.query(statement.sql, statement.params)) as PageKeyRow[];
  const shown = keys.length > query.size ? keys.slice(0, query.size) : keys;
  const hasMore = keys.length > query.size;
  const premiseHeld = query.premise && keys.length > 0 ? Number(keys[0].premise_held) === 1 : undefined;
  const page = await rows.rowsOf(database, query.workspaceId, shown);
  if (page.length === 0) return { events: [], hasMore, premiseHeld };
  const parts = query.parts ?? EVERY_EVENT_PART;
  const lookup = await keptEntriesOf(database, query.workspaceId, Number(keys[0].directory_version ?? 0), page, entries, parts);
  return { events: page.map((row) => recordWithKeptEntries(row, query.workspaceId, lookup, parts)), hasMore, premiseHeld };
}

/** The statement {@link findEventPage} sends first; null when it sends none. */
export function eventPageKeysStatement(query: EventPageQuery): PageStatement | null {
  return eventPageStatement(query, EVENT_KEYS);
}

/** What a page's statement reads of each event: where it is in the log, and which event it is; with the directory's version. */
const EVENT_KEYS: RowShape = { eventColumns: (alias) => `${alias}.seq, ${alias}.id, ${alias}.occurred_at`, entries: null, version: true };

/** A row of a page's statement: an event's keys, and what rides on every row. */
interface PageKeyRow {
  seq: number | string;
  id: string;
  occurred_at: Date;
  directory_version?: number | string | null;
  premise_held?: number | string | null;
}

/** An event's row as {@link KeptEventRows} keeps it: every column a page may show, of every part. */
export type KeptRow = Omit<EventWithEntriesRow, `current_${string}`>;

/** Rows kept across all workspaces. @default 20000 */
export const DEFAULT_MAX_KEPT_ROWS = 20_000;

/**
 * Events' rows that pages showed, kept in memory by workspace and seq, so
 * that a page's statement reads only the keys of its events and the driver
 * parses only those: the rows' other columns (descriptions, details,
 * changes) were most of what a page cost the driver, and, for a log whose
 * events lie apart (a conversation's), the database's reads of them.
 *
 * A stored event never changes: the database refuses an UPDATE of
 * `audit_events` (see the AppendOnlyEvents migration), and the purge deletes
 * whole workspaces, whose events then no page's statement finds. A row is
 * kept with its event's id, and served only for that id: a workspace
 * recorded anew from seq 1 (the demo's reset) takes new ids. A row changed
 * around the database's refusal (its trigger dropped) shows once its kept
 * copy is dropped; the Merkle log's verification reads the database and
 * names it either way (docs/integrity.md).
 *
 * Memory: at most `maxRows` rows across workspaces (about 1.2 KB of heap
 * each with the bench's events: about 25 MB at the default); past it the
 * rows kept first are dropped first.
 */
export class KeptEventRows {
  private readonly rows: BoundedMap<string, KeptRow>;

  constructor(
    /** Rows kept across all workspaces. @default DEFAULT_MAX_KEPT_ROWS */
    maxRows = DEFAULT_MAX_KEPT_ROWS,
  ) {
    this.rows = new BoundedMap(maxRows);
  }

  /** Rows kept now. */
  get size(): number {
    return this.rows.size;
  }

  /**
   * The rows of the events `keys` name, in their order; those not kept are
   * read in one statement and kept. The rows are shared between pages: read,
   * never changed. An event gone meanwhile (purged) is left out.
   */
  async rowsOf(database: Queryable, workspaceId: string, keys: readonly PageKeyRow[]): Promise<readonly KeptRow[]> {
    const found: (KeptRow | undefined)[] = keys.map((key) => {
      const row = this.rows.get(rowKey(workspaceId, key.seq));
      return row?.id === key.id ? row : undefined;
    });
    const missing = keys.filter((_key, position) => found[position] === undefined);
    if (missing.length > 0) {
      const read = await findRowsBySeqs(database, workspaceId, missing.map((key) => Number(key.seq)));
      const bySeq = new Map(read.map((row) => [Number(row.seq), row]));
      keys.forEach((key, position) => {
        const row = found[position] === undefined ? bySeq.get(Number(key.seq)) : undefined;
        if (row === undefined || row.id !== key.id) return;
        found[position] = row;
        this.rows.set(rowKey(workspaceId, key.seq), row);
      });
    }
    return found.filter((row) => row !== undefined);
  }
}

const rowKey = (workspaceId: string, seq: number | string) => `${workspaceId}\n${seq}`;

/** The workspace's events with these seqs, every column a page may show, by primary key, in no order. */
async function findRowsBySeqs(database: Queryable, workspaceId: string, seqs: readonly number[]): Promise<KeptRow[]> {
  return (await database.query(keptRowsStatement, [workspaceId, seqs])) as KeptRow[];
}

/** The statement {@link KeptEventRows} reads the rows it lacks with. */
export const keptRowsStatement = `SELECT ${columnsOf(EVENT)} FROM audit_events AS ${EVENT} WHERE ${EVENT}.workspace_id = ? AND ${EVENT}.seq IN (?)`;

/** The directory's entries of what `rows` mention (the users' only of the parts asked for), from `source`, at `version` (the workspace's last seq, as the page's statement read it). */
function keptEntriesOf(
  database: Queryable,
  workspaceId: string,
  version: number,
  rows: readonly KeptRow[],
  source: DirectoryEntrySource,
  parts: Readonly<EventParts>,
): Promise<DirectoryEntryLookup> {
  const users = new Set<string>();
  const customers = new Set<string>();
  const conversations = new Set<string>();
  for (const row of rows) {
    if (row.actor_kind === ActorKind.USER && row.actor_id !== null) users.add(row.actor_id);
    if (parts.subjectUser && row.subject_user_id !== null) users.add(row.subject_user_id);
    if (row.customer_id !== null) customers.add(row.customer_id);
    if (row.conversation_id !== null) conversations.add(row.conversation_id);
  }
  return source.entriesFor(database, workspaceId, version, { users: [...users], customers: [...customers], conversations: [...conversations] });
}

/** The event of a kept row of `workspaceId`'s, with the directory's entries from `entries`: what {@link recordWithEntries} makes of a row that joined them. */
function recordWithKeptEntries(row: KeptRow, workspaceId: string, entries: DirectoryEntryLookup, parts: Readonly<EventParts>): AuditEventRecord {
  const conversation = row.conversation_id === null ? null : entries.conversation(row.conversation_id);
  return recordWithCurrent(row, workspaceId, {
    actorUser: row.actor_kind === ActorKind.USER && row.actor_id !== null ? entries.user(row.actor_id) : null,
    conversation,
    conversationCustomerName: conversation?.customerId ? entries.customerName(conversation.customerId) : null,
    customerName: row.customer_id === null ? null : entries.customerName(row.customer_id),
    subjectUser: parts.subjectUser && row.subject_user_id !== null ? entries.user(row.subject_user_id) : null,
    emails: parts.emails,
  });
}

/** What a statement reads of each event: columns of `audit_events`, and the parts the directory's entries join for (null: none join). */
interface RowShape {
  eventColumns(alias: string): string;
  entries: Readonly<EventParts> | null;
  /** Whether each row carries the directory's version, which the entries kept for a page must be of (see DirectoryEntrySource). */
  version?: boolean;
}

/** The event with the given parts, and the directory's entries for what it mentions. */
function wholeEvent(parts: Readonly<EventParts> = EVERY_EVENT_PART): RowShape {
  return { eventColumns: (alias) => columnsOf(alias, parts), entries: parts };
}

/** What search checks an event by: its position and its words. */
const SEARCH_TERMS: RowShape = { eventColumns: (alias) => `${alias}.seq, ${alias}.occurred_at, ${alias}.search_text`, entries: null };

const selectList = (shape: RowShape, alias: string) => (shape.entries ? `${shape.eventColumns(alias)}, ${currentEntryColumns(shape.entries)}` : shape.eventColumns(alias));
const joinsFor = (shape: RowShape, alias: string) => (shape.entries ? ` ${currentEntryJoins(alias, shape.entries)}` : "");

/**
 * A keyset scan of a page's log reading `shape` of each event (one more
 * row than the page, to tell whether older events follow): the statement
 * {@link findEventPage} sends first, and search's scans; null when it sends
 * none. The index is named in the SQL so that the plan does not depend on
 * the optimizer's statistics.
 */
function eventPageStatement(query: EventPageQuery, shape: RowShape, limit = query.size + 1): PageStatement | null {
  const index = pageIndexFor(query.conditions);
  const { from, position } = sourceOf(index, true);
  const parts = scanParts(query.workspaceId, query.conditions, position).map((part) => withRangeAndPosition(part, query, position));
  if (parts.length === 0) return null;
  const where = (part: ScanPart) => part.conditions.join(" AND ");
  const newestFirst = (alias: string) => `ORDER BY ${alias}.occurred_at DESC, ${alias}.seq DESC`;
  const { premise } = query;
  const versioned = shape.version === true;
  const rowColumns = (alias: string) => (versioned ? `${shape.eventColumns(alias)}, ${DIRECTORY_VERSION}` : shape.eventColumns(alias));
  // The version and the premise ride on every row of the page; their parameters come first, as their expressions do.
  const premiseColumn = premise ? `, ${premise.sql} AS premise_held` : "";
  const columnParams = [...(versioned ? [query.workspaceId] : []), ...(premise ? premise.params : [])];
  if (parts.length === 1) {
    const [part] = parts;
    const sql = `SELECT ${rowColumns(EVENT)}${premiseColumn} FROM ${from} WHERE ${where(part)} ${newestFirst(position)} LIMIT ?`;
    return { sql, params: [...columnParams, ...part.params, limit], index: index.name };
  }
  // Several values of one column: each is a keyset scan of its own, merged over at most limit rows each.
  const scan = (part: ScanPart) => `(SELECT ${shape.eventColumns(EVENT)} FROM ${from} WHERE ${where(part)} ${newestFirst(position)} LIMIT ?)`;
  const merged = `SELECT * FROM (${parts.map(scan).join(" UNION ALL ")}) AS merged ${newestFirst("merged")} LIMIT ?`;
  const sql = `SELECT ${rowColumns("page")}${premiseColumn} FROM (${merged}) AS page ${newestFirst("page")}`;
  return { sql, params: [...columnParams, ...parts.flatMap((part) => [...part.params, limit]), limit], index: index.name };
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
  const { from, conditions, params } = filterConditions(query);
  const rows = (await database.query(
    `SELECT ${selectList(SEARCH_TERMS, EVENT)} FROM ${from} WHERE ${conditions.join(" AND ")} AND ${EVENT}.seq > ? ORDER BY ${EVENT}.seq LIMIT ?`,
    [...params, afterSeq, limit],
  )) as SearchTextRow[];
  return rows.map(searchTextOf);
}

/** The events among `seqs` that the page's log (conditions and range) shows, with their search text, in no order. */
export async function searchTextOfSeqs(database: Queryable, query: EventPageQuery, seqs: readonly number[]): Promise<EventSearchText[]> {
  if (seqs.length === 0) return [];
  const { from, conditions, params } = filterConditions({ ...query, after: null });
  const rows = (await database.query(`SELECT ${selectList(SEARCH_TERMS, EVENT)} FROM ${from} WHERE ${conditions.join(" AND ")} AND ${EVENT}.seq IN (?)`, [
    ...params,
    seqs,
  ])) as SearchTextRow[];
  return rows.map(searchTextOf);
}

/** The workspace's events with these seqs, with the given parts and the directory's entries, newest first. */
export async function findEventsBySeqs(database: Queryable, workspaceId: string, seqs: readonly number[], parts: Readonly<EventParts> = EVERY_EVENT_PART): Promise<AuditEventRecord[]> {
  if (seqs.length === 0) return [];
  const shape = wholeEvent(parts);
  const rows = (await database.query(
    `SELECT ${selectList(shape, EVENT)} FROM audit_events AS ${EVENT}${joinsFor(shape, EVENT)} WHERE ${EVENT}.workspace_id = ? AND ${EVENT}.seq IN (?) ORDER BY ${EVENT}.occurred_at DESC, ${EVENT}.seq DESC`,
    [workspaceId, seqs],
  )) as EventWithEntriesRow[];
  return rows.map((row) => recordWithEntries(row, workspaceId));
}

/** The page's source (not hinted), and its conditions, range and position as one conjunction, a condition of several values as IN. */
function filterConditions(query: EventPageQuery): ScanPart & { from: string } {
  const { from, position } = sourceOf(pageIndexFor(query.conditions), false);
  const base: ScanPart = { conditions: [`${position}.workspace_id = ?`], params: [query.workspaceId] };
  for (const condition of query.conditions) {
    if (condition.values.length === 0) return { from, conditions: ["FALSE"], params: [] };
    base.conditions.push(`${qualified(condition.table, condition.column)} IN (?)`);
    base.params.push(condition.values);
  }
  return { from, ...withRangeAndPosition(base, query, position) };
}

function pageIndexFor(conditions: readonly ColumnCondition[]): KeysetIndex {
  const fixed = new Set(conditions.map((condition) => qualified(condition.table, condition.column)));
  return PAGE_INDEXES.find((index) => index.columns.every((column) => fixed.has(qualified(index.table, column))))!;
}

/** The conditions as keyset scans: one, or for a condition of several values, one per value (each an equality the index can seek), in value order. */
function scanParts(workspaceId: string, conditions: readonly ColumnCondition[], position: string): ScanPart[] {
  let parts: ScanPart[] = [{ conditions: [`${position}.workspace_id = ?`], params: [workspaceId] }];
  for (const condition of conditions) {
    const comparison = `${qualified(condition.table, condition.column)} = ?`;
    const values = condition.values.length === 1 ? condition.values : [...condition.values].sort();
    parts = parts.flatMap((part) => values.map((value) => ({ conditions: [...part.conditions, comparison], params: [...part.params, value] })));
  }
  return parts;
}

/** The part with the page's range and keyset position, compared on `position`'s columns (those of the scanned index). */
function withRangeAndPosition(part: ScanPart, query: EventPageQuery, position: string): ScanPart {
  const conditions = [...part.conditions];
  const params = [...part.params];
  const { from, to, after } = query;
  if (from) {
    conditions.push(`${position}.occurred_at >= ?`);
    params.push(from);
  }
  if (to) {
    conditions.push(`${position}.occurred_at < ?`);
    params.push(to);
  }
  if (after) {
    // Written out rather than as a row comparison, which MariaDB cannot range-scan.
    conditions.push(`(${position}.occurred_at < ? OR (${position}.occurred_at = ? AND ${position}.seq < ?))`);
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
  return rows.map((row) => recordFromRow(row, workspaceId));
}

/** Up to `limit` of the workspace's events with a seq from `fromSeq` to `toSeq`, in seq order. */
export async function findEventsInSeqRange(database: Queryable, workspaceId: string, fromSeq: number, toSeq: number, limit: number): Promise<AuditEventRecord[]> {
  const rows = (await database.query(
    `SELECT ${SELECT_EVENT_COLUMNS} FROM audit_events WHERE workspace_id = ? AND seq BETWEEN ? AND ? ORDER BY seq LIMIT ?`,
    [workspaceId, fromSeq, toSeq, limit],
  )) as AuditEventRow[];
  return rows.map((row) => recordFromRow(row, workspaceId));
}

/** How many events the workspace holds; without one, all workspaces together. */
export async function countEvents(database: Queryable, workspaceId?: string): Promise<number> {
  const rows = (workspaceId
    ? await database.query(`SELECT COUNT(*) AS n FROM audit_events WHERE workspace_id = ?`, [workspaceId])
    : await database.query(`SELECT COUNT(*) AS n FROM audit_events`)) as { n: number }[];
  return Number(rows[0].n);
}

/** What the database lets delete events: the purge's marker, set on the purge's own connection only while it deletes. */
const PURGE_MARKER_ON = { sql: "SET @audit_log_purge = 1", values: [] };
const PURGE_MARKER_OFF = "SET @audit_log_purge = NULL";

/** Deletes every event of the workspace, and its customer logs' entries, as the purge does (see the AppendOnlyEvents migration). */
export async function deleteEventsOfWorkspace(runner: QueryRunner, workspaceId: string): Promise<void> {
  try {
    await runStatements(runner, [
      PURGE_MARKER_ON,
      { sql: `DELETE FROM ${CUSTOMER_LOG_TABLE} WHERE workspace_id = ?`, values: [workspaceId] },
      { sql: `DELETE FROM audit_events WHERE workspace_id = ?`, values: [workspaceId] },
    ]);
  } finally {
    await runner.query(PURGE_MARKER_OFF);
  }
}
