import type { DataSource } from "typeorm";
import type { Principal } from "../auth/principal";
import { BoundedMap } from "../common/bounded-map";
import { ConflictError, isDatabaseUnavailable, ServiceUnavailableError } from "../common/errors";
import { BatchedTransaction, Statement } from "../database/statements";
import type { Conversation } from "../directory/conversation.type";
import type { DirectoryMentions, DirectoryService } from "../directory/directory.service";
import { ActorKind } from "../events/audit-event.enums";
import type { AuditEventInput } from "../events/audit-event.inputs";
import { AuditEventRecord, NewAuditEvent, targetsOf } from "../events/audit-event.record";
import type { AuditEventPublisher } from "./event-publisher";
import {
  AuditEventRow,
  contentHash,
  EVENT_COLUMNS,
  insertValues,
  newEventId,
  recordFromRow,
  SELECT_EVENT_COLUMNS,
} from "../database/audit-event.storage";
import { validateEventInputs } from "../events/audit-event.validation";
import { describeEvent } from "../events/event-catalog";

/** Rows per INSERT statement. @default 500 */
export const INSERT_CHUNK = 500;
/** Attempts of a transaction that hits a deadlock or a concurrent duplicate key. @default 5 */
export const MAX_ATTEMPTS = 5;
/** Conversations remembered as tied to a customer, over all workspaces. @default 100000 */
export const TIED_CONVERSATIONS_KEPT = 100_000;
/** Events one transaction may gather from calls waiting on the same workspace. @default 2000 */
export const MAX_ROUND_EVENTS = 2_000;
/**
 * Transactions of one workspace this process runs at once. The second
 * prepares (directory upserts and reads) while the first commits, unless its
 * upserts touch directory rows the first holds (a busy user's, say): then it
 * waits for that commit. Their seq reservations take turns on the
 * workspace's row. @default 2
 */
export const ROUNDS_IN_FLIGHT = 2;

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
 * A workspace's writers take turns on its seq lock anyway, so calls of one
 * workspace that arrive while {@link ROUNDS_IN_FLIGHT} of its transactions
 * run wait in this process and are then stored together, in one transaction
 * (group commit): a burst of single-event calls costs a few transactions,
 * not one each. Should that transaction fail, its calls are stored one at a
 * time, so that only a failing call fails.
 *
 * Once {@link stop}ped it stores nothing more: the transactions already sent
 * end as the database ends them, and every other call is refused with
 * SERVICE_UNAVAILABLE before anything of it is written.
 */
export class AuditRecorder {
  /** Per workspace: the calls waiting, and how many rounds run; a workspace is here while its transactions run. */
  private readonly workspaces = new Map<string, { queue: QueuedCall[]; rounds: number }>();
  /**
   * Conversations (`workspace\nid`) known to be tied to a customer in the
   * committed directory. Tied is for good, so this stays true whatever other
   * processes write; an event naming one needs no look at it before.
   */
  private readonly tiedConversations = new BoundedMap<string, true>(TIED_CONVERSATIONS_KEPT);
  private stopped = false;

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

  /**
   * Refuses the calls waiting for a transaction, and every later call; a
   * transaction under way is neither retried nor followed by another. For a
   * stopping process, whose running statements are about to be cancelled.
   */
  stop(): void {
    this.stopped = true;
    for (const workspace of this.workspaces.values()) {
      for (const call of workspace.queue.splice(0)) call.reject(stopping());
    }
  }

  /** Queues a call for its workspace's next transaction, starting one if fewer than {@link ROUNDS_IN_FLIGHT} run. */
  private submit(workspaceId: string, pending: PendingEvent[]): Promise<StoreOutcome> {
    if (this.stopped) return Promise.reject(stopping());
    return new Promise((resolve, reject) => {
      let workspace = this.workspaces.get(workspaceId);
      if (!workspace) this.workspaces.set(workspaceId, (workspace = { queue: [], rounds: 0 }));
      workspace.queue.push({ pending, resolve, reject });
      if (workspace.rounds < ROUNDS_IN_FLIGHT) {
        workspace.rounds++;
        void this.drain(workspaceId, workspace);
      }
    });
  }

