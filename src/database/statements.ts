import type { QueryRunner } from "typeorm";

/** One SQL statement with its values, sent alone or with others in one round trip. */
export interface Statement {
  sql: string;
  values: unknown[];
}

/** What joins the statements of one round trip. */
export const STATEMENT_SEPARATOR = ";\n";

const SET_READ_COMMITTED: Statement = { sql: "SET TRANSACTION ISOLATION LEVEL READ COMMITTED", values: [] };
const BEGIN: Statement = { sql: "START TRANSACTION", values: [] };
const COMMIT: Statement = { sql: "COMMIT", values: [] };

/**
 * Sends statements in one round trip (the pool allows several statements per
 * query; every value still goes through a placeholder) and returns each
 * statement's result, in order. The server stops at the first statement that
 * fails, and that error is thrown.
 */
export async function runStatements(runner: QueryRunner, statements: readonly Statement[]): Promise<unknown[]> {
  const values: unknown[] = [];
  for (const statement of statements) for (const value of statement.values) values.push(value);
  const results: unknown = await runner.query(statements.map((statement) => statement.sql).join(STATEMENT_SEPARATOR), values);
  return statements.length === 1 ? [results] : (results as unknown[]);
}

/** What a repository runs a single statement on, outside a recording transaction: the DataSource, or a query runner. */
export interface Queryable {
  query(sql: string, values?: unknown[]): Promise<unknown>;
}

/** A read added to a transaction, waiting for the round trip that carries it. */
interface PendingRead {
  position: number;
  resolve(result: unknown): void;
  reject(error: unknown): void;
}

/**
 * A READ COMMITTED transaction whose statements travel in as few round trips
 * as its reads allow. Repositories {@link add} statements to it; {@link send}
 * sends those added since the last round trip (beginning the transaction
 * first), {@link commit} sends them with the COMMIT. Each round trip waits
 * for the network and the server once, however many statements it carries.
 */
export class BatchedTransaction {
  private state: "new" | "open" | "ended" = "new";
  private statements: Statement[] = [];
  private reads: PendingRead[] = [];

  constructor(private readonly runner: QueryRunner) {}

  /** Adds a statement to the next round trip. */
  add(statement: Statement): void {
    this.statements.push(statement);
  }

  /**
   * Adds a statement to the next round trip and gives what `read` makes of
   * its result once that round trip is back; the round trip's error, should
   * it fail (awaiting the read is optional: the round trip throws it too).
   */
  read<T>(statement: Statement, read: (result: unknown) => T): Promise<T> {
    const position = this.statements.push(statement) - 1;
    const result = new Promise<T>((resolve, reject) => {
      const settle = (value: unknown) => {
        try {
          resolve(read(value));
        } catch (error) {
          reject(error);
        }
      };
      this.reads.push({ position, resolve: settle, reject });
    });
    // Whoever awaits the round trip hears its error: an unawaited read must not report it a second time.
    result.catch(() => undefined);
    return result;
  }

  /** Sends the statements added since the last round trip, beginning the transaction first if need be. */
  send(): Promise<void> {
    return this.roundTrip(false);
  }

  /** Sends the statements added since the last round trip, then commits, in one round trip. */
  commit(): Promise<void> {
    return this.roundTrip(true);
  }

  /**
   * Rolls back whatever ran. A failure to roll back is not thrown: the error
   * that failed the transaction is the one that matters, and the server ends
   * the transaction itself when the connection is lost.
   */
  async rollback(): Promise<void> {
    if (this.state !== "open") return;
    this.state = "ended";
    await this.runner.query("ROLLBACK").catch(() => undefined);
  }

  private async roundTrip(commit: boolean): Promise<void> {
    if (this.state === "ended") throw new Error("the transaction has ended");
    const { statements, reads } = this;
    this.statements = [];
    this.reads = [];
    const opening = this.state === "new" ? [SET_READ_COMMITTED, BEGIN] : [];
    // Open from here on: should the round trip fail half-way, what ran must be rolled back.
    this.state = "open";
    let results: unknown[];
    try {
      results = await runStatements(this.runner, [...opening, ...statements, ...(commit ? [COMMIT] : [])]);
    } catch (error) {
      for (const read of reads) read.reject(error);
      throw error;
    }
    if (commit) this.state = "ended";
    for (const read of reads) read.resolve(results[opening.length + read.position]);
  }
}

/**
 * Rows in id order: concurrent writers that upsert rows of one table in the
 * same order cannot deadlock each other on them.
 */
export function inLockOrder<T extends { id: string }>(rows: T[]): T[] {
  return [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** A LIKE pattern matching the text anywhere, its own % and _ taken literally. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (character) => `\\${character}`)}%`;
}

/** `(?, ?), (?, ?)` for a multi-row VALUES clause. */
export function placeholders(rows: number, columns: number): string {
  const row = `(${new Array(columns).fill("?").join(", ")})`;
  return new Array(rows).fill(row).join(", ");
}
