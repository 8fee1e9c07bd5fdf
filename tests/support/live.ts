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

/**
 * Reads a subscription's edges as they come, and when each event first
 * arrived, until stopped or until the subscription fails (its socket
 * closed); a result with errors in place of an event is counted.
 */
export class TailCollector {
  readonly edges: TailEdge[];
  readonly arrivedAt = new Map<string, number>();
  errorResults = 0;
  /** When the last edge arrived (Date.now()). */
  lastAt = 0;
  private reading = true;
  private readonly done: Promise<void>;

  constructor(
    private readonly subscription: TestSubscription<TailData>,
    already: readonly TailEdge[] = [],
  ) {
    this.edges = [...already];
    this.done = this.read();
  }

  /** Waits for `count` edges in all; fails on an error result, or when the subscription ends short of them. */
  async until(count: number, timeoutMs: number): Promise<void> {
    await until(() => this.edges.length >= count || this.errorResults > 0 || !this.reading, timeoutMs, `${count} deliveries`);
    if (this.errorResults > 0) throw new Error(`${this.errorResults} result(s) with errors in place of events`);
    if (this.edges.length < count) throw new Error(`the subscription ended after ${this.edges.length} deliveries`);
  }

  /** Stops reading; resolves once the read under way is done. */
  async stop(): Promise<void> {
    this.reading = false;
    await this.done;
  }

  private async read(): Promise<void> {
    while (this.reading) {
      let result: Awaited<ReturnType<TestSubscription<TailData>["next"]>>;
      try {
        // Short waits, so that a stopped collector leaves no timer behind.
        result = await this.subscription.next(200);
      } catch (error) {
        if (/no result/.test(String(error))) continue;
        this.reading = false;
        return;
      }
      if (result.errors) {
        this.errorResults += 1;
        continue;
      }
      const edge = result.data!.tail;
      this.edges.push(edge);
      this.lastAt = Date.now();
      if (!this.arrivedAt.has(edge.node.id)) this.arrivedAt.set(edge.node.id, this.lastAt);
    }
  }
}
