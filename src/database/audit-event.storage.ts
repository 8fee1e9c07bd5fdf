import { randomBytes } from "node:crypto";
import { canonicalJson } from "../common/canonical-json";
import { sha256 } from "../common/sha256";
import { ActorKind, AuditEventType, SettingsSection } from "../events/audit-event.enums";
import type {
  AnyTargets,
  AuditEventRecord,
  CsatDetails,
  JsonValue,
  NewAuditEvent,
  SourceDetails,
  TargetsByType,
  WorkSessionDetails,
} from "../events/audit-event.record";
import { targetsOf } from "../events/audit-event.record";
import { termsOf } from "../search/search-terms";

/**
 * How an event maps to a row of `audit_events`: typed columns for what
 * filters, joins and indexes need, and the `details` JSON for the rest.
 */

/** The `details` column: names as recorded and the targets no query filters on. */
export interface StoredDetails {
  customer?: { name: string };
  conversation?: { subject: string | null };
  subjectUser?: { name: string; email: string | null };
  settings?: { objectId: string | null; objectName: string | null };
  workSession?: WorkSessionDetails;
  csat?: CsatDetails;
  source?: SourceDetails;
}

/** What {@link recordFromRow} rebuilds an event from: every column but the content hash and search_text. */
export interface AuditEventRow {
  workspace_id: string;
  seq: number;
  id: string;
  idempotency_key: string;
  type: AuditEventType;
  action: string;
  occurred_at: Date;
  recorded_at: Date;
  actor_kind: ActorKind;
  actor_id: string | null;
  actor_name: string;
  customer_id: string | null;
  conversation_id: string | null;
  subject_user_id: string | null;
  settings_section: SettingsSection | null;
  description: string;
  details: StoredDetails;
  changes: NewAuditEvent["changes"];
  metadata: JsonValue;
}

/** Columns in INSERT order; the row holds the same plus search_text. */
export const EVENT_COLUMNS = [
  "workspace_id",
  "seq",
  "id",
  "idempotency_key",
  "content_hash",
  "type",
  "action",
  "occurred_at",
  "recorded_at",
  "actor_kind",
  "actor_id",
  "actor_name",
  "customer_id",
  "conversation_id",
  "subject_user_id",
  "settings_section",
  "description",
  "details",
  "changes",
  "metadata",
] as const;

/**
 * A column that log filters compare (of `audit_events`, or of the customer
 * log's entries), and the same value read from an event record as it is
 * stored when the event is recorded: a page's SQL compares the column, a
 * tail's predicate the value (see `logs/log-filter.ts`).
 */
export interface EventField {
  readonly column: string;
  /** The table the column is in, when it is not `audit_events`. */
  readonly table?: typeof CUSTOMER_LOG_TABLE;
  read(event: AuditEventRecord): string | null;
}

/**
 * The events of each customer's log, apart from `audit_events`: an event on a
 * conversation joins the log of the conversation's first customer even when
 * that customer comes after the event, and an event row never changes.
 */
export const CUSTOMER_LOG_TABLE = "customer_log_entries";

export const EVENT_FIELDS = {
  type: { column: "type", read: (event) => event.type },
  actorKind: { column: "actor_kind", read: (event) => event.actor.kind },
  actorId: { column: "actor_id", read: (event) => event.actor.id },
  conversationId: { column: "conversation_id", read: (event) => (event.targets as Partial<AnyTargets>).conversation?.id ?? null },
  customerId: { column: "customer_id", read: (event) => event.customerId },
  /** The customer whose log holds the event: its customer when recorded, or its conversation's first customer, tied later. A live event has no later tie. */
  logCustomerId: { column: "customer_id", table: CUSTOMER_LOG_TABLE, read: (event) => event.customerId },
  settingsSection: { column: "settings_section", read: (event) => (event.targets as Partial<AnyTargets>).settings?.section ?? null },
} satisfies Record<string, EventField>;

