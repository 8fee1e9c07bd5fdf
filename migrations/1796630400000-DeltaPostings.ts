import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Posting lists are stored as differences in variable-length integers (see
 * `encodePostings` in src/database/search-postings.repository.ts) rather than
 * fixed 12-byte postings: a round sends, parses and stores a fifth of the
 * bytes it did.
 *
 * Rows of the old form cannot be read as the new one, so the index starts
 * again: its rows go, every workspace's indexed seq goes back to 0, and the
 * running service's indexer builds it anew in rounds, as it did after
 * SearchPostings. Searches answer in full meanwhile (events past the indexed
 * seq are read directly; far behind, the log is scanned).
 *
 * The column changes its name with its form: an instance of the version
 * before, still running while this one migrates, fails to write or read the
 * new rows, loudly, rather than misreading them.
 */
export class DeltaPostings1796630400000 implements MigrationInterface {
  name = "DeltaPostings1796630400000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await startAgain(queryRunner);
    await queryRunner.query(`ALTER TABLE search_postings DROP COLUMN postings, ADD COLUMN delta_postings MEDIUMBLOB NOT NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await startAgain(queryRunner);
    await queryRunner.query(`ALTER TABLE search_postings DROP COLUMN delta_postings, ADD COLUMN postings MEDIUMBLOB NOT NULL`);
  }
}

/** Empties the index and sends every workspace's indexing back to the first event. */
async function startAgain(queryRunner: QueryRunner): Promise<void> {
  await queryRunner.query(`TRUNCATE TABLE search_postings`);
  await queryRunner.query(`DELETE FROM search_progress`);
}
