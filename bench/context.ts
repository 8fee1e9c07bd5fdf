import { createHash } from "node:crypto";
import { Role } from "../src/auth/principal";
import { signToken } from "../src/auth/tokens";
import { AppConfig, DatabaseConfig, loadConfig } from "../src/config/config";
import { ed25519KeyFromSeed } from "../src/integrity/checkpoint";

export { Role };

/** `full`: the issue's counts; `smoke`: every part end to end with small counts, in a few minutes. */
export type Size = "smoke" | "full";
export type Part = "ingest" | "queries" | "live" | "overhead";
export const PARTS: readonly Part[] = ["ingest", "queries", "live", "overhead"];

/** What every part of a run shares. */
export interface BenchContext {
  server: DatabaseConfig;
  /** AUTH_JWT_SECRET of every service the run starts: the bench signs real tokens with it. */
  secret: string;
  size: Size;
  /** The service build every service process runs: this checkout's dist/src/main.js, or another's (`--service`). */
  serviceMain: string;
  /** Leaves out the workspace log's search queries (`--skip-search`). */
  skipSearch: boolean;
  /** The batch sizes part 1 measures (`--batches`); undefined: all of them. */
  batches?: readonly number[];
  log(line: string): void;
}

/** The environment of a service process on `databaseUrl`, as production runs it (migrations already applied). */
export function serviceEnvironment(secret: string, databaseUrl: string): Record<string, string> {
  return {
    NODE_ENV: "production",
    DATABASE_URL: databaseUrl,
    DB_MIGRATE: "false",
    AUTH_JWT_SECRET: secret,
    AUTH_JWT_ISSUER: "audit-log-bench",
    AUTH_JWT_AUDIENCE: "audit-log",
    // Every service of a run signs checkpoints with the same key, made from the run's secret.
    AUDIT_SIGNING_KEY: ed25519KeyFromSeed(createHash("sha256").update(`audit-log bench signing key ${secret}`).digest()),
    LOG_LEVEL: "warn",
    // The bench measures throughput and latency: no budget of cost points may cut its load short.
    ...Object.fromEntries(["RATE_LIMIT_POINTS", "RATE_LIMIT_POINTS_PER_SECOND", "RATE_LIMIT_SERVICE_POINTS", "RATE_LIMIT_SERVICE_POINTS_PER_SECOND"].map((name) => [name, "100000000"])),
    RATE_LIMIT_REFUSAL_DELAY_MS: "0",
  };
}

/** The config a service process on `databaseUrl` loads. */
export function serviceConfig(context: Pick<BenchContext, "secret">, databaseUrl: string): AppConfig {
  return loadConfig({ ...serviceEnvironment(context.secret, databaseUrl), PORT: "0" });
}

/** A real token, signed with the run's secret, valid for the whole run. */
export function token(context: BenchContext, role: Role, workspaceId: string, userId = `${role.toLowerCase()}-bench`): Promise<string> {
  const { auth } = serviceConfig(context, "mysql://root@127.0.0.1:3306/unused");
  return signToken(auth, { role, workspaceId, userId, name: "Bench", ttlSeconds: 6 * 3600 });
}
