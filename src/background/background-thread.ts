import { existsSync } from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";
import type { Logger } from "../common/logger";
import type { DatabaseConfig, IntegrityConfig, LogLevel } from "../config";

/** What the service's thread tells the background thread. */
export type ToBackground = { type: "notify"; workspaceIds: string[] } | { type: "catchUp"; id: number } | { type: "stop" };

/** What the background thread answers. */
export type FromBackground = { type: "caughtUp"; id: number; error?: string };

/** What the background thread starts from. */
export interface BackgroundThreadData {
  database: DatabaseConfig;
  logLevel: LogLevel;
  /** The jobs it runs: the search index (SEARCH_INDEXING), the Merkle log and its checkpoints (MERKLE_LOG). */
  jobs: { searchIndex: boolean; merkleLog: boolean };
  /** How the Merkle log's checkpoints are signed. */
  integrity: Pick<IntegrityConfig, "signingKey" | "checkpointIntervalSeconds">;
}

/**
 * How long the service's thread gathers notices before it sends them, in
 * milliseconds: the jobs let a workspace's events gather for longer than
 * this before a round anyway, and one message per busy moment costs less than
 * one per recording call. @default 100
 */
export const NOTICE_DELAY_MS = 100;
/** How long after an unexpected end the background thread starts again, in milliseconds. @default 5000 */
export const RESTART_DELAY_MS = 5_000;
/** How long `stop` waits for the round under way before it ends the thread, in milliseconds. @default 10000 */
export const STOP_TIMEOUT_MS = 10_000;

/**
 * The jobs that trail the recorder, in a worker thread of their own with
 * their own connections: the search indexer (src/search/search-indexer.ts),
 * the Merkle sequencer (src/integrity/merkle-sequencer.ts) and the
 * checkpointer that signs the Merkle logs (src/integrity/checkpointer.ts). A round reads
 * back thousands of events and hashes or indexes them: on the thread that
 * serves requests, that CPU came out of recording's throughput whenever that
 * thread was the bottleneck. In its own thread it runs beside the requests,
 * on another core when there is one.
 *
 * The service's thread only forwards notices: after a recording call, the
 * workspaces with new events (gathered for {@link NOTICE_DELAY_MS}). A thread
 * that ends unexpectedly (its database unreachable at start, say) is started
 * again after {@link RESTART_DELAY_MS}; meanwhile searches read the events
 * the index has not reached directly, as they always do, and the Merkle log
 * catches up when it is back.
 */
export class BackgroundThread {
  private worker: Worker | undefined;
  private readonly notices = new Set<string>();
  private readonly catchUps = new Map<number, { resolve(): void; reject(error: Error): void }>();
  private nextCatchUp = 0;
  private started = false;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly data: BackgroundThreadData,
    private readonly logger: Logger,
  ) {}

  /** Starts the thread, whose jobs take what is behind, then what they are told of. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.spawn();
  }

  /** The workspace has new events (ignored until started: the thread's first sweep finds them). */
  notify(workspaceId: string): void {
    if (!this.worker) return;
    if (this.notices.size === 0) setTimeout(this.sendNotices, NOTICE_DELAY_MS).unref();
    this.notices.add(workspaceId);
  }

  /** Resolves once every workspace that is behind now is indexed and in its Merkle log: for tests and tools that need them complete. */
  catchUp(): Promise<void> {
    const worker = this.worker;
    if (!worker) return Promise.reject(new Error("The background thread is not running."));
    const id = this.nextCatchUp++;
    return new Promise((resolve, reject) => {
      this.catchUps.set(id, { resolve, reject });
      worker.postMessage({ type: "catchUp", id } satisfies ToBackground);
    });
  }

  /** Stops after the round under way (ending the thread if that takes longer than {@link STOP_TIMEOUT_MS}). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (!worker) return;
    const ended = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    worker.postMessage({ type: "stop" } satisfies ToBackground);
    const timer = setTimeout(() => void worker.terminate(), STOP_TIMEOUT_MS);
    await ended;
    clearTimeout(timer);
  }

  private readonly sendNotices = (): void => {
    if (this.notices.size === 0 || !this.worker) return;
    this.worker.postMessage({ type: "notify", workspaceIds: [...this.notices] } satisfies ToBackground);
    this.notices.clear();
  };

  private spawn(): void {
    const script = workerScript();
    if (!script) {
      this.logger.error("background thread: its compiled code is missing (run `npm run build`); the search index and the Merkle log are not kept up");
      return;
    }
    const worker = new Worker(script, { workerData: this.data });
    // The service's own lifecycle ends the thread (stop); it never holds the process open.
    worker.unref();
    this.worker = worker;
    worker.on("message", (message: FromBackground) => {
      const waiting = this.catchUps.get(message.id);
      this.catchUps.delete(message.id);
      if (message.error === undefined) waiting?.resolve();
      else waiting?.reject(new Error(message.error));
    });
    worker.on("error", (error) => this.logger.error({ err: error }, "background thread: failed"));
    worker.on("exit", (code) => {
      this.worker = undefined;
      this.notices.clear();
      for (const waiting of this.catchUps.values()) waiting.reject(new Error("The background thread ended."));
      this.catchUps.clear();
      if (this.stopped) return;
      this.logger.warn({ code, restartInMs: RESTART_DELAY_MS }, "background thread: ended; starting it again");
      this.restartTimer = setTimeout(() => {
        if (!this.stopped) this.spawn();
      }, RESTART_DELAY_MS);
      this.restartTimer.unref();
    });
  }
}

/**
 * The thread's compiled entry point: beside this file when the service runs
 * compiled, else (the tests run the TypeScript sources) in the build's
 * output, which `npm test` builds first. Undefined when neither exists.
 */
function workerScript(): string | undefined {
  const candidates = [path.join(__dirname, "background.worker.js"), path.resolve(__dirname, "../../dist/src/background/background.worker.js")];
  return candidates.find((candidate) => existsSync(candidate));
}
