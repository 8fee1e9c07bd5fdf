import mysql from "mysql2/promise";
import type { DataSource } from "typeorm";
import { DatabaseConfig, maskDatabaseUrl } from "../config/config";

/** The database server could not be reached or refused the credentials. */
export class DatabaseUnavailableError extends Error {
  constructor(database: DatabaseConfig, cause: unknown) {
    super(
      `Cannot reach the database at ${maskDatabaseUrl(database.url)} (${describeCause(cause)}). ` +
        "Start a MySQL 8 or MariaDB 10.11+ server there, or set DATABASE_URL to one that runs.",
    );
    this.name = "DatabaseUnavailableError";
  }
}

/** Creates the configured database when it does not exist yet (utf8mb4). */
export async function ensureDatabaseExists(database: DatabaseConfig): Promise<void> {
  let connection: mysql.Connection;
  try {
    connection = await mysql.createConnection({
      host: database.host,
      port: database.port,
      user: database.user,
      password: database.password,
      connectTimeout: 5_000,
    });
  } catch (error) {
    throw new DatabaseUnavailableError(database, error);
  }
  try {
    // The name is validated by the config (letters, digits, underscores), so quoting it is enough.
    await connection.query(
      `CREATE DATABASE IF NOT EXISTS \`${database.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
  } finally {
    await connection.end();
  }
}

/** Opens the DataSource's pool; a server that does not answer is a {@link DatabaseUnavailableError}. */
export async function connect(dataSource: DataSource, database: DatabaseConfig): Promise<void> {
  try {
    await dataSource.initialize();
  } catch (error) {
    throw new DatabaseUnavailableError(database, error);
  }
}

function describeCause(cause: unknown): string {
  if (cause && typeof cause === "object") {
    const { code, message } = cause as { code?: unknown; message?: unknown };
    if (typeof code === "string" && typeof message === "string") return `${code}: ${message}`;
    if (typeof message === "string") return message;
  }
  return String(cause);
}
