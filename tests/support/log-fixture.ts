import { randomUUID } from "node:crypto";
import type { JsonValue } from "../../src/events/audit-event.record";
import type { EventInput } from "./events";

/**
 * A small workspace whose every log and filter result is known in advance:
 * tests record it, then compare each page with what {@link expected} computes
 * from the same list.
 */

export const BASE_TIME = Date.UTC(2026, 9, 1, 12, 0, 0);
export const minutes = (n: number) => new Date(BASE_TIME + n * 60_000).toISOString();

const ANA = { kind: "USER", id: "u-ana", name: "Ana Diaz" };
const BEN = { kind: "USER", id: "u-ben", name: "Ben Ode" };
/** An automation whose id equals a user's: a user filter must not take it for the user. */
const RULE_NAMED_LIKE_BEN = { kind: "AUTOMATION", id: "u-ben", name: "Routing rule 'VIP'" };
const PLATFORM = { kind: "SYSTEM", id: null, name: "Platform" };

const ZOE = { id: "cu-zoe", name: "Zoë Park" };
const ZOE_TWIN = { id: "cu-zoe-2", name: "ZOË PARK" };
const IVO = { id: "cu-ivo", name: "Ivo Lind" };

export interface FixtureEvent {
  input: EventInput;
  /** Position in the recording call: ties in occurredAt are ordered by it. */
  position: number;
}

let counter = 0;
function event(minute: number, type: string, action: string, actor: EventInput, targets: EventInput = {}, changes: JsonValue = []): EventInput {
  counter += 1;
  return {
    idempotencyKey: `fixture-${counter}-${randomUUID()}`,
    type,
    action,
    occurredAt: minutes(minute),
    actor,
    changes,
    ...targets,
  };
}

/** A system's update of a customer, which gives the customer the name it carries. */
export function customerUpdate(idempotencyKey: string, minute: number, customer: { id: string; name: string }): EventInput {
  return { idempotencyKey, type: "CUSTOMER", action: "customer.updated", occurredAt: minutes(minute), actor: { kind: "SYSTEM", id: null, name: "Platform" }, customer };
}

