import { Field, ID, ObjectType } from "type-graphql";
import type { Customer } from "./customer.type";

@ObjectType("Conversation", { simpleResolvers: true })
export class Conversation {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true, description: "The current subject, from the most recent event that set one." })
  subject!: string | null;

  /** The conversation's customer in the directory; resolved by `Conversation.customer`. */
  customerId!: string | null;

  /**
   * The directory's entry for `customerId`, when it was read with the
   * conversation (null: the directory has none); absent otherwise, and
   * `Conversation.customer` asks the directory's loader.
   */
  currentCustomer?: Customer | null;
}
