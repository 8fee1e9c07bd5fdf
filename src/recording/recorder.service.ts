import type { DataSource } from "typeorm";
import type { Principal } from "../auth/principal";
import type { BackgroundThread } from "../background/background-thread";
import { BoundedMap } from "../common/bounded-map";
import { ConflictError } from "../common/errors";
import { findEventsByKeys, insertReservedEvents, positionsOfStoredKeys, tieEventsToCustomers } from "../database/audit-event.repository";
import { contentHash, newEventId } from "../database/audit-event.storage";
import { BatchedTransaction } from "../database/statements";
import { reserveSeqs } from "../database/workspace.repository";
import type { Conversation } from "../directory/conversation.type";
import type { DirectoryMentions, DirectoryService } from "../directory/directory.service";
import { ActorKind } from "../events/audit-event.enums";
import type { AuditEventInput } from "../events/audit-event.inputs";
import { AuditEventRecord, NewAuditEvent, targetsOf } from "../events/audit-event.record";
import { validateEventInputs } from "../events/audit-event.validation";
import { describeEvent } from "../events/event-catalog";
import type { AuditEventPublisher } from "./event-publisher";
import { RecordQueue } from "./record-queue";

/** Attempts of a transaction that hits a deadlock or a concurrent duplicate key. */
const MAX_ATTEMPTS = 5;
/** Conversations remembered as tied to a customer, over all workspaces. */
const TIED_CONVERSATIONS_KEPT = 100_000;

const ER_DUP_ENTRY = 1062;
const ER_LOCK_DEADLOCK = 1213;
const ER_LOCK_WAIT_TIMEOUT = 1205;

export interface RecordResult {
  /** One per input, in input order; a repeat gets the event stored first. */
  events: AuditEventRecord[];
  duplicates: number;
}

interface PendingEvent {
  event: NewAuditEvent;
  /**
   * The content hash, once computed ({@link hashOf}): at once for a key the
   * call repeats, otherwise while the server runs the directory statements,
   * or for the insert.
   */
  hash?: Buffer;
  /** Input positions carrying this key (the first one and its repeats). */
  indexes: number[];
}

/** What one transaction stored: every key it was given, and the events new among them. */
interface StoreOutcome {
  stored: Map<string, AuditEventRecord>;
  created: AuditEventRecord[];
  /** Conversations the transaction saw tied to a customer: once tied, a conversation stays tied. */
  tied: string[];
}

const NO_CONVERSATIONS: ReadonlyMap<string, Conversation> = new Map();

/**
 * Records events: validate, queue (group commit, {@link RecordQueue}),
 * store (idempotency, directory, seqs and rows in one transaction), publish.
 * Once {@link stop}ped it stores nothing more.
 */
/** What the recorder tells of each call it answered (the service's metrics listen). */
export interface RecordingObserver {
  /** Events the call stored, and the events it answered with what an earlier call stored (same idempotency key). */
  eventsRecorded(stored: number, duplicates: number): void;
}

export class AuditRecorder {
  private readonly queue = new RecordQueue<PendingEvent, StoreOutcome>((workspaceId, pending) => this.storeAndPublish(workspaceId, pending));
  /**
   * Conversations (`workspace\nid`) known to be tied to a customer in the
   * committed directory. Tied is for good, so this stays true whatever other
   * processes write; an event naming one needs no look at it before.
   */
  private readonly tiedConversations = new BoundedMap<string, true>(TIED_CONVERSATIONS_KEPT);

  constructor(
    private readonly dataSource: DataSource,
    private readonly directory: DirectoryService,
    private readonly publisher: AuditEventPublisher,
    private readonly background: Pick<BackgroundThread, "notify">,
    private readonly observer: RecordingObserver = { eventsRecorded: () => undefined },
  ) {}

  async record(principal: Principal, inputs: readonly AuditEventInput[]): Promise<RecordResult> {
    const events = validateEventInputs(inputs);
    const pending = groupByKey(events);
    const result = answerOf(events.length, pending, await this.queue.submit(principal.workspaceId, pending));
    this.observer.eventsRecorded(result.events.length - result.duplicates, result.duplicates);
    return result;
  }

  /**
   * Refuses the calls waiting for a transaction, and every later call; a
   * transaction under way is neither retried nor followed by another. For a
   * stopping process, whose running statements are about to be cancelled.
   */
  stop(): void {
    this.queue.stop();
  }

  /** One round of the queue: stored in one transaction, then published. */
  private async storeAndPublish(workspaceId: string, pending: PendingEvent[]): Promise<StoreOutcome> {
    // The first attempt takes every key for new: a repeat makes its insert fail, and the retry looks the keys up first.
    const outcome = await this.inTransaction((transaction, attempt) => this.store(transaction, workspaceId, pending, attempt > 1));
    for (const id of outcome.tied) this.tiedConversations.set(`${workspaceId}\n${id}`, true);
    this.publisher.publish(outcome.created);
    if (outcome.created.length > 0) this.background.notify(workspaceId);
    return outcome;
  }

