import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { DataSource, MigrationInterface } from "typeorm";
import { InitialSchema1795652400000 } from "../migrations/1795652400000-InitialSchema";
import { ExactIds1796527200000 } from "../migrations/1796527200000-ExactIds";
import { SearchPostings1796544000000 } from "../migrations/1796544000000-SearchPostings";
import { DeltaPostings1796630400000 } from "../migrations/1796630400000-DeltaPostings";
import { MerkleLog1796716800000 } from "../migrations/1796716800000-MerkleLog";
import { createLogger } from "../src/common/logger";
import { decodePostings, indexedSeq } from "../src/database/search-postings.repository";
import { SearchIndexer } from "../src/search/search-indexer";
import { storedTerms } from "../src/search/search-terms";
import { dataSourceOptions } from "../src/database/data-source-options";
import { TEST_DATABASE, useTestDatabase } from "./support/database";

const ROOT = path.resolve(__dirname, "..");
/** The TypeORM CLI on the built DataSource, as `npm run migration:*` runs it. */
const typeormCli = (command: string) =>
  promisify(execFile)(path.join(ROOT, "node_modules", ".bin", "typeorm"), ["-d", "dist/ormconfig.js", command], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, DATABASE_URL: TEST_DATABASE.url, LOG_LEVEL: "silent" },
  });

const TABLES = ["audit_events", "conversations", "customers", "customer_log_entries", "merkle_checkpoints", "merkle_tiles", "merkle_trees", "search_postings", "search_progress", "users", "workspaces"];
const MIGRATIONS = ["InitialSchema1795652400000", "ExactIds1796527200000", "SearchPostings1796544000000", "DeltaPostings1796630400000", "MerkleLog1796716800000", "AppendOnlyEvents1796803200000"];
/** The NO PAD binary collations: MariaDB's, MySQL 8's. */
const NO_PAD_BINARY = ["utf8mb4_nopad_bin", "utf8mb4_0900_bin"];

interface ColumnInfo {
  table: string;
  name: string;
  type: string;
  collation: string | null;
}

async function columnsOf(dataSource: DataSource): Promise<ColumnInfo[]> {
  return dataSource.query(
    `SELECT table_name AS \`table\`, column_name AS name, column_type AS type, collation_name AS collation
       FROM information_schema.columns WHERE table_schema = ? AND table_name <> 'schema_migrations'`,
    [TEST_DATABASE.database],
  );
}

/** Every column that holds an id or an idempotency key, in every table. */
const isIdColumn = (column: ColumnInfo) => column.name === "id" || column.name.endsWith("_id") || column.name === "idempotency_key";

