import "reflect-metadata";
import { dataSource } from "../ormconfig";
import { config } from "./config";
import { createLogger } from "./common/logger";
import { connect, DatabaseUnavailableError, ensureDatabaseExists } from "./database/prepare";
import { startService } from "./server/service";

/** config -> database -> schema -> HTTP + WebSocket -> listen; SIGTERM/SIGINT stop it gracefully. */
async function main(): Promise<void> {
  const logger = createLogger(config.logLevel);
  if (config.auth.jwtSecretIsDefault) {
    logger.warn("AUTH_JWT_SECRET is not set: using the development secret; never do this in production");
  }
  try {
    if (config.migrateOnStart) await ensureDatabaseExists(config.database);
    await connect(dataSource, config.database);
  } catch (error) {
    if (!(error instanceof DatabaseUnavailableError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  if (config.migrateOnStart) {
    const applied = await dataSource.runMigrations({ transaction: "each" });
    for (const migration of applied) logger.info({ migration: migration.name }, "migration applied");
  }

  const service = await startService({ config, dataSource, logger });
  logger.info({ url: `${service.url}/graphql` }, "audit-log service listening");

  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping: finishing in-flight requests");
    await service.stop();
    await dataSource.destroy();
    logger.info("stopped");
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`The service failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
