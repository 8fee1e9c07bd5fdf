import type { AuditEventRecord } from "../events/audit-event.record";
import type { EventPredicate } from "./event-filter";
import type { StreamScope, WorkspaceStream } from "./workspace-stream";

/** Live events held while a resumed tail replays from storage; past it they are dropped and read from storage. @default 10000 */
export const MAX_HELD_WHILE_REPLAYING = 10_000;
/**
 * How long events may wait while the transport takes none of them. graphql-ws
 * takes the next event only once the previous one is written to the socket,
 * so a client that stops reading stalls its tail; a busy server does not, nor
 * does a quiet one: the wait starts when an event arrives or is taken, never
 * earlier.
 * @default 5000
 */
export const STALL_MS = 5_000;

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
  /** Events a tail may hold for its client in any case; past it the client counts as too slow. */
  maxQueued: number;
  /** How long events may wait with none taken before the client counts as too slow. @default STALL_MS */
  stallMs?: number;
  /** Whether the connection has more unsent bytes than it may. */
  connectionCongested(): boolean;
  /** Called once when the client is too slow: the connection is to be closed. */
  onTooSlow(): void;
  /** Called once when the tail ends, however it ends. */
  onEnd(): void;
}

/**
 * One subscriber's tail: stored events after its cursor first, then live
 * ones, each exactly once and in seq order. Live events that arrive during
 * the replay are held and merged by seq, so nothing falls between the two.
 */
export class TailSubscription<TEdge> implements AsyncIterableIterator<TEdge> {
  private readonly queue: AuditEventRecord[] = [];
  private held: AuditEventRecord[] = [];
  private replaying: boolean;
  /** The last seq handled (delivered or filtered out). */
  private lastSeq: number;
  private finished = false;
  /** Since when events have waited with none taken: the later of the oldest one's arrival and the last take; unset while none waits. */
  private waitingSince: number | undefined;
  private wake: (() => void) | undefined;
  private readonly onEvent = (event: AuditEventRecord) => this.receive(event);

  constructor(private readonly options: TailOptions<TEdge>) {
    this.replaying = options.after !== null;
    this.lastSeq = options.after ?? options.stream.position - 1;
    options.stream.addListener(this.onEvent, options.scope);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<TEdge>> {
    for (;;) {
      const event = this.queue.shift();
      if (event) {
        this.waitingSince = this.queue.length > 0 ? Date.now() : undefined;
        return { value: this.options.toEdge(event), done: false };
      }
      if (this.finished) return { value: undefined, done: true };
      if (this.replaying) {
        await this.replayPage();
        continue;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  async return(): Promise<IteratorResult<TEdge>> {
    this.finish();
    return { value: undefined, done: true };
  }

  async throw(error?: unknown): Promise<IteratorResult<TEdge>> {
    this.finish();
    throw error;
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.options.stream.removeListener(this.onEvent);
    this.queue.length = 0;
    this.held = [];
    this.options.onEnd();
    this.wake?.();
  }

  private receive(event: AuditEventRecord): void {
    if (this.finished) return;
    if (this.replaying) {
      this.held.push(event);
      // Storage has these too: rather than hold without bound, let the replay read them.
      if (this.held.length > MAX_HELD_WHILE_REPLAYING) this.held = [];
      return;
    }
    this.offer(event);
  }

  /** Queues the event if it is new to this tail and belongs to it. */
  private offer(event: AuditEventRecord): void {
    if (this.finished || event.seq <= this.lastSeq) return;
    this.lastSeq = event.seq;
    if (this.options.matches(event)) this.enqueue(event);
  }

  private enqueue(event: AuditEventRecord): void {
    if (this.finished) return;
    this.queue.push(event);
    const now = Date.now();
    this.waitingSince ??= now;
    const stalled = now - this.waitingSince > (this.options.stallMs ?? STALL_MS);
    if (stalled || this.queue.length > this.options.maxQueued || this.options.connectionCongested()) {
      this.options.onTooSlow();
      this.finish();
      return;
    }
    this.wake?.();
  }

  private async replayPage(): Promise<void> {
    const page = await this.options.replayPage(this.lastSeq);
    if (this.finished) return;
    if (page.length === 0) {
      // Caught up with storage: everything held from here on is newer or already replayed.
      // Held events go through the same queue as new ones, so they keep their order.
      this.replaying = false;
      const held = this.held;
      this.held = [];
      for (const event of held) this.offer(event);
      return;
    }
    for (const event of page) this.offer(event);
  }
}
