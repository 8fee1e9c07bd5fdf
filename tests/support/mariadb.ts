import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import mysql from "mysql2/promise";
import { freePort } from "./redis";
import { MARIADB_INSTALL_DB, MARIADBD } from "./programs";

/**
 * A private MariaDB server for one test file: its own data directory in a
 * temporary folder and a free port, so that a test can kill, freeze and
 * restart it without touching the server the other tests share. Root logs
 * in over TCP with no password (grant tables are skipped).
 */
export class MariadbProcess {
  private child?: ChildProcess;
  private exited?: Promise<void>;

  private constructor(
    private readonly directory: string,
    readonly port: number,
  ) {}

  /** Creates the data directory (about half a second) and starts the server on it. */
  static async start(): Promise<MariadbProcess> {
    const directory = mkdtempSync(path.join(os.tmpdir(), "audit-mariadb-"));
    mkdirSync(path.join(directory, "tmp"));
    const installed = spawnSync(MARIADB_INSTALL_DB.executable, ["--no-defaults", `--datadir=${path.join(directory, "data")}`, tmpdirOption(directory), "--skip-test-db", ...userOption()], {
      encoding: "utf8",
    });
    if (installed.status !== 0) throw new Error(`mariadb-install-db failed: ${installed.stderr || installed.stdout}`);
    const server = new MariadbProcess(directory, await freePort());
    await server.restart();
    return server;
  }

  /** A DATABASE_URL for a database on this server. */
  url(database: string): string {
    return `mysql://root@127.0.0.1:${this.port}/${database}`;
  }

  /** A connection to the server, outside any service, to look at what is stored. */
  connect(database?: string): Promise<mysql.Connection> {
    return mysql.createConnection({ host: "127.0.0.1", port: this.port, user: "root", database, supportBigNumbers: true });
  }

  /** Starts the server (again) on its data directory and port; resolves once it accepts a statement. */
  async restart(): Promise<void> {
    if (this.running) throw new Error("the server is already running");
    const child = spawn(
      MARIADBD.executable,
      [
        "--no-defaults",
        `--datadir=${path.join(this.directory, "data")}`,
        `--port=${this.port}`,
        "--bind-address=127.0.0.1",
        `--socket=${path.join(this.directory, "mysqld.sock")}`,
        `--pid-file=${path.join(this.directory, "mysqld.pid")}`,
        `--log-error=${path.join(this.directory, "error.log")}`,
        tmpdirOption(this.directory),
        "--skip-grant-tables",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_unicode_ci",
        "--innodb-buffer-pool-size=64M",
        ...userOption(),
      ],
      { stdio: "ignore" },
    );
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const connection = await mysql.createConnection({ host: "127.0.0.1", port: this.port, user: "root", connectTimeout: 1_000 });
        await connection.end();
        return;
      } catch (error) {
        if (child.exitCode !== null) throw new Error(`mariadbd exited at start (see ${path.join(this.directory, "error.log")})`);
        if (Date.now() > deadline) throw new Error(`mariadbd did not accept connections on ${this.port}: ${String(error)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL: the server dies at once, as on a crash; committed transactions survive, as InnoDB promises. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child!.kill("SIGKILL");
    await this.exited;
  }

  /** SIGSTOP: the server keeps its sockets open but answers nothing until {@link resume}. */
  freeze(): void {
    this.child?.kill("SIGSTOP");
  }

  /** SIGCONT after {@link freeze}. */
  resume(): void {
    this.child?.kill("SIGCONT");
  }

  /** Kills the server and removes its data directory. */
  async stop(): Promise<void> {
    this.resume();
    await this.kill();
    rmSync(this.directory, { recursive: true, force: true });
  }
}

/**
 * The server's own directory for temporary files. On start (and in
 * mariadb-install-db's bootstrap) mariadbd deletes every `#sql…` file in its
 * tmpdir as left over from an earlier run: with the default /tmp, those of
 * the shared server too, whose queries then fail on their temporary tables.
 */
function tmpdirOption(directory: string): string {
  return `--tmpdir=${path.join(directory, "tmp")}`;
}

/** mariadbd refuses to run as root unless told to. */
function userOption(): string[] {
  return process.getuid?.() === 0 ? ["--user=root"] : [];
}

/** A private MariaDB server for the enclosing `describe`: started before its tests, stopped (and its data removed) after. */
export function useMariadbProcess(): { readonly process: MariadbProcess } {
  const holder = {} as { process: MariadbProcess };
  beforeAll(async () => {
    holder.process = await MariadbProcess.start();
  });
  afterAll(async () => {
    await holder.process?.stop();
  });
  return holder;
}
