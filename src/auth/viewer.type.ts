import { Field, ID, ObjectType } from "type-graphql";
import { User } from "../directory/user.type";
import { Role } from "./principal";

@ObjectType("Viewer", { simpleResolvers: true })
export class Viewer {
  @Field(() => ID)
  userId!: string;

  @Field(() => Role)
  role!: Role;

  @Field(() => ID)
  workspaceId!: string;

  @Field(() => User, { nullable: true, description: "The viewer's directory entry, when the workspace knows the user." })
  user?: User | null;
}
