import { Args, ArgsType, Authorized, Field, ID, Resolver, Root, Subscription } from "type-graphql";
import { Role } from "../auth/principal";
import { BadUserInputError } from "../common/errors";
import { AuditEventFilter } from "../logs/audit-log.inputs";
import { AuditEventEdge } from "../logs/audit-log.types";
import { authenticated } from "../server/context";
import type { AppContext } from "../server/context";

/*
 * The arguments of each tail are one @ArgsType class, taken by the resolve
 * method's @Args() parameter although only `subscribe` reads them:
 * type-graphql 2.0 builds a field's arguments from the parameter decorators
 * of its method alone (SchemaGenerator.generateHandlerArgs), and
 * @Subscription's options have no place for them. The fields' order is the
 * arguments' order in the published schema.
 */
@ArgsType()
class ConversationTailArgs {
  @Field(() => String, { nullable: true })
  after?: string | null;

  @Field(() => ID)
  conversationId!: string;
}

@ArgsType()
class WorkspaceTailArgs {
  @Field(() => String, { nullable: true })
  after?: string | null;

  @Field(() => AuditEventFilter, { nullable: true })
  filter?: AuditEventFilter | null;
}

/** Subscriptions run over WebSocket only: that is where the context carries the connection. */
function tailContext(context: AppContext) {
  if (!context.connection) throw new BadUserInputError("Subscriptions run over WebSocket (graphql-transport-ws) on /graphql.");
  return { principal: authenticated(context).principal, liveTail: context.liveTail };
}

@Resolver()
export class LiveTailResolver {
  @Authorized(Role.ADMIN, Role.AGENT)
  @Subscription(() => AuditEventEdge, {
    description:
      "Live tail of one conversation's events, in the order they were recorded. ADMIN or AGENT.\nWith `after` (the cursor of an edge from a page or from an earlier delivery), events\nrecorded after that one are replayed from storage first, then live ones follow:\nno gap and no duplicate, also while events are being recorded concurrently.",
    subscribe: ({ args, context }) => {
      const { principal, liveTail } = tailContext(context as AppContext);
      const { conversationId, after } = args as ConversationTailArgs;
      return liveTail.conversationTail(principal, conversationId, after ?? null);
    },
  })
  conversationAuditEvents(
    @Root() edge: AuditEventEdge,
    @Args() _args: ConversationTailArgs,
  ): AuditEventEdge {
    return edge;
  }

  @Authorized(Role.ADMIN)
  @Subscription(() => AuditEventEdge, {
    description: "Live tail of the whole workspace, optionally filtered; `after` as above. ADMIN only.",
    subscribe: ({ args, context }) => {
      const { principal, liveTail } = tailContext(context as AppContext);
      const { filter, after } = args as WorkspaceTailArgs;
      return liveTail.workspaceTail(principal, filter ?? null, after ?? null);
    },
  })
  workspaceAuditEvents(
    @Root() edge: AuditEventEdge,
    @Args() _args: WorkspaceTailArgs,
  ): AuditEventEdge {
    return edge;
  }
}
