import type { DataSource, EntityManager } from "typeorm";
import type { Principal } from "../auth/principal";
import { ConflictError } from "../common/errors";
import type { Conversation } from "../directory/conversation.type";
import type { DirectoryMentions, DirectoryService } from "../directory/directory.service";
import { placeholders } from "../directory/directory.service";
import { ActorKind, AuditEventType } from "./audit-event.enums";
import type { AuditEventInput } from "./audit-event.inputs";
import type { AuditEventPublisher } from "./audit-event.publisher";
import { AuditEventRecord, NewAuditEvent, targetsOf } from "./audit-event.record";
import {
  AuditEventRow,
  contentHash,
  EVENT_COLUMNS,
  insertValues,
  newEventId,
  recordFromRow,
  SELECT_EVENT_COLUMNS,
} from "./audit-event.storage";
import { validateEventInputs } from "./audit-event.validation";
import { describeEvent } from "./event-catalog";

/** Rows per INSERT statement. @default 500 */
export const INSERT_CHUNK = 500;
/** Attempts of a transaction that hits a deadlock or a concurrent duplicate key. @default 5 */
export const MAX_ATTEMPTS = 5;
/** Conversations remembered as tied to a customer, over all workspaces. @default 100000 */
export const TIED_CONVERSATIONS_KEPT = 100_000;
/** Events one transaction may gather from calls waiting on the same workspace. @default 2000 */
export const MAX_ROUND_EVENTS = 2_000;

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
  hash: Buffer;
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

/** A validated call waiting for its workspace's next transaction. */
interface QueuedCall {
  pending: PendingEvent[];
  resolve(outcome: StoreOutcome): void;
  reject(error: unknown): void;
}

/**
 * Stores events: validation, idempotency, directory, one transaction, then
 * publication.
 *
 * A workspace's writers are serialized by its seq lock anyway, so calls of
 * one workspace that arrive while its transaction runs wait in this process
 * and are then stored together, in one transaction (group commit): a burst
 * of single-event calls costs a few transactions, not one each. Should that
 * transaction fail, its calls are stored one at a time, so that only a
 * failing call fails.
 */
export class AuditRecorder {
  /** Pooled connections already switched to READ COMMITTED. */
  private readonly readCommitted = new WeakSet<object>();
  /** Calls waiting per workspace; a workspace is here while its transactions run. */
  private readonly queues = new Map<string, QueuedCall[]>();
  /**
   * Conversations (`workspace\nid`) known to be tied to a customer in the
   * committed directory. Tied is for good, so this stays true whatever other
   * processes write; an event naming one needs no look at it before.
   */
  private readonly tiedConversations = new BoundedSet(TIED_CONVERSATIONS_KEPT);

  constructor(
    private readonly dataSource: DataSource,
    private readonly directory: DirectoryService,
    private readonly publisher: AuditEventPublisher,
  ) {}

  async record(principal: Principal, inputs: readonly AuditEventInput[]): Promise<RecordResult> {
    const events = validateEventInputs(inputs);
    const pending = groupByKey(events);
    const { stored, created } = await this.submit(principal.workspaceId, pending);

    const createdKeys = new Set(created.map((event) => event.idempotencyKey));
    const result: AuditEventRecord[] = new Array(events.length);
    let createdHere = 0;
    for (const item of pending) {
      const event = stored.get(item.event.idempotencyKey)!;
      for (const index of item.indexes) result[index] = event;
      if (createdKeys.has(item.event.idempotencyKey)) createdHere++;
    }
    return { events: result, duplicates: events.length - createdHere };
  }

  /** Queues a call for its workspace's next transaction, starting the workspace's rounds if none run. */
  private submit(workspaceId: string, pending: PendingEvent[]): Promise<StoreOutcome> {
    return new Promise((resolve, reject) => {
      const call = { pending, resolve, reject };
      const queue = this.queues.get(workspaceId);
      if (queue) {
        queue.push(call);
        return;
      }
      this.queues.set(workspaceId, [call]);
      void this.drain(workspaceId);
    });
  }

  /** Stores a workspace's waiting calls, round after round, until none wait. */
  private async drain(workspaceId: string): Promise<void> {
    const queue = this.queues.get(workspaceId)!;
    while (queue.length > 0) await this.storeRound(workspaceId, takeRound(queue));
    this.queues.delete(workspaceId);
  }

  private async storeRound(workspaceId: string, calls: QueuedCall[]): Promise<void> {
    if (calls.length > 1) {
      try {
        const outcome = await this.storeAndPublish(workspaceId, calls.flatMap((call) => call.pending));
        for (const call of calls) call.resolve(outcome);
        return;
      } catch {
        // Nothing of the round was written: each call is tried alone, and only a failing one fails.
      }
    }
    for (const call of calls) {
      try {
        call.resolve(await this.storeAndPublish(workspaceId, call.pending));
      } catch (error) {
        call.reject(error);
      }
    }
  }