describe("migrations", () => {
  const dataSource = useTestDatabase({ migrate: false });

  const tables = async (): Promise<string[]> => {
    const rows: { name: string }[] = await dataSource.query(
      `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ? AND table_name <> 'schema_migrations' ORDER BY table_name`,
      [TEST_DATABASE.database],
    );
    return rows.map((row) => row.name);
  };

  const indexColumns = async (table: string): Promise<Record<string, string>> => {
    const rows: { name: string; columns: string }[] = await dataSource.query(
      `SELECT index_name AS name, GROUP_CONCAT(column_name ORDER BY seq_in_index) AS columns
         FROM information_schema.statistics WHERE table_schema = ? AND table_name = ? GROUP BY index_name`,
      [TEST_DATABASE.database, table],
    );
    return Object.fromEntries(rows.map((row) => [row.name, row.columns]));
  };

  it("go up, down and up again", async () => {
    expect(await tables()).toEqual([]);

    const applied = await dataSource.runMigrations({ transaction: "each" });
    expect(applied.map((migration) => migration.name)).toEqual(MIGRATIONS);
    expect(await tables()).toEqual(TABLES);
    expect(await dataSource.showMigrations()).toBe(false);

    for (const _migration of MIGRATIONS) await dataSource.undoLastMigration({ transaction: "each" });
    expect(await tables()).toEqual([]);
    expect(await dataSource.showMigrations()).toBe(true);

    await dataSource.runMigrations({ transaction: "each" });
    expect(await tables()).toEqual(TABLES);
  });

  it("run from the TypeORM CLI on the same DataSource", async () => {
    await dataSource.undoLastMigration({ transaction: "each" });
    expect((await typeormCli("migration:show")).stdout).toContain("[ ] AppendOnlyEvents1796803200000");
    await typeormCli("migration:run");
    const shown = (await typeormCli("migration:show")).stdout;
    for (const migration of MIGRATIONS) expect(shown).toMatch(new RegExp(`\\[X\\] \\d+ ${migration}`));
    expect(await tables()).toEqual(TABLES);
  });

  it("key every directory table by workspace and id", async () => {
    for (const table of ["users", "customers", "conversations"]) {
      expect((await indexColumns(table)).PRIMARY).toBe("workspace_id,id");
    }
  });

  it("give audit_events an index per log and filter, each ending in the keyset order", async () => {
    expect(await indexColumns("audit_events")).toEqual({
      PRIMARY: "workspace_id,seq",
      uq_audit_events_id: "id",
      uq_audit_events_idempotency: "workspace_id,idempotency_key",
      ix_audit_events_time: "workspace_id,occurred_at,seq",
      ix_audit_events_actor: "workspace_id,actor_kind,actor_id,occurred_at,seq",
      ix_audit_events_type_actor: "workspace_id,type,actor_kind,actor_id,occurred_at,seq",
      ix_audit_events_conversation: "workspace_id,conversation_id,occurred_at,seq",
      ix_audit_events_customer_type: "workspace_id,customer_id,type,occurred_at,seq",
      ix_audit_events_section: "workspace_id,settings_section,occurred_at,seq",
    });
  });

  it("key the search index by round, so that rounds append, and index each term's rows newest first", async () => {
    expect(await indexColumns("search_postings")).toEqual({
      PRIMARY: "workspace_id,first_seq,term",
      ix_search_postings_term: "workspace_id,term,newest_at,first_seq",
    });
    expect(await indexColumns("search_progress")).toEqual({ PRIMARY: "workspace_id" });
    const columns = (await columnsOf(dataSource)).filter((column) => column.table === "search_postings");
    expect(NO_PAD_BINARY).toContain(columns.find((column) => column.name === "term")?.collation);
    expect(columns.map((column) => `${column.name} ${column.type}`)).toEqual(
      expect.arrayContaining(["delta_postings mediumblob"]),
    );
    expect(columns.map((column) => column.name)).not.toContain("postings");
  });

  it("index the customer logs' entries by customer in the keyset order, one entry per event", async () => {
    expect(await indexColumns("customer_log_entries")).toEqual({
      PRIMARY: "workspace_id,seq",
      ix_customer_log_entries_log: "workspace_id,customer_id,occurred_at,seq",
    });
  });

  it("guard audit_events with a trigger against UPDATE and one against DELETE", async () => {
    const triggers: { name: string; timing: string; event: string }[] = await dataSource.query(
      `SELECT trigger_name AS name, action_timing AS timing, event_manipulation AS event
         FROM information_schema.triggers WHERE trigger_schema = ? AND event_object_table = 'audit_events' ORDER BY trigger_name`,
      [TEST_DATABASE.database],
    );
    expect(triggers).toEqual([
      { name: "audit_events_no_update", timing: "BEFORE", event: "UPDATE" },
      { name: "audit_events_purge_only", timing: "BEFORE", event: "DELETE" },
    ]);
  });

  it("key the Merkle log's tiles by workspace, level and index, and its trees by workspace", async () => {
    expect(await indexColumns("merkle_tiles")).toEqual({ PRIMARY: "workspace_id,level,tile_index" });
    expect(await indexColumns("merkle_trees")).toEqual({ PRIMARY: "workspace_id" });
    expect(await indexColumns("merkle_checkpoints")).toEqual({ PRIMARY: "workspace_id,tree_size" });
    const columns = (await columnsOf(dataSource)).filter((column) => column.table.startsWith("merkle_"));
    for (const column of columns.filter((candidate) => candidate.name === "workspace_id")) expect(NO_PAD_BINARY).toContain(column.collation);
    const types = columns.map((column) => `${column.table}.${column.name} ${column.type}`);
    expect(types).toContain("merkle_tiles.hashes varbinary(8192)");
    // MariaDB writes the display width, MySQL 8 does not.
    expect(types).toEqual(expect.arrayContaining([expect.stringMatching(/^merkle_trees\.size bigint(\(20\))? unsigned$/)]));
  });

  it("compare every id byte for byte (NO PAD), names ignoring case, and keep milliseconds", async () => {
    const columns = await columnsOf(dataSource);
    const idColumns = columns.filter(isIdColumn);
    expect(idColumns.map((column) => `${column.table}.${column.name}`).sort()).toEqual([
      "audit_events.actor_id",
      "audit_events.conversation_id",
      "audit_events.customer_id",
      "audit_events.id",
      "audit_events.idempotency_key",
      "audit_events.subject_user_id",
      "audit_events.workspace_id",
      "conversations.customer_id",
      "conversations.id",
      "conversations.workspace_id",
      "customer_log_entries.customer_id",
      "customer_log_entries.workspace_id",
      "customers.id",
      "customers.workspace_id",
      "merkle_checkpoints.workspace_id",
      "merkle_tiles.workspace_id",
      "merkle_trees.workspace_id",
      "search_postings.workspace_id",
      "search_progress.workspace_id",
      "users.id",
      "users.workspace_id",
      "workspaces.id",
    ]);
    const collations = new Set(idColumns.map((column) => column.collation));
    expect(collations.size).toBe(1);
    expect(NO_PAD_BINARY).toContain([...collations][0]);
    const column = (table: string, name: string) => columns.find((candidate) => candidate.table === table && candidate.name === name);
    expect(column("audit_events", "actor_name")?.collation).toBe("utf8mb4_unicode_ci");
    expect(column("audit_events", "occurred_at")?.type).toBe("datetime(3)");
    expect(column("audit_events", "recorded_at")?.type).toBe("datetime(3)");

    await dataSource.query(
      `INSERT INTO customers (workspace_id, id, name, name_occurred_at)
       VALUES ('w', 'c-1', 'Zoë', NOW(3)), ('w', 'C-1', 'zoë', NOW(3)), ('w', 'c-1 ', 'Other', NOW(3)), ('w ', 'c-1', 'Other', NOW(3))`,
    );
    const sameName: unknown[] = await dataSource.query(`SELECT id FROM customers WHERE workspace_id = 'w' AND name = 'ZOË'`);
    expect(sameName).toHaveLength(2);
    const exact: { id: string }[] = await dataSource.query(`SELECT id FROM customers WHERE workspace_id = 'w' AND id = 'c-1'`);
    expect(exact).toEqual([{ id: "c-1" }]);
  });
});

