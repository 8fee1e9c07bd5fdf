import { QueryFailedError, type DataSource } from "typeorm";
import type { MysqlDriver } from "typeorm/driver/mysql/MysqlDriver";

/** The code of the error a pool connection's wait ends with (see {@link boundPool}). */
export const POOL_WAIT_TIMEOUT = "POOL_WAIT_TIMEOUT";
/** The code of the error a statement ends with when the database does not answer it in time (see {@link boundPool}). */
export const NO_ANSWER_TIMEOUT = "NO_ANSWER_TIMEOUT";

export interface PoolBounds {
  /** How long anything waits for a connection of the pool, in milliseconds (`DB_POOL_WAIT_MS`). */
  waitMs: number;
  /** How long a statement waits for the database's answer before its connection is given up, in milliseconds (`DB_ANSWER_TIMEOUT_MS`). */
  answerTimeoutMs: number;
}

type QueryCallback = (error: Error | null, ...results: unknown[]) => void;

/** What this module uses of a mysql2 (callback) pool connection. */
interface CallbackConnection {
  release(): void;
  destroy(): void;
  query(sql: unknown, values?: unknown, callback?: QueryCallback): unknown;
  stream?: { destroy(): void };
  answerBounded?: true;
}

/** What this module uses of a mysql2 (callback) pool. */
interface CallbackPool {
  getConnection(callback: (error: Error | null, connection?: CallbackConnection) => void): void;
  bounds?: PoolBounds;
  // mysql2's own queues (not part of its typed API): read for the metrics only.
  _allConnections?: { length: number };
  _freeConnections?: { length: number };
  _connectionQueue?: { length: number };
}

/** Connections of the DataSource's pool handed out now, and requests waiting for one (0 when the pool does not say). */
export function poolLevels(dataSource: DataSource): { inUse: number; waiting: number } {
  const pool = poolOf(dataSource);
  return {
    inUse: (pool?._allConnections?.length ?? 0) - (pool?._freeConnections?.length ?? 0),
    waiting: pool?._connectionQueue?.length ?? 0,
  };
}

/**
 * Bounds the two waits mysql2 leaves open, so that a database that stops
 * answering (killed, frozen, cut off) holds no request for longer than the
 * configuration says:
 * - the wait for a connection: mysql2 queues a request for one without a
 *   limit. Past `waitMs` the wait ends with an error coded
 *   {@link POOL_WAIT_TIMEOUT}; a connection that comes later goes straight
 *   back to the pool.
 * - the wait for a statement's answer: a frozen server keeps its sockets
 *   open and answers nothing. Past `answerTimeoutMs` the statement ends with
 *   an error coded {@link NO_ANSWER_TIMEOUT} and its connection is destroyed,
 *   so the pool opens a fresh one and no connection stays stuck behind the
 *   lost answer. (mysql2's own per-query `timeout` reports the error but
 *   hands the connection back with the statement still pending on it.)
 *   The server rolls back what the connection had not committed when it
 *   sees the socket closed.
 *
 * Both errors mean SERVICE_UNAVAILABLE to the client. Applied once per pool,
 * after migrations (which may run long).
 */
export function boundPool(dataSource: DataSource, bounds: PoolBounds): void {
  const pool = poolOf(dataSource);
  if (!pool || pool.bounds !== undefined) return;
  pool.bounds = bounds;
  const getConnection = pool.getConnection.bind(pool);
  pool.getConnection = (callback) => {
    let answered = false;
    const timer = setTimeout(() => {
      answered = true;
      callback(Object.assign(new Error(`No database connection was free within ${bounds.waitMs} ms.`), { code: POOL_WAIT_TIMEOUT }));
    }, bounds.waitMs);
    getConnection((error, connection) => {
      if (answered) {
        connection?.release();
        return;
      }
      answered = true;
      clearTimeout(timer);
      if (connection) boundAnswers(connection, bounds.answerTimeoutMs);
      callback(error, connection);
    });
  };
}

/** Gives each statement of the connection `timeoutMs` to be answered (see {@link boundPool}). */
function boundAnswers(connection: CallbackConnection, timeoutMs: number): void {
  if (connection.answerBounded) return;
  connection.answerBounded = true;
  const query = connection.query.bind(connection);
  connection.query = (sql, valuesOrCallback, maybeCallback) => {
    // mysql2 takes (sql, callback) as well as (sql, values, callback); a query without a callback streams its rows.
    const [values, callback] = typeof valuesOrCallback === "function" ? [undefined, valuesOrCallback as QueryCallback] : [valuesOrCallback, maybeCallback];
    if (!callback) return query(sql, values);
    let answered = false;
    const timer = setTimeout(() => {
      answered = true;
      connection.destroy();
      // destroy() only half-closes the socket, and a frozen server never completes the close.
      connection.stream?.destroy();
      callback(Object.assign(new Error(`The database did not answer within ${timeoutMs} ms.`), { code: NO_ANSWER_TIMEOUT, fatal: true }));
    }, timeoutMs);
    return query(sql, values, (error, ...results) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      callback(error, ...results);
    });
  };
}

/**
 * Runs one statement on a connection of the DataSource's pool, as
 * `DataSource.query` does (a connection taken and given back, the pool's
 * bounds applied, the statement told to the DataSource's logger, a failure
 * thrown as TypeORM's QueryFailedError), without the query runner TypeORM
 * builds around each statement: its connect and release, its subscriber
 * broadcasts, and a copy of the rows, each a step of its own. A log's page
 * is one statement, and those steps were a measurable share of its CPU
 * (docs/performance.md, "Figures behind choices in the code"). Without a
 * mysql2 pool, `DataSource.query` runs it.
 */
export function pooledStatement(dataSource: DataSource): (sql: string, values?: unknown[]) => Promise<unknown> {
  const pool = poolOf(dataSource);
  if (!pool) return (sql, values) => dataSource.query(sql, values);
  const logger = () => dataSource.logger;
  return (sql, values) =>
    new Promise((resolve, reject) => {
      const fail = (error: Error) => {
        logger().logQueryError(error, sql, values);
        reject(new QueryFailedError(sql, values, error));
      };
      pool.getConnection((waitError, connection) => {
        if (!connection) {
          fail(waitError ?? new Error("the pool gave no connection"));
          return;
        }
        logger().logQuery(sql, values);
        connection.query(sql, values, (error, rows) => {
          connection.release();
          if (error) fail(error);
          else resolve(rows);
        });
      });
    });
}

function poolOf(dataSource: DataSource): CallbackPool | undefined {
  return (dataSource.driver as MysqlDriver).pool as CallbackPool | undefined;
}
