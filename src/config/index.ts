import { AppConfig, ConfigError, loadConfig } from "./config";

export * from "./config";

/**
 * The configuration of this process. This module is the only reader of
 * `process.env`: a bad variable stops the process here with one line naming it.
 */
export const config: AppConfig = loadProcessConfig();

function loadProcessConfig(): AppConfig {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`Configuration error: ${error.variable} must be ${error.expected}.\n`);
    process.exit(1);
  }
}
