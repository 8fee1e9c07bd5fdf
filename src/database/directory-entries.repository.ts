import type { ConversationEntry } from "./conversation.repository";
import type { Queryable } from "./statements";
import type { UserEntry } from "./user.repository";

/**
 * The directory's entries of given ids across its three tables (`users`,
 * `customers`, `conversations`), in one statement: what a log's page reads
 * of the directory when the names it shows are not kept in memory.
 */

/** Ids to read, per table. */
export interface EntryIds {
  users: readonly string[];
  customers: readonly string[];
  conversations: readonly string[];
}

/** What the directory holds of the ids asked for; an id it does not hold is absent. */
export interface FoundEntries {
  users: UserEntry[];
  customers: { id: string; name: string }[];
  /** Each with the name of the customer it is tied to, read with it. */
  conversations: (ConversationEntry & { customerName: string | null })[];
}

interface EntryRow {
  kind: "user" | "customer" | "conversation";
  id: string;
  /** A user's or a customer's name, a conversation's subject. */
  text: string | null;
  email: string | null;
  customer_id: string | null;
  customer_name: string | null;
}

/** Each table's part of the statement, its columns named alike, as whichever part comes first names them. */
const PARTS = {
  users: "SELECT 'user' AS kind, id, name AS text, email, NULL AS customer_id, NULL AS customer_name FROM users WHERE workspace_id = ? AND id IN (?)",
  customers: "SELECT 'customer' AS kind, id, name AS text, NULL AS email, NULL AS customer_id, NULL AS customer_name FROM customers WHERE workspace_id = ? AND id IN (?)",
  conversations:
    "SELECT 'conversation' AS kind, conversation.id, conversation.subject AS text, NULL AS email, conversation.customer_id, customer.name AS customer_name " +
    "FROM conversations AS conversation " +
    "LEFT JOIN customers AS customer ON customer.workspace_id = conversation.workspace_id AND customer.id = conversation.customer_id " +
    "WHERE conversation.workspace_id = ? AND conversation.id IN (?)",
} as const;

/** The entries of `ids` the workspace's directory holds, in one statement; none asked, none sent. */
export async function findDirectoryEntries(database: Queryable, workspaceId: string, ids: EntryIds): Promise<FoundEntries> {
  const found: FoundEntries = { users: [], customers: [], conversations: [] };
  const statement = directoryEntriesStatement(workspaceId, ids);
  if (!statement) return found;
  const rows = (await database.query(statement.sql, statement.params)) as EntryRow[];
  for (const row of rows) {
    if (row.kind === "user") found.users.push({ id: row.id, name: row.text!, email: row.email });
    else if (row.kind === "customer") found.customers.push({ id: row.id, name: row.text! });
    else found.conversations.push({ id: row.id, subject: row.text, customerId: row.customer_id, customerName: row.customer_name });
  }
  return found;
}

/** The statement {@link findDirectoryEntries} sends, each table's entries read by primary key; null when no id is asked. */
export function directoryEntriesStatement(workspaceId: string, ids: EntryIds): { sql: string; params: unknown[] } | null {
  const asked = (["users", "customers", "conversations"] as const).filter((table) => ids[table].length > 0);
  if (asked.length === 0) return null;
  return { sql: asked.map((table) => PARTS[table]).join(" UNION ALL "), params: asked.flatMap((table) => [workspaceId, ids[table]]) };
}