/** A row of every table, with ids that PAD SPACE compared loosely: trailing spaces, accents, case. */
const EXISTING_DATA = [
  `INSERT INTO workspaces (id, last_seq) VALUES ('ws-a', 2), ('ws-é', 0)`,
  `INSERT INTO users (workspace_id, id, name, email, name_occurred_at)
   VALUES ('ws-a', 'u-ana', 'Ana Diaz', 'ana@example.com', '2026-01-02 03:04:05.678'), ('ws-a', 'u-ben ', 'Ben Ode', NULL, '2026-01-02 03:04:05.678')`,
  `INSERT INTO customers (workspace_id, id, name, name_occurred_at)
   VALUES ('ws-a', 'cu-1', 'Zoë Park', '2026-01-02 03:04:05.678'), ('ws-a', 'CU-ü', 'Ülla', '2026-01-02 03:04:05.678')`,
  `INSERT INTO conversations (workspace_id, id, subject, subject_occurred_at, customer_id, customer_occurred_at)
   VALUES ('ws-a', 'c-1', 'Refund', '2026-01-02 03:04:05.678', 'cu-1', '2026-01-02 03:04:05.678')`,
  `INSERT INTO audit_events (workspace_id, seq, id, idempotency_key, content_hash, type, action, occurred_at, recorded_at,
     actor_kind, actor_id, actor_name, customer_id, conversation_id, subject_user_id, settings_section, description, details, changes, metadata, search_text)
   VALUES
     ('ws-a', 1, '01JD0000000000000000000001', 'k', UNHEX(SHA2('one', 256)), 'CONVERSATION', 'conversation.created', '2026-01-02 03:04:05.678',
      '2026-01-02 03:04:06.789', 'USER', 'u-ana', 'Ana Diaz', 'cu-1', 'c-1', 'u-ben ', NULL, 'Ana Diaz created a conversation',
      '{"conversation": {"subject": "Refund"}}', '[]', '{"k": "v"}', 'Ana Diaz created a conversation'),
     ('ws-a', 2, '01JD0000000000000000000002', 'k-2 ', UNHEX(SHA2('two', 256)), 'SETTINGS', 'settings.updated', '2026-01-02 03:04:07.000',
      '2026-01-02 03:04:08.000', 'SYSTEM', NULL, 'Platform', NULL, NULL, NULL, 'SHORTCUTS', 'Platform updated a shortcut',
      '{"settings": {"objectId": "sc-1", "objectName": null}}', '[]', NULL, 'Platform updated a shortcut')`,
];

