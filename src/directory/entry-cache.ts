import type { DirectoryEntryLookup, DirectoryEntrySource } from "../database/audit-event.repository";
import type { ConversationEntry } from "../database/conversation.repository";
import { EntryIds, findDirectoryEntries } from "../database/directory-entries.repository";
import type { Queryable } from "../database/statements";
import type { UserEntry } from "../database/user.repository";
import type { ChangedEntries, EntryChanges } from "./entry-changes";

/** Entries kept across all workspaces (users, customers and conversations each count one). @default 100000 */
export const DEFAULT_MAX_KEPT_ENTRIES = 100_000;
/** Workspaces whose entries are kept, whatever their entries. @default 10000 */
export const MAX_KEPT_WORKSPACES = 10_000;

/** One workspace's entries by id; null: the directory holds no entry for the id. */
class Entries {
  readonly users = new Map<string, UserEntry | null>();
  readonly customers = new Map<string, string | null>();
  readonly conversations = new Map<string, ConversationEntry | null>();

  get size(): number {
    return this.users.size + this.customers.size + this.conversations.size;
  }

  /** Forgets the entries that changes mention; returns how many were kept. */
  forget(changes: EntryChanges): number {
    const before = this.size;
    for (const id of changes.users) this.users.delete(id);
    for (const id of changes.customers) this.customers.delete(id);
    for (const id of changes.conversations) this.conversations.delete(id);
    return before - this.size;
  }

  addAll(other: Entries): void {
    for (const [id, entry] of other.users) this.users.set(id, entry);
    for (const [id, name] of other.customers) this.customers.set(id, name);
    for (const [id, entry] of other.conversations) this.conversations.set(id, entry);
  }
}

/** A workspace's kept entries, valid for one version of its directory. */
interface Kept {
  /** The workspace's last seq when the entries were kept: no event, and so no directory change, came after it. */
  version: number;
  entries: Entries;
}

/**
 * The directory's entries that log pages show (users' names and emails,
 * customers' names, conversations' subjects and customers), kept in memory
 * so that a page's statement reads its events without joining the
 * directory: those joins were most of what a page cost the database.
 *
 * Only recording changes the directory, in the transaction that takes the
 * workspace's next seqs. Each workspace's entries are kept with the last seq
 * they are valid for, and a page reads the workspace's last seq in its own
 * statement: a page that reads the same seq shows the kept entries; a page
 * that reads another (an event recorded since, on any instance) drops them
 * and reads what it needs. An id not kept is read with the others a page
 * lacks, in one statement. So a page shows the directory as it is at the
 * page's own statement or later, never earlier, whichever instance recorded
 * the change, and costs one round trip, or two.
 *
 * Recordings keep the kept entries current without that second round trip
 * ({@link entriesChanged}): events that follow the kept version forget the
 * entries they mention, which their recording may have changed, and move
 * the kept version to their last seq. This instance's recorder tells at
 * once; other instances' recordings are told through Redis
 * (`shareEntryChanges`), and until one arrives the version tells.
 *
 * Memory: at most `maxEntries` entries across workspaces (each about 230
 * bytes of heap with a short id and name: about 23 MB at the default); past
 * it the workspaces read least recently are dropped first.
 */
export class DirectoryEntryCache implements DirectoryEntrySource, ChangedEntries {
  /** By workspace, least recently read first. */
  private readonly workspaces = new Map<string, Kept>();
  private entryCount = 0;

  constructor(
    /** Entries kept across all workspaces. @default DEFAULT_MAX_KEPT_ENTRIES */
    private readonly maxEntries = DEFAULT_MAX_KEPT_ENTRIES,
  ) {}

  /** Entries kept now, across workspaces. */
  get size(): number {
    return this.entryCount;
  }

  async entriesFor(database: Queryable, workspaceId: string, version: number, ids: EntryIds): Promise<DirectoryEntryLookup> {
    const kept = this.keptFor(workspaceId, version);
    const { entries } = kept;
    const customers = new Set(ids.customers);
    for (const id of ids.conversations) {
      const conversation = entries.conversations.get(id);
      if (conversation?.customerId) customers.add(conversation.customerId);
    }
    const missing: EntryIds = {
      users: ids.users.filter((id) => !entries.users.has(id)),
      customers: [...customers].filter((id) => !entries.customers.has(id)),
      conversations: ids.conversations.filter((id) => !entries.conversations.has(id)),
    };
    if (missing.users.length + missing.customers.length + missing.conversations.length === 0) return lookupOf(entries);
    const read = await readEntries(database, workspaceId, missing);
    this.keep(workspaceId, kept, entries, version, read);
    return lookupOf(read, entries);
  }

