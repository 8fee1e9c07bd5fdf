import type { DataSource, QueryRunner } from "typeorm";
import type { Logger } from "../common/logger";

/**
 * The key a background job's connections carry in `QueryRunner.data`: what
 * they send runs on the job's own schedule, not for any request.
 */
export const BACKGROUND_JOB = "backgroundJob";

/** What a job that trails the recorder does, workspace by workspace. */
export interface RoundJob {
  /** Names the job in logs and on its connections. */
  name: string;
  /** Workspaces with events the job has not taken yet. */
  workspacesBehind(runner: QueryRunner): Promise<string[]>;
  /** One round for the workspace; whether it may have more to take. */
  round(runner: QueryRunner, workspaceId: string): Promise<boolean>;
}

export interface RoundTiming {
  /** How long new events of a workspace gather before a round, in milliseconds. */
  roundDelayMs: number;
  /** How often the job looks for workspaces it was not told about, in milliseconds. */
  sweepIntervalMs: number;
}

/**
 * Runs a {@link RoundJob} a moment behind the recording transactions rather
 * than inside them: told that a workspace has new events, it lets them
 * gather for `roundDelayMs`, then runs rounds for it until it has nothing
 * left, one workspace at a time; a sweep now and then finds the workspaces it
 * was not told about (other instances' events, a backlog after a migration,
 * a round that failed). A round holds its workspace's progress row in its
 * transaction, so the jobs of several instances take turns.
 */
export class WorkspaceRounds {
  private readonly waiting = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private started = false;
  private stopped = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly logger: Logger,
    private readonly job: RoundJob,
    private readonly timing: RoundTiming,
  ) {}

  /** Starts: the workspaces behind now, then those the recorder names, and a sweep now and then. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.sweeper = setInterval(() => void this.sweep(), this.timing.sweepIntervalMs);
    this.sweeper.unref();
    void this.sweep();
  }

  /** The workspace has new events: a round follows shortly. */
  notify(workspaceId: string): void {
    this.waiting.add(workspaceId);
    this.schedule(this.timing.roundDelayMs);
  }

  /** Stops after the round under way; what is left is taken by the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.sweeper);
    await this.running;
  }

  /** Runs rounds for every workspace that is behind, until none is: for tests and tools that need the job complete now. */
  async catchUp(): Promise<void> {
    await this.running;
    for (const workspaceId of await this.withRunner((runner) => this.job.workspacesBehind(runner))) this.waiting.add(workspaceId);
    await this.drain();
  }

  private async sweep(): Promise<void> {
    try {
      for (const workspaceId of await this.withRunner((runner) => this.job.workspacesBehind(runner))) this.waiting.add(workspaceId);
    } catch (error) {
      this.logger.warn({ err: error, job: this.job.name }, "background job: could not look for workspaces behind");
      return;
    }
    if (this.waiting.size > 0) this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (!this.started || this.stopped || this.timer || this.running) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.drain()
        .catch((error: unknown) => this.logger.warn({ err: error, job: this.job.name }, "background job: a round failed; it is tried again at the next sweep"))
        .finally(() => {
          this.running = undefined;
          if (this.waiting.size > 0) this.schedule(this.timing.roundDelayMs);
        });
    }, delayMs);
    this.timer.unref();
  }

  /** Rounds for the waiting workspaces, one at a time, until each has nothing left. */
  private async drain(): Promise<void> {
    while (this.waiting.size > 0 && !this.stopped) {
      const [workspaceId] = this.waiting;
      this.waiting.delete(workspaceId);
      if (await this.withRunner((runner) => this.job.round(runner, workspaceId))) this.waiting.add(workspaceId);
    }
  }

  /** Work on a connection of its own, marked as this background job's (see {@link BACKGROUND_JOB}). */
  private async withRunner<T>(work: (runner: QueryRunner) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    runner.data = { [BACKGROUND_JOB]: this.job.name };
    try {
      return await work(runner);
    } finally {
      await runner.release();
    }
  }
}
