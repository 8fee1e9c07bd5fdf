import { BatchedTransaction, containsPattern, inLockOrder, placeholders, Queryable } from "./statements";

/** `users`: the directory's users, by the names and emails events give them. */

export interface UserEntry {
  id: string;
  name: string;
  email: string | null;
}

/** A user as an event names it, with the event's occurredAt. */
export interface UserMention extends UserEntry {
  occurredAt: Date;
}

/** Users whose name or email contains `text` (ignoring case), by name; blank text lists the first ones. */
export function searchUsers(database: Queryable, workspaceId: string, text: string, limit: number): Promise<UserEntry[]> {
  return database.query(
    `SELECT id, name, email FROM users WHERE workspace_id = ? ${text ? "AND (name LIKE ? OR email LIKE ?)" : ""} ORDER BY name, id LIMIT ?`,
    [workspaceId, ...(text ? [containsPattern(text), containsPattern(text)] : []), limit],
  ) as Promise<UserEntry[]>;
}

/** The users among `ids` that the workspace knows, in no order. */
export async function findUsersByIds(database: Queryable, workspaceId: string, ids: readonly string[]): Promise<UserEntry[]> {
  if (ids.length === 0) return [];
  return (await database.query(`SELECT id, name, email FROM users WHERE workspace_id = ? AND id IN (?)`, [workspaceId, ids])) as UserEntry[];
}

/**
 * Upserts users in one multi-row statement. An email replaces the stored one
 * only when there is none or the mention is not older; a name, only when the
 * mention is not older.
 */
export function upsertUsers(transaction: BatchedTransaction, workspaceId: string, mentions: UserMention[]): void {
  if (mentions.length === 0) return;
  const rows = inLockOrder(mentions);
  transaction.add({
    sql: `INSERT INTO users (workspace_id, id, name, email, name_occurred_at) VALUES ${placeholders(rows.length, 5)}
         ON DUPLICATE KEY UPDATE
           email = IF(VALUES(email) IS NOT NULL AND (email IS NULL OR VALUES(name_occurred_at) >= name_occurred_at), VALUES(email), email),
           name = IF(VALUES(name_occurred_at) >= name_occurred_at, VALUES(name), name),
           name_occurred_at = GREATEST(name_occurred_at, VALUES(name_occurred_at))`,
    values: rows.flatMap((user) => [workspaceId, user.id, user.name, user.email, user.occurredAt]),
  });
}

/** Deletes every user of the workspace. */
export async function deleteUsersOfWorkspace(database: Queryable, workspaceId: string): Promise<void> {
  await database.query(`DELETE FROM users WHERE workspace_id = ?`, [workspaceId]);
}
