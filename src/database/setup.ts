import { DataSource } from "typeorm";
import { settleWithin } from "../common/deadline";
import type { Logger } from "../common/logger";
import type { AppConfig } from "../config";
import { dataSourceOptions } from "./data-source-options";
import { connect, ensureDatabaseExists } from "./prepare";
import type { Queryable } from "./statements";

/**
 * Opens the pool; unless DB_MIGRATE=false, first creates the database when it
 * is missing and afterwards applies pending migrations, as the owner of the
 * schema when DATABASE_MIGRATE_URL names one (the pool's user then needs no
 * right to change the schema).
 */
export async function openDatabase(dataSource: DataSource, config: AppConfig, logger: Logger): Promise<void> {
  const owner = config.migrationDatabase;
  if (config.migrateOnStart) await ensureDatabaseExists(owner ?? config.database);
  await connect(dataSource, config.database);
  if (!config.migrateOnStart) return;
  const migrator = owner ? new DataSource({ ...dataSourceOptions(owner, []), migrations: dataSource.options.migrations }) : dataSource;
  if (owner) await connect(migrator, owner);
  try {
    const applied = await migrator.runMigrations({ transaction: "each" });
    for (const migration of applied) logger.info({ migration: migration.name, as: owner ? "owner" : "service" }, "migration applied");
  } finally {
    if (owner) await migrator.destroy();
  }
}

/** How long closing the pool may take before a stopping process exits anyway. */
const CLOSE_TIMEOUT_MS = 2_000;

/**
 * Closes the pool: each connection ends once its statement does. Returns
 * whether it closed within {@link CLOSE_TIMEOUT_MS}; a database that no longer
 * answers may never let it.
 */
export function closeDatabase(dataSource: DataSource): Promise<boolean> {
  return settleWithin(dataSource.destroy().then(() => true), CLOSE_TIMEOUT_MS, false);
}

/** Resolves once the database has answered a statement that reads nothing. */
export async function pingDatabase(database: Queryable): Promise<void> {
  await database.query("SELECT 1");
}
