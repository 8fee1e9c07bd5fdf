import type { DataSource } from "typeorm";
import { ActorKind, AuditEventType } from "../audit/audit-event.enums";
import type { AuditEventRecord } from "../audit/audit-event.record";
import { targetsOf } from "../audit/audit-event.record";
import type { AuditEventFilter } from "../audit-log/audit-log.inputs";

/** Decides, event by event, what a workspace tail delivers: the same rules as the log's filters. */
export type EventPredicate = (event: AuditEventRecord) => Promise<boolean>;

const byUser = (event: AuditEventRecord, userId: string | null | undefined) =>
  userId === null || userId === undefined || (event.actor.kind === ActorKind.USER && event.actor.id === userId);

export function predicateFor(dataSource: DataSource, workspaceId: string, filter: AuditEventFilter | null): EventPredicate {
  if (!filter) return async () => true;
  if (filter.allEvents) {
    const { userId } = filter.allEvents;
    return async (event) => byUser(event, userId);
  }
  const ofType = (type: AuditEventType, userId: string) => async (event: AuditEventRecord) => event.type === type && byUser(event, userId);
  if (filter.authorization) return ofType(AuditEventType.AUTHORIZATION, filter.authorization.userId);
  if (filter.billing) return ofType(AuditEventType.BILLING, filter.billing.userId);
  if (filter.workSession) return ofType(AuditEventType.WORK_SESSION, filter.workSession.userId);
  if (filter.conversation) {
    const { conversationId, userId } = filter.conversation;
    return async (event) =>
      event.type === AuditEventType.CONVERSATION && event.targets.conversation.id === conversationId && byUser(event, userId);
  }
  if (filter.settings) {
    const { section, userId } = filter.settings;
    return async (event) => event.type === AuditEventType.SETTINGS && event.targets.settings.section === section && byUser(event, userId);
  }
  if (filter.customer) {
    const { customerName, userId } = filter.customer;
    // Names compare in the database's collation, as the log's filter does; a customer event may
    // have renamed its customer, so the answer is asked again for each one.
    return async (event) => {
      if (event.type !== AuditEventType.CUSTOMER || !byUser(event, userId)) return false;
      const rows: unknown[] = await dataSource.query(`SELECT 1 FROM customers WHERE workspace_id = ? AND id = ? AND name = ?`, [
        workspaceId,
        targetsOf(event).customer!.id,
        customerName.trim(),
      ]);
      return rows.length > 0;
    };
  }
  return async () => false;
}
