import type { DataSourceOptions } from "typeorm";
import type { DatabaseConfig } from "../config";

/**
 * TypeORM options for MySQL 8 and MariaDB 10.11+. Times are UTC both ways,
 * text is utf8mb4, and the schema only ever changes through migrations.
 */
export function dataSourceOptions(database: DatabaseConfig, migrations: string[]): DataSourceOptions {
  return {
    type: database.driver,
    host: database.host,
    port: database.port,
    username: database.user,
    password: database.password,
    database: database.database,
    charset: "utf8mb4_unicode_ci",
    timezone: "Z",
    supportBigNumbers: true,
    bigNumberStrings: false,
    // mysql2 would capture a stack trace for every query to put on its errors; TypeORM wraps them in a
    // QueryFailedError with a stack of its own, so those captures were never seen, and each costs CPU on
    // every statement.
    trace: false,
    // The recorder sends a transaction's statements in one or two round trips (src/database/statements.ts).
    // Every value still goes through a placeholder, and no SQL text is built from input.
    multipleStatements: true,
    synchronize: false,
    migrationsRun: false,
    migrationsTableName: "schema_migrations",
    migrationsTransactionMode: "each",
    migrations,
    entities: [],
    logging: false,
    extra: {
      connectionLimit: database.poolSize,
      connectTimeout: 5_000,
      enableKeepAlive: true,
      // Every session works in UTC so that CURRENT_TIMESTAMP and DATETIME agree with JS Dates.
      timezone: "Z",
    },
  };
}
