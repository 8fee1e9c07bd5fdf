import "reflect-metadata";
import { dataSource } from "../ormconfig";
import { createLogger } from "./common/logger";
import { config } from "./config";
import { countEvents } from "./database/audit-event.repository";
import { DatabaseUnavailableError } from "./database/prepare";
import { closeDatabase, openDatabase } from "./database/setup";
import { demoAccess, seedDemo } from "./demo/demo-seeder";
import { applyHeapSettings } from "./server/heap-settings";
import { startService } from "./server/start-service";

/** config -> database -> schema -> HTTP + WebSocket -> listen; SIGTERM/SIGINT stop it gracefully. */
async function main(): Promise<void> {
  applyHeapSettings();
  const logger = createLogger(config.logLevel);
  if (config.auth.jwtSecretIsDefault) {
    logger.warn("AUTH_JWT_SECRET is not set: using the development secret; never do this in production");
  }
  if (config.integrity.signingKeyIsDevelopment) {
    logger.warn("AUDIT_SIGNING_KEY is not set: checkpoints are signed with the development key, which anyone can read; never do this in production");
  }
  try {
    await openDatabase(dataSource, config, logger);
  } catch (error) {
    if (!(error instanceof DatabaseUnavailableError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }

  const service = await startService({ config, dataSource, logger });
  // A developer's first start on an empty database gets a workspace to explore.
  if (config.nodeEnv === "development" && config.demoData && (await countEvents(dataSource)) === 0) {
    logger.info("empty database: recording the demo workspace (DEMO_DATA=off skips this)");
    const { recorded } = await seedDemo(service.services.recorder);
    logger.info({ events: recorded }, "demo workspace recorded");
    process.stdout.write(await demoAccess(config.auth, service.port));
  }
  logger.info({ url: `${service.url}/graphql`, metrics: service.metricsUrl }, "audit-log service listening");

  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: config.shutdownGraceMs }, "stopping: finishing in-flight requests");
    await service.stop();
    if (!(await closeDatabase(dataSource))) logger.warn("the database pool did not close in time");
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