/**
 * Columns for reading whole events: an {@link AuditEventRow}. The content
 * hash is left out: only the check of a repeated key compares it, and a
 * binary column costs a Buffer per row to read (a log's pages, the live
 * tail and the Merkle sequencer read events by the thousand).
 */
export const READ_EVENT_COLUMNS: readonly string[] = EVENT_COLUMNS.filter((column) => column !== "content_hash");
/** {@link READ_EVENT_COLUMNS} as a select list. */
export const SELECT_EVENT_COLUMNS = READ_EVENT_COLUMNS.join(", ");

/** Longest search_text kept: enough for every name and many changed values. */
const MAX_SEARCH_TEXT = 16_000;

/** The values of one INSERT row, in {@link EVENT_COLUMNS} order, then search_text. */
export function insertValues(event: AuditEventRecord, contentHash: Buffer): unknown[] {
  const targets = targetsOf(event);
  const details: StoredDetails = {};
  if (targets.customer) details.customer = { name: targets.customer.name };
  if (targets.conversation) details.conversation = { subject: targets.conversation.subject };
  if (targets.subjectUser) details.subjectUser = { name: targets.subjectUser.name, email: targets.subjectUser.email };
  if (targets.settings) details.settings = { objectId: targets.settings.objectId, objectName: targets.settings.objectName };
  if (targets.workSession) details.workSession = targets.workSession;
  if (targets.csat) details.csat = targets.csat;
  if (event.source) details.source = event.source;
  return [
    event.workspaceId,
    event.seq,
    event.id,
    event.idempotencyKey,
    contentHash,
    event.type,
    event.action,
    event.occurredAt,
    event.recordedAt,
    event.actor.kind,
    event.actor.id,
    event.actor.name,
    event.customerId,
    targets.conversation?.id ?? null,
    targets.subjectUser?.id ?? null,
    targets.settings?.section ?? null,
    event.description,
    JSON.stringify(details),
    JSON.stringify(event.changes),
    event.metadata === null ? null : JSON.stringify(event.metadata),
    searchText(event),
  ];
}

/** A row's columns but its workspace. */
type StoredColumns = Omit<AuditEventRow, "workspace_id">;

/**
 * Rebuilds the stored event from its row, of `workspaceId`'s (a statement that
 * reads one workspace's rows need not send their workspace back).
 */
export function recordFromRow(row: StoredColumns, workspaceId: string): AuditEventRecord {
  return {
    workspaceId,
    seq: Number(row.seq),
    id: row.id,
    idempotencyKey: row.idempotency_key,
    action: row.action,
    occurredAt: row.occurred_at,
    recordedAt: row.recorded_at,
    description: row.description,
    customerId: row.customer_id,
    actor: { kind: row.actor_kind, id: row.actor_id, name: row.actor_name },
    changes: row.changes,
    metadata: row.metadata ?? null,
    source: row.details.source ?? null,
    type: row.type,
    targets: targetsFromRow(row),
  } as AuditEventRecord;
}

/**
 * An event's targets as stored. Every object is built with its keys in sorted
 * order, the order of the canonical JSON its Merkle leaf is written in
 * (`integrity/event-leaf.ts`): the writer then has nothing to sort.
 */
function targetsFromRow(row: StoredColumns): TargetsByType[AuditEventType] {
  const details = row.details;
  switch (row.type) {
    case AuditEventType.AUTHORIZATION:
    case AuditEventType.BILLING:
      return { subjectUser: subjectUserFromRow(row) };
    case AuditEventType.CONVERSATION:
      return { conversation: conversationFromRow(row)!, csat: details.csat ?? null, customer: namedCustomerFromRow(row), subjectUser: subjectUserFromRow(row) };
    case AuditEventType.CUSTOMER:
      return { customer: { id: row.customer_id!, name: details.customer?.name ?? "" } };
    case AuditEventType.SETTINGS:
      return { settings: { objectId: details.settings?.objectId ?? null, objectName: details.settings?.objectName ?? null, section: row.settings_section! } };
    case AuditEventType.WORK_SESSION:
      return {
        conversation: conversationFromRow(row),
        customer: namedCustomerFromRow(row),
        subjectUser: subjectUserFromRow(row),
        workSession: details.workSession ?? null,
      };
  }
}

