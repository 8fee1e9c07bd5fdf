import { Ctx, FieldResolver, ID, Resolver, Root } from "type-graphql";
import { Conversation } from "../directory/conversation.type";
import { Customer } from "../directory/customer.type";
import { User } from "../directory/user.type";
import { authenticated } from "../server/context";
import type { AppContext } from "../server/context";
import { ActorKind, AuditEventType, SettingsSection } from "./audit-event.enums";
import { targetsOf } from "./audit-event.record";
import type { AuditEventRecord } from "./audit-event.record";
import {
  Actor,
  AuthorizationEvent,
  BillingEvent,
  ConversationEvent,
  CsatResponse,
  CustomerEvent,
  SettingsEvent,
  WorkSessionEvent,
} from "./audit-event.types";

type EventOf<T extends AuditEventType> = Extract<AuditEventRecord, { type: T }>;

/** The `customer` of an event on a conversation, as {@link customerOf} resolves it. */
const CONVERSATION_CUSTOMER = "The conversation's customer: the one the event named, or else the one the directory ties the conversation to.";

/** A field's value, at once when the event was read with the directory's entries, otherwise through the loaders. */
type Resolved<T> = T | Promise<T>;

/*
 * Each reference resolves to the directory's current entry, or when the
 * directory has none, to the values recorded on the event: a reference on an
 * event always resolves. A log's page carries the entries (`event.current`);
 * other events ask the loaders, batched per tick.
 */

function conversationOf(event: AuditEventRecord, context: AppContext): Resolved<Conversation | null> {
  const recorded = targetsOf(event).conversation;
  if (!recorded) return null;
  const asRecorded = (): Conversation => ({ id: recorded.id, subject: recorded.subject, customerId: event.customerId });
  if (event.current) {
    const { conversation, customer } = event.current;
    if (!conversation) return { ...asRecorded(), currentCustomer: customer };
    return { id: conversation.id, subject: conversation.subject, customerId: conversation.customerId, currentCustomer: conversation.customer };
  }
  return authenticated(context)
    .loaders.conversation.load(recorded.id)
    .then((current) => current ?? asRecorded());
}

function customerOf(event: AuditEventRecord, context: AppContext): Resolved<Customer | null> {
  if (!event.customerId) {
    // Recorded before its conversation had a customer: the customer the directory ties the conversation to now.
    const conversation = conversationOf(event, context);
    return conversation instanceof Promise ? conversation.then((found) => customerOfConversation(found, context)) : customerOfConversation(conversation, context);
  }
  const recorded = targetsOf(event).customer;
  const asRecorded = recorded ? { id: recorded.id, name: recorded.name } : null;
  if (event.current) return event.current.customer ?? asRecorded;
  return authenticated(context)
    .loaders.customer.load(event.customerId)
    .then((current) => current ?? asRecorded);
}

function customerOfConversation(conversation: Conversation | null, context: AppContext): Resolved<Customer | null> {
  if (!conversation?.customerId) return null;
  if (conversation.currentCustomer !== undefined) return conversation.currentCustomer;
  return authenticated(context).loaders.customer.load(conversation.customerId);
}

function subjectUserOf(event: AuditEventRecord, context: AppContext): Resolved<User | null> {
  const recorded = targetsOf(event).subjectUser;
  if (!recorded) return null;
  if (event.current) return event.current.subjectUser ?? recorded;
  return authenticated(context)
    .loaders.user.load(recorded.id)
    .then((current) => current ?? recorded);
}

@Resolver(() => Actor)
export class ActorResolver {
  @FieldResolver(() => User, { nullable: true, description: "The user, when kind is USER and the user is known to the workspace." })
  user(@Root() actor: Actor, @Ctx() context: AppContext): Resolved<User | null> {
    if (actor.kind !== ActorKind.USER || !actor.id) return null;
    if (actor.current !== undefined) return actor.current;
    return authenticated(context).loaders.user.load(actor.id);
  }
}

@Resolver(() => Conversation)
export class ConversationResolver {
  @FieldResolver(() => Customer, { nullable: true })
  customer(@Root() conversation: Conversation, @Ctx() context: AppContext): Resolved<Customer | null> {
    return customerOfConversation(conversation, context);
  }
}

