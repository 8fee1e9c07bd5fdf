import type { Checkpoint } from "../integrity/checkpoint";
import type { Queryable } from "./statements";

interface CheckpointRow {
  workspace_id: string;
  tree_size: number | string;
  root_hash: Buffer;
  signed_at: Date;
  key_fingerprint: string;
  signature: Buffer;
}

const COLUMNS = "workspace_id, tree_size, root_hash, signed_at, key_fingerprint, signature";

/** Stores a checkpoint; one of the same size (another instance's) is kept as it is. */
export async function insertCheckpoint(database: Queryable, checkpoint: Checkpoint): Promise<void> {
  await database.query(`INSERT IGNORE INTO merkle_checkpoints (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`, [
    checkpoint.workspaceId,
    checkpoint.treeSize,
    checkpoint.rootHash,
    checkpoint.signedAt,
    checkpoint.keyFingerprint,
    checkpoint.signature,
  ]);
}

/** The workspace's checkpoint of the largest size, if any. */
export async function latestCheckpoint(database: Queryable, workspaceId: string): Promise<Checkpoint | undefined> {
  const rows = (await database.query(`SELECT ${COLUMNS} FROM merkle_checkpoints WHERE workspace_id = ? ORDER BY tree_size DESC LIMIT 1`, [workspaceId])) as CheckpointRow[];
  return rows.map(fromRow)[0];
}

/** The workspace's checkpoint of that size, if any. */
export async function checkpointOfSize(database: Queryable, workspaceId: string, treeSize: number): Promise<Checkpoint | undefined> {
  const rows = (await database.query(`SELECT ${COLUMNS} FROM merkle_checkpoints WHERE workspace_id = ? AND tree_size = ?`, [workspaceId, treeSize])) as CheckpointRow[];
  return rows.map(fromRow)[0];
}

/** Every checkpoint of the workspace, smallest first. */
export async function allCheckpoints(database: Queryable, workspaceId: string): Promise<Checkpoint[]> {
  const rows = (await database.query(`SELECT ${COLUMNS} FROM merkle_checkpoints WHERE workspace_id = ? ORDER BY tree_size`, [workspaceId])) as CheckpointRow[];
  return rows.map(fromRow);
}

/** Workspaces whose log grew past their latest checkpoint, which is older than `signedBefore` (or which have none). */
export async function workspacesDueForCheckpoint(database: Queryable, signedBefore: Date): Promise<string[]> {
  const rows = (await database.query(
    `SELECT t.workspace_id AS id FROM merkle_trees AS t
       LEFT JOIN (SELECT workspace_id, MAX(tree_size) AS size, MAX(signed_at) AS at FROM merkle_checkpoints GROUP BY workspace_id) AS c
         ON c.workspace_id = t.workspace_id
      WHERE t.size > COALESCE(c.size, 0) AND (c.at IS NULL OR c.at <= ?)`,
    [signedBefore],
  )) as { id: string }[];
  return rows.map((row) => row.id);
}

function fromRow(row: CheckpointRow): Checkpoint {
  return {
    workspaceId: row.workspace_id,
    treeSize: Number(row.tree_size),
    rootHash: Buffer.from(row.root_hash),
    signedAt: row.signed_at,
    keyFingerprint: row.key_fingerprint,
    signature: Buffer.from(row.signature),
  };
}