  /** Stores a workspace's waiting calls, round after round, until none wait. */
  private async drain(workspaceId: string, workspace: { queue: QueuedCall[]; rounds: number }): Promise<void> {
    try {
      while (workspace.queue.length > 0) await this.storeRound(workspaceId, takeRound(workspace.queue));
    } finally {
      workspace.rounds--;
      if (workspace.rounds === 0 && workspace.queue.length === 0) this.workspaces.delete(workspaceId);
    }
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
      if (this.stopped) {
        call.reject(stopping());
        continue;
      }
      try {
        call.resolve(await this.storeAndPublish(workspaceId, call.pending));
      } catch (error) {
        // A statement cancelled by the stop says so, rather than that the database is unavailable.
        call.reject(this.stopped && isDatabaseUnavailable(error) ? stopping() : error);
      }
    }
  }

  private async storeAndPublish(workspaceId: string, pending: PendingEvent[]): Promise<StoreOutcome> {
    // The first attempt takes every key for new: a repeat makes its insert fail, and the retry looks the keys up first.
    const outcome = await this.inTransaction((transaction, attempt) => this.store(transaction, workspaceId, pending, attempt > 1));
    for (const id of outcome.tied) this.tiedConversations.set(`${workspaceId}\n${id}`, true);
    this.publisher.publish(outcome.created);
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
        if (!retriable || this.stopped) throw error;
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
    const stored = new Map<string, AuditEventRecord>();
    if (lookUpKeys) {
      const byKey = new Map(pending.map((item) => [item.event.idempotencyKey, item]));
      const [rows] = await transaction.run([
        { sql: `SELECT ${SELECT_EVENT_COLUMNS} FROM audit_events WHERE workspace_id = ? AND idempotency_key IN (?)`, values: [workspaceId, [...byKey.keys()]] },
      ]);
      const conflicts: number[] = [];
      let unmatched = false;
      for (const row of rows as AuditEventRow[]) {
        const item = byKey.get(row.idempotency_key);
        if (!item) {
          unmatched = true;
          continue;
        }
        if (!Buffer.from(row.content_hash).equals(hashOf(item))) conflicts.push(...item.indexes);
        stored.set(row.idempotency_key, recordFromRow(row));
      }
      // The database found a stored key equal to one of these that differs from it byte for byte (a PAD SPACE collation ignores trailing spaces): that key is another event's.
      if (unmatched) conflicts.push(...(await this.keysTakenOtherwise(transaction, workspaceId, pending.filter((item) => !stored.has(item.event.idempotencyKey)))));
      if (conflicts.length > 0) throw idempotencyConflict(conflicts);
    }

    const fresh = pending.filter((item) => !stored.has(item.event.idempotencyKey));
    if (fresh.length === 0) {
      await transaction.commit();
      return { stored, created: [], tied: [] };
    }

    const plan = this.planDirectory(workspaceId, fresh.map((item) => item.event));
    const upserts = this.directory.upsertStatements(workspaceId, plan.mentions);
    // The directory goes first, in a round trip of its own, only when the events need to read it back; otherwise the upserts travel with the inserts.
    const reads = plan.tied.length > 0 || plan.read.length > 0;
    let results: unknown[] = [];
    if (reads) {
      const directory = [
        ...(plan.tied.length > 0 ? [this.directory.conversationEntriesQuery(workspaceId, plan.tied)] : []),
        ...upserts,
        ...(plan.read.length > 0 ? [this.directory.conversationEntriesQuery(workspaceId, plan.read)] : []),
      ];
      [results] = await Promise.all([transaction.run(directory), whileQueryRuns(() => fresh.forEach(hashOf))]);
    }
    const before = plan.tied.length > 0 ? this.directory.conversationEntriesFrom(results[0]) : new Map<string, Conversation>();
    const conversations = plan.read.length > 0 ? this.directory.conversationEntriesFrom(results[results.length - 1]) : new Map<string, Conversation>();

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

    const last: Statement[] = reads ? [] : [...upserts];
    const reservationIndex = last.push(reserveSeqs(workspaceId, created.length)) - 1;
    // Conversations this round gave their first customer: their earlier events join that customer's log.
    const newlyTied = plan.tied.filter((id) => before.get(id)?.customerId === null && conversations.get(id)?.customerId).map((id) => [id, conversations.get(id)!.customerId]);
    if (newlyTied.length > 0) {
      last.push({
        sql: `UPDATE audit_events SET customer_id = CASE conversation_id ${newlyTied.map(() => "WHEN ? THEN ?").join(" ")} END
         WHERE workspace_id = ? AND conversation_id IN (?) AND customer_id IS NULL`,
        values: [...newlyTied.flat(), workspaceId, newlyTied.map(([id]) => id)],
      });
    }
    for (let start = 0; start < created.length; start += INSERT_CHUNK) {
      const end = Math.min(created.length, start + INSERT_CHUNK);
      const values: unknown[] = [];
      for (let position = start; position < end; position++) {
        const row = insertValues(created[position], hashOf(fresh[position]));
        // The seq column counts back from the last seq reserved: the round's last event takes it.
        row[SEQ_COLUMN] = created.length - 1 - position;
        for (const value of row) values.push(value);
      }
      last.push({
        sql: `INSERT INTO audit_events (${EVENT_COLUMNS.join(", ")}, search_text) VALUES ${new Array(end - start).fill(INSERT_ROW).join(", ")}`,
        values,
      });
    }
    const lastResults = await transaction.commit(last);

    const lastSeq = reservedLastSeq(lastResults[reservationIndex]);
    created.forEach((event, position) => {
      event.seq = lastSeq - (created.length - 1 - position);
      stored.set(event.idempotencyKey, event);
    });
    const tied = [...conversations.values()].filter((conversation) => conversation.customerId !== null).map((conversation) => conversation.id);
    return { stored, created, tied };
  }

  /**
   * The input positions of the keys among `pending` that the database finds
   * stored, asked key by key: each comparison is the key column's own, where
   * the rows read back cannot tell which key matched them.
   */
  private async keysTakenOtherwise(transaction: BatchedTransaction, workspaceId: string, pending: PendingEvent[]): Promise<number[]> {
    if (pending.length === 0) return [];
    const [rows] = await transaction.run([
      {
        sql: pending.map(() => `SELECT ? AS position FROM audit_events WHERE workspace_id = ? AND idempotency_key = ?`).join(" UNION ALL "),
        values: pending.flatMap((item, position) => [position, workspaceId, item.event.idempotencyKey]),
      },
    ]);
    return (rows as { position: number }[]).flatMap((row) => pending[Number(row.position)].indexes);
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

/**
 * Takes `count` seqs of the workspace, creating its row if need be; the row
 * stays locked until commit, so seq order is commit order. Both ways,
 * LAST_INSERT_ID(expr) sets the session's LAST_INSERT_ID() to the new last
 * seq: the inserts that follow in the same round trip count back from it,
 * and the result hands it back.
 */
function reserveSeqs(workspaceId: string, count: number): Statement {
  return {
    sql: `INSERT INTO workspaces (id, last_seq) VALUES (?, LAST_INSERT_ID(?)) ON DUPLICATE KEY UPDATE last_seq = LAST_INSERT_ID(last_seq + ?)`,
    values: [workspaceId, count, count],
  };
}

/** The new last seq, from {@link reserveSeqs}' result. */
function reservedLastSeq(result: unknown): number {
  const lastSeq = Number((result as { insertId: number }).insertId);
  if (!Number.isSafeInteger(lastSeq) || lastSeq < 1) throw new Error(`the seq reservation returned ${lastSeq}`);
  return lastSeq;
}

/** Where the seq is among an INSERT row's values. */
const SEQ_COLUMN = EVENT_COLUMNS.indexOf("seq");
/** One row of the recorder's INSERT: every value a placeholder, the seq counted back from LAST_INSERT_ID(). */
const INSERT_ROW = `(${[...EVENT_COLUMNS, "search_text"].map((column) => (column === "seq" ? "LAST_INSERT_ID() - ?" : "?")).join(", ")})`;

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

/** Nothing of the call was stored, or its commit was cut short: a retry with the same keys stores it once. */
function stopping(): ServiceUnavailableError {
  return new ServiceUnavailableError("The service is stopping. Send the call again, with the same idempotency keys.");
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
