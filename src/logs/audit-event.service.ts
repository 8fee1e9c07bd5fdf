import type { DataSource } from "typeorm";
import { Principal, Role } from "../auth/principal";
import { ForbiddenError, NotFoundError } from "../common/errors";
import { AuditEventRow, isEventId, recordFromRow, SELECT_EVENT_COLUMNS } from "../database/audit-event.storage";
import type { AuditEventRecord } from "../events/audit-event.record";

/** Reads single events, within the caller's workspace and role. */
export class AuditEventService {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * One event of the caller's workspace. Agents see only events that belong
   * to a customer or conversation log; anything else, like an unknown id or
   * another workspace's event, is NOT_FOUND.
   */
  async findById(principal: Principal, id: string): Promise<AuditEventRecord> {
    if (principal.role === Role.SERVICE) throw new ForbiddenError();
    if (!isEventId(id)) throw new NotFoundError(`Audit event ${JSON.stringify(id)}`);
    const rows: AuditEventRow[] = await this.dataSource.query(
      `SELECT ${SELECT_EVENT_COLUMNS} FROM audit_events WHERE id = ? AND workspace_id = ?`,
      [id, principal.workspaceId],
    );
    const row = rows[0];
    if (!row) throw new NotFoundError(`Audit event ${JSON.stringify(id)}`);
    if (principal.role === Role.AGENT && row.customer_id === null && row.conversation_id === null) {
      throw new NotFoundError(`Audit event ${JSON.stringify(id)}`);
    }
    return recordFromRow(row);
  }
}