/** Every row of every table, in key order. */
async function snapshot(dataSource: DataSource): Promise<Record<string, unknown[]>> {
  const keys: Record<string, string> = {
    workspaces: "id",
    users: "workspace_id, id",
    customers: "workspace_id, id",
    conversations: "workspace_id, id",
    audit_events: "workspace_id, seq",
  };
  const rows: Record<string, unknown[]> = {};
  for (const [table, key] of Object.entries(keys)) rows[table] = await dataSource.query(`SELECT * FROM ${table} ORDER BY ${key}`);
  return rows;
}

/**
 * The schema as it stood after `migrations` only, holding {@link EXISTING_DATA}
 * and whatever `more` writes; returns the snapshot of every table.
 */
async function earlierSchemaWithData(migrations: (new () => MigrationInterface)[], more: (earlier: DataSource) => Promise<void> = async () => undefined): Promise<Record<string, unknown[]>> {
  const earlier = new DataSource({ ...dataSourceOptions(TEST_DATABASE, []), migrations });
  await earlier.initialize();
  try {
    await earlier.runMigrations({ transaction: "each" });
    for (const statement of EXISTING_DATA) await earlier.query(statement);
    await more(earlier);
    return await snapshot(earlier);
  } finally {
    await earlier.destroy();
  }
}

