import { Field, ID, ObjectType } from "type-graphql";

@ObjectType("Conversation", { simpleResolvers: true })
export class Conversation {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true, description: "The current subject, from the most recent event that set one." })
  subject!: string | null;

  /** The conversation's customer in the directory; resolved by `Conversation.customer`. */
  customerId!: string | null;
}