/** Only a customer the event itself named; a customer taken from the directory is in customer_id alone. */
function namedCustomerFromRow(row: StoredColumns) {
  return row.customer_id && row.details.customer ? { id: row.customer_id, name: row.details.customer.name } : null;
}

function subjectUserFromRow(row: StoredColumns) {
  const recorded = row.details.subjectUser;
  return row.subject_user_id && recorded ? { email: recorded.email, id: row.subject_user_id, name: recorded.name } : null;
}

function conversationFromRow(row: StoredColumns) {
  return row.conversation_id ? { id: row.conversation_id, subject: row.details.conversation?.subject ?? null } : null;
}

/**
 * Fingerprint of what an input says, idempotency key aside: two inputs with
 * the same key are the same event exactly when their hashes are equal.
 */
export function contentHash(event: NewAuditEvent): Buffer {
  const { idempotencyKey: _key, ...content } = event;
  return sha256(canonicalJson(content));
}

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

const EVENT_ID = new RegExp(`^[${CROCKFORD}]{26}$`);

/**
 * Whether a string has the form of an id {@link newEventId} makes. Nothing
 * else can be an event's id, and the id column, ASCII, cannot even be
 * compared with text outside ASCII: the database refuses the query.
 */
export function isEventId(id: string): boolean {
  return EVENT_ID.test(id);
}

/**
 * A new event id: 26 characters of Crockford base32, the first 10 the time in
 * milliseconds (so new ids land near each other in the unique index), the
 * rest 80 random bits. URL-safe and opaque to clients.
 */
export function newEventId(now = Date.now()): string {
  let time = "";
  let remaining = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[remaining % 32] + time;
    remaining = Math.floor(remaining / 32);
  }
  const random = randomId();
  let bits = 0;
  let buffer = 0;
  let tail = "";
  for (const byte of random) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      tail += CROCKFORD[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  return time + tail;
}

/** Random bytes drawn ahead, {@link RANDOM_ID_BYTES} per id: one system call per 400 ids rather than one per id. */
const RANDOM_ID_BYTES = 10;
const randomPool = { bytes: Buffer.alloc(0), offset: 0 };

function randomId(): Buffer {
  if (randomPool.offset + RANDOM_ID_BYTES > randomPool.bytes.length) {
    randomPool.bytes = randomBytes(RANDOM_ID_BYTES * 400);
    randomPool.offset = 0;
  }
  const id = randomPool.bytes.subarray(randomPool.offset, randomPool.offset + RANDOM_ID_BYTES);
  randomPool.offset += RANDOM_ID_BYTES;
  return id;
}

/**
 * What search finds an event by: the distinct terms (see search/search-terms.ts)
 * of the sentence, every name and the changed values, separated by spaces.
 */
function searchText(event: AuditEventRecord): string {
  const targets = targetsOf(event);
  const parts: string[] = [event.description, event.actor.name];
  if (targets.customer) parts.push(targets.customer.name);
  if (targets.conversation?.subject) parts.push(targets.conversation.subject);
  if (targets.subjectUser) parts.push(targets.subjectUser.name, targets.subjectUser.email ?? "");
  if (targets.settings?.objectName) parts.push(targets.settings.objectName);
  if (targets.workSession) parts.push(targets.workSession.queue ?? "", targets.workSession.status ?? "");
  if (targets.csat?.comment) parts.push(targets.csat.comment);
  for (const change of event.changes) parts.push(change.field, plainText(change.before), plainText(change.after));
  const text = termsOf(parts.join("\n")).join(" ");
  return text.length > MAX_SEARCH_TEXT ? text.slice(0, text.lastIndexOf(" ", MAX_SEARCH_TEXT)) : text;
}

function plainText(value: JsonValue): string {
  if (value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}
