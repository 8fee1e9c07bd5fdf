import { execFileSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { DatabaseServer, serverQuery } from "./bench-database";

/** What every figure is tied to: the machine, the database server's settings that matter, and the commit. */
export interface MachineFacts {
  cores: number;
  cpuModel: string;
  memoryBytes: number;
  os: string;
  node: string;
  database: {
    version: string;
    /** Server variables that bear on the figures (absent ones are not listed). */
    settings: Record<string, string>;
  };
  redisServer: string | null;
  commit: string;
  /** The work tree had changes not in the commit when the run started. */
  dirty: boolean;
}

/** The repository: dist/bench -> the project root. */
export const REPOSITORY = path.join(__dirname, "..", "..");

const SETTINGS = [
  "innodb_buffer_pool_size",
  "innodb_flush_log_at_trx_commit",
  "innodb_log_file_size",
  "innodb_flush_method",
  "innodb_io_capacity",
  "innodb_ft_cache_size",
  "sync_binlog",
  "log_bin",
  "query_cache_type",
  "max_connections",
  "thread_handling",
];

function git(args: string[]): string {
  try {
    return execFileSync("git", args, { cwd: REPOSITORY, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "";
  }
}

/** The short hash of the checked-out commit ("unknown" outside a git work tree). */
export function currentCommit(): string {
  return git(["rev-parse", "--short", "HEAD"]) || "unknown";
}

export async function machineFacts(server: DatabaseServer): Promise<MachineFacts> {
  const [{ version }] = await serverQuery<{ version: string }>(server, "SELECT VERSION() AS version");
  const rows = await serverQuery<{ Variable_name: string; Value: string }>(
    server,
    `SHOW GLOBAL VARIABLES WHERE Variable_name IN (${SETTINGS.map((name) => `'${name}'`).join(", ")})`,
  );
  const settings = Object.fromEntries(SETTINGS.flatMap((name) => rows.filter((row) => row.Variable_name === name).map((row) => [name, row.Value])));
  let redisServer: string | null = null;
  try {
    redisServer = /v=(\S+)/.exec(execFileSync("redis-server", ["--version"], { encoding: "utf8" }))?.[1] ?? null;
  } catch {
    redisServer = null;
  }
  return {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    memoryBytes: os.totalmem(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    database: { version, settings },
    redisServer,
    commit: currentCommit(),
    dirty: git(["status", "--porcelain", "--untracked-files=no"]) !== "",
  };
}
