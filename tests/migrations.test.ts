import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { TEST_DATABASE, useTestDatabase } from "./support/database";

const ROOT = path.resolve(__dirname, "..");
/** The TypeORM CLI on the built DataSource, as `npm run migration:*` runs it. */
const typeormCli = (command: string) =>
  promisify(execFile)(path.join(ROOT, "node_modules", ".bin", "typeorm"), ["-d", "dist/ormconfig.js", command], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, DATABASE_URL: TEST_DATABASE.url, LOG_LEVEL: "silent" },
  });

const TABLES = ["audit_events", "conversations", "customers", "users", "workspaces"];

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
    expect(applied.map((migration) => migration.name)).toEqual(["InitialSchema1795652400000"]);
    expect(await tables()).toEqual(TABLES);
    expect(await dataSource.showMigrations()).toBe(false);

    await dataSource.undoLastMigration({ transaction: "each" });
    expect(await tables()).toEqual([]);
    expect(await dataSource.showMigrations()).toBe(true);

    await dataSource.runMigrations({ transaction: "each" });
    expect(await tables()).toEqual(TABLES);
  });

  it("run from the TypeORM CLI on the same DataSource", async () => {
    await dataSource.undoLastMigration({ transaction: "each" });
    expect((await typeormCli("migration:show")).stdout).toContain("[ ] InitialSchema1795652400000");
    await typeormCli("migration:run");
    expect((await typeormCli("migration:show")).stdout).toMatch(/\[X\] \d+ InitialSchema1795652400000/);
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
      ix_audit_events_customer: "workspace_id,customer_id,occurred_at,seq",
      ix_audit_events_customer_type: "workspace_id,customer_id,type,occurred_at,seq",
      ix_audit_events_section: "workspace_id,settings_section,occurred_at,seq",
      ft_audit_events_search: "search_text",
    });
  });

  it("compare ids byte for byte, names ignoring case, and keep milliseconds", async () => {
    const columns: { name: string; type: string; collation: string | null }[] = await dataSource.query(
      `SELECT column_name AS name, column_type AS type, collation_name AS collation
         FROM information_schema.columns WHERE table_schema = ? AND table_name = 'audit_events'`,
      [TEST_DATABASE.database],
    );
    const column = (name: string) => columns.find((candidate) => candidate.name === name);
    expect(column("workspace_id")?.collation).toBe("utf8mb4_bin");
    expect(column("customer_id")?.collation).toBe("utf8mb4_bin");
    expect(column("actor_name")?.collation).toBe("utf8mb4_unicode_ci");
    expect(column("occurred_at")?.type).toBe("datetime(3)");
    expect(column("recorded_at")?.type).toBe("datetime(3)");

    await dataSource.query(
      `INSERT INTO customers (workspace_id, id, name, name_occurred_at) VALUES ('w', 'c-1', 'Zoë', NOW(3)), ('w', 'C-1', 'zoë', NOW(3))`,
    );
    const sameName: unknown[] = await dataSource.query(`SELECT id FROM customers WHERE workspace_id = 'w' AND name = 'ZOË'`);
    expect(sameName).toHaveLength(2);
  });
});
