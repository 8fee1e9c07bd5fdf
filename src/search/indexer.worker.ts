/**
 * The search indexer's thread (see ./indexer-thread.ts): its own DataSource,
 * from the service's database settings, and a {@link SearchIndexer} driven by
 * the service thread's messages.
 */
import { parentPort, workerData } from "node:worker_threads";
import { DataSource } from "typeorm";
import { createLogger } from "../common/logger";
import { dataSourceOptions } from "../database/data-source-options";
import type { FromIndexer, IndexerThreadData, ToIndexer } from "./indexer-thread";
import { SearchIndexer } from "./search-indexer";

/** Connections of the thread's pool: a round, and a sweep or catch-up beside it. */
const INDEXER_CONNECTIONS = 2;

async function main(): Promise<void> {
  const port = parentPort!;
  const { database, logLevel } = workerData as IndexerThreadData;
  const logger = createLogger(logLevel);
  const dataSource = new DataSource(dataSourceOptions({ ...database, poolSize: INDEXER_CONNECTIONS }, []));
  try {
    await dataSource.initialize();
  } catch (error) {
    logger.warn({ err: error }, "search indexer: cannot reach the database");
    process.exit(1);
  }
  const indexer = new SearchIndexer(dataSource, logger);
  const reply = (message: FromIndexer) => port.postMessage(message);
  port.on("message", (message: ToIndexer) => {
    switch (message.type) {
      case "notify":
        for (const workspaceId of message.workspaceIds) indexer.notify(workspaceId);
        return;
      case "catchUp":
        indexer.catchUp().then(
          () => reply({ type: "caughtUp", id: message.id }),
          (error: unknown) => reply({ type: "caughtUp", id: message.id, error: error instanceof Error ? error.message : String(error) }),
        );
        return;
      case "stop":
        void indexer
          .stop()
          .then(() => dataSource.destroy())
          .catch((error: unknown) => logger.warn({ err: error }, "search indexer: stopping failed"))
          // With its port closed and its pool ended, the thread has nothing left to run, and exits.
          .finally(() => port.close());
        return;
    }
  });
  indexer.start();
}

void main();
