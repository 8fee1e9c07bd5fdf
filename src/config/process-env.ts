import { ConfigError } from "./config";

/**
 * Reads this process's environment with `load`. A bad variable stops the
 * process here with one line naming it and what it expects.
 */
export function fromProcessEnv<T>(load: (env: NodeJS.ProcessEnv) => T): T {
  try {
    return load(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`Configuration error: ${error.variable} must be ${error.expected}.\n`);
    process.exit(1);
  }
}
