import type { DataSource } from "typeorm";
import type { Logger } from "../common/logger";
import { findEventsInSeqRange } from "../database/audit-event.repository";
import { findLastSeq } from "../database/workspace.repository";
import type { AnyTargets, AuditEventRecord } from "../events/audit-event.record";
import { reviveRecord, StoredNotice, workspaceTopic } from "../recording/event-publisher";
import { FollowedCustomerNames } from "./followed-customer-names";
import type { TopicTarget } from "./event-bus";

export interface StreamOptions {
  /** How long a gap in seq may wait for the missing notice before the database fills it. @default 50 */
  gapWaitMs: number;
  /** How often the stream checks the database for events whose notice never came. @default 2000 */
  pollMs: number;
}

export const DEFAULT_STREAM_OPTIONS: StreamOptions = { gapWaitMs: 50, pollMs: 2_000 };

/** Events read from the database per gap-filling query. */
const FILL_BATCH = 500;

export type StreamListener = (event: AuditEventRecord) => void;

/**
 * Which of the workspace's events a listener is offered: every one (null), or
 * only those that target one conversation. A tail still decides with its own
 * predicate; the scope spares it the events it could never take, so that an
 * event costs work per subscriber of its conversation, not per subscriber of
 * the workspace.
 */
export type StreamScope = { conversationId: string } | null;

/** The conversation an event targets, if any: the key listeners of a conversation are found by. */
export function conversationOf(event: AuditEventRecord): string | undefined {
  return (event.targets as Partial<AnyTargets>).conversation?.id;
}

/**
 * A workspace's stored events, in seq order, each exactly once, for every
 * tail of this process. A workspace's seq is dense and follows commit order,
 * so the stream knows what it misses: notices that arrive out of order wait
 * for the ones before them, and a gap that stays open (a notice lost, late,
 * or sent while Redis was away) is filled from the database, which holds
 * every seq below one that was committed. One stream serves all the
 * workspace's subscribers: the database work is done once per process.
 */
export class WorkspaceStream {
  /** The seq the stream emits next; null until the stream knows where the workspace stands. */
  private nextSeq: number | null = null;
  private readonly pending = new Map<number, AuditEventRecord>();
  /** Listeners offered every event. */
  private readonly everyEvent = new Set<StreamListener>();
  /** Listeners offered one conversation's events, by conversation id. */
  private readonly byConversation = new Map<string, Set<StreamListener>>();
  private readonly scopes = new Map<StreamListener, StreamScope>();
  private readonly ready: Promise<void>;
  private gapTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  /** Database reads one after the other, so that fills never overlap. */
  private work: Promise<void> = Promise.resolve();
  private stopped = false;
  /** The customer names this stream's tails filter by, kept current before the events they decide on are emitted. */
  readonly customerNames: FollowedCustomerNames;
  /** Events up to this seq were checked against the customer names; they go out as they are. */
  private namesReadThrough = 0;
  /** Emitting waits while the customer names are read again (true), or until the next poll after such a read failed ("failed"). */
  private namesPending: boolean | "failed" = false;
  private readonly onNotice = (event: CustomEvent) => this.receive(event.detail as StoredNotice);

  constructor(
    readonly workspaceId: string,
    private readonly dataSource: DataSource,
    private readonly target: TopicTarget,
    private readonly logger: Logger,
    private readonly options: StreamOptions = DEFAULT_STREAM_OPTIONS,
  ) {
    this.customerNames = new FollowedCustomerNames(dataSource, workspaceId);
    // Listen first, then read where the workspace stands: nothing stored in between is missed.
    this.target.addEventListener(workspaceTopic(workspaceId), this.onNotice);
    this.ready = this.work.then(() => this.locate());
    this.work = this.ready.catch((error: unknown) => this.logger.error({ err: error, workspaceId }, "live tail could not read the database"));
    this.pollTimer = setInterval(() => this.catchUp(), this.options.pollMs);
    this.pollTimer.unref();
  }

  /** Resolves once the stream knows its position; every event after it will be emitted. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** The next seq to be emitted (known once ready). */
  get position(): number {
    return this.nextSeq ?? 0;
  }

  get listenerCount(): number {
    return this.scopes.size;
  }

  /** From now on, offers the listener the events in its scope: every event when the scope is null (the default). */
  addListener(listener: StreamListener, scope: StreamScope = null): void {
    this.removeListener(listener);
    this.scopes.set(listener, scope);
    if (scope === null) {
      this.everyEvent.add(listener);
      return;
    }
    let listeners = this.byConversation.get(scope.conversationId);
    if (!listeners) {
      listeners = new Set();
      this.byConversation.set(scope.conversationId, listeners);
    }
    listeners.add(listener);
  }

  removeListener(listener: StreamListener): void {
    const scope = this.scopes.get(listener);
    if (scope === undefined) return;
    this.scopes.delete(listener);
    if (scope === null) {
      this.everyEvent.delete(listener);
      return;
    }
    const listeners = this.byConversation.get(scope.conversationId);
    listeners?.delete(listener);
    if (listeners?.size === 0) this.byConversation.delete(scope.conversationId);
  }

