import "reflect-metadata";
import { parseArgs } from "node:util";
import { dataSource } from "../../ormconfig";
import { createLogger } from "../common/logger";
import { config } from "../config";
import { countEvents, deleteEventsOfWorkspace } from "../database/audit-event.repository";
import { deleteConversationsOfWorkspace } from "../database/conversation.repository";
import { deleteCustomersOfWorkspace } from "../database/customer.repository";
import { deleteMerkleLogOfWorkspace } from "../database/merkle-tile.repository";
import { DatabaseUnavailableError } from "../database/prepare";
import { deleteSearchIndexOfWorkspace } from "../database/search-postings.repository";
import { openDatabase } from "../database/setup";
import { deleteUsersOfWorkspace } from "../database/user.repository";
import { deleteWorkspace } from "../database/workspace.repository";
import { DEMO_WORKSPACE } from "../demo/demo-data";
import { demoAccess, seedDemo } from "../demo/demo-seeder";
import { createServices } from "../server/app-services";

/** `npm run seed [-- --reset]`: records the demo workspace and prints tokens to try it with. */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { reset: { type: "boolean", default: false } }, strict: true });
  const logger = createLogger("warn");
  await openDatabase(dataSource, config, logger);
  const services = createServices(dataSource, config, logger);
  try {
    if (values.reset) {
      const runner = dataSource.createQueryRunner();
      await deleteEventsOfWorkspace(runner, DEMO_WORKSPACE).finally(() => runner.release());
      await deleteUsersOfWorkspace(dataSource, DEMO_WORKSPACE);
      await deleteCustomersOfWorkspace(dataSource, DEMO_WORKSPACE);
      await deleteConversationsOfWorkspace(dataSource, DEMO_WORKSPACE);
      await deleteWorkspace(dataSource, DEMO_WORKSPACE);
      // Recorded anew from seq 1: the index and the Merkle log of the old events go with them.
      await deleteSearchIndexOfWorkspace(dataSource, DEMO_WORKSPACE);
      await deleteMerkleLogOfWorkspace(dataSource, DEMO_WORKSPACE);
    }
    const existing = await countEvents(dataSource, DEMO_WORKSPACE);
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
