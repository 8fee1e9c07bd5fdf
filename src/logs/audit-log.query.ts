import { SELECT_EVENT_COLUMNS } from "../database/audit-event.storage";
import type { CursorPosition } from "./cursor";
import type { Condition, LogFilter } from "./log-filter";

/**
 * The SQL of one log page: the {@link LogFilter}'s conditions, each as the
 * comparison of its column. Every page is a keyset scan, newest first, on an
 * index whose equality columns the filter fixes and that ends in
 * (occurred_at, seq): no OFFSET, no filesort. The index is named in the SQL
 * so that the plan does not depend on the optimizer's statistics.
 */

export interface PageQuery {
  workspaceId: string;
  filter: LogFilter;
  after: CursorPosition | null;
  /** Rows to fetch: the page size plus one, to know whether there is a next page. */
  limit: number;
}

export interface BuiltQuery {
  sql: string;
  params: unknown[];
  /** The index the page scans (for each part, when it is a union); null when search decides. */
  index: string | null;
}

/**
 * The keyset indexes, each with the columns it holds after workspace_id and
 * before (occurred_at, seq), the most selective first: a page scans the
 * first whose columns its filter all fixes.
 */
const INDEXES: readonly { name: string; columns: readonly string[] }[] = [
  { name: "ix_audit_events_customer_type", columns: ["customer_id", "type"] },
  { name: "ix_audit_events_customer", columns: ["customer_id"] },
  { name: "ix_audit_events_conversation", columns: ["conversation_id"] },
  { name: "ix_audit_events_section", columns: ["settings_section"] },
  { name: "ix_audit_events_type_actor", columns: ["type", "actor_kind", "actor_id"] },
  { name: "ix_audit_events_actor", columns: ["actor_kind", "actor_id"] },
  { name: "ix_audit_events_time", columns: [] },
];

const ORDER = "ORDER BY occurred_at DESC, seq DESC";

/** One SELECT on one index, with its WHERE conditions. */
interface Part {
  conditions: string[];
  params: unknown[];
}

/** The page's SQL; null when the filter covers no event without asking (a customer name no customer has). */
export function buildPageQuery(query: PageQuery): BuiltQuery | null {
  const { filter } = query;
  // The FULLTEXT index finds the matches; the other conditions then narrow them.
  const index = filter.search ? null : indexFor(filter.conditions);
  const parts = scanParts(query.workspaceId, filter.conditions).map((part) => withCommonConditions(part, query));
  if (parts.length === 0) return null;
  const select = (part: Part) => {
    const hint = index ? ` FORCE INDEX (${index})` : "";
    return `SELECT ${SELECT_EVENT_COLUMNS} FROM audit_events${hint} WHERE ${part.conditions.join(" AND ")} ${ORDER} LIMIT ?`;
  };
  if (parts.length === 1) {
    const [part] = parts;
    return { sql: select(part), params: [...part.params, query.limit], index };
  }
  // Several customers share the name: each is a keyset scan of its own, merged over at most limit rows each.
  const sql = `SELECT * FROM (${parts.map((part) => `(${select(part)})`).join(" UNION ALL ")}) AS page ${ORDER} LIMIT ?`;
  return { sql, params: [...parts.flatMap((part) => [...part.params, query.limit]), query.limit], index };
}

function indexFor(conditions: readonly Condition[]): string {
  const fixed = new Set(conditions.map((condition) => condition.field.column));
  return INDEXES.find((index) => index.columns.every((column) => fixed.has(column)))!.name;
}

/**
 * The filter as keyset scans: one, or for a condition on several customers,
 * one per customer (each an equality the index can seek), in id order.
 */
function scanParts(workspaceId: string, conditions: readonly Condition[]): Part[] {
  let parts: Part[] = [{ conditions: ["workspace_id = ?"], params: [workspaceId] }];
  for (const condition of conditions) {
    const comparison = `${condition.field.column} = ?`;
    const values = condition.equals !== undefined ? [condition.equals] : [...condition.oneOf.ids].sort();
    parts = parts.flatMap((part) => values.map((value) => ({ conditions: [...part.conditions, comparison], params: [...part.params, value] })));
  }
  return parts;
}

function withCommonConditions(part: Part, query: PageQuery): Part {
  const conditions = [...part.conditions];
  const params = [...part.params];
  const { from, to, search } = query.filter;
  if (from) {
    conditions.push("occurred_at >= ?");
    params.push(from);
  }
  if (to) {
    conditions.push("occurred_at < ?");
    params.push(to);
  }
  if (query.after) {
    // Written out rather than as a row comparison, which MariaDB cannot range-scan.
    conditions.push("(occurred_at < ? OR (occurred_at = ? AND seq < ?))");
    params.push(query.after.occurredAt, query.after.occurredAt, query.after.seq);
  }
  if (search) {
    conditions.push("MATCH (search_text) AGAINST (? IN BOOLEAN MODE)");
    params.push(search);
  }
  return { conditions, params };
}
