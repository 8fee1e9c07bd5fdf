import { GraphQLJSON } from "graphql-scalars";
import { Field, ID, InputType, Int } from "type-graphql";
import { ActorKind, AuditEventType, SettingsSection } from "./audit-event.enums";
import type { JsonValue } from "./audit-event.record";

@InputType()
export class ActorInput {
  @Field(() => ActorKind)
  kind!: ActorKind;

  @Field(() => ID, { nullable: true })
  id?: string | null;

  @Field(() => String)
  name!: string;
}

@InputType()
export class UserRefInput {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String, { nullable: true })
  email?: string | null;
}

@InputType()
export class CustomerRefInput {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;
}

@InputType()
export class ConversationRefInput {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true })
  subject?: string | null;
}

@InputType()
export class SettingsTargetInput {
  @Field(() => SettingsSection)
  section!: SettingsSection;

  @Field(() => ID, { nullable: true })
  objectId?: string | null;

  @Field(() => String, { nullable: true })
  objectName?: string | null;
}

@InputType()
export class WorkSessionInput {
  @Field(() => String, { nullable: true })
  queue?: string | null;

  @Field(() => String, { nullable: true })
  status?: string | null;
}

@InputType()
export class CsatInput {
  @Field(() => ID, { nullable: true })
  surveyId?: string | null;

  @Field(() => Int, { nullable: true })
  rating?: number | null;

  @Field(() => Int, { nullable: true })
  ratingScale?: number | null;

  @Field(() => String, { nullable: true })
  comment?: string | null;
}

@InputType()
export class FieldChangeInput {
  @Field(() => String)
  field!: string;

  @Field(() => GraphQLJSON, { nullable: true })
  before?: JsonValue;

  @Field(() => GraphQLJSON, { nullable: true })
  after?: JsonValue;
}

@InputType()
export class SourceInput {
  @Field(() => String, { nullable: true })
  ip?: string | null;

  @Field(() => String, { nullable: true })
  userAgent?: string | null;

  @Field(() => String, { nullable: true })
  requestId?: string | null;
}

@InputType()
export class AuditEventInput {
  @Field(() => String, {
    description:
      "Unique per workspace. Sending the same key with the same content again returns the stored event; with different content it is CONFLICT.",
  })
  idempotencyKey!: string;

  @Field(() => AuditEventType)
  type!: AuditEventType;

  @Field(() => String, { description: "Must be an action of the catalog for this type." })
  action!: string;

  @Field(() => Date)
  occurredAt!: Date;

  @Field(() => ActorInput)
  actor!: ActorInput;

  @Field(() => CustomerRefInput, {
    nullable: true,
    description: "Required for CUSTOMER events. On CONVERSATION events, and on WORK_SESSION events about a conversation, the conversation's customer: it ties the conversation to that customer.",
  })
  customer?: CustomerRefInput | null;

  @Field(() => ConversationRefInput, { nullable: true, description: "Required for CONVERSATION events." })
  conversation?: ConversationRefInput | null;

  @Field(() => UserRefInput, { nullable: true })
  subjectUser?: UserRefInput | null;

  @Field(() => SettingsTargetInput, { nullable: true, description: "Required for SETTINGS events." })
  settings?: SettingsTargetInput | null;

  @Field(() => WorkSessionInput, { nullable: true })
  workSession?: WorkSessionInput | null;

  @Field(() => CsatInput, { nullable: true })
  csat?: CsatInput | null;

  @Field(() => [FieldChangeInput], { nullable: true })
  changes?: FieldChangeInput[] | null;

  @Field(() => GraphQLJSON, { nullable: true })
  metadata?: JsonValue;

  @Field(() => SourceInput, { nullable: true })
  source?: SourceInput | null;
}
