import type { DataSource, QueryRunner } from "typeorm";
import { RoundTiming, WorkspaceRounds } from "../background/workspace-rounds";
import type { Logger } from "../common/logger";
import { findEventsInSeqRange } from "../database/audit-event.repository";
import { ensureTreeRow, lockTreeSize, readTiles, setTreeSize, tileKey, workspacesBehindLog, writeTiles } from "../database/merkle-tile.repository";
import { eventLeafHash } from "./event-leaf";
import { appendLeaves, partialTiles } from "./tiles";

/** Leaves one round appends at most. */
export const MAX_ROUND_LEAVES = 5_000;
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

/** One round for a workspace; whether it may have more to append. */
async function appendRound(runner: QueryRunner, workspaceId: string): Promise<boolean> {
  await ensureTreeRow(runner, workspaceId);
  try {
    await runner.startTransaction("READ COMMITTED");
    const size = await lockTreeSize(runner, workspaceId);
    const events = await findEventsInSeqRange(runner, workspaceId, size + 1, size + MAX_ROUND_LEAVES, MAX_ROUND_LEAVES);
    // Seq is dense from 1: leaf i is seq i + 1. An event out of line would be a gap in the log; the round stops before it.
    let inLine = 0;
    while (inLine < events.length && events[inLine].seq === size + 1 + inLine) inLine++;
    if (inLine === 0) {
      await runner.commitTransaction();
      if (events.length === 0) return false;
      // Every seq below a readable one has committed: a seq missing here was removed, and the log cannot go past it.
      throw new Error(`workspace ${workspaceId}: the event of seq ${size + 1} is missing; its Merkle log stops at ${size} (npm run verify names what changed)`);
    }
    const partial = await readTiles(runner, workspaceId, partialTiles(size));
    const tiles = appendLeaves(size, (at) => partial.get(tileKey(at)) ?? [], events.slice(0, inLine).map(eventLeafHash));
    await writeTiles(runner, workspaceId, tiles);
    await setTreeSize(runner, workspaceId, size + inLine);
    await runner.commitTransaction();
    // Stopped short of the round's last event: the next round reports the seq missing.
    return inLine === MAX_ROUND_LEAVES || inLine < events.length;
  } catch (error) {
    if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
    throw error;
  }
}