/** The events, in the order they are recorded (one call). */
export function fixtureInputs(): EventInput[] {
  return [
    event(1, "AUTHORIZATION", "authorization.login_succeeded", ANA),
    event(2, "AUTHORIZATION", "authorization.login_succeeded", BEN),
    event(3, "CUSTOMER", "customer.created", ANA, { customer: ZOE }),
    event(4, "CUSTOMER", "customer.created", BEN, { customer: ZOE_TWIN }),
    event(5, "CUSTOMER", "customer.created", PLATFORM, { customer: IVO }),
    event(6, "CONVERSATION", "conversation.created", ANA, { conversation: { id: "c-1", subject: "Refund request" }, customer: ZOE }),
    event(7, "CONVERSATION", "conversation.created", BEN, { conversation: { id: "c-2", subject: "Broken zipper" }, customer: IVO }),
    event(8, "CONVERSATION", "conversation.created", BEN, { conversation: { id: "c-3", subject: "Invoice copy" } }),
    event(9, "CONVERSATION", "conversation.status_changed", ANA, { conversation: { id: "c-1" } }, [{ field: "status", before: "open", after: "pending" }]),
    event(10, "CONVERSATION", "conversation.assigned", RULE_NAMED_LIKE_BEN, {
      conversation: { id: "c-2" },
      subjectUser: { id: "u-ben", name: "Ben Ode", email: "ben@example.com" },
    }),
    event(11, "WORK_SESSION", "work_session.started", BEN, { workSession: { status: "available" } }),
    event(12, "WORK_SESSION", "work_session.queue_joined", BEN, { workSession: { queue: "Returns" } }),
    event(13, "WORK_SESSION", "work_session.conversation_routed", RULE_NAMED_LIKE_BEN, {
      conversation: { id: "c-1" },
      workSession: { queue: "Returns" },
    }),
    event(14, "WORK_SESSION", "work_session.conversation_accepted", BEN, { conversation: { id: "c-1" } }),
    event(15, "CONVERSATION", "conversation.csat_survey_sent", PLATFORM, { conversation: { id: "c-1" }, csat: { surveyId: "s-1" } }),
    event(16, "CONVERSATION", "conversation.csat_answered", PLATFORM, {
      conversation: { id: "c-1" },
      customer: ZOE,
      csat: { surveyId: "s-1", rating: 5, ratingScale: 5, comment: "Wonderful support" },
    }),
    event(17, "SETTINGS", "settings.created", ANA, { settings: { section: "SHORTCUTS", objectId: "sc-1", objectName: "Refund macro" } }),
    event(18, "SETTINGS", "settings.updated", BEN, { settings: { section: "SEARCHES", objectId: "se-1", objectName: "Open tickets" } }),
    event(19, "SETTINGS", "settings.enabled", ANA, { settings: { section: "BUSINESS_RULES", objectId: "br-1", objectName: "VIP routing" } }),
    event(20, "SETTINGS", "settings.support_access_granted", ANA, { settings: { section: "SUPPORT_ACCESS" } }),
    event(21, "BILLING", "billing.plan_changed", ANA, {}, [{ field: "plan", before: "Team", after: "Enterprise" }]),
    event(22, "BILLING", "billing.seats_changed", BEN, {}, [{ field: "seats", before: 10, after: 12 }]),
    event(23, "CUSTOMER", "customer.updated", ANA, { customer: ZOE }, [{ field: "phone", before: null, after: "+31 20 555 0100" }]),
    // Three events at the same instant: their order is the order they were stored.
    event(24, "CONVERSATION", "conversation.tags_changed", ANA, { conversation: { id: "c-3" }, customer: ZOE }, [{ field: "tags", before: [], after: ["billing"] }]),
    event(24, "CONVERSATION", "conversation.priority_changed", BEN, { conversation: { id: "c-3" } }, [{ field: "priority", before: "low", after: "urgent" }]),
    event(24, "AUTHORIZATION", "authorization.logout", BEN),
    event(25, "CUSTOMER", "customer.updated", BEN, { customer: ZOE_TWIN }, [{ field: "email", before: null, after: "zoe@example.org" }]),
    event(26, "CONVERSATION", "conversation.updated", ANA, { conversation: { id: "c-4", subject: "Parcel lost" }, customer: ZOE_TWIN }),
    event(27, "AUTHORIZATION", "authorization.role_changed", ANA, { subjectUser: { id: "u-ben", name: "Ben Ode" } }, [
      { field: "role", before: "agent", after: "admin" },
    ]),
    event(28, "WORK_SESSION", "work_session.ended", BEN),
  ];
}

/** What every event belongs to, computed the way the service is specified to. */
export interface Facts {
  id: string;
  input: EventInput;
  position: number;
  type: string;
  actorKind: string;
  actorId: string | null;
  occurredAt: number;
  conversationId: string | null;
  /** The customer named, or the conversation's customer in the directory after the call. */
  customerId: string | null;
  section: string | null;
}

export function factsOf(inputs: EventInput[], ids: string[]): Facts[] {
  const conversationCustomer = new Map<string, { customerId: string; at: number }>();
  for (const input of inputs) {
    const conversation = input.conversation as { id: string } | undefined;
    const customer = input.customer as { id: string } | undefined;
    const at = Date.parse(input.occurredAt as string);
    if (input.type === "CONVERSATION" && conversation && customer) {
      const known = conversationCustomer.get(conversation.id);
      if (!known || at >= known.at) conversationCustomer.set(conversation.id, { customerId: customer.id, at });
    }
  }
  return inputs.map((input, position) => {
    const conversation = input.conversation as { id: string } | undefined;
    const customer = input.customer as { id: string } | undefined;
    const actor = input.actor as { kind: string; id: string | null };
    return {
      id: ids[position],
      input,
      position,
      type: input.type as string,
      actorKind: actor.kind,
      actorId: actor.id,
      occurredAt: Date.parse(input.occurredAt as string),
      conversationId: conversation?.id ?? null,
      customerId: customer?.id ?? (conversation ? (conversationCustomer.get(conversation.id)?.customerId ?? null) : null),
      section: ((input.settings as { section?: string } | undefined)?.section as string) ?? null,
    };
  });
}

/** The ids a log must return, newest first, ties by recording order. */
export function expected(facts: Facts[], keep: (fact: Facts) => boolean): string[] {
  return facts
    .filter(keep)
    .sort((a, b) => b.occurredAt - a.occurredAt || b.position - a.position)
    .map((fact) => fact.id);
}

export const byUser = (userId: string) => (fact: Facts) => fact.actorKind === "USER" && fact.actorId === userId;
