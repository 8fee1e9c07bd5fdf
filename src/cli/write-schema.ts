import "reflect-metadata";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { dataSource } from "../../ormconfig";
import { createLogger } from "../common/logger";
import { config } from "../config";
import { createServices } from "../server/app-services";
import { buildAppSchema, printAppSchema } from "../server/schema";

/** Rewrites schema/schema.graphql from the code (no database needed). */
export const SCHEMA_FILE = path.resolve(__dirname, "..", "..", "..", "schema", "schema.graphql");

async function main(): Promise<void> {
  const schema = await buildAppSchema(createServices(dataSource, config, createLogger("silent")));
  writeFileSync(SCHEMA_FILE, printAppSchema(schema));
  process.stdout.write(`wrote ${path.relative(process.cwd(), SCHEMA_FILE)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
