import { createHash, createPrivateKey, KeyObject } from "node:crypto";
import { ed25519KeyFromSeed } from "../integrity/checkpoint";
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
  /**
   * Read statements (the logs, search, the directory's pickers) that may run
   * at once (`DB_READ_CONNECTIONS`): the rest of the pool stays free for
   * recording and health. @default the pool size less max(2, 30%): 7 of 10
   */
  readConnections: number;
  /** How long the server lets a read statement run, in milliseconds (`DB_READ_TIMEOUT_MS`). @default 5000 */
  readTimeoutMs: number;
  /** How long a request waits for a pool connection, or a read for its slot, in milliseconds (`DB_POOL_WAIT_MS`). @default 2000 */
  poolWaitMs: number;
  /**
   * How long the service waits for the database to answer one statement
   * before it gives the connection up as lost (`DB_ANSWER_TIMEOUT_MS`): a
   * frozen server or a silent network answers nothing, and without this a
   * request would wait for as long as it lasts. The statement fails
   * (SERVICE_UNAVAILABLE), the connection is closed and the pool opens a new
   * one. Longer than DB_READ_TIMEOUT_MS, so that a slow read is stopped by
   * the server first. @default DB_READ_TIMEOUT_MS + 2000
   */
  answerTimeoutMs: number;
}

