import { AppConfig, loadConfig } from "./config";
import { fromProcessEnv } from "./process-env";

export * from "./config";

/**
 * The configuration of this process. This folder is the only reader of
 * `process.env`: a bad variable stops the process here with one line naming it.
 */
export const config: AppConfig = fromProcessEnv(loadConfig);
