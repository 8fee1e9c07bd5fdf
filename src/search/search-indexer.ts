import type { DataSource, QueryRunner } from "typeorm";
import { RoundTiming, WorkspaceRounds } from "../background/workspace-rounds";
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
 * recording transactions rather than inside them (see
 * {@link WorkspaceRounds}): one round indexes up to {@link MAX_ROUND_EVENTS}
 * of a workspace's events after its indexed seq, writes one row per term of
 * the round, and moves the indexed seq, in one transaction that holds the
 * workspace's progress row, so indexers of several instances take turns and
 * never index an event twice. Searches read the events after the indexed seq
 * directly, so what the indexer has not reached yet is found all the same.
 *
 * Seq order is commit order within a workspace (see the workspaces table):
 * once an event is readable, every event before it is too, so an indexed seq
 * never passes an event still to commit.
 */
export class SearchIndexer extends WorkspaceRounds {
  constructor(dataSource: DataSource, logger: Logger, timing: RoundTiming = { roundDelayMs: ROUND_DELAY_MS, sweepIntervalMs: SWEEP_INTERVAL_MS }) {
    super(dataSource, logger, { name: "search-indexer", workspacesBehind, round: indexRound }, timing);
  }
}

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
