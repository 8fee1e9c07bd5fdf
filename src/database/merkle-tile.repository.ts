import type { QueryRunner } from "typeorm";
import { HASH_BYTES, SubtreeHashes } from "../integrity/merkle";
import { subtreesFromTiles, Tile, TileCoordinates } from "../integrity/tiles";
import { placeholders, Queryable } from "./statements";

/**
 * The workspaces' Merkle logs (migrations/1796716800000-MerkleLog.ts): tiles
 * of hashes, and per workspace the number of leaves they hold.
 */

/** Gives the workspace its tree row, at size 0, unless it has one; outside the round's transaction, as the search index's progress row. */
export async function ensureTreeRow(database: Queryable, workspaceId: string): Promise<void> {
  await database.query(`INSERT IGNORE INTO merkle_trees (workspace_id, size) VALUES (?, 0)`, [workspaceId]);
}

/** The leaves in the workspace's log, locked until the transaction ends: sequencers of several instances take turns. */
export async function lockTreeSize(runner: QueryRunner, workspaceId: string): Promise<number> {
  const rows = (await runner.query(`SELECT size FROM merkle_trees WHERE workspace_id = ? FOR UPDATE`, [workspaceId])) as { size: number | string }[];
  return Number(rows[0].size);
}

export async function setTreeSize(runner: QueryRunner, workspaceId: string, size: number): Promise<void> {
  await runner.query(`UPDATE merkle_trees SET size = ? WHERE workspace_id = ?`, [size, workspaceId]);
}

/** The leaves in the workspace's log (0: none yet). */
export async function treeSize(database: Queryable, workspaceId: string): Promise<number> {
  const rows = (await database.query(`SELECT size FROM merkle_trees WHERE workspace_id = ?`, [workspaceId])) as { size: number | string }[];
  return rows.length > 0 ? Number(rows[0].size) : 0;
}

export function tileKey(coordinates: TileCoordinates): string {
  return `${coordinates.level}/${coordinates.index}`;
}

/** The hashes of the tiles asked for that exist, by {@link tileKey}. */
export async function readTiles(database: Queryable, workspaceId: string, tiles: readonly TileCoordinates[]): Promise<Map<string, Buffer[]>> {
  const found = new Map<string, Buffer[]>();
  if (tiles.length === 0) return found;
  const rows = (await database.query(
    `SELECT level, tile_index, hashes FROM merkle_tiles WHERE workspace_id = ? AND (${tiles.map(() => "(level = ? AND tile_index = ?)").join(" OR ")})`,
    [workspaceId, ...tiles.flatMap((tile) => [tile.level, tile.index])],
  )) as { level: number; tile_index: number | string; hashes: Buffer }[];
  for (const row of rows) found.set(tileKey({ level: row.level, index: Number(row.tile_index) }), unpack(row.hashes));
  return found;
}

/** The workspace's complete subtrees, read from its tiles (each tile once per reader): what roots and proofs are made of. */
export function storedSubtrees(database: Queryable, workspaceId: string): SubtreeHashes {
  return subtreesFromTiles(async (at) => (await readTiles(database, workspaceId, [at])).get(tileKey(at)) ?? []);
}

/** Stores tiles whole: new ones are added, grown ones replaced. */
export async function writeTiles(runner: QueryRunner, workspaceId: string, tiles: readonly Tile[]): Promise<void> {
  if (tiles.length === 0) return;
  await runner.query(
    `INSERT INTO merkle_tiles (workspace_id, level, tile_index, hashes) VALUES ${placeholders(tiles.length, 4)}
     ON DUPLICATE KEY UPDATE hashes = VALUES(hashes)`,
    tiles.flatMap((tile) => [workspaceId, tile.level, tile.index, Buffer.concat(tile.hashes)]),
  );
}

/** Workspaces whose last seq is past the leaves of their log. */
export async function workspacesBehindLog(database: Queryable): Promise<string[]> {
  const rows = (await database.query(
    `SELECT w.id FROM workspaces AS w LEFT JOIN merkle_trees AS t ON t.workspace_id = w.id WHERE w.last_seq > COALESCE(t.size, 0)`,
  )) as { id: string }[];
  return rows.map((row) => row.id);
}

/** Removes the workspace's whole log, checkpoints included: for a demo workspace recorded anew, never for evidence. */
export async function deleteMerkleLogOfWorkspace(database: Queryable, workspaceId: string): Promise<void> {
  for (const table of ["merkle_checkpoints", "merkle_tiles", "merkle_trees"]) await database.query(`DELETE FROM ${table} WHERE workspace_id = ?`, [workspaceId]);
}

function unpack(hashes: Buffer): Buffer[] {
  const unpacked: Buffer[] = [];
  for (let offset = 0; offset < hashes.length; offset += HASH_BYTES) unpacked.push(hashes.subarray(offset, offset + HASH_BYTES));
  return unpacked;
}
