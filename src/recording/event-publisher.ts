import type { PubSub } from "@graphql-yoga/subscription";
import type { AuditEventRecord } from "../events/audit-event.record";

export const WORKSPACE_EVENTS = "AUDIT_EVENTS_STORED";

/** Events one call stored in one workspace, in seq order. */
export interface StoredNotice {
  workspaceId: string;
  events: AuditEventRecord[];
}

/** Typed topics: one per workspace, carrying what each recording call stored. */
export type AuditEventTopics = {
  [WORKSPACE_EVENTS]: [workspaceId: string, notice: StoredNotice];
};

/** The topic (and Redis channel) of a workspace. */
export function workspaceTopic(workspaceId: string): string {
  return `${WORKSPACE_EVENTS}:${workspaceId}`;
}

/**
 * Hands newly stored events to the live tails, then to this instance's
 * `listeners` (the kept directory entries), which must not throw: the
 * recorder calls it after the transaction commits, never before, and its
 * call has stored the events. Over Redis a notice is JSON:
 * {@link reviveRecord} restores its dates.
 */
export class AuditEventPublisher {
  constructor(
    private readonly pubSub: PubSub<AuditEventTopics>,
    private readonly listeners: readonly ((notice: StoredNotice) => void)[] = [],
  ) {}

  publish(events: readonly AuditEventRecord[]): void {
    const byWorkspace = new Map<string, AuditEventRecord[]>();
    for (const event of events) {
      const list = byWorkspace.get(event.workspaceId) ?? [];
      list.push(event);
      byWorkspace.set(event.workspaceId, list);
    }
    for (const [workspaceId, stored] of byWorkspace) {
      const notice = { workspaceId, events: stored };
      this.pubSub.publish(WORKSPACE_EVENTS, workspaceId, notice);
      for (const listener of this.listeners) listener(notice);
    }
  }
}

/** A record that went through JSON: its dates are strings again. */
export function reviveRecord(record: AuditEventRecord): AuditEventRecord {
  return { ...record, occurredAt: new Date(record.occurredAt), recordedAt: new Date(record.recordedAt) };
}
