import { Authorized, Ctx, FieldResolver, Query, Resolver, Root } from "type-graphql";
import { User } from "../directory/user.type";
import { authenticated } from "../server/context";
import type { AppContext } from "../server/context";
import { Role } from "./principal";
import { Viewer } from "./viewer.type";

@Resolver(() => Viewer)
export class ViewerResolver {
  @Authorized()
  @Query(() => Viewer, { description: "Who the token says the caller is." })
  viewer(@Ctx() context: AppContext): Viewer {
    const { principal } = authenticated(context);
    return { userId: principal.userId, role: principal.role, workspaceId: principal.workspaceId };
  }

  @FieldResolver(() => User, { nullable: true })
  async user(@Root() viewer: Viewer, @Ctx() context: AppContext): Promise<User | null> {
    // A SERVICE token's subject is an API client, never a directory user.
    if (viewer.role === Role.SERVICE) return null;
    return authenticated(context).loaders.user.load(viewer.userId);
  }
}
