import type { DataSource } from "typeorm";
import type { AppConfig } from "../config";
import type { Logger } from "../common/logger";
import { connect, ensureDatabaseExists } from "./prepare";

/**
 * Opens the pool; unless DB_MIGRATE=false, first creates the database when it
 * is missing and afterwards applies pending migrations.
 */
export async function openDatabase(dataSource: DataSource, config: AppConfig, logger: Logger): Promise<void> {
  if (config.migrateOnStart) await ensureDatabaseExists(config.database);
  await connect(dataSource, config.database);
  if (config.migrateOnStart) {
    const applied = await dataSource.runMigrations({ transaction: "each" });
    for (const migration of applied) logger.info({ migration: migration.name }, "migration applied");
  }
}
