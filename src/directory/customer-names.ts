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

/** Bounds of {@link RememberedCustomerNames}. */
export interface RememberedCustomerNamesLimits {
  /** Names remembered, across workspaces; past it the least recently used is forgotten. @default 10000 */
  names: number;
  /** Customers one remembered name may cover; a name that covers more is asked every time. @default 10 */
  customersPerName: number;
  /**
   * Longest name remembered, in UTF-16 code units: a stored name's length (`customers.name` is
   * VARCHAR(255)). A longer filter can still equal one in the column's collation, which ignores
   * some characters: such a name is asked every time. @default 255
   */
  nameLength: number;
}

export const REMEMBERED_CUSTOMER_NAMES: Readonly<RememberedCustomerNamesLimits> = { names: 10_000, customersPerName: 10, nameLength: 255 };

/**
 * The customers each filtered name covered when last asked, per workspace,
 * so that a page filtered by a customer's name need not ask again before it
 * reads. What is remembered is only a guess: the page's statement checks,
 * with its own rows, that the name still covers exactly these customers
 * (`customerNameCoversExactly`), and a page whose guess failed is read again
 * after asking. So no rename needs to reach this memory, from this instance
 * or another, for a page to be right.
 *
 * Bounded: at most `names` entries, each a name of at most `nameLength`
 * and at most `customersPerName` ids (see docs/performance.md for what
 * that comes to).
 */
export class RememberedCustomerNames {
  /** By workspace and name; a Map keeps insertion order, which a use renews: the first key is the least recently used. */
  private readonly ids = new Map<string, readonly string[]>();

  constructor(private readonly limits: Readonly<RememberedCustomerNamesLimits> = REMEMBERED_CUSTOMER_NAMES) {}

  /** The customers `name` covered when last asked in the workspace; undefined when not remembered. */
  recall(workspaceId: string, name: string): readonly string[] | undefined {
    const key = keyOf(workspaceId, name);
    const ids = this.ids.get(key);
    if (ids === undefined) return undefined;
    this.ids.delete(key);
    this.ids.set(key, ids);
    return ids;
  }

  /** Remembers what the directory answered for `name` just now; a name covering no customer or too many, or too long, is forgotten. */
  remember(workspaceId: string, name: string, ids: ReadonlySet<string>): void {
    const key = keyOf(workspaceId, name);
    this.ids.delete(key);
    if (ids.size === 0 || ids.size > this.limits.customersPerName || name.length > this.limits.nameLength) return;
    this.ids.set(key, [...ids].sort());
    if (this.ids.size > this.limits.names) this.ids.delete(this.ids.keys().next().value!);
  }

  /** Names remembered now. */
  get size(): number {
    return this.ids.size;
  }
}

/** A workspace id holds no control character (see `isTokenId`), so the pair keys without ambiguity. */
const keyOf = (workspaceId: string, name: string) => `${workspaceId}\u0000${name}`;
