import { canonicalJson } from "../common/canonical-json";
import type { AuditEventRecord, JsonValue } from "../events/audit-event.record";
import { leafHash } from "./merkle";

/** The version of the leaf's serialization, inside it: a later change of the form gets a new number. */
export const LEAF_VERSION = 1;

/**
 * What an event's leaf covers: everything the log shows about the event as
 * it was recorded (docs/integrity.md). Not the names the directory supplies
 * when a page is read, nor the customer the event is filed under for a
 * conversation tied to a customer later: those change, the event does not.
 */
export function leafContent(event: AuditEventRecord): JsonValue {
  // Keys in canonical (sorted) order: the canonical writer then has nothing to sort.
  return {
    action: event.action,
    actor: { id: event.actor.id, kind: event.actor.kind, name: event.actor.name },
    changes: event.changes as unknown as JsonValue,
    description: event.description,
    id: event.id,
    metadata: event.metadata,
    occurredAt: event.occurredAt.toISOString(),
    recordedAt: event.recordedAt.toISOString(),
    seq: event.seq,
    source: event.source as unknown as JsonValue,
    targets: event.targets as unknown as JsonValue,
    type: event.type,
    v: LEAF_VERSION,
    workspaceId: event.workspaceId,
  };
}

/** What an event's leaf hashes: its {@link leafContent} as canonical JSON (RFC 8785), as text. */
function leafText(event: AuditEventRecord): string {
  return canonicalJson(leafContent(event));
}

/** The bytes an event's leaf hashes: its {@link leafText} in UTF-8. */
export function leafData(event: AuditEventRecord): Buffer {
  return Buffer.from(leafText(event), "utf8");
}

/** The event's leaf in its workspace's Merkle log: SHA-256(0x00 ‖ {@link leafData}). */
export function eventLeafHash(event: AuditEventRecord): Buffer {
  return leafHash(leafText(event));
}
