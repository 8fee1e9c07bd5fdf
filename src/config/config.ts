import { DURATION_FORMAT, parseDuration } from "./duration";

/**
 * The service's configuration: one typed object, validated once at boot.
 * `loadConfig` is a pure function of an environment; `src/config/index.ts`
 * is the only module that hands it `process.env`.
 */

export type NodeEnv = "development" | "test" | "production";
export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
export type DatabaseDriver = "mysql" | "mariadb";

export interface DatabaseConfig {
  /** `mysql` or `mariadb`, taken from the URL scheme. */
  driver: DatabaseDriver;
  host: string;
  port: number;
  user: string;
  password: string;
  /** The database (schema) the service uses; created on start when missing. */
  database: string;
  /** The URL as given, for messages: use {@link maskDatabaseUrl} before printing it. */
  url: string;
  /** Connections in the pool (`DB_POOL_SIZE`). @default 10 */
  poolSize: number;
}

export interface AuthConfig {
  /** HS256 secret, at least 32 bytes. */
  jwtSecret: string;
  /** True when the secret is the built-in development default. */
  jwtSecretIsDefault: boolean;
  /** Expected `iss` claim; not checked when undefined. Required when NODE_ENV is production. */
  jwtIssuer?: string;
  /** Expected `aud` claim; not checked when undefined. Required when NODE_ENV is production. */
  jwtAudience?: string;
  /** Longest lifetime a token may have, in seconds: `exp - iat`, or `exp - now` without `iat`. */
  maxLifetimeSeconds: TokenLifetimes;
}

export interface TokenLifetimes {
  /** A person's token (role admin or agent). @default 86400 (24 hours) */
  user: number;
  /** An API client's token (role service). @default 31536000 (365 days) */
  service: number;
}

export interface AppConfig {
  /** @default "development" */
  nodeEnv: NodeEnv;
  /** HTTP and WebSocket port. @default 4000 */
  port: number;
  database: DatabaseConfig;
  /** Create the database and apply pending migrations on start. @default true */
  migrateOnStart: boolean;
  auth: AuthConfig;
  /** Whether introspection is allowed. @default true unless NODE_ENV is production */
  introspection: boolean;
  /** @default "info" */
  logLevel: LogLevel;
  /** Redis for pub/sub between instances (redis:// or rediss://); in-process when unset. */
  redisUrl?: string;
  /** In development, seed the demo workspace when the database holds no event. @default true */
  demoData: boolean;
  /**
   * Whether this instance keeps the search index up (src/search/search-indexer.ts).
   * Off, its searches still find everything, reading what is not indexed; some
   * instance of the fleet should index. @default true
   */
  searchIndexing: boolean;
  /**
   * How long a stop lets accepted requests run on before it cancels their
   * statements, in milliseconds. @default 10000
   */
  shutdownGraceMs: number;
}

/** A configuration variable has a value the service cannot use. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly expected: string,
  ) {
    super(`${variable}: ${expected}`);
    this.name = "ConfigError";
  }
}

export const DEFAULT_PORT = 4000;
export const DEFAULT_DATABASE_URL = "mysql://root@127.0.0.1:3306/audit_log";
/**
 * Used only when NODE_ENV is not production and AUTH_JWT_SECRET is unset.
 * Its name says what it is so that it is never mistaken for a real secret.
 */
export const DEVELOPMENT_JWT_SECRET = "development-only-insecure-jwt-secret-do-not-use-in-production";
export const MIN_JWT_SECRET_BYTES = 32;
/** AUTH_JWT_MAX_LIFETIME and AUTH_JWT_SERVICE_MAX_LIFETIME when unset. */
export const DEFAULT_MAX_TOKEN_LIFETIMES: Readonly<TokenLifetimes> = { user: 24 * 3600, service: 365 * 86_400 };
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;
export const DEFAULT_POOL_SIZE = 10;
/** The largest DB_POOL_SIZE accepted. */
export const MAX_POOL_SIZE = 1_000;
/** The largest SHUTDOWN_GRACE_MS accepted: 10 minutes. */
export const MAX_SHUTDOWN_GRACE_MS = 600_000;

const NODE_ENVS: readonly NodeEnv[] = ["development", "test", "production"];
const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
const DATABASE_NAME = /^[A-Za-z0-9_]{1,64}$/;

type Env = Readonly<Record<string, string | undefined>>;

/** Reads and validates every variable; throws {@link ConfigError} on the first bad one. */
export function loadConfig(env: Env): AppConfig {
  const nodeEnv = oneOf(env, "NODE_ENV", NODE_ENVS, "development");
  const production = nodeEnv === "production";
  return {
    nodeEnv,
    port: port(env, "PORT", DEFAULT_PORT),
    database: {
      ...parseDatabaseUrl(value(env, "DATABASE_URL") ?? DEFAULT_DATABASE_URL),
      poolSize: wholeNumber(env, "DB_POOL_SIZE", DEFAULT_POOL_SIZE, 1, MAX_POOL_SIZE),
    },
    migrateOnStart: boolean(env, "DB_MIGRATE", true),
    auth: authConfig(env, production),
    introspection: boolean(env, "GRAPHQL_INTROSPECTION", !production),
    logLevel: oneOf(env, "LOG_LEVEL", LOG_LEVELS, "info"),
    redisUrl: redisUrl(env),
    demoData: oneOf(env, "DEMO_DATA", ["on", "off"] as const, "on") === "on",
    searchIndexing: boolean(env, "SEARCH_INDEXING", true),
    shutdownGraceMs: milliseconds(env, "SHUTDOWN_GRACE_MS", DEFAULT_SHUTDOWN_GRACE_MS, MAX_SHUTDOWN_GRACE_MS),
  };
}

