import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from "type-graphql";
import type { AppContext } from "../auth/context";
import { authenticated } from "../auth/context";
import { Role } from "../auth/principal";
import { PlainArg } from "../common/plain-argument";
import type { AppServices } from "../server/services";
import { AuditEventInput } from "./audit-event.inputs";
import type { AuditEventRecord } from "./audit-event.record";
import { AuditEvent, RecordAuditEventsPayload } from "./audit-event.types";

@Resolver()
export class AuditEventResolver {
  constructor(private readonly services: AppServices) {}

  @Authorized(Role.SERVICE)
  @Mutation(() => RecordAuditEventsPayload, { description: "Records 1 to 1000 events in the caller's workspace, all or nothing. SERVICE only." })
  async recordAuditEvents(
    @PlainArg("events", () => [AuditEventInput]) events: AuditEventInput[],
    @Ctx() context: AppContext,
  ): Promise<RecordAuditEventsPayload> {
    return this.services.recorder.record(authenticated(context).principal, events);
  }

  @Authorized(Role.ADMIN, Role.AGENT)
  @Query(() => AuditEvent, { nullable: true, description: "One event, if the caller may see it." })
  async auditEvent(@Arg("id", () => ID) id: string, @Ctx() context: AppContext): Promise<AuditEventRecord> {
    return this.services.events.findById(authenticated(context).principal, id);
  }
}