  private async storeAndPublish(workspaceId: string, pending: PendingEvent[]): Promise<StoreOutcome> {
    // The first attempt takes every key for new: a repeat makes its insert fail, and the retry looks the keys up first.
    const outcome = await this.inTransaction((manager, attempt) => this.store(manager, workspaceId, pending, attempt > 1));
    for (const id of outcome.tied) this.tiedConversations.remember(`${workspaceId}\n${id}`);
    this.publisher.publish(outcome.created);
    return outcome;
  }

  /**
   * One READ COMMITTED transaction per round, retried when the database
   * reports a deadlock or a duplicate idempotency key: a repeat the first
   * attempt took for new, or one that raced in. The retry looks the keys up,
   * sees the committed row and treats it as a repeat.
   */
  private async inTransaction<T>(work: (manager: EntityManager, attempt: number) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const runner = this.dataSource.createQueryRunner();
      try {
        const connection: object = await runner.connect();
        // Each pooled connection is switched to READ COMMITTED once, not before every transaction.
        if (!this.readCommitted.has(connection)) {
          await runner.query(`SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED`);
          this.readCommitted.add(connection);
        }
        await runner.startTransaction();
        try {
          const result = await work(runner.manager, attempt);
          await runner.commitTransaction();
          return result;
        } catch (error) {
          await runner.rollbackTransaction();
          throw error;
        }
      } catch (error) {
        const code = (error as { errno?: number }).errno;
        const retriable = code === ER_LOCK_DEADLOCK || code === ER_LOCK_WAIT_TIMEOUT || (code === ER_DUP_ENTRY && isIdempotencyKeyClash(error));
        if (!retriable || attempt >= MAX_ATTEMPTS) throw error;
      } finally {
        await runner.release();
      }
    }
  }

  private async store(manager: EntityManager, workspaceId: string, pending: PendingEvent[], lookUpKeys: boolean): Promise<StoreOutcome> {
    const stored = new Map<string, AuditEventRecord>();
    const byKey = new Map(pending.map((item) => [item.event.idempotencyKey, item]));
    const existing: AuditEventRow[] = lookUpKeys
      ? await manager.query(`SELECT ${SELECT_EVENT_COLUMNS} FROM audit_events WHERE workspace_id = ? AND idempotency_key IN (?)`, [
          workspaceId,
          [...byKey.keys()],
        ])
      : [];
    const conflicts: number[] = [];
    for (const row of existing) {
      const item = byKey.get(row.idempotency_key)!;
      if (!Buffer.from(row.content_hash).equals(item.hash)) conflicts.push(...item.indexes);
      stored.set(row.idempotency_key, recordFromRow(row));
    }
    if (conflicts.length > 0) throw idempotencyConflict(conflicts);

    const fresh = pending.filter((item) => !stored.has(item.event.idempotencyKey));
    if (fresh.length === 0) return { stored, created: [], tied: [] };

    const { conversations, tied } = await this.updateDirectory(manager, workspaceId, fresh.map((item) => item.event));
    // Last, so the lock is held briefly: the workspace row lock serializes the workspace's
    // writers from here to commit, so seq order is commit order.
    const firstSeq = await this.reserveSeqs(manager, workspaceId, fresh.length);

    const recordedAt = new Date();
    const created = fresh.map((item, position): AuditEventRecord => {
      const targets = targetsOf(item.event);
      const conversation = targets.conversation ? conversations.get(targets.conversation.id) : undefined;
      return {
        ...item.event,
        workspaceId,
        seq: firstSeq + position,
        id: newEventId(recordedAt.getTime()),
        recordedAt,
        description: describeEvent(item.event, { conversationSubject: conversation?.subject ?? null }),
        customerId: targets.customer?.id ?? conversation?.customerId ?? null,
      };
    });
    for (let start = 0; start < created.length; start += INSERT_CHUNK) {
      const chunk = created.slice(start, start + INSERT_CHUNK);
      await manager.query(
        `INSERT INTO audit_events (${EVENT_COLUMNS.join(", ")}, search_text) VALUES ${placeholders(chunk.length, EVENT_COLUMNS.length + 1)}`,
        chunk.flatMap((event, offset) => insertValues(event, fresh[start + offset].hash)),
      );
    }
    for (const event of created) stored.set(event.idempotencyKey, event);
    return { stored, created, tied };
  }

  /**
   * Takes `count` seqs of the workspace (creating its row) and returns the
   * first. The row stays locked until commit.
   */
  private async reserveSeqs(manager: EntityManager, workspaceId: string, count: number): Promise<number> {
    // LAST_INSERT_ID(expr) hands the new value back in the same round trip.
    const result: { insertId: number; affectedRows: number } = await manager.query(
      `INSERT INTO workspaces (id, last_seq) VALUES (?, ?) ON DUPLICATE KEY UPDATE last_seq = LAST_INSERT_ID(last_seq + ?)`,
      [workspaceId, count, count],
    );
    // One affected row: the workspace is new and its last seq is `count`.
    const lastSeq = result.affectedRows === 1 ? count : Number(result.insertId);
    return lastSeq - count + 1;
  }

  /**
   * Upserts the users, customers and conversations the events mention, and
   * returns the directory entry of each conversation mentioned. An event on a
   * conversation that names no customer takes that customer; earlier events
   * of a conversation that just got its first customer are tied to it too, so
   * that the customer's log shows them.
   */
  private async updateDirectory(
    manager: EntityManager,
    workspaceId: string,
    events: NewAuditEvent[],
  ): Promise<{ conversations: Map<string, Conversation>; tied: string[] }> {
    const mentions: DirectoryMentions = { users: [], customers: [], conversations: [] };
    for (const event of events) {
      const targets = targetsOf(event);
      const occurredAt = event.occurredAt;
      if (event.actor.kind === ActorKind.USER && event.actor.id) {
        mentions.users.push({ id: event.actor.id, name: event.actor.name, email: null, occurredAt });
      }
      if (targets.subjectUser) mentions.users.push({ ...targets.subjectUser, occurredAt });
      if (targets.customer) mentions.customers.push({ ...targets.customer, occurredAt });
      if (targets.conversation) {
        const customerId = event.type === AuditEventType.CONVERSATION ? (targets.customer?.id ?? null) : null;
        mentions.conversations.push({ ...targets.conversation, customerId, occurredAt });
      }
    }
    // Only conversations this batch ties to a customer, and not known to be tied already, can be newly tied: only they need a look before.
    const tied = [
      ...new Set(
        mentions.conversations
          .filter((conversation) => conversation.customerId && !this.tiedConversations.has(`${workspaceId}\n${conversation.id}`))
          .map((conversation) => conversation.id),
      ),
    ];
    const before = await this.directory.conversationEntries(manager, workspaceId, tied);
    await this.directory.record(manager, workspaceId, mentions);
    // The entries events need: the customer and subject of conversations they name without them.
    const needed = new Set<string>();
    for (const event of events) {
      const { conversation, customer } = targetsOf(event);
      if (conversation && (!customer || !conversation.subject)) needed.add(conversation.id);
    }
    const after = await this.directory.conversationEntries(manager, workspaceId, [...new Set([...tied, ...needed])]);

    const newlyTied = tied
      .filter((id) => before.get(id)?.customerId === null && after.get(id)?.customerId)
      .map((id) => [id, after.get(id)!.customerId]);
    if (newlyTied.length > 0) {
      await manager.query(
        `UPDATE audit_events SET customer_id = CASE conversation_id ${newlyTied.map(() => "WHEN ? THEN ?").join(" ")} END
         WHERE workspace_id = ? AND conversation_id IN (?) AND customer_id IS NULL`,
        [...newlyTied.flat(), workspaceId, newlyTied.map(([id]) => id)],
      );
    }
    const nowTied = [...after.values()].filter((conversation) => conversation.customerId !== null).map((conversation) => conversation.id);
    return { conversations: after, tied: nowTied };
  }
}

