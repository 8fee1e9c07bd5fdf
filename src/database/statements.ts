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

/**
 * A READ COMMITTED transaction whose statements travel in as few round trips
 * as its reads allow: the first {@link run} also begins it, {@link commit}
 * sends its last statements and the COMMIT together. Each round trip waits
 * for the network and the server once, however many statements it carries.
 */
export class BatchedTransaction {
  private state: "new" | "open" | "ended" = "new";

  constructor(private readonly runner: QueryRunner) {}

  /** Runs statements inside the transaction, beginning it first if need be; returns their results. */
  run(statements: readonly Statement[]): Promise<unknown[]> {
    return this.send(statements, false);
  }

  /** Runs the transaction's last statements, then commits, in one round trip. */
  commit(statements: readonly Statement[] = []): Promise<unknown[]> {
    return this.send(statements, true);
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

  private async send(statements: readonly Statement[], commit: boolean): Promise<unknown[]> {
    if (this.state === "ended") throw new Error("the transaction has ended");
    const opening = this.state === "new" ? [SET_READ_COMMITTED, BEGIN] : [];
    // Open from here on: should the round trip fail half-way, what ran must be rolled back.
    this.state = "open";
    const results = await runStatements(this.runner, [...opening, ...statements, ...(commit ? [COMMIT] : [])]);
    if (commit) this.state = "ended";
    return results.slice(opening.length, opening.length + statements.length);
  }
}

/** `(?, ?), (?, ?)` for a multi-row VALUES clause. */
export function placeholders(rows: number, columns: number): string {
  const row = `(${new Array(columns).fill("?").join(", ")})`;
  return new Array(rows).fill(row).join(", ");
}
