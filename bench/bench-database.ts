import path from "node:path";
import mysql from "mysql2/promise";
import { DataSource } from "typeorm";
import type { DatabaseConfig, DatabaseDriver } from "../src/config/config";
import { dataSourceOptions } from "../src/database/data-source-options";

/**
 * The benchmark's own databases (`audit_bench_*`) on the server DATABASE_URL
 * names, created and migrated through the project's DataSource options, and
 * dropped at the end. Only a server on this machine is accepted.
 */

/** Where the database server is; the database part of DATABASE_URL is ignored. */
export interface DatabaseServer {
  driver: DatabaseDriver;
  host: string;
  port: number;
  user: string;
  password: string;
}

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "::1"]);
/** Migrations as built next to this file: dist/bench -> dist/migrations. */
const MIGRATIONS = path.join(__dirname, "..", "migrations", "*.js");

export function databaseServer(raw = process.env.DATABASE_URL ?? "mysql://root@127.0.0.1:3306"): DatabaseServer {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error("DATABASE_URL must be a URL like mysql://root@127.0.0.1:3306");
  }
  const scheme = url.protocol.replace(/:$/, "");
  if (scheme !== "mysql" && scheme !== "mariadb") throw new Error("DATABASE_URL must use the mysql or mariadb scheme");
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!LOCAL_HOSTS.has(host)) throw new Error(`the benchmark only talks to a database on this machine; DATABASE_URL names ${host}`);
  return {
    driver: scheme,
    host,
    port: url.port === "" ? 3306 : Number(url.port),
    user: decodeURIComponent(url.username) || "root",
    password: decodeURIComponent(url.password),
  };
}

/** Databases created by this process and not dropped yet. */
const created = new Set<BenchDatabase>();

export class BenchDatabase {
  private pools: mysql.Pool[] = [];
  private dataSourceInstance?: DataSource;

  private constructor(
    readonly server: DatabaseServer,
    readonly name: string,
  ) {}

  /** A database another benchmark process created: used, then closed, never dropped from here. */
  static open(server: DatabaseServer, name: string): BenchDatabase {
    return new BenchDatabase(server, name);
  }

  /** A fresh, migrated `audit_bench_<pid>_<label>` database. */
  static async create(server: DatabaseServer, label: string): Promise<BenchDatabase> {
    const name = `audit_bench_${process.pid}_${label}`.replace(/[^A-Za-z0-9_]/g, "_").slice(0, 64);
    const database = new BenchDatabase(server, name);
    await database.admin(async (connection) => {
      await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await connection.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    });
    created.add(database);
    const migrator = new DataSource(dataSourceOptions(database.config, [MIGRATIONS]));
    await migrator.initialize();
    try {
      const applied = await migrator.runMigrations({ transaction: "each" });
      if (applied.length === 0) throw new Error(`no migration found at ${MIGRATIONS}: run npm run build first`);
    } finally {
      await migrator.destroy();
    }
    return database;
  }

  /** As the service's config would hold it. */
  get config(): DatabaseConfig {
    return { driver: this.server.driver, host: this.server.host, port: this.server.port, user: this.server.user, password: this.server.password, database: this.name, url: this.url };
  }

  /** DATABASE_URL for a service process. */
  get url(): string {
    const auth = this.server.password
      ? `${encodeURIComponent(this.server.user)}:${encodeURIComponent(this.server.password)}`
      : encodeURIComponent(this.server.user);
    const host = this.server.host.includes(":") ? `[${this.server.host}]` : this.server.host;
    return `${this.server.driver}://${auth}@${host}:${this.server.port}/${this.name}`;
  }

  /** The project's DataSource options on this database, connected (for the service layer in process). */
  async dataSource(): Promise<DataSource> {
    if (!this.dataSourceInstance) {
      this.dataSourceInstance = new DataSource(dataSourceOptions(this.config, []));
      await this.dataSourceInstance.initialize();
    }
    return this.dataSourceInstance;
  }

  /** A plain mysql2 pool with the service's session settings (UTC, utf8mb4). */
  pool(connections: number): mysql.Pool {
    const pool = mysql.createPool({
      host: this.server.host,
      port: this.server.port,
      user: this.server.user,
      password: this.server.password,
      database: this.name,
      connectionLimit: connections,
      maxIdle: connections,
      timezone: "Z",
      charset: "utf8mb4_unicode_ci",
      supportBigNumbers: true,
      enableKeepAlive: true,
    });
    this.pools.push(pool);
    return pool;
  }

  /** Opens every connection of a pool now, so that no measurement pays for a connect. */
  static async warm(pool: mysql.Pool, connections: number): Promise<void> {
    const held = await Promise.all(Array.from({ length: connections }, () => pool.getConnection()));
    for (const connection of held) connection.release();
  }

  /** Ends this handle's pools and DataSource. */
  async close(): Promise<void> {
    await Promise.all(this.pools.splice(0).map((pool) => pool.end().catch(() => undefined)));
    if (this.dataSourceInstance?.isInitialized) await this.dataSourceInstance.destroy().catch(() => undefined);
  }

  async drop(): Promise<void> {
    created.delete(this);
    await this.close();
    await this.admin((connection) => connection.query(`DROP DATABASE IF EXISTS \`${this.name}\``));
  }

  /** Drops every database this process created and did not drop yet. */
  static async dropAll(): Promise<void> {
    for (const database of [...created]) await database.drop().catch((error: unknown) => console.error(`could not drop ${database.name}:`, error));
  }

  private async admin<T>(work: (connection: mysql.Connection) => Promise<T>): Promise<T> {
    const connection = await mysql.createConnection({
      host: this.server.host,
      port: this.server.port,
      user: this.server.user,
      password: this.server.password,
      connectTimeout: 5_000,
    });
    try {
      return await work(connection);
    } finally {
      await connection.end();
    }
  }
}

/** One-off statements on the server without a database (version, settings, status). */
export async function serverQuery<T>(server: DatabaseServer, sql: string): Promise<T[]> {
  const { host, port, user, password } = server;
  const connection = await mysql.createConnection({ host, port, user, password, connectTimeout: 5_000 });
  try {
    const [rows] = await connection.query(sql);
    return rows as T[];
  } finally {
    await connection.end();
  }
}
