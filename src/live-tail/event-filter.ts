import type { DataSource } from "typeorm";
import { ActorKind, AuditEventType } from "../events/audit-event.enums";
import { targetsOf } from "../events/audit-event.record";
import type { AuditEventRecord } from "../events/audit-event.record";
import type { AuditEventFilter } from "../logs/audit-log.inputs";
import type { StreamScope } from "./workspace-stream";

/**
 * Decides, event by event, what a tail delivers: the same rules as the log's
 * filters. A boolean when the event alone decides; a promise only when the
 * database must be asked, so that the common case costs no promise per
 * subscriber per event.
 */
export type EventPredicate = (event: AuditEventRecord) => boolean | Promise<boolean>;

const byUser = (event: AuditEventRecord, userId: string | null | undefined) =>
  userId === null || userId === undefined || (event.actor.kind === ActorKind.USER && event.actor.id === userId);

export function predicateFor(dataSource: DataSource, workspaceId: string, filter: AuditEventFilter | null): EventPredicate {
  if (!filter) return () => true;
  if (filter.allEvents) {
    const { userId } = filter.allEvents;
    return (event) => byUser(event, userId);
  }
  const ofType = (type: AuditEventType, userId: string) => (event: AuditEventRecord) => event.type === type && byUser(event, userId);
  if (filter.authorization) return ofType(AuditEventType.AUTHORIZATION, filter.authorization.userId);
  if (filter.billing) return ofType(AuditEventType.BILLING, filter.billing.userId);
  if (filter.workSession) return ofType(AuditEventType.WORK_SESSION, filter.workSession.userId);
  if (filter.conversation) {
    const { conversationId, userId } = filter.conversation;
    return (event) =>
      event.type === AuditEventType.CONVERSATION && event.targets.conversation.id === conversationId && byUser(event, userId);
  }
  if (filter.settings) {
    const { section, userId } = filter.settings;
    return (event) => event.type === AuditEventType.SETTINGS && event.targets.settings.section === section && byUser(event, userId);
  }
  if (filter.customer) {
    const { customerName, userId } = filter.customer;
    // Names compare in the database's collation, as the log's filter does; a customer event may
    // have renamed its customer, so the answer is asked again for each one.
    const named = async (event: AuditEventRecord) => {
      const rows: unknown[] = await dataSource.query(`SELECT 1 FROM customers WHERE workspace_id = ? AND id = ? AND name = ?`, [
        workspaceId,
        targetsOf(event).customer!.id,
        customerName.trim(),
      ]);
      return rows.length > 0;
    };
    return (event) => event.type === AuditEventType.CUSTOMER && byUser(event, userId) && named(event);
  }
  return () => false;
}

/** The events a workspace tail with this filter could take: one conversation's for the conversation filter, every one otherwise. */
export function scopeFor(filter: AuditEventFilter | null): StreamScope {
  return filter?.conversation ? { conversationId: filter.conversation.conversationId } : null;
}
