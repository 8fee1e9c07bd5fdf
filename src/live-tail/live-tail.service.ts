import type { DataSource } from "typeorm";
import { Principal, Role } from "../auth/principal";
import { BadUserInputError, ForbiddenError, NotFoundError } from "../common/errors";
import type { Logger } from "../common/logger";
import { PerObjectMemo } from "../common/per-object-memo";
import { findEventsAfterSeq } from "../database/audit-event.repository";
import { conversationExists } from "../database/conversation.repository";
import type { AuditEventRecord } from "../events/audit-event.record";
import { customersNamed } from "../directory/customer-names";
import type { AuditEventFilter } from "../logs/audit-log.inputs";
import type { AuditEventEdge } from "../logs/audit-log.types";
import type { CursorCodec } from "../logs/cursor";
import { conversationLogFilter, CustomersNamed, customersNamedIn, LogFilter, workspaceLogFilter } from "../logs/log-filter";
import type { EventBus } from "./event-bus";
import { predicateOf, scopeOf } from "./event-filter";
import { TailSubscription } from "./tail-subscription";
import { DEFAULT_STREAM_OPTIONS, StreamOptions, WorkspaceStream } from "./workspace-stream";

/** Stored events read per replay query. @default 200 */
export const REPLAY_PAGE = 200;

/**
 * The live tails of this process. Each workspace with subscribers has one
 * {@link WorkspaceStream}; each subscription is offered the events in its
 * scope (its conversation's, or all), filters them and, when resuming,
 * replays from storage first.
 */
export class LiveTailService {
  private readonly streams = new Map<string, { stream: WorkspaceStream; subscriptions: number }>();
  /**
   * Each event's edge per log. Every subscriber of a log gets the same
   * cursor for an event, so it is signed once, not once per subscriber; an
   * entry goes with its event record.
   */
  private readonly edges = new PerObjectMemo<AuditEventEdge>();
  private active = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly bus: EventBus,
    private readonly cursors: CursorCodec,
    private readonly logger: Logger,
    private readonly streamOptions: StreamOptions = DEFAULT_STREAM_OPTIONS,
  ) {
    bus.onReconnect(() => {
      for (const { stream } of this.streams.values()) stream.catchUp();
    });
  }

  /** Subscriptions open in this process. */
  get activeSubscriptions(): number {
    return this.active;
  }

  /** Workspaces this process follows. */
  get activeStreams(): number {
    return this.streams.size;
  }

  /** conversationAuditEvents: ADMIN or AGENT of the conversation's workspace. */
  async conversationTail(
    principal: Principal,
    conversationId: string,
    after: string | null,
  ): Promise<TailSubscription<AuditEventEdge>> {
    if (principal.role !== Role.ADMIN && principal.role !== Role.AGENT) throw new ForbiddenError();
    const afterSeq = this.resumePoint(principal, after);
    const workspaceId = principal.workspaceId;
    if (!(await conversationExists(this.dataSource, workspaceId, conversationId))) throw new NotFoundError(`Conversation ${JSON.stringify(conversationId)}`);
    const log = `conversation:${conversationId}`;
    return this.open(principal, afterSeq, log, conversationLogFilter(conversationId, null), (seq) =>
      findEventsAfterSeq(this.dataSource, workspaceId, seq, REPLAY_PAGE, conversationId),
    );
  }

  /** workspaceAuditEvents: ADMIN only, optionally filtered as the workspace log is. */
  async workspaceTail(
    principal: Principal,
    filter: AuditEventFilter | null,
    after: string | null,
  ): Promise<TailSubscription<AuditEventEdge>> {
    if (principal.role !== Role.ADMIN) throw new ForbiddenError();
    const afterSeq = this.resumePoint(principal, after);
    const workspaceId = principal.workspaceId;
    const logFilter = await workspaceLogFilter(filter, async (name) => ({ ids: await customersNamed(this.dataSource, workspaceId, name), recalled: false }));
    return this.open(principal, afterSeq, "workspace", logFilter, (seq) =>
      findEventsAfterSeq(this.dataSource, workspaceId, seq, REPLAY_PAGE),
    );
  }

  /** Stops every stream (shutdown). */
  close(): void {
    for (const { stream } of this.streams.values()) stream.stop();
    this.streams.clear();
  }

  /** The seq of a cursor from any log or delivery of the caller's workspace. */
  private resumePoint(principal: Principal, after: string | null): number | null {
    if (after === null || after === undefined) return null;
    const payload = this.cursors.decode(after);
    if (payload.workspaceId !== principal.workspaceId) {
      throw new BadUserInputError("after is a cursor of another workspace.", [{ path: "after", message: "belongs to another workspace" }]);
    }
    return payload.seq;
  }

  private async open(
    principal: Principal,
    after: number | null,
    log: string,
    filter: LogFilter,
    replayPage: (seq: number) => Promise<AuditEventRecord[]>,
  ): Promise<TailSubscription<AuditEventEdge>> {
    const workspaceId = principal.workspaceId;
    const entry = this.acquire(workspaceId);
    try {
      await entry.stream.whenReady();
    } catch (error) {
      this.release(workspaceId);
      throw error;
    }
    this.active += 1;
    const predicate = predicateOf(filter);
    const named: CustomersNamed | null = customersNamedIn(filter);
    const unfollow = named ? entry.stream.customerNames.follow(named) : undefined;
    return new TailSubscription<AuditEventEdge>({
      stream: entry.stream,
      after,
      scope: scopeOf(filter),
      matches: (event) => event.workspaceId === workspaceId && predicate(event),
      replayPage,
      toEdge: (node) => this.edge(workspaceId, log, node),
      onEnd: () => {
        unfollow?.();
        this.active -= 1;
        this.release(workspaceId);
      },
    });
  }

  private edge(workspaceId: string, log: string, node: AuditEventRecord): AuditEventEdge {
    return this.edges.get(node, log, () => ({ node, cursor: this.cursors.encode({ workspaceId, log, occurredAt: node.occurredAt, seq: node.seq }) }));
  }

  private acquire(workspaceId: string): { stream: WorkspaceStream; subscriptions: number } {
    let entry = this.streams.get(workspaceId);
    if (!entry) {
      entry = { stream: new WorkspaceStream(workspaceId, this.dataSource, this.bus.target, this.logger, this.streamOptions), subscriptions: 0 };
      this.streams.set(workspaceId, entry);
    }
    entry.subscriptions += 1;
    return entry;
  }

  private release(workspaceId: string): void {
    const entry = this.streams.get(workspaceId);
    if (!entry) return;
    entry.subscriptions -= 1;
    if (entry.subscriptions > 0) return;
    entry.stream.stop();
    this.streams.delete(workspaceId);
  }
}