describe("the ExactIds migration on a database that holds data", () => {
  const dataSource = useTestDatabase({ migrate: false });
  let before: Record<string, unknown[]>;

  beforeAll(async () => {
    // The schema and data as they stood before ExactIds: only the migrations that precede it.
    before = await earlierSchemaWithData([InitialSchema1795652400000]);
  });

  it("keeps every row and value, and then tells apart ids that differ only by trailing spaces", async () => {
    expect(before.audit_events).toHaveLength(2);
    const applied = await dataSource.runMigrations({ transaction: "each" });
    expect(applied.map((migration) => migration.name)).toEqual(MIGRATIONS.slice(1));
    expect(await snapshot(dataSource)).toEqual(before);

    await dataSource.query(`INSERT INTO workspaces (id, last_seq) VALUES ('ws-a ', 0)`);
    await dataSource.query(`INSERT INTO customers (workspace_id, id, name, name_occurred_at) VALUES ('ws-a', 'cu-1 ', 'Other', NOW(3))`);
    await dataSource.query(
      `INSERT INTO audit_events (workspace_id, seq, id, idempotency_key, content_hash, type, action, occurred_at, recorded_at,
         actor_kind, actor_name, description, details, changes, search_text)
       VALUES ('ws-a', 3, '01JD0000000000000000000003', 'k ', UNHEX(SHA2('three', 256)), 'SETTINGS', 'settings.updated', NOW(3), NOW(3),
         'SYSTEM', 'Platform', 'Platform updated a shortcut', '{}', '[]', 'Platform updated a shortcut')`,
    );
    expect(await dataSource.query(`SELECT id FROM workspaces WHERE id = 'ws-a'`)).toEqual([{ id: "ws-a" }]);
    expect(await dataSource.query(`SELECT id FROM customers WHERE workspace_id = 'ws-a' AND id = 'cu-1'`)).toEqual([{ id: "cu-1" }]);
    expect(await dataSource.query(`SELECT seq FROM audit_events WHERE workspace_id = 'ws-a' AND idempotency_key = 'k'`)).toEqual([{ seq: 1 }]);
    expect(await dataSource.query(`SELECT seq FROM audit_events WHERE workspace_id = 'ws-a' AND subject_user_id = 'u-ben'`)).toEqual([]);
  });

  it("refuses to revert, changing nothing, while ids differ only by trailing spaces; reverts once they do not", async () => {
    // AppendOnlyEvents, MerkleLog, DeltaPostings and SearchPostings first: ExactIds is the one under test.
    await dataSource.undoLastMigration({ transaction: "each" });
    await dataSource.undoLastMigration({ transaction: "each" });
    await dataSource.undoLastMigration({ transaction: "each" });
    await dataSource.undoLastMigration({ transaction: "each" });
    await expect(dataSource.undoLastMigration({ transaction: "each" })).rejects.toThrow(
      "workspaces holds rows whose (id) differ only by trailing spaces",
    );
    const collationOf = async (table: string, column: string): Promise<string> =>
      (await columnsOf(dataSource)).find((candidate) => candidate.table === table && candidate.name === column)!.collation!;
    expect(NO_PAD_BINARY).toContain(await collationOf("workspaces", "id"));
    const applied: { name: string }[] = await dataSource.query(`SELECT name FROM schema_migrations ORDER BY id`);
    expect(applied.map((migration) => migration.name)).toEqual(["InitialSchema1795652400000", "ExactIds1796527200000"]);

    await dataSource.query(`DELETE FROM workspaces WHERE id = 'ws-a '`);
    await dataSource.query(`DELETE FROM customers WHERE id = 'cu-1 '`);
    await dataSource.query(`DELETE FROM audit_events WHERE seq = 3`);
    await dataSource.undoLastMigration({ transaction: "each" });
    expect(await collationOf("workspaces", "id")).toBe("utf8mb4_bin");
    expect(await collationOf("audit_events", "id")).toBe("ascii_bin");
    expect(await snapshot(dataSource)).toEqual(before);
  });
});

describe("the DeltaPostings migration on a database whose search index is built", () => {
  const dataSource = useTestDatabase({ migrate: false });

  beforeAll(async () => {
    // The schema as it stood before DeltaPostings, with events and their index in the fixed 12-byte form.
    await earlierSchemaWithData([InitialSchema1795652400000, ExactIds1796527200000, SearchPostings1796544000000], async (earlier) => {
      const fixed = Buffer.alloc(12);
      fixed.writeUIntBE(Date.UTC(2026, 0, 2, 3, 4, 5, 678), 0, 6);
      fixed.writeUIntBE(1, 6, 6);
      await earlier.query(
        `INSERT INTO search_postings (workspace_id, term, newest_at, first_seq, oldest_at, postings) VALUES ('ws-a', 'refund', '2026-01-02 03:04:05.678', 1, '2026-01-02 03:04:05.678', ?)`,
        [fixed],
      );
      await earlier.query(`INSERT INTO search_progress (workspace_id, indexed_seq) VALUES ('ws-a', 2)`);
    });
  });

  it("empties the index and sends indexing back to the first event; the indexer then builds it in the new form", async () => {
    const applied = await dataSource.runMigrations({ transaction: "each" });
    expect(applied.map((migration) => migration.name)).toEqual(MIGRATIONS.slice(3));
    expect(await dataSource.query(`SELECT * FROM search_postings`)).toEqual([]);
    expect(await indexedSeq(dataSource, "ws-a")).toBe(0);

    await new SearchIndexer(dataSource, createLogger("silent")).catchUp();
    expect(await indexedSeq(dataSource, "ws-a")).toBe(2);
    const events: { seq: number | string; search_text: string }[] = await dataSource.query(`SELECT seq, search_text FROM audit_events WHERE workspace_id = 'ws-a'`);
    const expected = events.flatMap((event) => storedTerms(event.search_text).map((term) => `${term} ${Number(event.seq)}`)).sort();
    const rows: { term: string; delta_postings: Buffer }[] = await dataSource.query(`SELECT term, delta_postings FROM search_postings WHERE workspace_id = 'ws-a'`);
    const indexed = rows.flatMap((row) => decodePostings(row.delta_postings).map((posting) => `${row.term} ${posting.seq}`)).sort();
    expect(indexed).toEqual(expected);
  });

  it("reverts to the fixed form's column, emptied for the version before to build again", async () => {
    // AppendOnlyEvents and MerkleLog first.
    await dataSource.undoLastMigration({ transaction: "each" });
    await dataSource.undoLastMigration({ transaction: "each" });
    await dataSource.undoLastMigration({ transaction: "each" });
    expect(await dataSource.query(`SELECT * FROM search_postings`)).toEqual([]);
    expect(await indexedSeq(dataSource, "ws-a")).toBe(0);
    const columns = (await columnsOf(dataSource)).filter((column) => column.table === "search_postings").map((column) => column.name);
    expect(columns).toContain("postings");
    expect(columns).not.toContain("delta_postings");
  });
});

