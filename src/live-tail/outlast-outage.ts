import { GraphQLError } from "graphql";
import { isDatabaseUnavailable, ServiceUnavailableError, unwrap } from "../common/errors";

/** The first pause before a live tail reads again from a database that was unavailable. @default 100 */
export const FIRST_RETRY_MS = 100;
/** The longest pause between two tries: pauses double up to it. @default 2000 */
export const MAX_RETRY_MS = 2_000;

export interface OutlastOptions<T> {
  /** Whether an outcome failed because the database was unavailable (a result carrying such errors). */
  failedForDatabase?: (outcome: T) => boolean;
  /** Whether to give up: the outcome (or the error) of the last try is then returned (or thrown). */
  abandoned?: () => boolean;
}

/**
 * Runs `attempt` until it gets past an unavailable database: a try that
 * throws a database-unavailable error (or SERVICE_UNAVAILABLE), or whose
 * outcome failed for one, is made again after a pause. Any other error is
 * thrown at once. This is what lets a live tail stay open across a database
 * outage and catch up after it, instead of sending an error in place of an
 * event.
 */
export async function outlastOutage<T>(attempt: () => Promise<T>, options: OutlastOptions<T> = {}): Promise<T> {
  for (let pause = FIRST_RETRY_MS; ; pause = Math.min(pause * 2, MAX_RETRY_MS)) {
    try {
      const outcome = await attempt();
      if (!options.failedForDatabase?.(outcome) || options.abandoned?.()) return outcome;
    } catch (error) {
      if (!isRetriable(error) || options.abandoned?.()) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, pause).unref());
  }
}

/** Whether every error of a GraphQL result is one the database's return will mend. */
export function failedForDatabase(result: { errors?: readonly GraphQLError[] }): boolean {
  return result.errors !== undefined && result.errors.length > 0 && result.errors.every((error) => isRetriable(unwrap(error)));
}

function isRetriable(error: unknown): boolean {
  return isDatabaseUnavailable(error) || error instanceof ServiceUnavailableError;
}
