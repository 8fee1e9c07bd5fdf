import { MigrationInterface, QueryRunner } from "typeorm";
import { idCollation } from "./support/id-collation";

/**
 * The workspace log's search gets an index of its own, per workspace, in
 * place of the FULLTEXT index on `audit_events.search_text`.
 *
 * InnoDB's FULLTEXT index is one index for every workspace: a search matched
 * every event of every workspace before it could keep one workspace's and
 * sort them by time, and its upkeep was a large part of a recording's cost.
 *
 * `search_postings` is an inverted index kept by the service's search indexer
 * (src/search/search-indexer.ts) a moment after the events commit. Each row
 * is one term of one workspace in one indexing round: the (occurred_at, seq)
 * of every event of the round that holds the term, packed newest first. A
 * round covers up to thousands of events, so a term costs one row per round,
 * not one per event. The primary key keeps a round's rows together, so a round
 * appends to the table rather than writing into a page per term; a secondary
 * index orders a term's rows by their newest event, so a page reads a term's
 * newest rows first and stops once it has enough (its entries are small, and
 * InnoDB can buffer their writes).
 *
 * `search_progress` is, per workspace, the seq up to which every event is in
 * `search_postings`; events after it are searched by reading them.
 *
 * `term` is a folded word (see src/search/search-terms.ts) compared byte for
 * byte, with the NO PAD binary collation the ids use (see ExactIds). Existing
 * events are indexed by the running service, in rounds, from seq 0: no step
 * here reads them, and search answers in full while that catches up.
 */
export class SearchPostings1796544000000 implements MigrationInterface {
  name = "SearchPostings1796544000000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    const collation = await idCollation(queryRunner);
    const idType = `VARCHAR(128) CHARACTER SET utf8mb4 COLLATE ${collation}`;
    const termType = `VARCHAR(48) CHARACTER SET utf8mb4 COLLATE ${collation}`;
    await queryRunner.query(`
      CREATE TABLE search_postings (
        workspace_id ${idType} NOT NULL,
        term ${termType} NOT NULL,
        newest_at DATETIME(3) NOT NULL,
        first_seq BIGINT UNSIGNED NOT NULL,
        oldest_at DATETIME(3) NOT NULL,
        postings MEDIUMBLOB NOT NULL,
        -- a round's rows side by side, after the workspace's earlier rounds: each round appends
        PRIMARY KEY (workspace_id, first_seq, term),
        -- a term's rows newest first; its prefix (workspace_id, term) lists the workspace's terms
        KEY ix_search_postings_term (workspace_id, term, newest_at, first_seq)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    await queryRunner.query(`
      CREATE TABLE search_progress (
        workspace_id ${idType} NOT NULL,
        indexed_seq BIGINT UNSIGNED NOT NULL,
        PRIMARY KEY (workspace_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    await queryRunner.query(`ALTER TABLE audit_events DROP INDEX ft_audit_events_search`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE audit_events ADD FULLTEXT INDEX ft_audit_events_search (search_text)`);
    await queryRunner.query(`DROP TABLE search_progress`);
    await queryRunner.query(`DROP TABLE search_postings`);
  }
}