  /**
   * One READ COMMITTED transaction per round, retried when the database
   * reports a deadlock or a duplicate idempotency key: a repeat the first
   * attempt took for new, or one that raced in. The retry looks the keys up,
   * sees the committed row and treats it as a repeat.
   */
  private async inTransaction<T>(work: (transaction: BatchedTransaction, attempt: number) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const runner = this.dataSource.createQueryRunner();
      const transaction = new BatchedTransaction(runner);
      try {
        return await work(transaction, attempt);
      } catch (error) {
        await transaction.rollback();
        const code = (error as { errno?: number }).errno;
        const keyClash = code === ER_DUP_ENTRY && isIdempotencyKeyClash(error);
        const retriable = code === ER_LOCK_DEADLOCK || code === ER_LOCK_WAIT_TIMEOUT || keyClash;
        if (!retriable || this.queue.stopping) throw error;
        if (attempt >= MAX_ATTEMPTS) throw keyClash ? keysClashAmongThemselves() : error;
      } finally {
        await runner.release();
      }
    }
  }

  /**
   * Stores the events new among `pending` in one or two round trips. When
   * the events need conversations read from the directory (before and after
   * the upserts), a first round trip updates the directory and reads them.
   * The last one takes the seqs, inserts the events and commits (with the
   * upserts, when nothing had to be read): the workspace's row stays locked
   * only while the server runs it, not while a round trip or this process's
   * work is under way, so the workspace's transactions queue there briefly.
   * A retry looks the keys up first.
   */
  private async store(transaction: BatchedTransaction, workspaceId: string, pending: PendingEvent[], lookUpKeys: boolean): Promise<StoreOutcome> {
    const stored = lookUpKeys ? await this.findStored(transaction, workspaceId, pending) : new Map<string, AuditEventRecord>();
    const fresh = pending.filter((item) => !stored.has(item.event.idempotencyKey));
    if (fresh.length === 0) {
      await transaction.commit();
      return { stored, created: [], tied: [] };
    }

    const plan = this.planDirectory(workspaceId, fresh.map((item) => item.event));
    const readBefore = plan.tied.length > 0 ? this.directory.readConversations(transaction, workspaceId, plan.tied) : undefined;
    this.directory.upsertMentions(transaction, workspaceId, plan.mentions);
    const readAfter = plan.read.length > 0 ? this.directory.readConversations(transaction, workspaceId, plan.read) : undefined;
    // The directory goes first, in a round trip of its own, only when the events need to read it back; otherwise the upserts travel with the inserts.
    if (readBefore || readAfter) await Promise.all([transaction.send(), whileQueryRuns(() => fresh.forEach(hashOf))]);
    const before = readBefore ? await readBefore : NO_CONVERSATIONS;
    const conversations = readAfter ? await readAfter : NO_CONVERSATIONS;

    const recordedAt = new Date();
    const created = fresh.map((item): AuditEventRecord => {
      const targets = targetsOf(item.event);
      const conversation = targets.conversation ? conversations.get(targets.conversation.id) : undefined;
      return {
        ...item.event,
        workspaceId,
        seq: 0, // known once the last round trip has reserved the seqs
        id: newEventId(recordedAt.getTime()),
        recordedAt,
        description: describeEvent(item.event, { conversationSubject: conversation?.subject ?? null }),
        customerId: targets.customer?.id ?? conversation?.customerId ?? null,
      };
    });

    const reservedLastSeq = reserveSeqs(transaction, workspaceId, created.length);
    // Conversations this round gave their first customer: their earlier events join that customer's log.
    const newlyTied = plan.tied
      .filter((id) => before.get(id)?.customerId === null && conversations.get(id)?.customerId)
      .map((id) => [id, conversations.get(id)!.customerId!] as const);
    tieEventsToCustomers(transaction, workspaceId, newlyTied);
    insertReservedEvents(transaction, created, (position) => hashOf(fresh[position]));
    await transaction.commit();

    const lastSeq = await reservedLastSeq;
    created.forEach((event, position) => {
      event.seq = lastSeq - (created.length - 1 - position);
      stored.set(event.idempotencyKey, event);
    });
    const tied = [...conversations.values()].filter((conversation) => conversation.customerId !== null).map((conversation) => conversation.id);
    return { stored, created, tied };
  }

  /**
   * The events stored already among `pending`, by key; a key stored with
   * other content is a conflict.
   */
  private async findStored(transaction: BatchedTransaction, workspaceId: string, pending: PendingEvent[]): Promise<Map<string, AuditEventRecord>> {
    const byKey = new Map(pending.map((item) => [item.event.idempotencyKey, item]));
    const found = findEventsByKeys(transaction, workspaceId, [...byKey.keys()]);
    await transaction.send();
    const stored = new Map<string, AuditEventRecord>();
    const conflicts: number[] = [];
    let unmatched = false;
    for (const { event, contentHash: storedHash } of await found) {
      const item = byKey.get(event.idempotencyKey);
      if (!item) {
        unmatched = true;
        continue;
      }
      if (!storedHash.equals(hashOf(item))) conflicts.push(...item.indexes);
      stored.set(event.idempotencyKey, event);
    }
    // The database found a stored key equal to one of these that differs from it byte for byte (a PAD SPACE collation ignores trailing spaces): that key is another event's.
    const unstored = unmatched ? pending.filter((item) => !stored.has(item.event.idempotencyKey)) : [];
    if (unstored.length > 0) {
      const positions = positionsOfStoredKeys(transaction, workspaceId, unstored.map((item) => item.event.idempotencyKey));
      await transaction.send();
      for (const position of await positions) conflicts.push(...unstored[position].indexes);
    }
    if (conflicts.length > 0) throw idempotencyConflict(conflicts);
    return stored;
  }

  /**
   * What the directory needs for a round's events: the users, customers and
   * conversations they mention; the conversations they may newly tie to a
   * customer (read before and after the upserts, to see which got their
   * first customer); and every conversation whose entry the events need
   * afterwards (for the customer and subject of events that name a
   * conversation without them). An event on a conversation that names no
   * customer takes the conversation's customer.
   */
  private planDirectory(workspaceId: string, events: NewAuditEvent[]): { mentions: DirectoryMentions; tied: string[]; read: string[] } {
    const mentions: DirectoryMentions = { users: [], customers: [], conversations: [] };
    const needed = new Set<string>();
    for (const event of events) {
      const targets = targetsOf(event);
      const occurredAt = event.occurredAt;
      if (event.actor.kind === ActorKind.USER && event.actor.id) {
        mentions.users.push({ id: event.actor.id, name: event.actor.name, email: null, occurredAt });
      }
      if (targets.subjectUser) mentions.users.push({ ...targets.subjectUser, occurredAt });
      if (targets.customer) mentions.customers.push({ ...targets.customer, occurredAt });
      if (targets.conversation) {
        // A customer named with a conversation (conversation and work-session events) ties the conversation to it.
        const customerId = targets.customer?.id ?? null;
        mentions.conversations.push({ ...targets.conversation, customerId, occurredAt });
        if (!targets.customer || !targets.conversation.subject) needed.add(targets.conversation.id);
      }
    }
    // Only conversations this round ties to a customer, and not known to be tied already, can be newly tied: only they need a look before.
    const tied = [
      ...new Set(
        mentions.conversations
          .filter((conversation) => conversation.customerId && !this.tiedConversations.has(`${workspaceId}\n${conversation.id}`))
          .map((conversation) => conversation.id),
      ),
    ];
    return { mentions, tied, read: [...new Set([...tied, ...needed])] };
  }
}

