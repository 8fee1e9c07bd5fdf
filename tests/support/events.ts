import { randomUUID } from "node:crypto";
import { AuditEventType } from "../../src/events/audit-event.enums";
import type { JsonValue } from "../../src/events/audit-event.record";

/** An AuditEventInput as a client sends it (JSON). */
export type EventInput = Record<string, JsonValue>;

export const RECORD_EVENTS = `
  mutation Record($events: [AuditEventInput!]!) {
    recordAuditEvents(events: $events) {
      duplicates
      events { id type action description occurredAt recordedAt }
    }
  }`;

/**
 * Every field of every event type, for round trips. The contract types
 * CustomerEvent.customer and WorkSessionEvent.conversation with another
 * nullability than ConversationEvent's, so they need aliases here.
 */
export const EVENT_FIELDS = `
  id type action occurredAt recordedAt description metadata
  actor { kind id name user { id name email } }
  changes { field before after }
  source { ip userAgent requestId }
  ... on AuthorizationEvent { subjectUser { id name email } }
  ... on BillingEvent { subjectUser { id name email } }
  ... on ConversationEvent {
    conversation { id subject customer { id name } }
    customer { id name }
    subjectUser { id name }
    csat { surveyId rating ratingScale comment }
  }
  ... on CustomerEvent { customerOfEvent: customer { id name } }
  ... on SettingsEvent { section objectId objectName }
  ... on WorkSessionEvent { queue status routedConversation: conversation { id subject } customer { id name } subjectUser { id name } }`;

export const AUDIT_EVENT = `query Event($id: ID!) { auditEvent(id: $id) { ${EVENT_FIELDS} } }`;

/** What a log screen shows of each event (the selection, which the bench measures), as the fragment `UiEvent`. */
export const SCREEN_EVENT_FRAGMENT = `fragment UiEvent on AuditEvent {
  id type action occurredAt description
  actor { kind id name user { name } }
  changes { field before after }
  ... on ConversationEvent { conversation { id subject customer { name } } csat { rating } }
  ... on CustomerEvent { customer { name } }
  ... on SettingsEvent { section objectName }
}`;

export const ANA = { kind: "USER", id: "u-ana", name: "Ana Diaz" };
export const VIP_RULE = { kind: "AUTOMATION", id: "rule-vip", name: "Routing rule 'VIP'" };
export const PLATFORM = { kind: "SYSTEM", id: null, name: "Platform" };
export const ZAPIER = { kind: "API_CLIENT", id: "key-zapier", name: "Zapier" };

export const BEN = { id: "u-ben", name: "Ben Ode", email: "ben@example.com" };
export const ZOE = { id: "cu-zoe", name: "Zoë Park" };
export const REFUND = { id: "c-refund", subject: "Refund request" };

/** Targets that make each action valid: what the catalog requires, and nothing a type refuses. */
function targetsFor(type: AuditEventType, action: string): EventInput {
  switch (type) {
    case AuditEventType.AUTHORIZATION:
    case AuditEventType.BILLING:
      return { subjectUser: BEN };
    case AuditEventType.CONVERSATION:
      return {
        conversation: REFUND,
        customer: ZOE,
        ...(action.startsWith("conversation.csat_") ? { csat: { surveyId: "s-1", rating: 4, ratingScale: 5, comment: "Quick and kind" } } : {}),
        ...(action === "conversation.assigned" ? { subjectUser: BEN } : {}),
      };
    case AuditEventType.CUSTOMER:
      return { customer: ZOE };
    case AuditEventType.SETTINGS:
      return {
        settings: action.startsWith("settings.support_access")
          ? { section: "SUPPORT_ACCESS", objectId: null, objectName: null }
          : { section: "SHORTCUTS", objectId: "sc-1", objectName: "Refund macro" },
      };
    case AuditEventType.WORK_SESSION:
      return { workSession: { queue: "Billing", status: "available" }, conversation: REFUND, subjectUser: BEN };
  }
}

/** A valid input for a catalog action; `overrides` replace top-level fields. */
export function eventInput(type: AuditEventType, action: string, overrides: EventInput = {}): EventInput {
  return {
    idempotencyKey: randomUUID(),
    type,
    action,
    occurredAt: new Date(Date.now() - 60_000).toISOString(),
    actor: ANA,
    ...targetsFor(type, action),
    changes: [{ field: "status", before: "open", after: "done" }],
    metadata: { via: "test" },
    source: { ip: "203.0.113.7", userAgent: "agent-console/1.0", requestId: "req-1" },
    ...overrides,
  };
}

/** A realistic conversation event, about 500 bytes of JSON. */
export function realisticEvent(n: number): EventInput {
  return eventInput(AuditEventType.CONVERSATION, "conversation.status_changed", {
    idempotencyKey: `batch-${n}-${randomUUID()}`,
    conversation: { id: `c-${n % 97}`, subject: `Order ${1000 + (n % 97)} arrived damaged` },
    customer: { id: `cu-${n % 31}`, name: `Customer ${n % 31}` },
    changes: [
      { field: "status", before: "open", after: "pending" },
      { field: "tags", before: ["shipping"], after: ["shipping", "damaged"] },
    ],
    metadata: { channel: "email", inbox: "support", ticketNumber: 100000 + n },
  });
}
