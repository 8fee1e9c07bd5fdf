import { Field, ObjectType } from "type-graphql";
import type { AuditEventRecord } from "../events/audit-event.record";
import { AuditEvent } from "../events/audit-event.types";

@ObjectType("PageInfo", { simpleResolvers: true })
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

@ObjectType("AuditEventEdge", { simpleResolvers: true })
export class AuditEventEdge {
  @Field(() => String, {
    description:
      "Opaque. As `after` of a log query: the next page after this event. As `after` of a subscription: resume the tail after this event.",
  })
  cursor!: string;

  @Field(() => AuditEvent)
  node!: AuditEventRecord;
}

@ObjectType("AuditEventConnection", { simpleResolvers: true, description: "Events newest first (occurredAt descending, ties broken by the order they were stored)." })
export class AuditEventConnection {
  @Field(() => [AuditEventEdge])
  edges!: AuditEventEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