/** A call's answer from the outcome of the round that stored it: each input's event, and how many were repeats. */
function answerOf(inputs: number, pending: PendingEvent[], { stored, created }: StoreOutcome): RecordResult {
  const createdKeys = new Set(created.map((event) => event.idempotencyKey));
  const events: AuditEventRecord[] = new Array(inputs);
  let createdHere = 0;
  for (const item of pending) {
    const event = stored.get(item.event.idempotencyKey)!;
    for (const index of item.indexes) events[index] = event;
    if (createdKeys.has(item.event.idempotencyKey)) createdHere++;
  }
  return { events, duplicates: inputs - createdHere };
}

/** Inputs grouped by idempotency key; the same key with other content in one call is a conflict. */
function groupByKey(events: NewAuditEvent[]): PendingEvent[] {
  const byKey = new Map<string, PendingEvent>();
  const conflicts: number[] = [];
  events.forEach((event, index) => {
    const first = byKey.get(event.idempotencyKey);
    if (!first) byKey.set(event.idempotencyKey, { event, indexes: [index] });
    else if (hashOf(first).equals(contentHash(event))) first.indexes.push(index);
    else conflicts.push(index);
  });
  if (conflicts.length > 0) throw idempotencyConflict(conflicts);
  return [...byKey.values()];
}

/**
 * Runs CPU work in a later turn of the event loop: by then a query issued
 * just before has gone out (the driver sends it a few promise turns later),
 * so the work overlaps the server's time rather than delaying the query.
 */
function whileQueryRuns(work: () => void): Promise<void> {
  return new Promise((resolve, reject) =>
    setImmediate(() => {
      try {
        work();
        resolve();
      } catch (error) {
        reject(error);
      }
    }),
  );
}

/** The content hash of a pending event, computed once. */
function hashOf(item: PendingEvent): Buffer {
  return (item.hash ??= contentHash(item.event));
}

function idempotencyConflict(indexes: number[]): ConflictError {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  return new ConflictError(
    `The idempotency key of event ${sorted.join(", ")} was already used for an event with other content; nothing was recorded.`,
    { indexes: sorted },
  );
}

/**
 * The insert still hit a stored key after every retry had looked the keys
 * up: keys of the call that differ byte for byte but that the database takes
 * for one (a PAD SPACE collation ignores trailing spaces).
 */
function keysClashAmongThemselves(): ConflictError {
  return new ConflictError("Idempotency keys of this call are the same key to the database (which may ignore trailing spaces); nothing was recorded.");
}

function isIdempotencyKeyClash(error: unknown): boolean {
  return String((error as { message?: string }).message ?? "").includes("uq_audit_events_idempotency");
}
