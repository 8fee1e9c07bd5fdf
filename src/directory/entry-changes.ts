import type { Logger } from "../common/logger";
import { ActorKind } from "../events/audit-event.enums";
import { type AuditEventRecord, targetsOf } from "../events/audit-event.record";

/** Events one transaction stored in one workspace, in seq order (the recorder's "events stored" notice). */
export interface StoredEvents {
  workspaceId: string;
  events: readonly AuditEventRecord[];
}

/**
 * What events stored in one workspace may have changed in its directory:
 * the seqs they took, and the entries they mention, as their recording
 * wrote them to the directory. The recorder's instance makes it from its
 * notice; other instances receive it as JSON ({@link readEntryChanges}).
 */
export interface EntryChanges {
  workspaceId: string;
  firstSeq: number;
  lastSeq: number;
  users: string[];
  customers: string[];
  conversations: string[];
}

/** The changes of events one transaction stored in one workspace; null for no events. */
export function entryChangesOf(stored: StoredEvents): EntryChanges | null {
  const { events } = stored;
  if (events.length === 0) return null;
  const users = new Set<string>();
  const customers = new Set<string>();
  const conversations = new Set<string>();
  for (const event of events) {
    const targets = targetsOf(event);
    if (event.actor.kind === ActorKind.USER && event.actor.id) users.add(event.actor.id);
    if (targets.subjectUser) users.add(targets.subjectUser.id);
    if (targets.customer) customers.add(targets.customer.id);
    if (targets.conversation) conversations.add(targets.conversation.id);
  }
  return { workspaceId: stored.workspaceId, firstSeq: events[0].seq, lastSeq: events[events.length - 1].seq, users: [...users], customers: [...customers], conversations: [...conversations] };
}

/** Changes received from another instance, if `message` is one; null for anything else. */
export function readEntryChanges(message: unknown): EntryChanges | null {
  if (typeof message !== "object" || message === null) return null;
  const { workspaceId, firstSeq, lastSeq, users, customers, conversations } = message as Record<string, unknown>;
  const seq = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) > 0;
  const ids = (value: unknown): value is string[] => Array.isArray(value) && value.every((id) => typeof id === "string");
  if (typeof workspaceId !== "string" || !seq(firstSeq) || !seq(lastSeq) || lastSeq < firstSeq || !ids(users) || !ids(customers) || !ids(conversations)) return null;
  return { workspaceId, firstSeq, lastSeq, users, customers, conversations };
}

/** Where the changes go between instances. @default "DIRECTORY_ENTRIES_CHANGED" */
export const ENTRY_CHANGES_CHANNEL = "DIRECTORY_ENTRIES_CHANGED";

/** What keeps entries and takes their changes: the kept directory entries (`DirectoryEntryCache`). */
export interface ChangedEntries {
  entriesChanged(changes: EntryChanges): void;
}

/** What sharing needs of the instances' bus. */
export interface InstanceChannels {
  /** Sends `message` to every other instance listening on `channel`. */
  broadcast(channel: string, message: unknown): void;
  /** Calls `listener` with each message another instance broadcast on `channel`. */
  onBroadcast(channel: string, listener: (message: unknown) => void): void;
}

/**
 * Keeps `entries` current with every instance's recordings: returns the
 * listener this instance's recorder tells its stored events to, which
 * applies their changes at once and broadcasts them; changes broadcast by
 * other instances are applied as they arrive. A lost or late message costs
 * a page one more statement, never a stale name: pages read the version.
 */
export function shareEntryChanges(entries: ChangedEntries, channels: InstanceChannels, logger: Logger): (stored: StoredEvents) => void {
  channels.onBroadcast(ENTRY_CHANGES_CHANNEL, (message) => {
    const changes = readEntryChanges(message);
    if (changes) entries.entriesChanged(changes);
    else logger.warn({ channel: ENTRY_CHANGES_CHANNEL }, "unreadable directory changes from another instance");
  });
  return (stored) => {
    const changes = entryChangesOf(stored);
    if (!changes) return;
    entries.entriesChanged(changes);
    channels.broadcast(ENTRY_CHANGES_CHANNEL, changes);
  };
}
