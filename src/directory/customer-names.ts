import { findCustomerNames } from "../database/customer.repository";
import type { Queryable } from "../database/statements";

/**
 * The ids of the customers a name covers now. Names compare in the column's
 * collation (as every log does), which JavaScript cannot reproduce: that is
 * why a name is always resolved by the database, never compared in code.
 */
export async function customersNamed(database: Queryable, workspaceId: string, name: string): Promise<Set<string>> {
  return (await findCustomerNames(database, workspaceId, [name])).idsByName[0];
}
