import type { EventPageQuery } from "../database/audit-event.repository";
import { customerNameCoversExactly } from "../database/customer.repository";
import type { CursorPosition } from "./cursor";
import { customersNamedIn, LogFilter } from "./log-filter";

/**
 * What one log page asks of `audit_events`: the {@link LogFilter}'s
 * conditions, each as the values its column may take, with the page's range,
 * position and size, and, when a customer name's ids were recalled rather
 * than asked, the premise that they still hold. How that becomes SQL
 * (keyset scan, index, union of customers) is the audit-event repository's
 * `findEventPage`; a search's words go beside it to `search/search-page.ts`.
 */
export function eventPageQuery(workspaceId: string, filter: LogFilter, after: CursorPosition | null, size: number): EventPageQuery {
  const conditions = filter.conditions.map((condition) => ({
    column: condition.field.column,
    table: condition.field.table,
    values: condition.equals !== undefined ? [condition.equals] : [...condition.oneOf.ids],
  }));
  const named = customersNamedIn(filter);
  // Recalled ids are a guess the page's statement tests; a name asked now is not tested again.
  const premise = named?.recalled ? { premise: customerNameCoversExactly(workspaceId, named.name, [...named.ids]) } : {};
  return { workspaceId, conditions, from: filter.from, to: filter.to, after, size, ...premise };
}
