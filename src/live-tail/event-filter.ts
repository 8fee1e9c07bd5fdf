import type { AuditEventRecord } from "../events/audit-event.record";
import { EVENT_FIELDS } from "../database/audit-event.storage";
import { fixedValue, LogFilter } from "../logs/log-filter";
import type { StreamScope } from "./workspace-stream";

/** Decides, event by event and at once, what a tail delivers. */
export type EventPredicate = (event: AuditEventRecord) => boolean;

/**
 * A log filter as a predicate on events: each condition compares the
 * field's value read from the event, as the page's SQL compares its column.
 * A customer-name condition reads its ids when each event is offered, so
 * that a tail sees the ids as they are kept current. Nothing is allocated
 * per event.
 */
export function predicateOf(filter: LogFilter): EventPredicate {
  if (filter.search !== null) throw new TypeError("A tail cannot apply a full-text search.");
  const { conditions, from, to } = filter;
  return (event) => {
    for (let index = 0; index < conditions.length; index++) {
      const condition = conditions[index];
      const value = condition.field.read(event);
      if (condition.equals !== undefined ? value !== condition.equals : value === null || !condition.oneOf.ids.has(value)) return false;
    }
    return (from === null || event.occurredAt >= from) && (to === null || event.occurredAt < to);
  };
}

/** The events a tail with this filter could take: one conversation's when the filter fixes the conversation, every one otherwise. */
export function scopeOf(filter: LogFilter): StreamScope {
  const conversationId = fixedValue(filter, EVENT_FIELDS.conversationId);
  return conversationId === undefined ? null : { conversationId };
}
