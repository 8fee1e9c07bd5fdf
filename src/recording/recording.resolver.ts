import { Authorized, Ctx, Mutation, Resolver } from "type-graphql";
import { Role } from "../auth/principal";
import { PlainArg } from "../common/plain-argument";
import { AuditEventInput } from "../events/audit-event.inputs";
import { RecordAuditEventsPayload } from "../events/audit-event.types";
import { authenticated } from "../server/context";
import type { AuditRecorder } from "./recorder.service";
import type { AppContext } from "../server/context";

@Resolver()
export class RecordingResolver {
  constructor(private readonly recorder: AuditRecorder) {}

  @Authorized(Role.SERVICE)
  @Mutation(() => RecordAuditEventsPayload, { description: "Records 1 to 1000 events in the caller's workspace, all or nothing. SERVICE only." })
  async recordAuditEvents(
    @PlainArg("events", () => [AuditEventInput]) events: AuditEventInput[],
    @Ctx() context: AppContext,
  ): Promise<RecordAuditEventsPayload> {
    return this.recorder.record(authenticated(context).principal, events);
  }
}