/** A set that forgets its oldest members past a size. */
class BoundedSet {
  private readonly members = new Set<string>();

  constructor(private readonly limit: number) {}

  has(member: string): boolean {
    return this.members.has(member);
  }

  remember(member: string): void {
    if (this.members.has(member)) return;
    if (this.members.size >= this.limit) this.members.delete(this.members.values().next().value!);
    this.members.add(member);
  }
}

/**
 * The calls at the head of a workspace's queue that go into one transaction:
 * in arrival order, at most {@link MAX_ROUND_EVENTS} events (a larger call
 * goes alone), and no key in two calls (a later call with a key of an earlier
 * one waits for the next round, where it sees that key stored).
 */
function takeRound(queue: QueuedCall[]): QueuedCall[] {
  const round = [queue.shift()!];
  const keys = new Set(round[0].pending.map((item) => item.event.idempotencyKey));
  let events = round[0].pending.length;
  while (queue.length > 0) {
    const next = queue[0];
    if (events + next.pending.length > MAX_ROUND_EVENTS) break;
    if (next.pending.some((item) => keys.has(item.event.idempotencyKey))) break;
    for (const item of next.pending) keys.add(item.event.idempotencyKey);
    events += next.pending.length;
    round.push(queue.shift()!);
  }
  return round;
}

/** Inputs grouped by idempotency key; the same key with other content in one call is a conflict. */
function groupByKey(events: NewAuditEvent[]): PendingEvent[] {
  const byKey = new Map<string, PendingEvent>();
  const conflicts: number[] = [];
  events.forEach((event, index) => {
    const hash = contentHash(event);
    const first = byKey.get(event.idempotencyKey);
    if (!first) byKey.set(event.idempotencyKey, { event, hash, indexes: [index] });
    else if (first.hash.equals(hash)) first.indexes.push(index);
    else conflicts.push(index);
  });
  if (conflicts.length > 0) throw idempotencyConflict(conflicts);
  return [...byKey.values()];
}

function idempotencyConflict(indexes: number[]): ConflictError {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  return new ConflictError(
    `The idempotency key of event ${sorted.join(", ")} was already used for an event with other content; nothing was recorded.`,
    { indexes: sorted },
  );
}

function isIdempotencyKeyClash(error: unknown): boolean {
  return String((error as { message?: string }).message ?? "").includes("uq_audit_events_idempotency");
}