  /** The workspace's kept entries for `version`, made the most recently read; those of another version are dropped. */
  private keptFor(workspaceId: string, version: number): Kept {
    let kept = this.workspaces.get(workspaceId);
    if (kept) {
      // Made the most recently read.
      this.workspaces.delete(workspaceId);
      this.workspaces.set(workspaceId, kept);
      if (kept.version !== version) {
        this.entryCount -= kept.entries.size;
        kept.entries = new Entries();
        kept.version = version;
      }
      return kept;
    }
    kept = { version, entries: new Entries() };
    if (this.workspaces.size >= MAX_KEPT_WORKSPACES) this.drop(this.workspaces.keys().next().value!);
    this.workspaces.set(workspaceId, kept);
    return kept;
  }

  /**
   * Adds what a page read to the workspace's kept entries, if they are still
   * those the page started from, at its version, within the bound. A notice
   * of events stored meanwhile moved the version: what the page read may be older.
   */
  private keep(workspaceId: string, kept: Kept, entries: Entries, version: number, read: Entries): void {
    if (this.workspaces.get(workspaceId) !== kept || kept.entries !== entries || kept.version !== version || read.size > this.maxEntries) return;
    for (const [other] of this.workspaces) {
      if (this.entryCount + read.size <= this.maxEntries) break;
      if (other !== workspaceId) this.drop(other);
    }
    if (this.entryCount + read.size > this.maxEntries) {
      // This workspace alone fills the bound: it starts over with what the page read.
      this.entryCount -= kept.entries.size;
      kept.entries = new Entries();
    }
    kept.entries.addAll(read);
    this.entryCount += read.size;
  }

  /**
   * Events stored in a workspace, told once their transaction committed, by
   * this instance's recorder or another's: if they follow the kept version,
   * the entries they mention are forgotten and the version moves to their
   * last seq. Changes that do not follow it (told late, out of order, or
   * with others missed) change nothing: the next page's version tells.
   */
  entriesChanged(changes: EntryChanges): void {
    const kept = this.workspaces.get(changes.workspaceId);
    if (!kept || changes.firstSeq !== kept.version + 1) return;
    this.entryCount -= kept.entries.forget(changes);
    kept.version = changes.lastSeq;
  }

  /** The version of the workspace's directory its kept entries are valid for; undefined when none are kept. */
  keptVersion(workspaceId: string): number | undefined {
    return this.workspaces.get(workspaceId)?.version;
  }

  private drop(workspaceId: string): void {
    const kept = this.workspaces.get(workspaceId);
    if (!kept) return;
    this.workspaces.delete(workspaceId);
    this.entryCount -= kept.entries.size;
  }
}

/** The entries of `ids` as the directory holds them now, an id it does not hold as null. */
async function readEntries(database: Queryable, workspaceId: string, ids: EntryIds): Promise<Entries> {
  const found = await findDirectoryEntries(database, workspaceId, ids);
  const read = new Entries();
  for (const id of ids.users) read.users.set(id, null);
  for (const id of ids.customers) read.customers.set(id, null);
  for (const id of ids.conversations) read.conversations.set(id, null);
  for (const user of found.users) read.users.set(user.id, user);
  for (const customer of found.customers) read.customers.set(customer.id, customer.name);
  for (const { customerName, ...conversation } of found.conversations) {
    read.conversations.set(conversation.id, conversation);
    // Read with the conversation, in the same statement: the customer it is tied to now.
    if (conversation.customerId !== null) read.customers.set(conversation.customerId, customerName);
  }
  return read;
}

/** Looks in `first`, then in `then`. */
function lookupOf(first: Entries, then?: Entries): DirectoryEntryLookup {
  return {
    user: (id) => first.users.get(id) ?? then?.users.get(id) ?? null,
    customerName: (id) => first.customers.get(id) ?? then?.customers.get(id) ?? null,
    conversation: (id) => first.conversations.get(id) ?? then?.conversations.get(id) ?? null,
  };
}
