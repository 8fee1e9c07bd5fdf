/**
 * The background thread (see ./background-thread.ts): its own DataSource,
 * from the service's database settings, and the jobs its data names, driven
 * by the service thread's messages.
 */
import { parentPort, workerData } from "node:worker_threads";
import { DataSource } from "typeorm";
import { createLogger } from "../common/logger";
import { dataSourceOptions } from "../database/data-source-options";
import { CheckpointSigner } from "../integrity/checkpoint";
import { Checkpointer } from "../integrity/checkpointer";
import { MerkleSequencer } from "../integrity/merkle-sequencer";
import { SearchIndexer } from "../search/search-indexer";
import type { BackgroundThreadData, FromBackground, ToBackground } from "./background-thread";
import type { WorkspaceRounds } from "./workspace-rounds";

/** Connections of the thread's pool: a round, and a sweep or catch-up beside it, per job. */
const CONNECTIONS_PER_JOB = 2;

async function main(): Promise<void> {
  const port = parentPort!;
  const { database, logLevel, jobs: wanted, integrity } = workerData as BackgroundThreadData;
  const logger = createLogger(logLevel);
  const jobCount = Number(wanted.searchIndex) + 2 * Number(wanted.merkleLog);
  const dataSource = new DataSource(dataSourceOptions({ ...database, poolSize: CONNECTIONS_PER_JOB * jobCount }, []));
  try {
    await dataSource.initialize();
  } catch (error) {
    logger.warn({ err: error }, "background thread: cannot reach the database");
    process.exit(1);
  }
  const jobs: WorkspaceRounds[] = [];
  if (wanted.searchIndex) jobs.push(new SearchIndexer(dataSource, logger));
  if (wanted.merkleLog) {
    jobs.push(new MerkleSequencer(dataSource, logger));
    jobs.push(new Checkpointer(dataSource, logger, new CheckpointSigner(integrity.signingKey), integrity.checkpointIntervalSeconds));
  }
  const reply = (message: FromBackground) => port.postMessage(message);
  port.on("message", (message: ToBackground) => {
    switch (message.type) {
      case "notify":
        for (const workspaceId of message.workspaceIds) for (const job of jobs) job.notify(workspaceId);
        return;
      case "catchUp":
        // In order: the checkpointer signs what the sequencer has appended.
        jobs.reduce((previous, job) => previous.then(() => job.catchUp()), Promise.resolve()).then(
          () => reply({ type: "caughtUp", id: message.id }),
          (error: unknown) => reply({ type: "caughtUp", id: message.id, error: error instanceof Error ? error.message : String(error) }),
        );
        return;
      case "stop":
        void Promise.all(jobs.map((job) => job.stop()))
          .then(() => dataSource.destroy())
          .catch((error: unknown) => logger.warn({ err: error }, "background thread: stopping failed"))
          // With its port closed and its pool ended, the thread has nothing left to run, and exits.
          .finally(() => port.close());
        return;
    }
  });
  for (const job of jobs) job.start();
}

void main();
