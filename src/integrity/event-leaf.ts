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
  return {
    v: LEAF_VERSION,
    workspaceId: event.workspaceId,
    seq: event.seq,
    id: event.id,
    type: event.type,
    action: event.action,
    occurredAt: event.occurredAt.toISOString(),
    recordedAt: event.recordedAt.toISOString(),
    description: event.description,
    actor: { kind: event.actor.kind, id: event.actor.id, name: event.actor.name },
    targets: event.targets as unknown as JsonValue,
    changes: event.changes as unknown as JsonValue,
    metadata: event.metadata,
    source: event.source as unknown as JsonValue,
  };
}

/**
 * JSON in the RFC 8785 canonical form (JCS) for the values an event holds:
 * object members sorted by their names' UTF-16 code units, no whitespace,
 * strings and numbers as ECMAScript's JSON.stringify writes them; a member
 * whose value is undefined is left out, as JSON.stringify leaves it out.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item: unknown) => canonicalJson(item ?? null)).join(",")}]`;
  const members: string[] = [];
  const object = value as Record<string, unknown>;
  for (const name of Object.keys(object).sort()) {
    const member = object[name];
    if (member === undefined) continue;
    members.push(`${JSON.stringify(name)}:${canonicalJson(member)}`);
  }
  return `{${members.join(",")}}`;
}

/** The bytes an event's leaf hashes: its {@link leafContent} as canonical JSON, in UTF-8. */
export function leafData(event: AuditEventRecord): Buffer {
  return Buffer.from(canonicalJson(leafContent(event)), "utf8");
}

/** The event's leaf in its workspace's Merkle log: SHA-256(0x00 ‖ {@link leafData}). */
export function eventLeafHash(event: AuditEventRecord): Buffer {
  return leafHash(leafData(event));
}
