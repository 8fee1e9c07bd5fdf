import { BadUserInputError } from "../common/errors";
import { EVENT_FIELDS, EventField } from "../database/audit-event.storage";
import { ActorKind, AuditEventType } from "../events/audit-event.enums";
import type { AuditEventFilter } from "./audit-log.inputs";

/**
 * The one model of which events a log shows. Every log and every tail
 * states its rules here, as conditions on the event fields of `EVENT_FIELDS`
 * (database/audit-event.storage.ts, beside the columns they are stored in); a page's
 * query (`audit-log.query.ts`) and a tail's predicate (`live-tail/event-filter.ts`)
 * are each a translation of these conditions, field by field, and state no
 * rule of their own.
 */

/**
 * The customers whose current name, compared as the database compares it
 * (ignoring case), is `name`. The ids are what the directory answered when
 * they were last read: a page reads them once; a tail keeps reading them
 * again as customers are renamed (see `live-tail/followed-customer-names.ts`), so an
 * event belongs to the filter when its customer carries the name at the time
 * the event is shown, in a page as in a tail. A log cannot be asked what a
 * name meant in the past, so this is the one rule both can keep.
 */
export interface CustomersNamed {
  /** The name as filtered on, trimmed. */
  readonly name: string;
  ids: ReadonlySet<string>;
  /**
   * True when `ids` are what the name covered when last asked, not asked
   * now: a page must test them in its own statement (see
   * `RememberedCustomerNames`).
   */
  readonly recalled?: boolean;
}

/** One condition on one field: equal to a value, or one of the customers a name currently covers. */
export type Condition =
  | { readonly field: EventField; readonly equals: string; readonly oneOf?: undefined }
  | { readonly field: EventField; readonly equals?: undefined; readonly oneOf: CustomersNamed };

export interface LogFilter {
  /** All hold for every event the log shows. */
  readonly conditions: readonly Condition[];
  /** Inclusive; null: no lower bound. */
  readonly from: Date | null;
  /** Exclusive; null: no upper bound. */
  readonly to: Date | null;
  /** Folded words, each the prefix of a word every event holds (see search/search-terms.ts); the workspace log's only (a tail takes no search). */
  readonly search: readonly string[] | null;
}

/** The range and search of a page; a tail has neither. */
export interface PageBounds {
  from: Date | null;
  to: Date | null;
  search: readonly string[] | null;
}

const NO_BOUNDS: PageBounds = { from: null, to: null, search: null };

/** What a name lookup answers: the ids of the customers a name covers, asked now or recalled (see {@link CustomersNamed.recalled}). */
export interface CustomerNameAnswer {
  ids: ReadonlySet<string>;
  recalled: boolean;
}

/** The customers a name covers, asked of the directory in one query, or recalled. */
export type CustomerNameLookup = (name: string) => Promise<CustomerNameAnswer>;

const equals = (field: EventField, value: string): Condition => ({ field, equals: value });
const ofType = (type: AuditEventType) => equals(EVENT_FIELDS.type, type);
/** Performed by this user (a person, not an automation that shares the id); no condition without one. */
const byUser = (userId: string | null | undefined): Condition[] =>
  userId === null || userId === undefined ? [] : [equals(EVENT_FIELDS.actorKind, ActorKind.USER), equals(EVENT_FIELDS.actorId, userId)];

/** The workspace log's filter (exactly one member, or none), with its range and search. */
export async function workspaceLogFilter(
  filter: AuditEventFilter | null | undefined,
  lookup: CustomerNameLookup,
  bounds: PageBounds = NO_BOUNDS,
): Promise<LogFilter> {
  return { conditions: await workspaceConditions(filter, lookup), ...bounds };
}

/** One customer's log: events that belong to the customer, optionally by one user. */
export function customerLogFilter(customerId: string, userId: string | null | undefined, bounds: PageBounds = NO_BOUNDS): LogFilter {
  return { conditions: [equals(EVENT_FIELDS.logCustomerId, customerId), ...byUser(userId)], ...bounds };
}

/** One conversation's log: events on the conversation, of any type, optionally by one user. */
export function conversationLogFilter(conversationId: string, userId: string | null | undefined, bounds: PageBounds = NO_BOUNDS): LogFilter {
  return { conditions: [equals(EVENT_FIELDS.conversationId, conversationId), ...byUser(userId)], ...bounds };
}

async function workspaceConditions(filter: AuditEventFilter | null | undefined, lookup: CustomerNameLookup): Promise<Condition[]> {
  if (!filter) return [];
  if (filter.allEvents) return byUser(filter.allEvents.userId);
  if (filter.authorization) return [ofType(AuditEventType.AUTHORIZATION), ...byUser(filter.authorization.userId)];
  if (filter.billing) return [ofType(AuditEventType.BILLING), ...byUser(filter.billing.userId)];
  if (filter.workSession) return [ofType(AuditEventType.WORK_SESSION), ...byUser(filter.workSession.userId)];
  if (filter.conversation) {
    const { conversationId, userId } = filter.conversation;
    return [equals(EVENT_FIELDS.conversationId, conversationId), ofType(AuditEventType.CONVERSATION), ...byUser(userId)];
  }
  // Only settings events have a section: the section alone picks the type.
  if (filter.settings) return [equals(EVENT_FIELDS.settingsSection, filter.settings.section), ...byUser(filter.settings.userId)];
  if (filter.customer) {
    const name = filter.customer.customerName.trim();
    const { ids, recalled } = await lookup(name);
    const named: CustomersNamed = { name, ids, recalled };
    return [{ field: EVENT_FIELDS.customerId, oneOf: named }, ofType(AuditEventType.CUSTOMER), ...byUser(filter.customer.userId)];
  }
  // graphql-js's oneOf check lets no other shape through.
  throw new BadUserInputError("filter must have exactly one member.");
}

/** The value a filter fixes a field to, if one of its conditions does. */
export function fixedValue(filter: LogFilter, field: EventField): string | undefined {
  for (const condition of filter.conditions) if (condition.field === field && condition.equals !== undefined) return condition.equals;
  return undefined;
}

/** The customer-name condition of a filter, if it has one. */
export function customersNamedIn(filter: LogFilter): CustomersNamed | null {
  for (const condition of filter.conditions) if (condition.oneOf) return condition.oneOf;
  return null;
}
