import type { AuditEventRecord } from "../events/audit-event.record";
import type { EventPredicate } from "./event-filter";
import { outlastOutage } from "./outlast-outage";
import type { StreamScope, WorkspaceStream } from "./workspace-stream";

/** Live events held before a tail starts or while it replays from storage; past it they are dropped and read from storage. @default 10000 */
export const MAX_HELD_WHILE_REPLAYING = 10_000;

/** Where a tail's edges go, each once, in seq order. */
export interface TailOutput<TEdge> {
  push(edge: TEdge): void;
  /** Resolves once what was pushed has left for the client: a replay reads its next page only then. */
  flushed(): Promise<void>;
  /** The tail has ended, by {@link TailSubscription.end} or because storage could not be read (`error`). Called once. */
  ended(error?: unknown): void;
}

export interface TailOptions<TEdge> {
  stream: WorkspaceStream;
  /** The stream's events this tail is offered at all; `matches` must take none outside it. */
  scope: StreamScope;
  /** Whether an event belongs to this tail (workspace, conversation, filter). */
  matches: EventPredicate;
  /** Resume after this seq, replaying stored events first; null: from now on. */
  after: number | null;
  /** Stored events of this tail after a seq, in seq order, a page at a time. */
  replayPage(afterSeq: number): Promise<AuditEventRecord[]>;
  toEdge(event: AuditEventRecord): TEdge;
  /** Called once when the tail ends, however it ends. */
  onEnd(): void;
}

/**
 * One subscriber's tail: stored events after its cursor first, then live
 * ones, each exactly once and in seq order. Live events that arrive before
 * it starts or during the replay are held and merged by seq, so nothing
 * falls between the two.
 *
 * A tail pushes: the stream hands it an event, and it hands the edge on to
 * its output at once, with no queue, promise or iterator per event. That is
 * the work every subscriber of a hot conversation repeats, so it is kept to
 * a predicate and a call. graphql-js requires a subscription's source to be
 * async iterable, so a tail says it is, but is never iterated: the
 * subscription's delivery starts it (see live-tail/shared-execution.ts).
 */
export class TailSubscription<TEdge> implements AsyncIterable<never> {
  private output: TailOutput<TEdge> | undefined;
  private held: AuditEventRecord[] = [];
  private replaying: boolean;
  /** The last seq handled (delivered or filtered out). */
  private lastSeq: number;
  private finished = false;
  private readonly onEvent = (event: AuditEventRecord) => this.receive(event);

  constructor(private readonly options: TailOptions<TEdge>) {
    this.replaying = options.after !== null;
    this.lastSeq = options.after ?? options.stream.position - 1;
    options.stream.addListener(this.onEvent, options.scope);
  }

  [Symbol.asyncIterator](): AsyncIterator<never> {
    throw new Error("A live tail pushes its events to the output it is started with; it is not iterated.");
  }

  /** Starts delivering to `output`: the stored events first when resuming, then live ones. */
  start(output: TailOutput<TEdge>): void {
    if (this.output || this.finished) return;
    this.output = output;
    if (this.replaying) void this.replay();
    else this.releaseHeld();
  }

  /** Ends the tail: no further push, and the stream forgets it. */
  end(error?: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.options.stream.removeListener(this.onEvent);
    this.held = [];
    this.options.onEnd();
    this.output?.ended(error);
  }

  private receive(event: AuditEventRecord): void {
    if (this.finished) return;
    if (this.replaying || !this.output) {
      this.held.push(event);
      // Storage has these too: rather than hold without bound, let the replay read them.
      if (this.held.length > MAX_HELD_WHILE_REPLAYING) this.held = [];
      return;
    }
    this.offer(event);
  }

  /** Pushes the event if it is new to this tail and belongs to it. */
  private offer(event: AuditEventRecord): void {
    if (this.finished || event.seq <= this.lastSeq) return;
    this.lastSeq = event.seq;
    if (this.options.matches(event)) this.output!.push(this.options.toEdge(event));
  }

  /** Held events go out through {@link offer} like new ones, so they keep their order and skip what was replayed. */
  private releaseHeld(): void {
    const held = this.held;
    this.held = [];
    for (const event of held) this.offer(event);
  }

  private async replay(): Promise<void> {
    try {
      for (;;) {
        // A database outage holds the replay, not ends it: it reads on once the database is back.
        const page = await outlastOutage(() => this.options.replayPage(this.lastSeq), { abandoned: () => this.finished });
        if (this.finished) return;
        if (page.length === 0) {
          // Caught up with storage: everything held from here on is newer or already replayed.
          this.replaying = false;
          this.releaseHeld();
          return;
        }
        for (const event of page) this.offer(event);
        await this.output!.flushed();
      }
    } catch (error) {
      this.end(error);
    }
  }
}
