import type { GraphQLResolveInfo } from "graphql";
import { Arg, Args, ArgsType, Authorized, Ctx, Field, ID, Info, Int, Query, Resolver } from "type-graphql";
import { Role } from "../auth/principal";
import type { AuditEventRecord } from "../events/audit-event.record";
import { AuditEvent } from "../events/audit-event.types";
import { authenticated, noteIgnoredSearchWords } from "../server/context";
import type { AppContext } from "../server/context";
import type { AuditEventService } from "./audit-event.service";
import { AuditEventFilter, DateRange } from "./audit-log.inputs";
import type { AuditLogService } from "./audit-log.service";
import { AuditEventConnection } from "./audit-log.types";
import { selectedEventParts } from "./selected-parts";

/**
 * What a customer's and a conversation's log take besides the id. The fields
 * stand in the order that keeps the published arguments as they were
 * (range, userId, first, after); `tests/schema.test.ts` holds the schema to it.
 */
@ArgsType()
class ScopedLogPageArgs {
  @Field(() => String, { nullable: true })
  after?: string | null;

  @Field(() => Int, { nullable: true })
  first?: number | null;

  @Field(() => ID, { nullable: true })
  userId?: string | null;

  @Field(() => DateRange, { nullable: true })
  range?: DateRange | null;
}

@Resolver()
export class AuditLogResolver {
  constructor(
    private readonly logs: AuditLogService,
    private readonly events: AuditEventService,
  ) {}

  @Authorized(Role.ADMIN, Role.AGENT)
  @Query(() => AuditEvent, { nullable: true, description: "One event, if the caller may see it." })
  async auditEvent(@Arg("id", () => ID) id: string, @Ctx() context: AppContext): Promise<AuditEventRecord> {
    return this.events.findById(authenticated(context).principal, id);
  }

  @Authorized(Role.ADMIN)
  @Query(() => AuditEventConnection, { description: "Every event of the workspace. ADMIN only." })
  async workspaceAuditLog(
    @Arg("filter", () => AuditEventFilter, { nullable: true }) filter: AuditEventFilter | null,
    @Arg("range", () => DateRange, { nullable: true }) range: DateRange | null,
    @Arg("search", () => String, { nullable: true, description: "Words to find in descriptions, names and changed values." })
    search: string | null,
    @Arg("first", () => Int, { nullable: true, description: "1 to 200; default 50." }) first: number | null,
    @Arg("after", () => String, { nullable: true }) after: string | null,
    @Ctx() context: AppContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<AuditEventConnection> {
    const page = await this.logs.page(authenticated(context).principal, { log: "workspace", filter, range, search, first, after }, selectedEventParts(info));
    noteIgnoredSearchWords(context, page.ignoredSearchWords);
    return page;
  }

  @Authorized(Role.ADMIN, Role.AGENT)
  @Query(() => AuditEventConnection, {
    description: "Events on one customer, including events on that customer's conversations. ADMIN or AGENT.",
  })
  customerAuditLog(
    @Arg("customerId", () => ID) customerId: string,
    @Args() page: ScopedLogPageArgs,
    @Ctx() context: AppContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<AuditEventConnection> {
    return this.logs.page(authenticated(context).principal, { log: "customer", customerId, ...page }, selectedEventParts(info));
  }

  @Authorized(Role.ADMIN, Role.AGENT)
  @Query(() => AuditEventConnection, { description: "Events on one conversation, CSAT answers included. ADMIN or AGENT." })
  conversationAuditLog(
    @Arg("conversationId", () => ID) conversationId: string,
    @Args() page: ScopedLogPageArgs,
    @Ctx() context: AppContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<AuditEventConnection> {
    return this.logs.page(authenticated(context).principal, { log: "conversation", conversationId, ...page }, selectedEventParts(info));
  }
}
