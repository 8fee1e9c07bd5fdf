import type { DataSource } from "typeorm";
import { ServiceUnavailableError } from "../common/errors";
import { pooledStatement } from "./pool-bounds";
import type { Queryable } from "./statements";

/**
 * Where the service's reads run (the logs, search, the directory's pickers
 * and loaders; a live tail's reads stay on the pool, as a tail must catch
 * up): at most `slots` statements at once, so that
 * reads, however many and however slow, leave the rest of the pool to
 * recording and health; each statement stopped by the server after
 * `statementTimeoutMs`; a read that waits longer than `waitMs` for a slot
 * answers SERVICE_UNAVAILABLE (503, `Retry-After`) instead of queueing on.
 */
export class ReadGate implements Queryable {
  private running = 0;
  private readonly waiting: { grant(): void }[] = [];

  /** The statement with the server's time limit on it, once the server has said which it is. */
  private limited: Promise<(sql: string) => string> | undefined;

  /** Runs a statement on the DataSource's pool (see {@link pooledStatement}). */
  private readonly run: (sql: string, values?: unknown[]) => Promise<unknown>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly options: ReadGateOptions,
  ) {
    this.run = pooledStatement(dataSource);
  }

  /** Reads running now, and reads waiting for a slot. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  async query(sql: string, values?: unknown[]): Promise<unknown> {
    const limited = await (this.limited ??= this.timeLimit());
    await this.acquire();
    try {
      return await this.run(limited(sql), values);
    } catch (error) {
      if (isStatementTimeout(error)) {
        this.options.onStatementTimeout?.();
        throw new ServiceUnavailableError(
          `The read took longer than ${this.options.statementTimeoutMs / 1000} s and was stopped. Narrow it (a date range, a filter, fewer or longer search words) or retry later.`,
        );
      }
      throw error;
    } finally {
      this.release();
    }
  }

  /** MariaDB and MySQL bound a statement's time differently: the server says which it is, once. */
  private async timeLimit(): Promise<(sql: string) => string> {
    try {
      const [{ version }] = (await this.dataSource.query("SELECT VERSION() AS version")) as { version: string }[];
      return statementTimeLimit(/mariadb/i.test(version) ? "mariadb" : "mysql", this.options.statementTimeoutMs);
    } catch (error) {
      // Asked again by the next read: the database may be back by then.
      this.limited = undefined;
      throw error;
    }
  }

  private acquire(): Promise<void> {
    if (this.running < this.options.slots) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: () => {
          clearTimeout(timer);
          this.running++;
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        reject(new ServiceUnavailableError(`The service is busy with other reads (${this.options.slots} at once); retry shortly.`));
      }, this.options.waitMs);
      this.waiting.push(waiter);
    });
  }

  private release(): void {
    this.running--;
    this.waiting.shift()?.grant();
  }
}

export interface ReadGateOptions {
  /** Statements that may read at once (`DB_READ_CONNECTIONS`). */
  slots: number;
  /** How long a read waits for a slot, in milliseconds (`DB_POOL_WAIT_MS`). */
  waitMs: number;
  /** How long the server lets a read statement run, in milliseconds (`DB_READ_TIMEOUT_MS`). */
  statementTimeoutMs: number;
  /** Told of each statement the server stopped (the service's metrics). */
  onStatementTimeout?: () => void;
}

/**
 * MariaDB bounds one statement with `SET STATEMENT max_statement_time = s FOR`
 * (seconds, fractions allowed); MySQL 8 with the optimizer hint
 * `MAX_EXECUTION_TIME(ms)` right after the top-level SELECT. Every read
 * statement of the repositories starts with SELECT.
 */
function statementTimeLimit(flavor: "mariadb" | "mysql", timeoutMs: number): (sql: string) => string {
  if (flavor === "mariadb") {
    const prefix = `SET STATEMENT max_statement_time = ${timeoutMs / 1000} FOR `;
    return (sql) => `${prefix}${sql}`;
  }
  const hint = `SELECT /*+ MAX_EXECUTION_TIME(${Math.round(timeoutMs)}) */ `;
  return (sql) => sql.replace(/^\s*SELECT\s/i, hint);
}

/** MariaDB's ER_STATEMENT_TIMEOUT, MySQL's ER_QUERY_TIMEOUT. */
const STATEMENT_TIMEOUT_ERRNOS = new Set([1969, 3024]);

function isStatementTimeout(error: unknown): boolean {
  return typeof error === "object" && error !== null && STATEMENT_TIMEOUT_ERRNOS.has((error as { errno?: unknown }).errno as number);
}
