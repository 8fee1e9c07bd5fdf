import { BatchedTransaction, containsPattern, inLockOrder, placeholders, Queryable } from "./statements";

/** `customers`: the directory's customers, by the names events give them. */

export interface CustomerEntry {
  id: string;
  name: string;
}

/** A customer as an event names it, with the event's occurredAt. */
export interface CustomerMention extends CustomerEntry {
  occurredAt: Date;
}

/** Customers whose name contains `text` (ignoring case), by name; blank text lists the first ones. */
export function searchCustomers(database: Queryable, workspaceId: string, text: string, limit: number): Promise<CustomerEntry[]> {
  return database.query(
    `SELECT id, name FROM customers WHERE workspace_id = ? ${text ? "AND name LIKE ?" : ""} ORDER BY name, id LIMIT ?`,
    [workspaceId, ...(text ? [containsPattern(text)] : []), limit],
  ) as Promise<CustomerEntry[]>;
}

/** The customers among `ids` that the workspace knows, in no order. */
export async function findCustomersByIds(database: Queryable, workspaceId: string, ids: readonly string[]): Promise<CustomerEntry[]> {
  if (ids.length === 0) return [];
  return (await database.query(`SELECT id, name FROM customers WHERE workspace_id = ? AND id IN (?)`, [workspaceId, ids])) as CustomerEntry[];
}

/** Upserts customers in one multi-row statement; a name replaces the stored one only when the mention is not older. */
export function upsertCustomers(transaction: BatchedTransaction, workspaceId: string, mentions: CustomerMention[]): void {
  if (mentions.length === 0) return;
  const rows = inLockOrder(mentions);
  transaction.add({
    sql: `INSERT INTO customers (workspace_id, id, name, name_occurred_at) VALUES ${placeholders(rows.length, 4)}
         ON DUPLICATE KEY UPDATE
           name = IF(VALUES(name_occurred_at) >= name_occurred_at, VALUES(name), name),
           name_occurred_at = GREATEST(name_occurred_at, VALUES(name_occurred_at))`,
    values: rows.flatMap((customer) => [workspaceId, customer.id, customer.name, customer.occurredAt]),
  });
}
