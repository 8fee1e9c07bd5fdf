import mysql from "mysql2/promise";
import type { DataSource } from "typeorm";
import { dataSource } from "../../ormconfig";
import { config } from "../../src/config";
import { connect, ensureDatabaseExists } from "../../src/database/prepare";

/** The test file's own database, from tests/support/env.ts. */
export const TEST_DATABASE = config.database;

/**
 * Creates this file's database, migrates it, and drops it after the file's
 * tests. Returns the one DataSource (ormconfig.ts), connected to it.
 */
export function useTestDatabase(options: { migrate?: boolean } = {}): DataSource {
  beforeAll(async () => {
    await ensureDatabaseExists(config.database);
    await connect(dataSource, config.database);
    if (options.migrate ?? true) await dataSource.runMigrations({ transaction: "each" });
  });
  afterAll(async () => {
    if (dataSource.isInitialized) await dataSource.destroy();
    await dropDatabase();
  });
  return dataSource;
}

async function dropDatabase(): Promise<void> {
  const { host, port, user, password, database } = config.database;
  const connection = await mysql.createConnection({ host, port, user, password });
  try {
    await connection.query(`DROP DATABASE IF EXISTS \`${database}\``);
  } finally {
    await connection.end();
  }
}
