import type { DataSource, QueryRunner } from "typeorm";
import { RoundTiming, WorkspaceRounds } from "../background/workspace-rounds";
import type { Logger } from "../common/logger";
import { findEventsInSeqRange } from "../database/audit-event.repository";
import { ensureTreeRow, lockTreeSize, readTiles, setTreeSize, tileKey, workspacesBehindLog, writeTiles } from "../database/merkle-tile.repository";
import { eventLeafHash } from "./event-leaf";
import { appendLeaves, partialTiles } from "./tiles";

/** Leaves one round appends at most. */
export const MAX_ROUND_LEAVES = 5_000;
/** Events a round reads in one statement. @default 500 */
export const READ_CHUNK = 500;
/** How long a workspace's new events gather before a round, in milliseconds. @default 500 */
export const ROUND_DELAY_MS = 500;
/** How often the sequencer looks for workspaces it was not told about, in milliseconds. @default 10000 */
export const SWEEP_INTERVAL_MS = 10_000;

/**
 * Appends each workspace's events to its Merkle log, in seq order, a moment
 * after they commit (see {@link WorkspaceRounds}): leaf i is the event of seq
 * i + 1, hashed from the row as stored, as a verifier hashes it. A round
 * takes the events after the log's size, appends their leaves to the tiles
 * and moves the size, in one transaction holding the workspace's tree row.
 *
 * Why trailing the recording rather than inside it: the leaves are hashed
 * from what the database holds (what a verifier reads back), the hashing
 * runs on this thread and not on the one that answers requests, and a round
 * writes a few tiles for thousands of events. Seq order is commit order, so
 * the log never passes an event still to commit, and it is complete a round
 * delay after the last recording.
 */
export class MerkleSequencer extends WorkspaceRounds {
  constructor(dataSource: DataSource, logger: Logger, timing: RoundTiming = { roundDelayMs: ROUND_DELAY_MS, sweepIntervalMs: SWEEP_INTERVAL_MS }) {
    super(dataSource, logger, { name: "merkle-sequencer", workspacesBehind: workspacesBehindLog, round: appendRound }, timing);
  }
}

/**
 * The leaves of the events after the log's `size`, up to a round's worth, in
 * seq order; `outOfLine` when an event further on is not the next seq (seq is
 * dense from 1: leaf i is seq i + 1, so an event out of line would be a gap in
 * the log, and the leaves stop before it). Events are read a chunk at a time
 * and only their hashes kept: a round's rows never all live at once, which
 * spares the garbage collector copying thousands of them.
 */
async function leavesAfter(runner: QueryRunner, workspaceId: string, size: number): Promise<{ leaves: Buffer[]; outOfLine: boolean }> {
  const leaves: Buffer[] = [];
  const last = size + MAX_ROUND_LEAVES;
  while (leaves.length < MAX_ROUND_LEAVES) {
    const next = size + 1 + leaves.length;
    const events = await findEventsInSeqRange(runner, workspaceId, next, last, READ_CHUNK);
    for (const event of events) {
      if (event.seq !== size + 1 + leaves.length) return { leaves, outOfLine: true };
      leaves.push(eventLeafHash(event));
    }
    if (events.length < READ_CHUNK) break;
  }
  return { leaves, outOfLine: false };
}

/** One round for a workspace; whether it may have more to append. */
async function appendRound(runner: QueryRunner, workspaceId: string): Promise<boolean> {
  await ensureTreeRow(runner, workspaceId);
  try {
    await runner.startTransaction("READ COMMITTED");
    const size = await lockTreeSize(runner, workspaceId);
    const { leaves, outOfLine } = await leavesAfter(runner, workspaceId, size);
    if (leaves.length === 0) {
      await runner.commitTransaction();
      if (!outOfLine) return false;
      // Every seq below a readable one has committed: a seq missing here was removed, and the log cannot go past it.
      throw new Error(`workspace ${workspaceId}: the event of seq ${size + 1} is missing; its Merkle log stops at ${size} (npm run verify names what changed)`);
    }
    const partial = await readTiles(runner, workspaceId, partialTiles(size));
    const tiles = appendLeaves(size, (at) => partial.get(tileKey(at)) ?? [], leaves);
    await writeTiles(runner, workspaceId, tiles);
    await setTreeSize(runner, workspaceId, size + leaves.length);
    await runner.commitTransaction();
    // Stopped short of an event out of line: the next round reports the seq missing.
    return leaves.length === MAX_ROUND_LEAVES || outOfLine;
  } catch (error) {
    if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
    throw error;
  }
}
