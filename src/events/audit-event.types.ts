import { GraphQLJSON } from "graphql-scalars";
import { Field, ID, Int, InterfaceType, ObjectType } from "type-graphql";
import { ActorKind, AuditEventType } from "./audit-event.enums";
import type { AuditEventRecord, JsonValue } from "./audit-event.record";

@ObjectType("Actor", { simpleResolvers: true })
export class Actor {
  @Field(() => ActorKind)
  kind!: ActorKind;

  @Field(() => ID, { nullable: true, description: "Stable id of the user, automation or API client; null for the platform itself." })
  id!: string | null;

  @Field(() => String, { description: "The actor's name at the time of the event." })
  name!: string;

  /** The directory's entry for a USER actor, when it was read with the event (see `ActorRecord.current`). */
  current?: { id: string; name: string; email: string | null } | null;
}

@ObjectType("FieldChange", { simpleResolvers: true, description: "One changed property, with its value before and after." })
export class FieldChange {
  @Field(() => String)
  field!: string;

  @Field(() => GraphQLJSON, { nullable: true })
  before!: JsonValue;

  @Field(() => GraphQLJSON, { nullable: true })
  after!: JsonValue;
}

@ObjectType("EventSource", { simpleResolvers: true })
export class EventSource {
  @Field(() => String, { nullable: true })
  ip!: string | null;

  @Field(() => String, { nullable: true })
  userAgent!: string | null;

  @Field(() => String, { nullable: true })
  requestId!: string | null;
}

@ObjectType("CsatResponse", { simpleResolvers: true, description: "A CSAT survey answer attached to a conversation event." })
export class CsatResponse {
  @Field(() => ID, { nullable: true })
  surveyId!: string | null;

  @Field(() => Int, { nullable: true })
  rating!: number | null;

  @Field(() => Int, { nullable: true })
  ratingScale!: number | null;

  @Field(() => String, { nullable: true })
  comment!: string | null;
}

/** GraphQL type name of each event type. */
export const EVENT_TYPE_NAMES: Readonly<Record<AuditEventType, string>> = {
  [AuditEventType.AUTHORIZATION]: "AuthorizationEvent",
  [AuditEventType.BILLING]: "BillingEvent",
  [AuditEventType.CONVERSATION]: "ConversationEvent",
  [AuditEventType.CUSTOMER]: "CustomerEvent",
  [AuditEventType.SETTINGS]: "SettingsEvent",
  [AuditEventType.WORK_SESSION]: "WorkSessionEvent",
};

/** The GraphQL type of a stored event: what `AuditEvent` resolves to. */
export const resolveAuditEventType = (event: AuditEventRecord): string => EVENT_TYPE_NAMES[event.type];

/**
 * The fields every event has. The root value of every event type is the
 * stored {@link AuditEventRecord}; type-specific fields are resolved from it.
 */
@InterfaceType("AuditEvent", { resolveType: resolveAuditEventType })
export abstract class AuditEvent {
  @Field(() => ID)
  id!: string;

  @Field(() => AuditEventType)
  type!: AuditEventType;

  @Field(() => String, { description: "Dotted action name from the event catalog, e.g. conversation.status_changed." })
  action!: string;

  @Field(() => Date, { description: "When it happened, as reported by the producer." })
  occurredAt!: Date;

  @Field(() => Date, { description: "When the audit log stored it." })
  recordedAt!: Date;

  @Field(() => Actor)
  actor!: Actor;

  @Field(() => String, { description: "One human-readable sentence, e.g. 'Ana Diaz changed status from open to done'." })
  description!: string;

  @Field(() => [FieldChange])
  changes!: FieldChange[];

  @Field(() => GraphQLJSON, { nullable: true })
  metadata!: JsonValue;

  @Field(() => EventSource, { nullable: true })
  source!: EventSource | null;
}

@ObjectType("AuthorizationEvent", { simpleResolvers: true, implements: AuditEvent })
export class AuthorizationEvent extends AuditEvent {}

@ObjectType("BillingEvent", { simpleResolvers: true, implements: AuditEvent })
export class BillingEvent extends AuditEvent {}

@ObjectType("ConversationEvent", { simpleResolvers: true, implements: AuditEvent })
export class ConversationEvent extends AuditEvent {}

@ObjectType("CustomerEvent", { simpleResolvers: true, implements: AuditEvent })
export class CustomerEvent extends AuditEvent {}

@ObjectType("SettingsEvent", { simpleResolvers: true, implements: AuditEvent })
export class SettingsEvent extends AuditEvent {}

@ObjectType("WorkSessionEvent", { simpleResolvers: true, implements: AuditEvent })
export class WorkSessionEvent extends AuditEvent {}

@ObjectType("RecordAuditEventsPayload", { simpleResolvers: true })
export class RecordAuditEventsPayload {
  @Field(() => [AuditEvent], { description: "The stored events, in input order (an idempotent repeat returns the event stored first)." })
  events!: AuditEventRecord[];

  @Field(() => Int, { description: "How many inputs were repeats of events already stored." })
  duplicates!: number;
}
