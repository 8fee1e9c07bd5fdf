import { MigrationInterface, QueryRunner } from "typeorm";
import { idCollation } from "./support/id-collation";

/**
 * `audit_events` becomes append-only in the database: a row, once inserted,
 * is never updated, and is deleted only by the retention purge.
 *
 * The one update the service made moves out of the row. An event on a
 * conversation recorded before the conversation had a customer joins that
 * customer's log once the conversation gets one; that link was written into
 * `audit_events.customer_id`. Now `customer_log_entries` holds, for each
 * event in a customer's log, its customer and its position: a row is added
 * when the event is recorded with a customer, and when its conversation is
 * first tied to one. The customer log is read from this table (a keyset
 * scan of its index, newest first) joined to the events by primary key.
 * `audit_events.customer_id` keeps what it was at insert: the customer the
 * event named, or the one the directory gave its conversation then.
 *
 * Two triggers enforce the rest:
 * - no UPDATE of `audit_events`, ever;
 * - no DELETE unless the session has set `@audit_log_purge = 1`, the purge's
 *   marker, which the purge sets around its own DELETE.
 * Both bodies are plain SIGNAL/IF, the same on MySQL 8 and MariaDB. A user
 * with the rights to drop a trigger, or to TRUNCATE, can still change the
 * table: docs/integrity.md says so, and the Merkle log is what shows it.
 */
export class AppendOnlyEvents1796803200000 implements MigrationInterface {
  name = "AppendOnlyEvents1796803200000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    const idType = `VARCHAR(128) CHARACTER SET utf8mb4 COLLATE ${await idCollation(queryRunner)}`;
    await queryRunner.query(`
      CREATE TABLE customer_log_entries (
        workspace_id ${idType} NOT NULL,
        seq BIGINT UNSIGNED NOT NULL,
        customer_id ${idType} NOT NULL,
        occurred_at DATETIME(3) NOT NULL,
        -- an event is in one customer's log at most: the first tie wins
        PRIMARY KEY (workspace_id, seq),
        -- customerAuditLog: the customer's events newest first, as ix_audit_events_customer served it
        KEY ix_customer_log_entries_log (workspace_id, customer_id, occurred_at, seq)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    await queryRunner.query(`
      INSERT INTO customer_log_entries (workspace_id, seq, customer_id, occurred_at)
      SELECT workspace_id, seq, customer_id, occurred_at FROM audit_events WHERE customer_id IS NOT NULL`);
    await queryRunner.query(`DROP INDEX ix_audit_events_customer ON audit_events`);
    await queryRunner.query(`
      CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events FOR EACH ROW
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_events is append-only: an event cannot be changed'`);
    await queryRunner.query(`
      CREATE TRIGGER audit_events_purge_only BEFORE DELETE ON audit_events FOR EACH ROW
      BEGIN
        IF COALESCE(@audit_log_purge, 0) <> 1 THEN
          SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_events is append-only: events are deleted only by the retention purge';
        END IF;
      END`);
  }

  /** Back to the link in the row: events tied after insert get their customer written into audit_events again. */
  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER audit_events_purge_only`);
    await queryRunner.query(`DROP TRIGGER audit_events_no_update`);
    await queryRunner.query(`
      UPDATE audit_events AS e JOIN customer_log_entries AS entry ON entry.workspace_id = e.workspace_id AND entry.seq = e.seq
         SET e.customer_id = entry.customer_id WHERE e.customer_id IS NULL`);
    await queryRunner.query(`CREATE INDEX ix_audit_events_customer ON audit_events (workspace_id, customer_id, occurred_at, seq)`);
    await queryRunner.query(`DROP TABLE customer_log_entries`);
  }
}
