import { Field, ID, ObjectType } from "type-graphql";

@ObjectType("Customer", { simpleResolvers: true })
export class Customer {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { description: "The current name, from the most recent event that named the customer." })
  name!: string;
}
