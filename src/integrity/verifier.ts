import type { KeyObject } from "node:crypto";
import { findEventsAfterSeq } from "../database/audit-event.repository";
import { allCheckpoints } from "../database/merkle-checkpoint.repository";
import { readTiles, tileKey, treeSize } from "../database/merkle-tile.repository";
import type { Queryable } from "../database/statements";
import { Checkpoint, checkpointSignedBy, keyFingerprint } from "./checkpoint";
import { eventLeafHash } from "./event-leaf";
import { inMemorySubtrees, treeRoot } from "./merkle";
import { TILE_WIDTH } from "./tiles";

/** Events read per statement. */
const READ_BATCH = 5_000;

/** What the verifier found wrong, naming the event or checkpoint. */
export interface Finding {
  kind: "event-changed" | "event-missing" | "events-truncated" | "checkpoint-root" | "checkpoint-signature" | "checkpoint-key";
  message: string;
  seq?: number;
  eventId?: string;
  treeSize?: number;
}

export interface VerifyReport {
  workspaceId: string;
  events: number;
  leavesInLog: number;
  checkpoints: number;
  /** The first finding of the rows, then the first of the checkpoints; empty when the log verifies. */
  findings: Finding[];
}

/**
 * Recomputes a workspace's log from its rows and checks it against what was
 * committed to: every event's leaf against the log's leaf of its seq (an
 * event changed, removed or moved after the log took it), and every
 * checkpoint's root against the root of the recomputed leaves, and its
 * signature against the public key. Reports the first event and the first
 * checkpoint that do not match.
 */
export async function verifyWorkspace(database: Queryable, workspaceId: string, publicKey: KeyObject): Promise<VerifyReport> {
  const size = await treeSize(database, workspaceId);
  const checkpoints = await allCheckpoints(database, workspaceId);
  const covered = Math.max(size, ...checkpoints.map((checkpoint) => checkpoint.treeSize));
  const leaves: Buffer[] = [];
  const findings: Finding[] = [];
  let rowFinding: Finding | undefined;
  let events = 0;
  let expectedSeq = 1;
  const logLeaves = new LeafTiles(database, workspaceId);

  for (let after = 0; ; ) {
    const batch = await findEventsAfterSeq(database, workspaceId, after, READ_BATCH);
    if (batch.length === 0) break;
    for (const event of batch) {
      events++;
      if (event.seq !== expectedSeq) {
        rowFinding ??= { kind: "event-missing", seq: expectedSeq, message: `event seq ${expectedSeq} is missing: it was removed after it was recorded` };
        // The leaves of the missing seqs cannot be recomputed: the log's own stand in, so later checks still line up.
        for (; expectedSeq < event.seq; expectedSeq++) leaves.push((await logLeaves.leaf(expectedSeq - 1)) ?? Buffer.alloc(32));
      }
      const leaf = eventLeafHash(event);
      leaves.push(leaf);
      const logged = event.seq <= size ? await logLeaves.leaf(event.seq - 1) : undefined;
      if (logged && !logged.equals(leaf)) {
        rowFinding ??= {
          kind: "event-changed",
          seq: event.seq,
          eventId: event.id,
          message: `event ${event.id} (seq ${event.seq}) is not the event the log took: it was changed after it was recorded`,
        };
      }
      expectedSeq = event.seq + 1;
    }
    after = batch[batch.length - 1].seq;
  }
  if (expectedSeq - 1 < covered) {
    rowFinding ??= {
      kind: "events-truncated",
      seq: expectedSeq,
      treeSize: covered,
      message: `events from seq ${expectedSeq} on are missing: the log holds ${covered} (${covered - expectedSeq + 1} newest events removed)`,
    };
    for (; expectedSeq <= covered; expectedSeq++) leaves.push((await logLeaves.leaf(expectedSeq - 1)) ?? Buffer.alloc(32));
  }
  if (rowFinding) findings.push(rowFinding);

  const checkpointFinding = await firstBadCheckpoint(checkpoints, leaves, publicKey);
  if (checkpointFinding) findings.push(checkpointFinding);
  return { workspaceId, events, leavesInLog: size, checkpoints: checkpoints.length, findings };
}

async function firstBadCheckpoint(checkpoints: readonly Checkpoint[], leaves: readonly Buffer[], publicKey: KeyObject): Promise<Finding | undefined> {
  const recomputed = inMemorySubtrees(leaves);
  const fingerprint = keyFingerprint(publicKey);
  for (const checkpoint of checkpoints) {
    const named = `the checkpoint of size ${checkpoint.treeSize} signed at ${checkpoint.signedAt.toISOString()}`;
    if (checkpoint.keyFingerprint !== fingerprint) {
      return { kind: "checkpoint-key", treeSize: checkpoint.treeSize, message: `${named} names key ${checkpoint.keyFingerprint}, not the verifying key ${fingerprint}` };
    }
    if (!checkpointSignedBy(checkpoint, publicKey)) {
      return { kind: "checkpoint-signature", treeSize: checkpoint.treeSize, message: `${named}: its signature does not verify with the public key` };
    }
    if (checkpoint.treeSize > leaves.length || !(await treeRoot(recomputed, checkpoint.treeSize)).equals(checkpoint.rootHash)) {
      return { kind: "checkpoint-root", treeSize: checkpoint.treeSize, message: `${named}: its root is not the root of the workspace's events` };
    }
  }
  return undefined;
}

/** The log's leaf hashes, read a level-0 tile at a time. */
class LeafTiles {
  private index = -1;
  private hashes: Buffer[] = [];

  constructor(
    private readonly database: Queryable,
    private readonly workspaceId: string,
  ) {}

  async leaf(position: number): Promise<Buffer | undefined> {
    const index = Math.floor(position / TILE_WIDTH);
    if (index !== this.index) {
      const at = { level: 0, index };
      this.hashes = (await readTiles(this.database, this.workspaceId, [at])).get(tileKey(at)) ?? [];
      this.index = index;
    }
    return this.hashes[position % TILE_WIDTH];
  }
}
