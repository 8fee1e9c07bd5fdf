import { Field, ID, ObjectType } from "type-graphql";

@ObjectType("User", { simpleResolvers: true })
export class User {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { description: "The current name, from the most recent event that named the user." })
  name!: string;

  @Field(() => String, { nullable: true })
  email!: string | null;
}
