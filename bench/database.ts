import { execFileSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import mysql from "mysql2/promise";
import { DataSource } from "typeorm";
import { DatabaseConfig, loadConfig } from "../src/config/config";
import { dataSourceOptions } from "../src/database/data-source-options";

/**
 * The bench's own databases (`audit_bench_<pid>_<part>`) on the server
 * DATABASE_URL names, created and migrated through the project's DataSource
 * options and dropped at the end; and the facts of the machine they run on.
 */

/** Migrations as built: dist/bench -> dist/migrations. */
const MIGRATIONS = path.join(__dirname, "..", "migrations", "*.js");
/** The repository: dist/bench -> the project root. */
export const REPOSITORY = path.join(__dirname, "..", "..");

/** The server, as loadConfig reads DATABASE_URL (default mysql://root@127.0.0.1:3306); its database part is ignored. */
export function databaseServer(url = process.env.DATABASE_URL ?? "mysql://root@127.0.0.1:3306"): DatabaseConfig {
  const named = new URL(url).pathname.length > 1 ? url : `${url.replace(/\/$/, "")}/audit_bench`;
  const server = loadConfig({ NODE_ENV: "development", DATABASE_URL: named }).database;
  if (!["127.0.0.1", "localhost", "::1"].includes(server.host)) throw new Error(`the bench only uses a database server on this machine, not ${server.host}`);
  return server;
}

async function onServer<T>(server: DatabaseConfig, sql: string): Promise<T[]> {
  const connection = await mysql.createConnection({ host: server.host, port: server.port, user: server.user, password: server.password });
  try {
    return (await connection.query(sql))[0] as T[];
  } finally {
    await connection.end();
  }
}

const created = new Set<BenchDatabase>();

export class BenchDatabase {
  private readonly pools: mysql.Pool[] = [];
  private source?: DataSource;

  private constructor(readonly config: DatabaseConfig) {}

  /** A fresh database with every migration applied. */
  static async create(server: DatabaseConfig, part: string): Promise<BenchDatabase> {
    const name = `audit_bench_${process.pid}_${part}`;
    await onServer(server, `DROP DATABASE IF EXISTS \`${name}\``);
    await onServer(server, `CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    const auth = server.password ? `${encodeURIComponent(server.user)}:${encodeURIComponent(server.password)}` : encodeURIComponent(server.user);
    const database = new BenchDatabase({ ...server, database: name, url: `${server.driver}://${auth}@${server.host}:${server.port}/${name}` });
    created.add(database);
    const migrator = new DataSource(dataSourceOptions(database.config, [MIGRATIONS]));
    await migrator.initialize();
    try {
      if ((await migrator.runMigrations({ transaction: "each" })).length === 0) throw new Error(`no migration at ${MIGRATIONS}: run npm run build first`);
    } finally {
      await migrator.destroy();
    }
    return database;
  }

  /** DATABASE_URL of a service process on this database. */
  get url(): string {
    return this.config.url;
  }

  /** The project's DataSource on this database, for the service's code in the bench's process. */
  async dataSource(): Promise<DataSource> {
    this.source ??= await new DataSource(dataSourceOptions(this.config, [])).initialize();
    return this.source;
  }

  /** A mysql2 pool with every connection open, so that no measurement pays for a connect. */
  async pool(connections: number): Promise<mysql.Pool> {
    const { host, port, user, password, database } = this.config;
    const pool = mysql.createPool({ host, port, user, password, database, connectionLimit: connections, maxIdle: connections, timezone: "Z", charset: "utf8mb4_unicode_ci" });
    this.pools.push(pool);
    const held = await Promise.all(Array.from({ length: connections }, () => pool.getConnection()));
    for (const connection of held) connection.release();
    return pool;
  }

  async drop(): Promise<void> {
    created.delete(this);
    await Promise.all(this.pools.splice(0).map((pool) => pool.end().catch(() => undefined)));
    if (this.source?.isInitialized) await this.source.destroy();
    await onServer(this.config, `DROP DATABASE IF EXISTS \`${this.config.database}\``);
  }

  static async dropAll(): Promise<void> {
    for (const database of [...created]) await database.drop().catch((error: unknown) => console.error(`could not drop ${database.config.database}:`, error));
  }
}

export type MachineFacts = Awaited<ReturnType<typeof machineFacts>>;

/** The server settings that bear on the figures. */
const SETTINGS = ["innodb_buffer_pool_size", "innodb_flush_log_at_trx_commit", "innodb_log_file_size", "innodb_flush_method", "sync_binlog", "log_bin", "max_connections"];

function command(file: string, args: string[], cwd = REPOSITORY): string {
  try {
    return execFileSync(file, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "";
  }
}

/** The commit checked out in `checkout` (this repository by default). */
export function currentCommit(checkout = REPOSITORY): string {
  return command("git", ["rev-parse", "--short", "HEAD"], checkout) || "unknown";
}

export async function machineFacts(server: DatabaseConfig) {
  const [{ version }] = await onServer<{ version: string }>(server, "SELECT VERSION() AS version");
  const rows = await onServer<{ Variable_name: string; Value: string }>(server, `SHOW GLOBAL VARIABLES WHERE Variable_name IN (${SETTINGS.map((name) => `'${name}'`).join(", ")})`);
  return {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    memoryBytes: os.totalmem(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    database: { version, settings: Object.fromEntries(rows.map((row) => [row.Variable_name, row.Value])) },
    redisServer: /v=(\S+)/.exec(command("redis-server", ["--version"]))?.[1] ?? null,
    commit: currentCommit(),
    // The work tree had uncommitted changes.
    dirty: command("git", ["status", "--porcelain", "--untracked-files=no"]) !== "",
  };
}