  /** Checks the database for events past the stream's position (after Redis came back, and periodically). */
  catchUp(): void {
    if (this.stopped) return;
    if (this.namesPending === "failed") {
      this.namesPending = false;
      this.drain();
    }
    void this.serialized(async () => {
      if (this.nextSeq === null) return this.locate();
      const last = await findLastSeq(this.dataSource, this.workspaceId);
      if (this.nextSeq !== null && last >= this.nextSeq) await this.fill(last);
    });
  }

  stop(): void {
    this.stopped = true;
    this.target.removeEventListener(workspaceTopic(this.workspaceId), this.onNotice);
    clearTimeout(this.gapTimer);
    clearInterval(this.pollTimer);
    this.everyEvent.clear();
    this.byConversation.clear();
    this.scopes.clear();
    this.pending.clear();
  }

  private async locate(): Promise<void> {
    this.nextSeq = (await findLastSeq(this.dataSource, this.workspaceId)) + 1;
    for (const seq of this.pending.keys()) if (seq < this.nextSeq) this.pending.delete(seq);
    this.drain();
  }

  private receive(notice: StoredNotice): void {
    if (this.stopped || notice?.workspaceId !== this.workspaceId || !Array.isArray(notice.events)) return;
    for (const raw of notice.events) {
      const event = reviveRecord(raw);
      if (event.workspaceId !== this.workspaceId) continue;
      if (this.nextSeq === null || event.seq >= this.nextSeq) this.pending.set(event.seq, event);
    }
    this.drain();
  }

  /** Emits every event that is next in line; arms the gap timer when one is missing. */
  private drain(): void {
    if (this.nextSeq === null || this.stopped || this.namesPending) return;
    for (let event = this.pending.get(this.nextSeq); event; event = this.pending.get(this.nextSeq)) {
      if (event.seq > this.namesReadThrough && this.customerNames.outdatedBy(event)) return this.readNames();
      this.pending.delete(this.nextSeq);
      this.nextSeq += 1;
      this.emit(event);
    }
    if (this.pending.size > 0 && this.gapTimer === undefined) {
      this.gapTimer = setTimeout(() => {
        this.gapTimer = undefined;
        if (this.pending.size === 0) return;
        const highest = Math.max(...this.pending.keys());
        void this.serialized(() => this.fill(highest - 1));
      }, this.options.gapWaitMs);
    }
  }

  /**
   * Reads the followed customer names again before the events in line go
   * out, one query for them all; emitting resumes after it. When the
   * database does not answer, the events wait for the next poll.
   */
  private readNames(): void {
    const inLine: AuditEventRecord[] = [];
    for (let event = this.pending.get(this.nextSeq!); event; event = this.pending.get(event.seq + 1)) inLine.push(event);
    this.namesPending = true;
    void this.serialized(async () => {
      try {
        await this.refreshNames(inLine);
        this.namesPending = false;
      } catch (error) {
        this.namesPending = "failed";
        throw error;
      }
      this.drain();
    });
  }

  /** Reads the followed names again for these events (in seq order); the events up to the last of them are then checked. */
  private async refreshNames(events: readonly AuditEventRecord[]): Promise<void> {
    await this.customerNames.refresh(events);
    this.namesReadThrough = Math.max(this.namesReadThrough, events[events.length - 1].seq);
  }

  /**
   * Hands an event to the listeners in its scope. The sets are iterated in
   * place, not copied per event: a listener removed meanwhile is not called
   * again, and one added meanwhile may be called with an event before its
   * start (`position` already counts it), which a tail skips by seq.
   */
  private emit(event: AuditEventRecord): void {
    for (const listener of this.everyEvent) listener(event);
    const conversationId = conversationOf(event);
    if (conversationId === undefined) return;
    const listeners = this.byConversation.get(conversationId);
    if (listeners) for (const listener of listeners) listener(event);
  }

  /** Reads the events from the stream's position up to `upTo` (all committed) and emits them in order. */
  private async fill(upTo: number): Promise<void> {
    while (!this.stopped && this.nextSeq !== null && this.nextSeq <= upTo) {
      const events = await findEventsInSeqRange(this.dataSource, this.workspaceId, this.nextSeq, upTo, FILL_BATCH);
      if (events.length === 0) return;
      for (const event of events) if (this.nextSeq !== null && event.seq >= this.nextSeq) this.pending.set(event.seq, event);
      // Already in the stream's work queue: read the names here rather than queue a read behind this fill.
      if (!this.namesPending && events.some((event) => event.seq > this.namesReadThrough && this.customerNames.outdatedBy(event))) {
        await this.refreshNames(events);
      }
      const before = this.nextSeq;
      this.drain();
      // Emitting waits for a read of the names queued behind this fill: it resumes from there.
      if (this.nextSeq === before) return;
    }
  }

  private serialized(task: () => Promise<void>): Promise<void> {
    const run = this.work.then(task).catch((error: unknown) => {
      this.logger.error({ err: error, workspaceId: this.workspaceId }, "live tail could not read the database");
    });
    this.work = run;
    return run;
  }
}
