import type { DataSource, QueryRunner } from "typeorm";
import { WorkspaceRounds } from "../background/workspace-rounds";
import type { Logger } from "../common/logger";
import { insertCheckpoint, latestCheckpoint, workspacesDueForCheckpoint } from "../database/merkle-checkpoint.repository";
import { storedSubtrees, treeSize } from "../database/merkle-tile.repository";
import type { CheckpointSigner } from "./checkpoint";
import { treeRoot } from "./merkle";

/** How often the checkpointer looks for workspaces due a checkpoint, at most, in milliseconds. @default 10000 */
export const CHECKPOINT_SWEEP_MS = 10_000;

/**
 * Signs a checkpoint of each workspace's Merkle log every `intervalSeconds`,
 * when the log has grown since the last one (a workspace's first checkpoint
 * as soon as it has a leaf). It needs no notice from the recorder: its sweep
 * finds the workspaces due. Two instances may sign the same size; the first
 * stored is kept.
 */
export class Checkpointer extends WorkspaceRounds {
  constructor(dataSource: DataSource, logger: Logger, signer: CheckpointSigner, intervalSeconds: number) {
    const intervalMs = intervalSeconds * 1_000;
    super(
      dataSource,
      logger,
      {
        name: "checkpointer",
        workspacesBehind: (runner) => workspacesDueForCheckpoint(runner, new Date(Date.now() - intervalMs)),
        round: (runner, workspaceId) => signCheckpoint(runner, workspaceId, signer, intervalMs),
      },
      { roundDelayMs: 0, sweepIntervalMs: Math.min(CHECKPOINT_SWEEP_MS, intervalMs) },
    );
  }

  /** Due checkpoints are found by the sweep, not by the recorder's notices. */
  override notify(): void {}
}

/** Signs the workspace's log at its size now, when it is due; never another round. */
async function signCheckpoint(runner: QueryRunner, workspaceId: string, signer: CheckpointSigner, intervalMs: number): Promise<boolean> {
  const size = await treeSize(runner, workspaceId);
  const last = await latestCheckpoint(runner, workspaceId);
  if (size <= (last?.treeSize ?? 0)) return false;
  if (last && Date.now() - last.signedAt.getTime() < intervalMs) return false;
  // Tiles only grow, and the complete subtrees of this size never change: the root is this size's whatever the sequencer does meanwhile.
  const root = await treeRoot(storedSubtrees(runner, workspaceId), size);
  await insertCheckpoint(runner, signer.sign(workspaceId, size, root, new Date()));
  return false;
}
