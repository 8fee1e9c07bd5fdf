import { MigrationInterface, QueryRunner } from "typeorm";
import { idCollation } from "./support/id-collation";

/**
 * Each workspace's events become the leaves of a Merkle log (RFC 6962), in
 * seq order: leaf i is the event of seq i + 1 (seq is dense from 1). The log
 * is kept by the service's Merkle sequencer (src/integrity/merkle-sequencer.ts),
 * a moment after the events commit; docs/integrity.md says what a leaf covers.
 *
 * `merkle_tiles` stores the tree in tiles, as the C2SP tlog-tiles layout
 * does: the tile (level L, index N) holds up to 256 consecutive hashes of
 * the tree's level 8L, from hash 256N on; a level-0 tile holds leaf hashes,
 * a level-1 tile the roots of complete level-0 tiles, and so on. A tile is
 * `width` × 32 bytes; the rightmost tile of a level is partial until it
 * holds 256. Any complete subtree's hash comes from one tile, so a proof
 * reads a few tiles (one or two per level), never the leaves. Tiles outlive
 * the events they cover: a purge of old events leaves their hashes, and the
 * proofs of later events, in place.
 *
 * `merkle_trees` is, per workspace, the number of leaves in the tiles (so the
 * seq up to which events are in the log); the sequencer holds its row while
 * it appends, so sequencers of several instances take turns.
 *
 * `merkle_checkpoints` keeps every signed checkpoint of a workspace's log:
 * its size, its root, when it was signed, and the Ed25519 signature of its
 * note (src/integrity/checkpoint.ts) by the key `key_fingerprint` names. Checkpoints
 * are kept forever, even once the events they cover are purged.
 */
export class MerkleLog1796716800000 implements MigrationInterface {
  name = "MerkleLog1796716800000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    const idType = `VARCHAR(128) CHARACTER SET utf8mb4 COLLATE ${await idCollation(queryRunner)}`;
    await queryRunner.query(`
      CREATE TABLE merkle_trees (
        workspace_id ${idType} NOT NULL,
        size BIGINT UNSIGNED NOT NULL,
        PRIMARY KEY (workspace_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    await queryRunner.query(`
      CREATE TABLE merkle_tiles (
        workspace_id ${idType} NOT NULL,
        level TINYINT UNSIGNED NOT NULL,
        tile_index BIGINT UNSIGNED NOT NULL,
        hashes VARBINARY(8192) NOT NULL,
        -- a proof reads a tile by its coordinates; a workspace's tiles of one level lie side by side
        PRIMARY KEY (workspace_id, level, tile_index)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    await queryRunner.query(`
      CREATE TABLE merkle_checkpoints (
        workspace_id ${idType} NOT NULL,
        tree_size BIGINT UNSIGNED NOT NULL,
        root_hash BINARY(32) NOT NULL,
        signed_at DATETIME(3) NOT NULL,
        key_fingerprint CHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        signature VARBINARY(64) NOT NULL,
        -- a workspace's checkpoints by size: the latest, and the one a proof is asked against
        PRIMARY KEY (workspace_id, tree_size)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE merkle_checkpoints`);
    await queryRunner.query(`DROP TABLE merkle_tiles`);
    await queryRunner.query(`DROP TABLE merkle_trees`);
  }
}
