import type { DataSource } from "typeorm";

/** Customers one name filter covers; a name shared by more is cut to these, by id. @default 100 */
export const MAX_CUSTOMERS_PER_NAME = 100;

/** What the directory holds now for some customer names and some customer ids. */
export interface CustomerNamesFound {
  /** Per name asked (in the order asked): the ids of the customers whose name equals it, ignoring case. */
  idsByName: Set<string>[];
  /** The current name of every customer found, by id: those the names cover and those asked by id. */
  nameById: Map<string, string>;
}

/**
 * Resolves customer names to ids, and reads the current names of some
 * customers, in one query. Names compare in the column's collation (as
 * every log does), which JavaScript cannot reproduce: that is why a name is
 * always resolved here, never compared in code.
 */
export async function readCustomerNames(
  dataSource: DataSource,
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
  const rows: { name_index: number | string | null; id: string; name: string }[] = await dataSource.query(
    selects.length === 1 ? selects[0].slice(1, -1) : selects.join(" UNION ALL "),
    params,
  );
  for (const row of rows) {
    if (row.name_index !== null) found.idsByName[Number(row.name_index)].add(row.id);
    found.nameById.set(row.id, row.name);
  }
  return found;
}

/** The ids of the customers a name covers now. */
export async function customersNamed(dataSource: DataSource, workspaceId: string, name: string): Promise<Set<string>> {
  return (await readCustomerNames(dataSource, workspaceId, [name])).idsByName[0];
}
