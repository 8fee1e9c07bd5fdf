import { BatchedTransaction, inLockOrder, placeholders, Queryable } from "./statements";

/** `conversations`: the directory's conversations, with the subject and the customer events give them. */

export interface ConversationEntry {
  id: string;
  subject: string | null;
  /** The customer the conversation is tied to, if any. */
  customerId: string | null;
}

/** A conversation as an event names it, with the event's occurredAt. */
export interface ConversationMention extends ConversationEntry {
  occurredAt: Date;
}

interface ConversationRow {
  id: string;
  subject: string | null;
  customer_id: string | null;
}

const SELECT_CONVERSATIONS = `SELECT id, subject, customer_id FROM conversations WHERE workspace_id = ? AND id IN (?)`;

/** The conversations among `ids` that the workspace knows, in no order. */
export async function findConversationsByIds(database: Queryable, workspaceId: string, ids: readonly string[]): Promise<ConversationEntry[]> {
  if (ids.length === 0) return [];
  return ((await database.query(SELECT_CONVERSATIONS, [workspaceId, ids])) as ConversationRow[]).map(entryFromRow);
}

/** Within a recording transaction, the entries of the conversations among `ids` that the workspace knows, by id. */
export function readConversationsByIds(transaction: BatchedTransaction, workspaceId: string, ids: readonly string[]): Promise<Map<string, ConversationEntry>> {
  return transaction.read({ sql: SELECT_CONVERSATIONS, values: [workspaceId, [...new Set(ids)]] }, (rows) =>
    new Map((rows as ConversationRow[]).map((row) => [row.id, entryFromRow(row)])),
  );
}

/**
 * Upserts conversations in one multi-row statement. A subject or customer is
 * only replaced by one the mention carries, and only by a mention that is
 * not older.
 */
export function upsertConversations(transaction: BatchedTransaction, workspaceId: string, mentions: ConversationMention[]): void {
  if (mentions.length === 0) return;
  const rows = inLockOrder(mentions);
  transaction.add({
    sql: `INSERT INTO conversations (workspace_id, id, subject, subject_occurred_at, customer_id, customer_occurred_at)
         VALUES ${placeholders(rows.length, 6)}
         ON DUPLICATE KEY UPDATE
           subject = IF(VALUES(subject) IS NOT NULL AND (subject_occurred_at IS NULL OR VALUES(subject_occurred_at) >= subject_occurred_at), VALUES(subject), subject),
           subject_occurred_at = IF(VALUES(subject) IS NOT NULL, GREATEST(COALESCE(subject_occurred_at, VALUES(subject_occurred_at)), VALUES(subject_occurred_at)), subject_occurred_at),
           customer_id = IF(VALUES(customer_id) IS NOT NULL AND (customer_occurred_at IS NULL OR VALUES(customer_occurred_at) >= customer_occurred_at), VALUES(customer_id), customer_id),
           customer_occurred_at = IF(VALUES(customer_id) IS NOT NULL, GREATEST(COALESCE(customer_occurred_at, VALUES(customer_occurred_at)), VALUES(customer_occurred_at)), customer_occurred_at)`,
    values: rows.flatMap((conversation) => [
      workspaceId,
      conversation.id,
      conversation.subject,
      conversation.subject === null ? null : conversation.occurredAt,
      conversation.customerId,
      conversation.customerId === null ? null : conversation.occurredAt,
    ]),
  });
}

function entryFromRow(row: ConversationRow): ConversationEntry {
  return { id: row.id, subject: row.subject, customerId: row.customer_id };
}

/** Whether the workspace knows the conversation. */
export async function conversationExists(database: Queryable, workspaceId: string, id: string): Promise<boolean> {
  const rows = (await database.query(`SELECT 1 FROM conversations WHERE workspace_id = ? AND id = ?`, [workspaceId, id])) as unknown[];
  return rows.length > 0;
}

/** Deletes every conversation of the workspace. */
export async function deleteConversationsOfWorkspace(database: Queryable, workspaceId: string): Promise<void> {
  await database.query(`DELETE FROM conversations WHERE workspace_id = ?`, [workspaceId]);
}