function redisUrl(env: Env): string | undefined {
  const raw = value(env, "REDIS_URL");
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError("REDIS_URL", "a URL like redis://127.0.0.1:6379 (scheme redis or rediss)");
  }
  if ((url.protocol !== "redis:" && url.protocol !== "rediss:") || !url.hostname) {
    throw new ConfigError("REDIS_URL", "a URL like redis://127.0.0.1:6379 (scheme redis or rediss)");
  }
  return raw;
}

/** Parses `mysql://user:password@host:port/database` (or `mariadb://`). */
export function parseDatabaseUrl(raw: string): Omit<DatabaseConfig, "poolSize"> {
  const expected = "a URL like mysql://user:password@host:3306/database (scheme mysql or mariadb)";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError("DATABASE_URL", expected);
  }
  const scheme = url.protocol.replace(/:$/, "");
  if (scheme !== "mysql" && scheme !== "mariadb") throw new ConfigError("DATABASE_URL", expected);
  if (!url.hostname) throw new ConfigError("DATABASE_URL", expected);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (!DATABASE_NAME.test(database)) {
    throw new ConfigError("DATABASE_URL", `${expected}; the database name must be 1-64 letters, digits or underscores`);
  }
  const port = url.port === "" ? 3306 : Number(url.port);
  return {
    driver: scheme,
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port,
    user: decodeURIComponent(url.username) || "root",
    password: decodeURIComponent(url.password),
    database,
    url: raw,
  };
}

/** The URL with its password replaced, safe to print. */
export function maskDatabaseUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = "****";
    return url.toString();
  } catch {
    return "(unparseable URL)";
  }
}

function authConfig(env: Env, production: boolean): AuthConfig {
  const { jwtSecret, jwtSecretIsDefault } = jwtSecretOf(env, production);
  return {
    jwtSecret,
    jwtSecretIsDefault,
    jwtIssuer: requiredInProduction(env, "AUTH_JWT_ISSUER", "the issuer (iss) every token must name", production),
    jwtAudience: requiredInProduction(env, "AUTH_JWT_AUDIENCE", "the audience (aud) every token must name", production),
    maxLifetimeSeconds: {
      user: duration(env, "AUTH_JWT_MAX_LIFETIME", DEFAULT_MAX_TOKEN_LIFETIMES.user),
      service: duration(env, "AUTH_JWT_SERVICE_MAX_LIFETIME", DEFAULT_MAX_TOKEN_LIFETIMES.service),
    },
  };
}

function jwtSecretOf(env: Env, production: boolean): Pick<AuthConfig, "jwtSecret" | "jwtSecretIsDefault"> {
  const secret = value(env, "AUTH_JWT_SECRET");
  const expected = `a secret of at least ${MIN_JWT_SECRET_BYTES} bytes`;
  if (secret === undefined) {
    if (production) throw new ConfigError("AUTH_JWT_SECRET", `${expected} (required when NODE_ENV=production)`);
    return { jwtSecret: DEVELOPMENT_JWT_SECRET, jwtSecretIsDefault: true };
  }
  if (Buffer.byteLength(secret, "utf8") < MIN_JWT_SECRET_BYTES) throw new ConfigError("AUTH_JWT_SECRET", expected);
  if (production && secret === DEVELOPMENT_JWT_SECRET) {
    throw new ConfigError("AUTH_JWT_SECRET", `${expected}, not the development default`);
  }
  return { jwtSecret: secret, jwtSecretIsDefault: false };
}

/**
 * A value production cannot do without. Issuer and audience tie a token to
 * the platform that issued it for this service: without them, any token
 * signed with the shared secret for another purpose would be accepted here.
 */
function requiredInProduction(env: Env, name: string, expected: string, production: boolean): string | undefined {
  const given = value(env, name);
  if (given === undefined && production) throw new ConfigError(name, `${expected} (required when NODE_ENV=production)`);
  return given;
}

function duration(env: Env, name: string, fallbackSeconds: number): number {
  const raw = value(env, name);
  if (raw === undefined) return fallbackSeconds;
  const seconds = parseDuration(raw);
  if (seconds === undefined || seconds <= 0) throw new ConfigError(name, `${DURATION_FORMAT}, more than 0`);
  return seconds;
}

/** A set, non-blank value, trimmed; undefined otherwise. */
function value(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  return trimmed === "" ? undefined : trimmed;
}

function port(env: Env, name: string, fallback: number): number {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  const parsed = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) {
    throw new ConfigError(name, "a port number from 0 to 65535");
  }
  return parsed;
}

function milliseconds(env: Env, name: string, fallback: number, max: number): number {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  const parsed = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(parsed <= max)) throw new ConfigError(name, `a whole number of milliseconds from 0 to ${max}`);
  return parsed;
}

function wholeNumber(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  const parsed = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(parsed >= min && parsed <= max)) throw new ConfigError(name, `a whole number from ${min} to ${max}`);
  return parsed;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  if (raw === "true") return true;
  if (raw === "false") return false;
  throw new ConfigError(name, "true or false");
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  throw new ConfigError(name, `one of ${allowed.join(", ")}`);
}
