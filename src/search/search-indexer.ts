import type { DataSource, QueryRunner } from "typeorm";
import type { Logger } from "../common/logger";
import {
  ensureProgressRow,
  eventsToIndex,
  insertPostingBlocks,
  lockIndexedSeq,
  newestFirst,
  Posting,
  PostingBlock,
  setIndexedSeq,
  workspacesBehind,
} from "../database/search-postings.repository";
import { storedTerms } from "./search-terms";

/** Events one indexing round takes at most: a round writes one row per distinct term, so larger rounds write fewer rows per event. */
export const MAX_ROUND_EVENTS = 5_000;
/**
 * How long the indexer lets a workspace's new events gather before a round,
 * in milliseconds: a longer wait makes larger rounds (cheaper for recording),
 * and leaves more events for searches to read directly. @default 500
 */
export const ROUND_DELAY_MS = 500;
/** How often the indexer looks for workspaces it was not told about (other instances' events, a backlog after a migration). @default 10000 */
export const SWEEP_INTERVAL_MS = 10_000;

/**
 * Keeps `search_postings` up with `audit_events`, a moment behind the
 * recording transactions rather than inside them: one round indexes up to
 * {@link MAX_ROUND_EVENTS} of a workspace's events after its indexed seq,
 * writes one row per term of the round, and moves the indexed seq, in one
 * transaction that holds the workspace's progress row, so indexers of
 * several instances take turns and never index an event twice. Searches read
 * the events after the indexed seq directly, so what the indexer has not
 * reached yet is found all the same.
 *
 * Seq order is commit order within a workspace (see the workspaces table):
 * once an event is readable, every event before it is too, so an indexed seq
 * never passes an event still to commit.
 */
export class SearchIndexer {
  private readonly waiting = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private started = false;
  private stopped = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly logger: Logger,
    private readonly options: {
      roundDelayMs: number;
      sweepIntervalMs: number;
    } = { roundDelayMs: ROUND_DELAY_MS, sweepIntervalMs: SWEEP_INTERVAL_MS },
  ) {}

  /** Starts indexing: the workspaces behind now, then those the recorder names, and a sweep now and then. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.sweeper = setInterval(() => void this.sweep(), this.options.sweepIntervalMs);
    this.sweeper.unref();
    void this.sweep();
  }

  /** The workspace has new events: a round follows shortly. */
  notify(workspaceId: string): void {
    this.waiting.add(workspaceId);
    this.schedule(this.options.roundDelayMs);
  }

  /** Stops after the round under way; what is left is indexed by the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.sweeper);
    await this.running;
  }

  /** Indexes every workspace that is behind, until none is: for tests and tools that need the index complete now. */
  async catchUp(): Promise<void> {
    await this.running;
    for (const workspaceId of await this.withRunner((runner) => workspacesBehind(runner))) this.waiting.add(workspaceId);
    await this.drain();
  }

  private async sweep(): Promise<void> {
    try {
      for (const workspaceId of await this.withRunner((runner) => workspacesBehind(runner))) this.waiting.add(workspaceId);
    } catch (error) {
      this.logger.warn({ err: error }, "search indexer: could not look for workspaces to index");
      return;
    }
    if (this.waiting.size > 0) this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (!this.started || this.stopped || this.timer || this.running) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.drain()
        .catch((error: unknown) => this.logger.warn({ err: error }, "search indexer: a round failed; it is tried again at the next sweep"))
        .finally(() => {
          this.running = undefined;
          if (this.waiting.size > 0) this.schedule(this.options.roundDelayMs);
        });
    }, delayMs);
    this.timer.unref();
  }

  /** Rounds for the waiting workspaces, one at a time, until each has nothing left. */
  private async drain(): Promise<void> {
    while (this.waiting.size > 0 && !this.stopped) {
      const [workspaceId] = this.waiting;
      this.waiting.delete(workspaceId);
      if (await this.round(workspaceId)) this.waiting.add(workspaceId);
    }
  }

  /** One round for the workspace; whether it may have more to index. */
  private round(workspaceId: string): Promise<boolean> {
    return this.withRunner((runner) => indexRound(runner, workspaceId));
  }

  /** Work on a connection of its own, marked as this background job's (see {@link BACKGROUND_JOB}). */
  private async withRunner<T>(work: (runner: QueryRunner) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    runner.data = { [BACKGROUND_JOB]: "search-indexer" };
    try {
      return await work(runner);
    } finally {
      await runner.release();
    }
  }
}

/**
 * The key a background job's connections carry in `QueryRunner.data`: what
 * they send runs on the job's own schedule, not for any request.
 */
export const BACKGROUND_JOB = "backgroundJob";

/** One round: the workspace's next events after its indexed seq, indexed in one transaction; whether there may be more. */
async function indexRound(runner: QueryRunner, workspaceId: string): Promise<boolean> {
  await ensureProgressRow(runner, workspaceId);
  try {
    await runner.startTransaction("READ COMMITTED");
    const from = await lockIndexedSeq(runner, workspaceId);
    const events = await eventsToIndex(runner, workspaceId, from, MAX_ROUND_EVENTS);
    if (events.length === 0) {
      await runner.commitTransaction();
      return false;
    }
    await insertPostingBlocks(runner, workspaceId, events[0].seq, postingBlocks(events));
    await setIndexedSeq(runner, workspaceId, events[events.length - 1].seq);
    await runner.commitTransaction();
    return events.length === MAX_ROUND_EVENTS;
  } catch (error) {
    if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
    throw error;
  }
}

/** The round's posting list of each of its terms, newest first. */
export function postingBlocks(events: readonly { seq: number; occurredAt: Date; searchText: string }[]): PostingBlock[] {
  const byTerm = new Map<string, Posting[]>();
  for (const event of events) {
    const posting = { time: event.occurredAt.getTime(), seq: event.seq };
    for (const term of storedTerms(event.searchText)) {
      const postings = byTerm.get(term);
      if (postings) postings.push(posting);
      else byTerm.set(term, [posting]);
    }
  }
  const blocks: PostingBlock[] = [];
  for (const [term, postings] of byTerm) blocks.push({ term, postings: postings.sort(newestFirst) });
  return blocks;
}
