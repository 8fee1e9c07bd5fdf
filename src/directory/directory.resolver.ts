import { Arg, Authorized, Ctx, Int, Query, Resolver } from "type-graphql";
import { Role } from "../auth/principal";
import { authenticated } from "../server/context";
import type { AppContext } from "../server/context";
import { Customer } from "./customer.type";
import type { DirectoryService } from "./directory.service";
import { User } from "./user.type";

@Resolver()
export class DirectoryResolver {
  constructor(private readonly directory: DirectoryService) {}

  @Authorized(Role.ADMIN, Role.AGENT)
  @Query(() => [Customer], { description: "Customers of the workspace whose name contains the text, for filter pickers." })
  customers(
    @Arg("nameContains", () => String) nameContains: string,
    @Arg("first", () => Int, { nullable: true, description: "1 to 100; default 20." }) first: number | null,
    @Ctx() context: AppContext,
  ): Promise<Customer[]> {
    return this.directory.findCustomers(authenticated(context).principal, nameContains, first);
  }

  @Authorized(Role.ADMIN, Role.AGENT)
  @Query(() => [User], { description: "Users of the workspace, for filter pickers." })
  users(
    @Arg("search", () => String, { nullable: true, description: "Text the name or email contains." }) search: string | null,
    @Arg("first", () => Int, { nullable: true, description: "1 to 100; default 20." }) first: number | null,
    @Ctx() context: AppContext,
  ): Promise<User[]> {
    return this.directory.findUsers(authenticated(context).principal, search, first);
  }
}