export interface IntegrityConfig {
  /** The Ed25519 private key that signs checkpoints, PKCS#8 PEM (`AUDIT_SIGNING_KEY`). Required in production. */
  signingKey: string;
  /** Whether the key is the development one (AUDIT_SIGNING_KEY unset outside production). */
  signingKeyIsDevelopment: boolean;
  /** How often a workspace with new events gets a checkpoint, in seconds (`AUDIT_CHECKPOINT_INTERVAL`). @default 60 */
  checkpointIntervalSeconds: number;
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

/**
 * What one GraphQL operation may ask for, over HTTP and WebSocket alike
 * (src/limits/operation-cost.ts checks them before anything runs).
 */
export interface OperationLimits {
  /** Points an operation may cost (`GRAPHQL_MAX_COST`; how they are counted: src/limits/operation-cost.ts). @default 5000 */
  maxCost: number;
  /** Aliased fields, fragments counted where they are spread (`GRAPHQL_MAX_ALIASES`). @default 15 */
  maxAliases: number;
  /** Fields nested in one another, root fields at depth 1, introspection aside (`GRAPHQL_MAX_DEPTH`). @default 10 */
  maxDepth: number;
  /** Directives in an operation and the fragments it spreads (`GRAPHQL_MAX_DIRECTIVES`). @default 50 */
  maxDirectives: number;
  /** Lexical tokens of the document, counted before it is parsed (`GRAPHQL_MAX_TOKENS`). @default 2000 */
  maxTokens: number;
  /** Bytes of the document's text, variables aside (`GRAPHQL_MAX_DOCUMENT_BYTES`). @default 102400 (100 KiB) */
  maxDocumentBytes: number;
}

/** A bucket of cost points: it holds up to `capacity` and refills at `refillPerSecond`. */
export interface BudgetConfig {
  capacity: number;
  refillPerSecond: number;
}

/** The budgets operations' costs are taken from (src/limits/cost-budget.ts). */
export interface RateLimitConfig {
  /** Each (workspace, user) of an admin or agent token (`RATE_LIMIT_POINTS`, `RATE_LIMIT_POINTS_PER_SECOND`). @default 10000 points, 1000 a second */
  user: BudgetConfig;
  /** Each (workspace, producer) of a service token, for recording (`RATE_LIMIT_SERVICE_POINTS`, `RATE_LIMIT_SERVICE_POINTS_PER_SECOND`). @default 100000 points, 50000 a second */
  service: BudgetConfig;
  /**
   * How long a refusal waits before it answers, in milliseconds, at most
   * until the budget would hold the cost (`RATE_LIMIT_REFUSAL_DELAY_MS`): a
   * client that floods without waiting for Retry-After then sends a few
   * requests a second per connection instead of thousands. @default 1000
   */
  refusalDelayMs: number;
}

export interface AppConfig {
  /** @default "development" */
  nodeEnv: NodeEnv;
  /** HTTP and WebSocket port. @default 4000 */
  port: number;
  database: DatabaseConfig;
  /** Create the database and apply pending migrations on start. @default true */
  migrateOnStart: boolean;
  /**
   * The database as the user that owns its schema (`DATABASE_MIGRATE_URL`):
   * on start, migrations run as this user, and the service's pool uses
   * `DATABASE_URL`'s, which then needs only SELECT, INSERT, UPDATE and DELETE.
   * Same server and database as `DATABASE_URL`. @default unset: migrations run as `DATABASE_URL`'s user
   */
  migrationDatabase?: DatabaseConfig;
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
   * Whether this instance keeps the workspaces' Merkle logs up
   * (src/integrity/merkle-sequencer.ts; `MERKLE_LOG`). Instances of a fleet
   * take turns on a workspace's log; off on every instance, no new event
   * enters it. Off is for measuring what the log costs. @default true
   */
  merkleLog: boolean;
  /** The Merkle log's signed checkpoints. */
  integrity: IntegrityConfig;
  /**
   * Port of the Prometheus metrics (`GET /metrics`, `METRICS_PORT`), apart
   * from the API's, so that it can stay inside the operator's network; 0
   * picks a free port. @default unset: no metrics served
   */
  metricsPort?: number;
  /**
   * How long a request over HTTP, or a query or mutation over WebSocket, may
   * take to be answered, in milliseconds (`REQUEST_TIMEOUT_MS`): past it the
   * client gets SERVICE_UNAVAILABLE (HTTP 503, `Retry-After`) and the
   * operation's own answer, when it comes, is dropped;
   * its statements end by their own bounds (DB_READ_TIMEOUT_MS,
   * DB_POOL_WAIT_MS). @default 30000
   */
  requestTimeoutMs: number;
  /** What one operation may ask for. */
  operationLimits: OperationLimits;
  /** The budgets of cost points per user and per producer. */
  rateLimits: RateLimitConfig;
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
export const DEFAULT_READ_TIMEOUT_MS = 5_000;
export const DEFAULT_POOL_WAIT_MS = 2_000;
/** How much longer than DB_READ_TIMEOUT_MS the service waits, by default, for the database to answer a statement. */
const ANSWER_TIMEOUT_MARGIN_MS = 2_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** The largest DB_READ_TIMEOUT_MS and DB_POOL_WAIT_MS accepted: 10 minutes. */
const MAX_DATABASE_WAIT_MS = 600_000;
/** The largest DB_POOL_SIZE accepted. */
export const MAX_POOL_SIZE = 1_000;
export const DEFAULT_OPERATION_LIMITS: Readonly<OperationLimits> = {
  maxCost: 5_000,
  maxAliases: 15,
  maxDepth: 10,
  maxDirectives: 50,
  maxTokens: 2_000,
  maxDocumentBytes: 100 * 1024,
};
export const DEFAULT_RATE_LIMITS: Readonly<RateLimitConfig> = {
  user: { capacity: 10_000, refillPerSecond: 1_000 },
  service: { capacity: 100_000, refillPerSecond: 50_000 },
  refusalDelayMs: 1_000,
};
/** The largest value any GRAPHQL_MAX_* or RATE_LIMIT_* variable takes. */
const MAX_OPERATION_LIMIT = 100_000_000;
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
  const limits = operationLimits(env);
  const database = databaseConfig(env);
  return {
    nodeEnv,
    port: port(env, "PORT", DEFAULT_PORT),
    database,
    migrateOnStart: boolean(env, "DB_MIGRATE", true),
    migrationDatabase: migrationDatabase(env, database),
    auth: authConfig(env, production),
    introspection: boolean(env, "GRAPHQL_INTROSPECTION", !production),
    logLevel: oneOf(env, "LOG_LEVEL", LOG_LEVELS, "info"),
    redisUrl: redisUrl(env),
    demoData: oneOf(env, "DEMO_DATA", ["on", "off"] as const, "on") === "on",
    searchIndexing: boolean(env, "SEARCH_INDEXING", true),
    merkleLog: boolean(env, "MERKLE_LOG", true),
    integrity: integrityConfig(env, production),
    metricsPort: value(env, "METRICS_PORT") === undefined ? undefined : port(env, "METRICS_PORT", 0),
    requestTimeoutMs: wholeNumber(env, "REQUEST_TIMEOUT_MS", DEFAULT_REQUEST_TIMEOUT_MS, 100, MAX_DATABASE_WAIT_MS),
    operationLimits: limits,
    rateLimits: rateLimits(env, limits.maxCost),
    shutdownGraceMs: milliseconds(env, "SHUTDOWN_GRACE_MS", DEFAULT_SHUTDOWN_GRACE_MS, MAX_SHUTDOWN_GRACE_MS),
  };
}

/**
 * The database's variables alone (DATABASE_URL, DB_*), for a tool that needs
 * nothing else of the service's: `npm run verify`, run by whoever audits a
 * workspace, sets no token secret, port or budget.
 */
export function loadDatabaseConfig(env: Env): DatabaseConfig {
  return databaseConfig(env);
}

/** The checkpoints' signing key alone (AUDIT_SIGNING_KEY), read as the service reads it. */
export function loadIntegrityConfig(env: Env): IntegrityConfig {
  return integrityConfig(env, oneOf(env, "NODE_ENV", NODE_ENVS, "development") === "production");
}

function rateLimits(env: Env, maxCost: number): RateLimitConfig {
  const budget = (prefix: string, fallback: BudgetConfig): BudgetConfig => {
    // A bucket smaller than the largest operation would refuse that operation for ever.
    const capacity = wholeNumber(env, `${prefix}_POINTS`, fallback.capacity, 1, MAX_OPERATION_LIMIT);
    if (capacity < maxCost) throw new ConfigError(`${prefix}_POINTS`, `at least GRAPHQL_MAX_COST (${maxCost}), or an operation at that cost could never run`);
    return { capacity, refillPerSecond: wholeNumber(env, `${prefix}_POINTS_PER_SECOND`, fallback.refillPerSecond, 1, MAX_OPERATION_LIMIT) };
  };
  return {
    user: budget("RATE_LIMIT", DEFAULT_RATE_LIMITS.user),
    service: budget("RATE_LIMIT_SERVICE", DEFAULT_RATE_LIMITS.service),
    refusalDelayMs: wholeNumber(env, "RATE_LIMIT_REFUSAL_DELAY_MS", DEFAULT_RATE_LIMITS.refusalDelayMs, 0, 60_000),
  };
}

function operationLimits(env: Env): OperationLimits {
  const limit = (name: string, fallback: number) => wholeNumber(env, name, fallback, 1, MAX_OPERATION_LIMIT);
  const defaults = DEFAULT_OPERATION_LIMITS;
  return {
    maxCost: limit("GRAPHQL_MAX_COST", defaults.maxCost),
    maxAliases: limit("GRAPHQL_MAX_ALIASES", defaults.maxAliases),
    maxDepth: limit("GRAPHQL_MAX_DEPTH", defaults.maxDepth),
    maxDirectives: limit("GRAPHQL_MAX_DIRECTIVES", defaults.maxDirectives),
    maxTokens: limit("GRAPHQL_MAX_TOKENS", defaults.maxTokens),
    maxDocumentBytes: limit("GRAPHQL_MAX_DOCUMENT_BYTES", defaults.maxDocumentBytes),
  };
}

function databaseConfig(env: Env): DatabaseConfig {
  const poolSize = wholeNumber(env, "DB_POOL_SIZE", DEFAULT_POOL_SIZE, 1, MAX_POOL_SIZE);
  const readDefault = Math.max(1, poolSize - Math.max(2, Math.ceil(poolSize * 0.3)));
  const readTimeoutMs = wholeNumber(env, "DB_READ_TIMEOUT_MS", DEFAULT_READ_TIMEOUT_MS, 100, MAX_DATABASE_WAIT_MS);
  const answerTimeoutMs = wholeNumber(env, "DB_ANSWER_TIMEOUT_MS", readTimeoutMs + ANSWER_TIMEOUT_MARGIN_MS, 100, MAX_DATABASE_WAIT_MS + ANSWER_TIMEOUT_MARGIN_MS);
  if (answerTimeoutMs <= readTimeoutMs) {
    throw new ConfigError("DB_ANSWER_TIMEOUT_MS", `more than DB_READ_TIMEOUT_MS (${readTimeoutMs}), or a slow read would be cut off as if the database were gone`);
  }
  return {
    ...parseDatabaseUrl(value(env, "DATABASE_URL") ?? DEFAULT_DATABASE_URL),
    poolSize,
    // As many as the pool holds leaves nothing for recording and health: allowed, for a pool of one or two.
    readConnections: wholeNumber(env, "DB_READ_CONNECTIONS", readDefault, 1, poolSize),
    readTimeoutMs,
    poolWaitMs: wholeNumber(env, "DB_POOL_WAIT_MS", DEFAULT_POOL_WAIT_MS, 10, MAX_DATABASE_WAIT_MS),
    answerTimeoutMs,
  };
}

function migrationDatabase(env: Env, database: DatabaseConfig): DatabaseConfig | undefined {
  const raw = value(env, "DATABASE_MIGRATE_URL");
  if (raw === undefined) return undefined;
  let owner: ReturnType<typeof parseDatabaseUrl>;
  try {
    owner = parseDatabaseUrl(raw);
  } catch {
    throw new ConfigError("DATABASE_MIGRATE_URL", "a URL like mysql://owner:password@host:3306/database (scheme mysql or mariadb)");
  }
  if (owner.host !== database.host || owner.port !== database.port || owner.database !== database.database) {
    throw new ConfigError("DATABASE_MIGRATE_URL", `a URL of the same server and database as DATABASE_URL (${database.host}:${database.port}/${database.database}), with the owner's credentials`);
  }
  // Migrations run one at a time: the owner's pool needs one connection.
  return { ...database, ...owner, poolSize: 1 };
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
export function parseDatabaseUrl(raw: string): Omit<DatabaseConfig, "poolSize" | "readConnections" | "readTimeoutMs" | "poolWaitMs" | "answerTimeoutMs"> {
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

/**
 * The key checkpoints are signed with when AUDIT_SIGNING_KEY is unset outside
 * production: fixed, so that a development database's checkpoints stay
 * verifiable across restarts, and public, so never trusted.
 */
export const DEVELOPMENT_SIGNING_KEY = ed25519KeyFromSeed(createHash("sha256").update("audit-log development signing key").digest());

function integrityConfig(env: Env, production: boolean): IntegrityConfig {
  const raw = value(env, "AUDIT_SIGNING_KEY");
  const expected = "an Ed25519 private key in PKCS#8 PEM (`openssl genpkey -algorithm ed25519`)";
  const checkpointIntervalSeconds = duration(env, "AUDIT_CHECKPOINT_INTERVAL", 60);
  if (raw === undefined) {
    if (production) throw new ConfigError("AUDIT_SIGNING_KEY", `${expected} (required when NODE_ENV=production)`);
    return { signingKey: DEVELOPMENT_SIGNING_KEY, signingKeyIsDevelopment: true, checkpointIntervalSeconds };
  }
  // An environment file holds one line: there a literal backslash-n stands for each of the PEM's line breaks.
  const pem = raw.replace(/\\n/g, "\n");
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new ConfigError("AUDIT_SIGNING_KEY", expected);
  }
  if (key.asymmetricKeyType !== "ed25519") throw new ConfigError("AUDIT_SIGNING_KEY", expected);
  const normalized = key.export({ type: "pkcs8", format: "pem" }).toString();
  if (production && normalized === DEVELOPMENT_SIGNING_KEY) throw new ConfigError("AUDIT_SIGNING_KEY", `${expected}, not the development key`);
  return { signingKey: normalized, signingKeyIsDevelopment: false, checkpointIntervalSeconds };
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
