import type { EventPageQuery } from "../database/audit-event.repository";
import type { CursorPosition } from "./cursor";
import type { LogFilter } from "./log-filter";

/**
 * What one log page asks of `audit_events`: the {@link LogFilter}'s
 * conditions, each as the values its column may take, with the page's range,
 * position and size. How that becomes SQL (keyset scan, index, union of
 * customers) is the audit-event repository's `findEventPage`; a search's
 * words go beside it to `search/search-page.ts`.
 */
export function eventPageQuery(workspaceId: string, filter: LogFilter, after: CursorPosition | null, size: number): EventPageQuery {
  const conditions = filter.conditions.map((condition) => ({
    column: condition.field.column,
    table: condition.field.table,
    values: condition.equals !== undefined ? [condition.equals] : [...condition.oneOf.ids],
  }));
  return { workspaceId, conditions, from: filter.from, to: filter.to, after, size };
}
