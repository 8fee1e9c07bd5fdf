import { SELECT_EVENT_COLUMNS } from "../database/audit-event.storage";
import { ActorKind, AuditEventType, SettingsSection } from "../events/audit-event.enums";
import type { CursorPosition } from "./cursor";

/**
 * The SQL of one log page. Every page is a keyset scan, newest first, on an
 * index whose equality columns match the log and filter and that ends in
 * (occurred_at, seq): no OFFSET, no filesort. The index is named in the SQL
 * so that the plan does not depend on the optimizer's statistics.
 */

/** Which log: the workspace's, one customer's or one conversation's. */
export type LogScope =
  | { kind: "workspace" }
  | { kind: "customer"; customerId: string }
  | { kind: "conversation"; conversationId: string };

/** A filter of the workspace log, after lookups (customer names become ids). */
export type LogFilter =
  | { kind: "allEvents"; userId: string }
  | { kind: "userOfType"; type: AuditEventType.AUTHORIZATION | AuditEventType.BILLING | AuditEventType.WORK_SESSION; userId: string }
  | { kind: "conversation"; conversationId: string; userId: string | null }
  | { kind: "customer"; customerIds: string[]; userId: string | null }
  | { kind: "settings"; section: SettingsSection; userId: string | null };

export interface PageQuery {
  workspaceId: string;
  scope: LogScope;
  /** Workspace log only. */
  filter: LogFilter | null;
  /** Narrows to events whose actor is this user (customer and conversation logs). */
  userId: string | null;
  from: Date | null;
  to: Date | null;
  /** A FULLTEXT boolean-mode expression (workspace log only). */
  search: string | null;
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

const ORDER = "ORDER BY occurred_at DESC, seq DESC";

/** One SELECT on one index, with its WHERE conditions. */
interface Part {
  index: string | null;
  conditions: string[];
  params: unknown[];
}

export function buildPageQuery(query: PageQuery): BuiltQuery {
  const parts = scanParts(query).map((part) => withCommonConditions(part, query));
  const select = (part: Part) => {
    const hint = part.index ? ` FORCE INDEX (${part.index})` : "";
    return `SELECT ${SELECT_EVENT_COLUMNS} FROM audit_events${hint} WHERE ${part.conditions.join(" AND ")} ${ORDER} LIMIT ?`;
  };
  if (parts.length === 1) {
    const [part] = parts;
    return { sql: select(part), params: [...part.params, query.limit], index: part.index };
  }
  // Several customers share the name: each is a keyset scan of its own, merged over at most limit rows each.
  const sql = `SELECT * FROM (${parts.map((part) => `(${select(part)})`).join(" UNION ALL ")}) AS page ${ORDER} LIMIT ?`;
  return { sql, params: [...parts.flatMap((part) => [...part.params, query.limit]), query.limit], index: parts[0].index };
}

function scanParts(query: PageQuery): Part[] {
  const ws = query.workspaceId;
  const actor = (userId: string | null) =>
    userId === null ? { conditions: [], params: [] } : { conditions: ["actor_kind = ?", "actor_id = ?"], params: [ActorKind.USER, userId] };
  const part = (index: string | null, conditions: string[], params: unknown[], userId: string | null = null): Part => {
    const narrow = actor(userId);
    return { index, conditions: ["workspace_id = ?", ...conditions, ...narrow.conditions], params: [ws, ...params, ...narrow.params] };
  };

  if (query.scope.kind === "customer") {
    return [part("ix_audit_events_customer", ["customer_id = ?"], [query.scope.customerId], query.userId)];
  }
  if (query.scope.kind === "conversation") {
    return [part("ix_audit_events_conversation", ["conversation_id = ?"], [query.scope.conversationId], query.userId)];
  }
  // The FULLTEXT index finds the matches; the other conditions then narrow them.
  const index = (name: string) => (query.search ? null : name);
  const filter = query.filter;
  if (!filter) return [part(index("ix_audit_events_time"), [], [])];
  switch (filter.kind) {
    case "allEvents":
      return [part(index("ix_audit_events_actor"), [], [], filter.userId)];
    case "userOfType":
      return [part(index("ix_audit_events_type_actor"), ["type = ?"], [filter.type], filter.userId)];
    case "conversation":
      return [part(index("ix_audit_events_conversation"), ["conversation_id = ?", "type = ?"], [filter.conversationId, AuditEventType.CONVERSATION], filter.userId)];
    case "customer":
      return filter.customerIds.map((customerId) =>
        part(index("ix_audit_events_customer_type"), ["customer_id = ?", "type = ?"], [customerId, AuditEventType.CUSTOMER], filter.userId),
      );
    case "settings":
      return [part(index("ix_audit_events_section"), ["settings_section = ?"], [filter.section], filter.userId)];
  }
}

function withCommonConditions(part: Part, query: PageQuery): Part {
  const conditions = [...part.conditions];
  const params = [...part.params];
  if (query.from) {
    conditions.push("occurred_at >= ?");
    params.push(query.from);
  }
  if (query.to) {
    conditions.push("occurred_at < ?");
    params.push(query.to);
  }
  if (query.after) {
    // Written out rather than as a row comparison, which MariaDB cannot range-scan.
    conditions.push("(occurred_at < ? OR (occurred_at = ? AND seq < ?))");
    params.push(query.after.occurredAt, query.after.occurredAt, query.after.seq);
  }
  if (query.search) {
    conditions.push("MATCH (search_text) AGAINST (? IN BOOLEAN MODE)");
    params.push(query.search);
  }
  return { index: part.index, conditions, params };
}