@Resolver(() => AuthorizationEvent)
export class AuthorizationEventResolver {
  @FieldResolver(() => User, { nullable: true, description: "The account the action applied to, e.g. the user whose role changed." })
  subjectUser(@Root() event: AuditEventRecord, @Ctx() context: AppContext): Resolved<User | null> {
    return subjectUserOf(event, context);
  }
}

@Resolver(() => BillingEvent)
export class BillingEventResolver {
  @FieldResolver(() => User, { nullable: true, description: "The user the action applied to, e.g. the new billing contact." })
  subjectUser(@Root() event: AuditEventRecord, @Ctx() context: AppContext): Resolved<User | null> {
    return subjectUserOf(event, context);
  }
}

@Resolver(() => ConversationEvent)
export class ConversationEventResolver {
  @FieldResolver(() => Conversation)
  conversation(@Root() event: AuditEventRecord, @Ctx() context: AppContext): Resolved<Conversation | null> {
    return conversationOf(event, context);
  }

  @FieldResolver(() => Customer, { nullable: true, description: CONVERSATION_CUSTOMER })
  customer(@Root() event: AuditEventRecord, @Ctx() context: AppContext): Resolved<Customer | null> {
    return customerOf(event, context);
  }

  @FieldResolver(() => CsatResponse, { nullable: true, description: "Set on CSAT events: how the survey was answered." })
  csat(@Root() event: EventOf<AuditEventType.CONVERSATION>): CsatResponse | null {
    return event.targets.csat;
  }

  @FieldResolver(() => User, { nullable: true, description: "The user the conversation was assigned to or unassigned from." })
  subjectUser(@Root() event: AuditEventRecord, @Ctx() context: AppContext): Resolved<User | null> {
    return subjectUserOf(event, context);
  }
}

@Resolver(() => CustomerEvent)
export class CustomerEventResolver {
  @FieldResolver(() => Customer)
  customer(@Root() event: AuditEventRecord, @Ctx() context: AppContext): Resolved<Customer | null> {
    return customerOf(event, context);
  }
}

@Resolver(() => SettingsEvent)
export class SettingsEventResolver {
  @FieldResolver(() => SettingsSection)
  section(@Root() event: EventOf<AuditEventType.SETTINGS>): SettingsSection {
    return event.targets.settings.section;
  }

  @FieldResolver(() => ID, { nullable: true })
  objectId(@Root() event: EventOf<AuditEventType.SETTINGS>): string | null {
    return event.targets.settings.objectId;
  }

  @FieldResolver(() => String, { nullable: true })
  objectName(@Root() event: EventOf<AuditEventType.SETTINGS>): string | null {
    return event.targets.settings.objectName;
  }
}

@Resolver(() => WorkSessionEvent)
export class WorkSessionEventResolver {
  @FieldResolver(() => String, { nullable: true })
  queue(@Root() event: EventOf<AuditEventType.WORK_SESSION>): string | null {
    return event.targets.workSession?.queue ?? null;
  }

  @FieldResolver(() => String, { nullable: true })
  status(@Root() event: EventOf<AuditEventType.WORK_SESSION>): string | null {
    return event.targets.workSession?.status ?? null;
  }

  @FieldResolver(() => Conversation, { nullable: true, description: "The conversation routed, accepted or rejected, when there is one." })
  conversation(@Root() event: AuditEventRecord, @Ctx() context: AppContext): Resolved<Conversation | null> {
    return conversationOf(event, context);
  }

  @FieldResolver(() => Customer, { nullable: true, description: CONVERSATION_CUSTOMER })
  customer(@Root() event: AuditEventRecord, @Ctx() context: AppContext): Resolved<Customer | null> {
    return customerOf(event, context);
  }

  @FieldResolver(() => User, { nullable: true, description: "The user a conversation was routed to." })
  subjectUser(@Root() event: AuditEventRecord, @Ctx() context: AppContext): Resolved<User | null> {
    return subjectUserOf(event, context);
  }
}

export const AUDIT_EVENT_FIELD_RESOLVERS = [
  ActorResolver,
  ConversationResolver,
  AuthorizationEventResolver,
  BillingEventResolver,
  ConversationEventResolver,
  CustomerEventResolver,
  SettingsEventResolver,
  WorkSessionEventResolver,
] as const;
