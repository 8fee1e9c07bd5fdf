import "reflect-metadata";
import path from "node:path";
import { DataSource } from "typeorm";
import { config } from "./src/config";
import { dataSourceOptions } from "./src/database/data-source-options";

/**
 * The one DataSource: used by the service, the TypeORM CLI
 * (`npm run migration:run|show|revert`) and the tests. The CLI needs it to be
 * the file's only DataSource export.
 * Migrations are found next to this file: `migrations/*.ts` under ts-node and
 * jest, `dist/migrations/*.js` once built.
 */
export const dataSource = new DataSource(
  dataSourceOptions(config.database, [path.join(__dirname, "migrations", "*.{ts,js}")]),
);
