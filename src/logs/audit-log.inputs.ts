import { Directive, Field, ID, InputType } from "type-graphql";
import { SettingsSection } from "../events/audit-event.enums";

@InputType("DateRange", { description: "from is inclusive, to is exclusive; either may be omitted; from after to is BAD_USER_INPUT." })
export class DateRange {
  @Field(() => Date, { nullable: true })
  from?: Date | null;

  @Field(() => Date, { nullable: true })
  to?: Date | null;
}

@InputType("UserFilter")
export class UserFilter {
  @Field(() => ID)
  userId!: string;
}

@InputType("ConversationFilter")
export class ConversationFilter {
  @Field(() => ID)
  conversationId!: string;

  @Field(() => ID, { nullable: true })
  userId?: string | null;
}

@InputType("CustomerFilter")
export class CustomerFilter {
  @Field(() => String, { description: "Matches customers whose current name equals this, ignoring case." })
  customerName!: string;

  @Field(() => ID, { nullable: true })
  userId?: string | null;
}

@InputType("SettingsFilter")
export class SettingsFilter {
  @Field(() => SettingsSection)
  section!: SettingsSection;

  @Field(() => ID, { nullable: true })
  userId?: string | null;
}

/** graphql-js enforces exactly one member (see `applyOneOf` in the schema builder). */
@InputType("AuditEventFilter", {
  description: "Exactly one member: the event type to show, with that type's criteria.\nallEvents shows events of every type performed by the given user.",
})
@Directive("@oneOf")
export class AuditEventFilter {
  @Field(() => UserFilter, { nullable: true })
  allEvents?: UserFilter | null;

  @Field(() => UserFilter, { nullable: true })
  authorization?: UserFilter | null;

  @Field(() => UserFilter, { nullable: true })
  billing?: UserFilter | null;

  @Field(() => ConversationFilter, { nullable: true })
  conversation?: ConversationFilter | null;

  @Field(() => CustomerFilter, { nullable: true })
  customer?: CustomerFilter | null;

  @Field(() => SettingsFilter, { nullable: true })
  settings?: SettingsFilter | null;

  @Field(() => UserFilter, { nullable: true })
  workSession?: UserFilter | null;
}
