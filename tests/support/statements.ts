import type { DataSource } from "typeorm";
import { STATEMENT_SEPARATOR } from "../../src/database/statements";
import { BACKGROUND_JOB } from "../../src/background/workspace-rounds";

/**
 * Runs `work` and returns the SQL statements the DataSource sent meanwhile,
 * one per statement even where a round trip carried several.
 */
export async function statementsDuring(dataSource: DataSource, work: () => Promise<unknown>): Promise<string[]> {
  return statementsOf(await roundTripsDuring(dataSource, work));
}

/** The statements of some round trips, one per statement, in order. */
export function statementsOf(roundTrips: readonly string[]): string[] {
  return roundTrips.flatMap((sql) => sql.split(STATEMENT_SEPARATOR));
}

/**
 * Runs `work` and returns the queries the DataSource sent meanwhile, one per
 * round trip to the server (every query goes through its logger's logQuery,
 * logging on or off). A background job's queries (the search indexer's, on
 * connections it marks) run on their own schedule and are left out.
 */
export async function roundTripsDuring(dataSource: DataSource, work: () => Promise<unknown>): Promise<string[]> {
  return (await queriesDuring(dataSource, work)).map(({ query }) => query);
}

/** As {@link roundTripsDuring}, with each query's parameters. */
export async function queriesDuring(dataSource: DataSource, work: () => Promise<unknown>): Promise<{ query: string; parameters: unknown[] }[]> {
  const queries: { query: string; parameters: unknown[] }[] = [];
  const logger = dataSource.logger;
  const original = logger.logQuery.bind(logger);
  logger.logQuery = (query, parameters, queryRunner) => {
    if (!queryRunner?.data?.[BACKGROUND_JOB]) queries.push({ query, parameters: Array.isArray(parameters) ? parameters : [] });
    return original(query, parameters, queryRunner);
  };
  try {
    await work();
  } finally {
    logger.logQuery = original;
  }
  return queries;
}
