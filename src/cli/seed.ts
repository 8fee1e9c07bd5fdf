import "reflect-metadata";
import { parseArgs } from "node:util";
import { dataSource } from "../../ormconfig";
import { createLogger } from "../common/logger";
import { config } from "../config";
import { DatabaseUnavailableError } from "../database/prepare";
import { openDatabase } from "../database/setup";
import { DEMO_WORKSPACE } from "../demo/demo-data";
import { demoAccess, eventCount, seedDemo } from "../demo/demo-seeder";
import { createServices } from "../server/app-services";

/** `npm run seed [-- --reset]`: records the demo workspace and prints tokens to try it with. */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { reset: { type: "boolean", default: false } }, strict: true });
  const logger = createLogger("warn");
  await openDatabase(dataSource, config, logger);
  const services = createServices(dataSource, config, logger);
  try {
    if (values.reset) {
      for (const table of ["audit_events", "users", "customers", "conversations", "workspaces"]) {
        await dataSource.query(`DELETE FROM ${table} WHERE ${table === "workspaces" ? "id" : "workspace_id"} = ?`, [DEMO_WORKSPACE]);
      }
    }
    const existing = await eventCount(dataSource, DEMO_WORKSPACE);
    if (existing > 0) {
      process.stdout.write(`The demo workspace already holds ${existing} events (--reset records it anew).\n`);
    } else {
      const started = Date.now();
      const { recorded } = await seedDemo(services.recorder);
      process.stdout.write(`Recorded ${recorded} demo events in ${((Date.now() - started) / 1000).toFixed(1)} s.\n`);
    }
    process.stdout.write(await demoAccess(config.auth, config.port));
  } finally {
    await services.bus.close();
    await dataSource.destroy();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof DatabaseUnavailableError ? error.message : error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
