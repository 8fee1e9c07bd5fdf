import type { EventEmitter } from "node:events";
import mysql from "mysql2/promise";
import type { DataSource } from "typeorm";
import type { MysqlDriver } from "typeorm/driver/mysql/MysqlDriver";
import type { DatabaseConfig } from "../config";

/** How long cancelling waits for its own connection to the database. */
const CANCEL_CONNECT_TIMEOUT_MS = 2_000;

/** What this module uses of a mysql2 pool connection. */
interface PooledConnection extends EventEmitter {
  threadId: number | null;
}

/**
 * Cancels the statements the DataSource's pool is running, for a process
 * that must stop within a bound: a statement waiting for a lock, or a long
 * one, would otherwise hold the pool's close until it ends. It follows which
 * connections the pool has handed out; cancelling sends `KILL QUERY` for each
 * of their server threads over a connection of its own (the pool's may all be
 * busy). A cancelled statement fails with ER_QUERY_INTERRUPTED, and its
 * transaction is rolled back by whoever ran it.
 */
export class RunningStatements {
  private readonly busy = new Set<PooledConnection>();
  private readonly watched = new WeakSet<PooledConnection>();

  constructor(
    dataSource: DataSource,
    private readonly database: DatabaseConfig,
  ) {
    const pool = (dataSource.driver as MysqlDriver).pool as EventEmitter;
    pool.on("acquire", (connection: PooledConnection) => {
      this.busy.add(connection);
      if (this.watched.has(connection)) return;
      this.watched.add(connection);
      // A connection that dies is never released to the pool again.
      const forget = () => this.busy.delete(connection);
      connection.once("end", forget);
      connection.once("error", forget);
    });
    pool.on("release", (connection: PooledConnection) => this.busy.delete(connection));
  }

  /** Cancels what every handed-out connection runs; returns to how many connections the cancel went. */
  async cancel(): Promise<number> {
    const threads = [...this.busy].map((connection) => connection.threadId).filter((id): id is number => Number.isSafeInteger(id));
    if (threads.length === 0) return 0;
    const { host, port, user, password } = this.database;
    const connection = await mysql.createConnection({ host, port, user, password, connectTimeout: CANCEL_CONNECT_TIMEOUT_MS });
    try {
      // A thread that is between statements has nothing to cancel; one that is gone answers "unknown thread".
      const sent = await Promise.all(threads.map((id) => connection.query(`KILL QUERY ${id}`).then(() => true, () => false)));
      return sent.filter(Boolean).length;
    } finally {
      await connection.end().catch(() => connection.destroy());
    }
  }
}
