import type { DataSource } from "typeorm";
import { findCustomerNames } from "../database/customer.repository";
import type { AnyTargets, AuditEventRecord } from "../events/audit-event.record";
import type { CustomersNamed } from "../logs/log-filter";

/** Current customer names a workspace's stream remembers to tell renames from repeats; past it, it forgets them all. */
const MAX_KNOWN_CUSTOMER_NAMES = 10_000;

/**
 * Keeps the customer-name filters of a workspace's tails current, without a
 * query per event. A customer's name changes only when a recorded event
 * names it otherwise, and every recorded event passes through the stream:
 * so the stream re-reads the names its tails follow only before an event
 * that names a customer otherwise than the directory did when last read
 * (a rename, a customer not seen yet, or an older event's name), one query
 * for every event then in line and every name followed. Names are compared
 * by the database, never here: the column's collation decides which
 * customers a name covers, as it does for a page.
 */
export class FollowedCustomerNames {
  private readonly followed = new Set<CustomersNamed>();
  /** Each customer's name as last read, in the same query as every followed set. */
  private readonly known = new Map<string, string>();
  /** Counts follows: a read that a follow overtook is not as recent as the set followed meanwhile. */
  private generation = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly workspaceId: string,
  ) {}

  /** Keeps the ids of `named` current until the returned function is called. */
  follow(named: CustomersNamed): () => void {
    this.followed.add(named);
    // Its ids were read apart from the names known: forget these, so that the next mention reads all again.
    this.known.clear();
    this.generation += 1;
    return () => {
      this.followed.delete(named);
      if (this.followed.size === 0) this.known.clear();
    };
  }

  /** Whether the event may have renamed a customer since the followed ids were read. */
  outdatedBy(event: AuditEventRecord): boolean {
    if (this.followed.size === 0) return false;
    const customer = (event.targets as Partial<AnyTargets>).customer;
    return customer !== null && customer !== undefined && this.known.get(customer.id) !== customer.name;
  }

  /** Reads the followed names' ids again, and the current names of the customers these events name. */
  async refresh(events: readonly AuditEventRecord[]): Promise<void> {
    const generation = this.generation;
    const followed = [...this.followed];
    const names = [...new Set(followed.map((named) => named.name))];
    const mentioned = new Map<string, string>();
    for (const event of events) {
      const customer = (event.targets as Partial<AnyTargets>).customer;
      if (customer) mentioned.set(customer.id, customer.name);
    }
    const found = await findCustomerNames(this.dataSource, this.workspaceId, names, [...mentioned.keys()]);
    for (const named of followed) named.ids = found.idsByName[names.indexOf(named.name)];
    if (generation !== this.generation) return;
    if (this.known.size + found.nameById.size + mentioned.size > MAX_KNOWN_CUSTOMER_NAMES) this.known.clear();
    // A customer the directory does not hold is in no set: its name as named is enough to not ask again.
    for (const [id, name] of mentioned) if (!found.nameById.has(id)) this.known.set(id, name);
    for (const [id, name] of found.nameById) this.known.set(id, name);
  }
}
