import { randomBytes } from "node:crypto";
import { Role } from "../src/auth/principal";
import { signToken } from "../src/auth/tokens";
import { AppConfig, loadConfig } from "../src/config/config";
import type { DatabaseServer } from "./bench-database";
import type { SizeProfile } from "./options";

export { Role };

/** What every part of a run shares. */
export interface BenchContext {
  server: DatabaseServer;
  /** AUTH_JWT_SECRET of every service the run starts; the bench signs real tokens with it. */
  secret: string;
  profile: SizeProfile;
  log(line: string): void;
}

export function newSecret(): string {
  return randomBytes(48).toString("base64url");
}

/** The token settings of every service the run starts (production requires issuer and audience). */
export function authEnvironment(secret: string): Record<string, string> {
  return { AUTH_JWT_SECRET: secret, AUTH_JWT_ISSUER: "audit-log-bench", AUTH_JWT_AUDIENCE: "audit-log" };
}

/** The service's config for a bench database, as loadConfig builds it for a service process. */
export function serviceConfig(context: Pick<BenchContext, "secret">, databaseUrl: string, extra: Record<string, string> = {}): AppConfig {
  return loadConfig({
    NODE_ENV: "production",
    PORT: "0",
    DATABASE_URL: databaseUrl,
    DB_MIGRATE: "false",
    ...authEnvironment(context.secret),
    LOG_LEVEL: "warn",
    ...extra,
  });
}

/** A real token (HS256 with the run's secret), valid for the whole run (within the 24 h an admin or agent token may live). */
export function token(context: BenchContext, role: Role, workspaceId: string, userId = `${role.toLowerCase()}-bench`): Promise<string> {
  const auth = loadConfig({ NODE_ENV: "production", ...authEnvironment(context.secret) }).auth;
  return signToken(auth, { role, workspaceId, userId, name: "Bench", ttlSeconds: 6 * 3600 });
}
