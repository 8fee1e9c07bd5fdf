import { createPubSub, PubSub } from "@graphql-yoga/subscription";
import type { AuditEventRecord } from "./audit-event.record";

export const WORKSPACE_EVENTS = "AUDIT_EVENTS_OF_WORKSPACE";
export const CONVERSATION_EVENTS = "AUDIT_EVENTS_OF_CONVERSATION";

/** Typed topics: every event of a workspace, and every event of one conversation. */
export type AuditEventTopics = {
  [WORKSPACE_EVENTS]: [workspaceId: string, event: AuditEventRecord];
  [CONVERSATION_EVENTS]: [conversationKey: string, event: AuditEventRecord];
};

/** The topic id of a conversation: unambiguous whatever characters the ids hold. */
export function conversationKey(workspaceId: string, conversationId: string): string {
  return JSON.stringify([workspaceId, conversationId]);
}

/**
 * Hands newly stored events to subscribers. The recorder calls it after the
 * transaction commits, never before, in commit order.
 */
export class AuditEventPublisher {
  constructor(readonly pubSub: PubSub<AuditEventTopics> = createPubSub<AuditEventTopics>()) {}

  publish(events: readonly AuditEventRecord[]): void {
    for (const event of events) {
      this.pubSub.publish(WORKSPACE_EVENTS, event.workspaceId, event);
      const conversation = "conversation" in event.targets ? event.targets.conversation : null;
      if (conversation) this.pubSub.publish(CONVERSATION_EVENTS, conversationKey(event.workspaceId, conversation.id), event);
    }
  }
}
