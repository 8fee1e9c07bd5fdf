import { Principal, Role } from "../auth/principal";
import { ForbiddenError, NotFoundError } from "../common/errors";
import { findEventById } from "../database/audit-event.repository";
import { isEventId } from "../database/audit-event.storage";
import { AuditEventRecord, targetsOf } from "../events/audit-event.record";
import type { Queryable } from "../database/statements";

/** Reads single events, within the caller's workspace and role. */
export class AuditEventService {
  constructor(private readonly reads: Queryable) {}

  /**
   * One event of the caller's workspace. Agents see only events that belong
   * to a customer or conversation log; anything else, like an unknown id or
   * another workspace's event, is NOT_FOUND.
   */
  async findById(principal: Principal, id: string): Promise<AuditEventRecord> {
    if (principal.role === Role.SERVICE) throw new ForbiddenError();
    if (!isEventId(id)) throw new NotFoundError(`Audit event ${JSON.stringify(id)}`);
    const event = await findEventById(this.reads, principal.workspaceId, id);
    if (!event) throw new NotFoundError(`Audit event ${JSON.stringify(id)}`);
    if (principal.role === Role.AGENT && event.customerId === null && targetsOf(event).conversation === null) {
      throw new NotFoundError(`Audit event ${JSON.stringify(id)}`);
    }
    return event;
  }
}
