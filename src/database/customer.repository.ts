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

/** Whether the workspace knows the customer. */
export async function customerExists(database: Queryable, workspaceId: string, id: string): Promise<boolean> {
  const rows = (await database.query(`SELECT 1 FROM customers WHERE workspace_id = ? AND id = ?`, [workspaceId, id])) as unknown[];
  return rows.length > 0;
}

/** Customers one name covers; a name shared by more is cut to these, by id. @default 100 */
export const MAX_CUSTOMERS_PER_NAME = 100;

/** What the directory holds now for some customer names and some customer ids. */
export interface CustomerNamesFound {
  /** Per name asked (in the order asked): the ids of the customers whose name equals it, ignoring case (at most {@link MAX_CUSTOMERS_PER_NAME}). */
  idsByName: Set<string>[];
  /** The current name of every customer found, by id: those the names cover and those asked by id. */
  nameById: Map<string, string>;
}

/**
 * Resolves customer names to ids, and reads the current names of some
 * customers, in one query. Names compare in the column's collation, which
 * JavaScript cannot reproduce.
 */
export async function findCustomerNames(
  database: Queryable,
  workspaceId: string,
  names: readonly string[],
  ids: readonly string[] = [],
): Promise<CustomerNamesFound> {
  const selects: string[] = [];
  const params: unknown[] = [];
  names.forEach((name, index) => {
    selects.push(`(SELECT ${index} AS name_index, id, name FROM customers WHERE workspace_id = ? AND name = ? ORDER BY id LIMIT ${MAX_CUSTOMERS_PER_NAME})`);
    params.push(workspaceId, name);
  });
  if (ids.length > 0) {
    selects.push(`(SELECT NULL AS name_index, id, name FROM customers WHERE workspace_id = ? AND id IN (?))`);
    params.push(workspaceId, ids);
  }
  const found: CustomerNamesFound = { idsByName: names.map(() => new Set<string>()), nameById: new Map() };
  if (selects.length === 0) return found;
  const rows = (await database.query(selects.length === 1 ? selects[0].slice(1, -1) : selects.join(" UNION ALL "), params)) as {
    name_index: number | string | null;
    id: string;
    name: string;
  }[];
  for (const row of rows) {
    if (row.name_index !== null) found.idsByName[Number(row.name_index)].add(row.id);
    found.nameById.set(row.id, row.name);
  }
  return found;
}

/** A test in SQL, with its parameters, to stand in a statement's select list. */
export interface CheckExpression {
  sql: string;
  params: unknown[];
}

/**
 * Whether `name` covers exactly the customers `ids` now (1 or 0), as an
 * expression of a statement's select list: so that a statement that relies
 * on an earlier answer of {@link findCustomerNames} tells, in the same
 * snapshot as its own rows, whether that answer still holds. Uncorrelated,
 * it runs once per statement on `ix_customers_name`.
 */
export function customerNameCoversExactly(workspaceId: string, name: string, ids: readonly string[]): CheckExpression {
  const where = "FROM customers AS named WHERE named.workspace_id = ? AND named.name = ?";
  if (ids.length === 0) return { sql: `(SELECT COUNT(*) = 0 ${where})`, params: [workspaceId, name] };
  return { sql: `(SELECT COUNT(*) = ? AND COALESCE(SUM(named.id IN (?)), 0) = ? ${where})`, params: [ids.length, ids, ids.length, workspaceId, name] };
}

/** Deletes every customer of the workspace. */
export async function deleteCustomersOfWorkspace(database: Queryable, workspaceId: string): Promise<void> {
  await database.query(`DELETE FROM customers WHERE workspace_id = ?`, [workspaceId]);
}