describe("the AppendOnlyEvents migration on a database that holds events", () => {
  const dataSource = useTestDatabase({ migrate: false });
  let before: Record<string, unknown[]>;

  beforeAll(async () => {
    before = await earlierSchemaWithData([InitialSchema1795652400000, ExactIds1796527200000, SearchPostings1796544000000, DeltaPostings1796630400000, MerkleLog1796716800000]);
  });

  const entries = () => dataSource.query(`SELECT workspace_id, seq, customer_id FROM customer_log_entries ORDER BY workspace_id, seq`);

  it("files each event that has a customer in that customer's log and leaves every row as it was", async () => {
    const applied = await dataSource.runMigrations({ transaction: "each" });
    expect(applied.map((migration) => migration.name)).toEqual(["AppendOnlyEvents1796803200000"]);
    expect(await entries()).toEqual([{ workspace_id: "ws-a", seq: 1, customer_id: "cu-1" }]);
    expect(await snapshot(dataSource)).toEqual(before);
    await expect(dataSource.query(`UPDATE audit_events SET customer_id = 'cu-1' WHERE seq = 2`)).rejects.toThrow(/append-only/);
  });

  it("reverts by writing the customer of an event filed after insert back into its row", async () => {
    // An event on the conversation recorded without a customer, then filed under cu-1 as a tie files it.
    await dataSource.query(
      `INSERT INTO audit_events (workspace_id, seq, id, idempotency_key, content_hash, type, action, occurred_at, recorded_at,
         actor_kind, actor_name, conversation_id, description, details, changes, search_text)
       VALUES ('ws-a', 3, '01JD0000000000000000000003', 'k-3', UNHEX(SHA2('three', 256)), 'CONVERSATION', 'conversation.updated', NOW(3), NOW(3),
         'SYSTEM', 'Platform', 'c-1', 'Platform updated a conversation', '{}', '[]', 'Platform updated a conversation')`,
    );
    await dataSource.query(`INSERT INTO customer_log_entries (workspace_id, seq, customer_id, occurred_at) VALUES ('ws-a', 3, 'cu-1', NOW(3))`);
    await dataSource.undoLastMigration({ transaction: "each" });
    expect(await dataSource.query(`SELECT seq, customer_id FROM audit_events WHERE workspace_id = 'ws-a' ORDER BY seq`)).toEqual([
      { seq: 1, customer_id: "cu-1" },
      { seq: 2, customer_id: null },
      { seq: 3, customer_id: "cu-1" },
    ]);
    const indexes: { name: string }[] = await dataSource.query(
      `SELECT DISTINCT index_name AS name FROM information_schema.statistics WHERE table_schema = ? AND table_name = 'audit_events' AND index_name = 'ix_audit_events_customer'`,
      [TEST_DATABASE.database],
    );
    expect(indexes).toHaveLength(1);
    const triggers: unknown[] = await dataSource.query(`SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = ?`, [TEST_DATABASE.database]);
    expect(triggers).toEqual([]);
    await dataSource.query(`DELETE FROM audit_events WHERE seq = 3`);
  });
});
