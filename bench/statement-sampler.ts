import type mysql from "mysql2/promise";
import { sleep } from "./stats";

/** Milliseconds between two looks at the server's process list. @default 20 */
export const SAMPLE_INTERVAL_MS = 20;
/**
 * (state, statement) pairs kept in a result, the most seen first; the
 * benchmark's own SHOW statements are left out. @default 6
 */
export const ACTIVITIES_KEPT = 6;

/** Where one database's connections were seen, over the samples taken while a measurement ran. */
export interface StatementActivity {
  samples: number;
  intervalMs: number;
  /**
   * The (server state, statement) pairs seen most: in what share of the
   * samples at least one connection was in it. A statement seen far more
   * often than its own work explains is one its connections waited in: on
   * a row lock, or for a commit's log flush.
   */
  seen: { state: string; statement: string; percent: number }[];
}

/**
 * Looks at the server's process list every {@link SAMPLE_INTERVAL_MS} for the
 * connections of one database, over a connection of its own, until stopped.
 */
export class StatementSampler {
  private samples = 0;
  private readonly counts = new Map<string, { state: string; statement: string; samples: number }>();
  private running = true;
  private readonly done: Promise<void>;

  private constructor(
    private readonly pool: mysql.Pool,
    private readonly database: string,
  ) {
    this.done = this.loop();
  }

  static start(pool: mysql.Pool, database: string): StatementSampler {
    return new StatementSampler(pool, database);
  }

  async stop(): Promise<StatementActivity> {
    this.running = false;
    await this.done;
    const seen = [...this.counts.values()]
      .sort((a, b) => b.samples - a.samples)
      .slice(0, ACTIVITIES_KEPT)
      .map(({ state, statement, samples }) => ({ state, statement, percent: Math.round((samples / Math.max(1, this.samples)) * 1000) / 10 }));
    return { samples: this.samples, intervalMs: SAMPLE_INTERVAL_MS, seen };
  }

  private async loop(): Promise<void> {
    try {
      await this.sampleUntilStopped();
    } catch {
      // The process list could not be read: the samples taken so far stand, and the measurement goes on without more.
    }
  }

  private async sampleUntilStopped(): Promise<void> {
    while (this.running) {
      const [rows] = (await this.pool.query(
        "SELECT STATE AS state, LEFT(INFO, 200) AS info FROM information_schema.PROCESSLIST WHERE DB = ? AND COMMAND = 'Query' AND ID <> CONNECTION_ID() AND INFO NOT LIKE 'SHOW%'",
        [this.database],
      )) as unknown as [{ state: string | null; info: string | null }[]];
      this.samples++;
      const inThisSample = new Set<string>();
      for (const row of rows) {
        const state = row.state || "(none)";
        const statement = statementLabel(row.info ?? "");
        const key = `${state}\n${statement}`;
        if (inThisSample.has(key)) continue;
        inThisSample.add(key);
        const entry = this.counts.get(key) ?? { state, statement, samples: 0 };
        entry.samples++;
        this.counts.set(key, entry);
      }
      await sleep(SAMPLE_INTERVAL_MS);
    }
  }
}

/** `INSERT INTO users`, `SELECT FROM conversations`, `COMMIT`: what a statement does and to which table. */
export function statementLabel(sql: string): string {
  const text = sql.replace(/\s+/g, " ").trim();
  const write = /^(INSERT INTO|REPLACE INTO|UPDATE|DELETE FROM)\s+`?(\w+)/i.exec(text);
  if (write) return `${write[1].toUpperCase()} ${write[2]}`;
  const read = /^SELECT\b.*?\bFROM\s+`?(\w+)/i.exec(text);
  if (read) return `SELECT FROM ${read[1]}`;
  return (text.split(" ")[0] || "(no statement)").toUpperCase();
}
