import type { QueryRunner } from "typeorm";

/*
 * Helpers the migrations share. They live in a folder of their own: every
 * file directly under migrations/ is loaded as a migration, and each of its
 * exports taken for one.
 */

/** The collation ExactIds gave the ids, whichever of the engines' NO PAD binary collations it is. */
export async function idCollation(queryRunner: QueryRunner): Promise<string> {
  const [column]: { collation: string }[] = await queryRunner.query(
    `SELECT COLLATION_NAME AS collation FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'audit_events' AND COLUMN_NAME = 'workspace_id'`,
  );
  if (!column || !/^utf8mb4_[a-z0-9_]*bin$/.test(column.collation))
    throw new Error(`audit_events.workspace_id has an unexpected collation: ${column?.collation}`);
  return column.collation;
}
