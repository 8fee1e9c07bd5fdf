import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The workspace directory and the audit events.
 *
 * Hand-written to run unchanged on MySQL 8 and MariaDB 10.11: utf8mb4 text,
 * DATETIME(3), JSON (MariaDB's alias of LONGTEXT with a validity check), no
 * engine-specific types. Producer ids are compared byte for byte (utf8mb4_bin)
 * and are unique per workspace only, so every key starts with the workspace.
 * Names compare ignoring case (utf8mb4_unicode_ci, the table default).
 */
export class InitialSchema1795652400000 implements MigrationInterface {
  name = "InitialSchema1795652400000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    // One row per workspace. `last_seq` numbers the workspace's events: a
    // recording transaction bumps it (taking the row lock until commit), so
    // within a workspace `seq` order is commit order, which lets the live tail
    // resume from a `seq` without skipping events committed late.
    await queryRunner.query(`
      CREATE TABLE workspaces (
        id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
        last_seq BIGINT UNSIGNED NOT NULL DEFAULT 0,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        PRIMARY KEY (id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);

    // The directory: the current name of every user, customer and conversation
    // that events mention. `*_occurred_at` is the occurredAt of the event that
    // set the value, so the latest event wins whatever the arrival order.
    await queryRunner.query(`
      CREATE TABLE users (
        workspace_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
        id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
        name VARCHAR(255) NOT NULL,
        email VARCHAR(255) NULL,
        name_occurred_at DATETIME(3) NOT NULL,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
        PRIMARY KEY (workspace_id, id),
        -- users(search): the workspace's users in name order
        KEY ix_users_name (workspace_id, name)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);

    await queryRunner.query(`
      CREATE TABLE customers (
        workspace_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
        id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
        name VARCHAR(255) NOT NULL,
        name_occurred_at DATETIME(3) NOT NULL,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
        PRIMARY KEY (workspace_id, id),
        -- the customer filter (current name equals, ignoring case) and customers(nameContains)
        KEY ix_customers_name (workspace_id, name)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);

    await queryRunner.query(`
      CREATE TABLE conversations (
        workspace_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
        id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
        subject VARCHAR(255) NULL,
        subject_occurred_at DATETIME(3) NULL,
        customer_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
        customer_occurred_at DATETIME(3) NULL,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
        PRIMARY KEY (workspace_id, id),
        -- a customer's conversations
        KEY ix_conversations_customer (workspace_id, customer_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);

    // Every field of AuditEventInput. Typed columns hold what a filter, a join
    // or an index needs; `details` holds the rest of the targets (names as
    // recorded, settings object, work session, CSAT, source) as JSON.
    //
    // Every log is newest first: ORDER BY occurred_at DESC, seq DESC, with
    // keyset conditions on (occurred_at, seq). Each index below ends in
    // (occurred_at, seq) after the equality columns of the query it serves,
    // so a page is a short backward range scan with no filesort, and a date
    // range narrows the same scan.
    await queryRunner.query(`
      CREATE TABLE audit_events (
        workspace_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
        seq BIGINT UNSIGNED NOT NULL,
        id CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        idempotency_key VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
        content_hash BINARY(32) NOT NULL,
        type VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        action VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        occurred_at DATETIME(3) NOT NULL,
        recorded_at DATETIME(3) NOT NULL,
        actor_kind VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        actor_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
        actor_name VARCHAR(255) NOT NULL,
        customer_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
        conversation_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
        subject_user_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
        settings_section VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NULL,
        description TEXT NOT NULL,
        details JSON NOT NULL,
        changes JSON NOT NULL,
        metadata JSON NULL,
        search_text TEXT NOT NULL,
        -- the workspace tail: events after a seq, in commit order
        PRIMARY KEY (workspace_id, seq),
        -- auditEvent(id)
        UNIQUE KEY uq_audit_events_id (id),
        -- idempotency: one event per key and workspace
        UNIQUE KEY uq_audit_events_idempotency (workspace_id, idempotency_key),
        -- workspaceAuditLog without filter, with or without a date range
        KEY ix_audit_events_time (workspace_id, occurred_at, seq),
        -- filter allEvents{userId}: everything one actor did
        KEY ix_audit_events_actor (workspace_id, actor_kind, actor_id, occurred_at, seq),
        -- filters authorization/billing/workSession{userId}: one type by one actor
        KEY ix_audit_events_type_actor (workspace_id, type, actor_kind, actor_id, occurred_at, seq),
        -- conversationAuditLog, the conversation filter and the conversation tail
        KEY ix_audit_events_conversation (workspace_id, conversation_id, occurred_at, seq),
        -- customerAuditLog: the customer's events and those of their conversations
        KEY ix_audit_events_customer (workspace_id, customer_id, occurred_at, seq),
        -- the customer filter: CUSTOMER events of the customers with a name
        KEY ix_audit_events_customer_type (workspace_id, customer_id, type, occurred_at, seq),
        -- the settings filter: events of one settings section
        KEY ix_audit_events_section (workspace_id, settings_section, occurred_at, seq),
        -- search on the workspace log: description, names and changed values
        FULLTEXT KEY ft_audit_events_search (search_text)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE audit_events`);
    await queryRunner.query(`DROP TABLE conversations`);
    await queryRunner.query(`DROP TABLE customers`);
    await queryRunner.query(`DROP TABLE users`);
    await queryRunner.query(`DROP TABLE workspaces`);
  }
}
