import { RECORD_EVENTS } from "./events";
import { postGraphQL } from "./server";
import { createTestWsClient } from "./ws-client";
import type { TestSubscription, TestWsClient } from "./ws-client";

export const CONVERSATION_TAIL = `
  subscription ConversationTail($conversationId: ID!, $after: String) {
    tail: conversationAuditEvents(conversationId: $conversationId, after: $after) {
      cursor
      node { id action occurredAt ... on ConversationEvent { conversation { id } } ... on WorkSessionEvent { routed: conversation { id } } }
    }
  }`;

export const WORKSPACE_TAIL = `
  subscription WorkspaceTail($filter: AuditEventFilter, $after: String) {
    tail: workspaceAuditEvents(filter: $filter, after: $after) { cursor node { id type action } }
  }`;

export interface TailEdge {
  cursor: string;
  node: { id: string; action: string; occurredAt?: string };
}
export interface TailData {
  tail: TailEdge;
}

/** A conversation event input; `n` makes it unique. */
export function conversationEvent(conversationId: string, n: number | string, extra: Record<string, unknown> = {}) {
  return {
    idempotencyKey: `tail-${conversationId}-${n}`,
    type: "CONVERSATION",
    action: "conversation.updated",
    occurredAt: new Date(Date.now() - 1000).toISOString(),
    actor: { kind: "USER", id: "u-ana", name: "Ana Diaz" },
    conversation: { id: conversationId, subject: `Subject of ${conversationId}` },
    ...extra,
  };
}

/** Records events over HTTP and returns their ids, in order. */
export async function recordOver(graphqlUrl: string, token: string, events: unknown[]): Promise<string[]> {
  const response = await postGraphQL<{ recordAuditEvents: { events: { id: string }[] } }>(
    graphqlUrl,
    { query: RECORD_EVENTS, variables: { events } },
    { token },
  );
  if (response.body.errors) throw new Error(JSON.stringify(response.body.errors));
  return response.body.data!.recordAuditEvents.events.map((event) => event.id);
}

/** Reads `count` deliveries, failing on an error result. */
export async function take(subscription: TestSubscription<TailData>, count: number, timeoutMs = 10_000): Promise<TailEdge[]> {
  const edges: TailEdge[] = [];
  while (edges.length < count) {
    const result = await subscription.next(timeoutMs);
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    edges.push(result.data!.tail);
  }
  return edges;
}

/** A connected graphql-ws client for a token. */
export async function connectedClient(wsUrl: string, token: string): Promise<TestWsClient> {
  const client = createTestWsClient(wsUrl, { authorization: `Bearer ${token}` });
  await client.connected;
  return client;
}

/** Waits until `probe` holds (polling), or fails after the timeout. */
export async function until(probe: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = "the condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
