import { generateKeyPairSync } from "node:crypto";
import { ConfigError, DEFAULT_DATABASE_URL, DEVELOPMENT_JWT_SECRET, DEVELOPMENT_SIGNING_KEY, loadConfig, maskDatabaseUrl } from "../src/config/config";
import { runService } from "./support/process";

const STRONG_SECRET = "a-test-secret-that-is-long-enough-0123456789";
const SIGNING_KEY = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const RSA_KEY = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
/** The least a production environment must set. */
const PRODUCTION = {
  NODE_ENV: "production",
  AUTH_JWT_SECRET: STRONG_SECRET,
  AUTH_JWT_ISSUER: "platform",
  AUTH_JWT_AUDIENCE: "audit-log",
  AUDIT_SIGNING_KEY: SIGNING_KEY,
};

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe("loadConfig", () => {
  it("uses the documented defaults for an empty environment", () => {
    const config = loadConfig({});
    expect(config.port).toBe(4000);
    expect(config.nodeEnv).toBe("development");
    expect(config.database).toMatchObject({
      driver: "mysql",
      host: "127.0.0.1",
      port: 3306,
      user: "root",
      password: "",
      database: "audit_log",
      url: DEFAULT_DATABASE_URL,
      poolSize: 10,
      readConnections: 7,
      readTimeoutMs: 5_000,
      poolWaitMs: 2_000,
      answerTimeoutMs: 7_000,
    });
    expect(config.migrateOnStart).toBe(true);
    expect(config.auth).toEqual({
      jwtSecret: DEVELOPMENT_JWT_SECRET,
      jwtSecretIsDefault: true,
      jwtIssuer: undefined,
      jwtAudience: undefined,
      maxLifetimeSeconds: { user: 24 * 3600, service: 365 * 86_400 },
    });
    expect(config.introspection).toBe(true);
    expect(config.logLevel).toBe("info");
    expect(config.redisUrl).toBeUndefined();
    expect(config.shutdownGraceMs).toBe(10_000);
    expect(config.requestTimeoutMs).toBe(30_000);
    expect(config.searchIndexing).toBe(true);
    expect(config.merkleLog).toBe(true);
    expect(config.operationLimits).toEqual({ maxCost: 5_000, maxAliases: 15, maxDepth: 10, maxDirectives: 50, maxTokens: 2_000, maxDocumentBytes: 102_400 });
    expect(config.rateLimits).toEqual({
      user: { capacity: 10_000, refillPerSecond: 1_000 },
      service: { capacity: 100_000, refillPerSecond: 50_000 },
      refusalDelayMs: 1_000,
    });
  });

  it("takes each operation limit from its own variable", () => {
    const limits = loadConfig({
      GRAPHQL_MAX_COST: "20000",
      // A budget must hold the costliest operation.
      RATE_LIMIT_POINTS: "20000",
      RATE_LIMIT_SERVICE_POINTS: "200000",
      GRAPHQL_MAX_ALIASES: "30",
      GRAPHQL_MAX_DEPTH: "12",
      GRAPHQL_MAX_DIRECTIVES: "5",
      GRAPHQL_MAX_TOKENS: "100000",
      GRAPHQL_MAX_DOCUMENT_BYTES: "1048576",
    }).operationLimits;
    expect(limits).toEqual({ maxCost: 20_000, maxAliases: 30, maxDepth: 12, maxDirectives: 5, maxTokens: 100_000, maxDocumentBytes: 1_048_576 });
  });

  it("lets an instance leave search indexing to others", () => {
    expect(loadConfig({ SEARCH_INDEXING: "false" }).searchIndexing).toBe(false);
    expect(loadConfig({ MERKLE_LOG: "false" }).merkleLog).toBe(false);
  });

  it("takes the shutdown grace in milliseconds", () => {
    expect(loadConfig({ SHUTDOWN_GRACE_MS: "2500" }).shutdownGraceMs).toBe(2_500);
    expect(loadConfig({ SHUTDOWN_GRACE_MS: "0" }).shutdownGraceMs).toBe(0);
  });

  it("takes the pool's size, and reads' share of it (by default the pool less max(2, 30%))", () => {
    expect(loadConfig({ DB_POOL_SIZE: "32" }).database).toMatchObject({ poolSize: 32, readConnections: 22 });
    expect(loadConfig({ DB_POOL_SIZE: "2" }).database).toMatchObject({ poolSize: 2, readConnections: 1 });
    expect(loadConfig({ DB_POOL_SIZE: "20", DB_READ_CONNECTIONS: "20", DB_READ_TIMEOUT_MS: "30000", DB_POOL_WAIT_MS: "500" }).database).toMatchObject({
      readConnections: 20,
      readTimeoutMs: 30_000,
      poolWaitMs: 500,
      answerTimeoutMs: 32_000,
    });
    expect(loadConfig({ DB_READ_TIMEOUT_MS: "1000", DB_ANSWER_TIMEOUT_MS: "1500" }).database).toMatchObject({ readTimeoutMs: 1_000, answerTimeoutMs: 1_500 });
  });

  it("takes the schema owner's URL for migrations, on the same server and database as the service's", () => {
    const loaded = loadConfig({ DATABASE_URL: "mysql://service:s@db:3306/audit", DATABASE_MIGRATE_URL: "mysql://owner:o@db:3306/audit" });
    expect(loaded.database).toMatchObject({ user: "service", password: "s" });
    expect(loaded.migrationDatabase).toMatchObject({ user: "owner", password: "o", host: "db", port: 3306, database: "audit", poolSize: 1 });
    expect(loadConfig({}).migrationDatabase).toBeUndefined();
  });

  it("signs checkpoints with AUDIT_SIGNING_KEY, as PEM or on one line, and outside production with the development key", () => {
    expect(loadConfig(PRODUCTION).integrity).toEqual({ signingKey: SIGNING_KEY, signingKeyIsDevelopment: false, checkpointIntervalSeconds: 60 });
    expect(loadConfig({ AUDIT_SIGNING_KEY: SIGNING_KEY.trim().replace(/\n/g, "\\n") }).integrity.signingKey).toBe(SIGNING_KEY);
    expect(loadConfig({}).integrity).toEqual({ signingKey: DEVELOPMENT_SIGNING_KEY, signingKeyIsDevelopment: true, checkpointIntervalSeconds: 60 });
    expect(loadConfig({ AUDIT_CHECKPOINT_INTERVAL: "5m" }).integrity.checkpointIntervalSeconds).toBe(300);
  });

  it("takes a Redis URL for pub/sub between instances", () => {
    expect(loadConfig({ REDIS_URL: "redis://127.0.0.1:6379" }).redisUrl).toBe("redis://127.0.0.1:6379");
  });

  it("takes the driver from the URL scheme and decodes credentials", () => {
    const config = loadConfig({ DATABASE_URL: "mariadb://audit:p%40ss@db.internal:3307/audit_prod" });
    expect(config.database).toMatchObject({
      driver: "mariadb",
      host: "db.internal",
      port: 3307,
      user: "audit",
      password: "p@ss",
      database: "audit_prod",
    });
  });

  it("turns introspection off in production unless GRAPHQL_INTROSPECTION says otherwise", () => {
    expect(loadConfig(PRODUCTION).introspection).toBe(false);
    expect(loadConfig({ ...PRODUCTION, GRAPHQL_INTROSPECTION: "true" }).introspection).toBe(true);
    expect(loadConfig({ GRAPHQL_INTROSPECTION: "false" }).introspection).toBe(false);
  });

  it("keeps issuer and audience when set", () => {
    const config = loadConfig({ AUTH_JWT_SECRET: STRONG_SECRET, AUTH_JWT_ISSUER: "platform", AUTH_JWT_AUDIENCE: "audit-log" });
    expect(config.auth).toMatchObject({
      jwtSecret: STRONG_SECRET,
      jwtSecretIsDefault: false,
      jwtIssuer: "platform",
      jwtAudience: "audit-log",
    });
  });

  it("requires issuer and audience in production", () => {
    expect(loadConfig(PRODUCTION).auth).toMatchObject({ jwtIssuer: "platform", jwtAudience: "audit-log" });
    expect(configError({ ...PRODUCTION, AUTH_JWT_ISSUER: "" }).variable).toBe("AUTH_JWT_ISSUER");
    expect(configError({ ...PRODUCTION, AUTH_JWT_AUDIENCE: " " }).variable).toBe("AUTH_JWT_AUDIENCE");
  });

  it("takes the longest token lifetimes, for people and for services, as durations", () => {
    const config = loadConfig({ AUTH_JWT_MAX_LIFETIME: "90m", AUTH_JWT_SERVICE_MAX_LIFETIME: "30d" });
    expect(config.auth.maxLifetimeSeconds).toEqual({ user: 5400, service: 30 * 86_400 });
  });

  it.each([
    [{ PORT: "http" }, "PORT"],
    [{ PORT: "70000" }, "PORT"],
    [{ PORT: "-1" }, "PORT"],
    [{ DATABASE_URL: "postgres://root@localhost/audit" }, "DATABASE_URL"],
    [{ DATABASE_URL: "not a url" }, "DATABASE_URL"],
    [{ DATABASE_URL: "mysql://root@localhost:3306/" }, "DATABASE_URL"],
    [{ DATABASE_URL: "mysql://root@localhost:3306/bad-name;drop" }, "DATABASE_URL"],
    [{ DB_MIGRATE: "yes" }, "DB_MIGRATE"],
    [{ DB_POOL_SIZE: "0" }, "DB_POOL_SIZE"],
    [{ DB_POOL_SIZE: "ten" }, "DB_POOL_SIZE"],
    [{ DB_POOL_SIZE: "1001" }, "DB_POOL_SIZE"],
    [{ AUTH_JWT_SECRET: "short" }, "AUTH_JWT_SECRET"],
    [{ NODE_ENV: "production" }, "AUTH_JWT_SECRET"],
    [{ NODE_ENV: "production", AUTH_JWT_SECRET: DEVELOPMENT_JWT_SECRET }, "AUTH_JWT_SECRET"],
    [{ NODE_ENV: "production", AUTH_JWT_SECRET: STRONG_SECRET }, "AUTH_JWT_ISSUER"],
    [{ NODE_ENV: "production", AUTH_JWT_SECRET: STRONG_SECRET, AUTH_JWT_ISSUER: "platform" }, "AUTH_JWT_AUDIENCE"],
    [{ ...PRODUCTION, AUDIT_SIGNING_KEY: "" }, "AUDIT_SIGNING_KEY"],
    [{ ...PRODUCTION, AUDIT_SIGNING_KEY: DEVELOPMENT_SIGNING_KEY }, "AUDIT_SIGNING_KEY"],
    [{ AUDIT_SIGNING_KEY: "not a key" }, "AUDIT_SIGNING_KEY"],
    [{ AUDIT_SIGNING_KEY: RSA_KEY }, "AUDIT_SIGNING_KEY"],
    [{ AUDIT_CHECKPOINT_INTERVAL: "0s" }, "AUDIT_CHECKPOINT_INTERVAL"],
    [{ AUDIT_CHECKPOINT_INTERVAL: "soon" }, "AUDIT_CHECKPOINT_INTERVAL"],
    [{ AUTH_JWT_MAX_LIFETIME: "24" }, "AUTH_JWT_MAX_LIFETIME"],
    [{ AUTH_JWT_MAX_LIFETIME: "0h" }, "AUTH_JWT_MAX_LIFETIME"],
    [{ AUTH_JWT_SERVICE_MAX_LIFETIME: "1y" }, "AUTH_JWT_SERVICE_MAX_LIFETIME"],
    [{ GRAPHQL_INTROSPECTION: "1" }, "GRAPHQL_INTROSPECTION"],
    [{ NODE_ENV: "staging" }, "NODE_ENV"],
    [{ LOG_LEVEL: "verbose" }, "LOG_LEVEL"],
    [{ REDIS_URL: "127.0.0.1:6379" }, "REDIS_URL"],
    [{ REDIS_URL: "http://127.0.0.1:6379" }, "REDIS_URL"],
    [{ SHUTDOWN_GRACE_MS: "10s" }, "SHUTDOWN_GRACE_MS"],
    [{ SHUTDOWN_GRACE_MS: "-1" }, "SHUTDOWN_GRACE_MS"],
    [{ SHUTDOWN_GRACE_MS: "600001" }, "SHUTDOWN_GRACE_MS"],
    [{ SEARCH_INDEXING: "off" }, "SEARCH_INDEXING"],
    [{ MERKLE_LOG: "no" }, "MERKLE_LOG"],
    [{ DATABASE_MIGRATE_URL: "owner@db" }, "DATABASE_MIGRATE_URL"],
    [{ DATABASE_URL: "mysql://s@db:3306/audit", DATABASE_MIGRATE_URL: "mysql://o@db:3306/other" }, "DATABASE_MIGRATE_URL"],
    [{ DATABASE_URL: "mysql://s@db:3306/audit", DATABASE_MIGRATE_URL: "mysql://o@elsewhere:3306/audit" }, "DATABASE_MIGRATE_URL"],
    [{ DB_READ_CONNECTIONS: "11" }, "DB_READ_CONNECTIONS"],
    [{ DB_READ_CONNECTIONS: "0" }, "DB_READ_CONNECTIONS"],
    [{ DB_READ_TIMEOUT_MS: "5s" }, "DB_READ_TIMEOUT_MS"],
    [{ DB_POOL_WAIT_MS: "-1" }, "DB_POOL_WAIT_MS"],
    [{ DB_ANSWER_TIMEOUT_MS: "soon" }, "DB_ANSWER_TIMEOUT_MS"],
    [{ DB_READ_TIMEOUT_MS: "5000", DB_ANSWER_TIMEOUT_MS: "5000" }, "DB_ANSWER_TIMEOUT_MS"],
    [{ RATE_LIMIT_POINTS: "4999" }, "RATE_LIMIT_POINTS"],
    [{ RATE_LIMIT_POINTS_PER_SECOND: "0" }, "RATE_LIMIT_POINTS_PER_SECOND"],
    [{ RATE_LIMIT_SERVICE_POINTS: "lots" }, "RATE_LIMIT_SERVICE_POINTS"],
    [{ RATE_LIMIT_REFUSAL_DELAY_MS: "1s" }, "RATE_LIMIT_REFUSAL_DELAY_MS"],
    [{ REQUEST_TIMEOUT_MS: "30s" }, "REQUEST_TIMEOUT_MS"],
    [{ REQUEST_TIMEOUT_MS: "50" }, "REQUEST_TIMEOUT_MS"],
    [{ GRAPHQL_MAX_COST: "0" }, "GRAPHQL_MAX_COST"],
    [{ GRAPHQL_MAX_COST: "5k" }, "GRAPHQL_MAX_COST"],
    [{ GRAPHQL_MAX_ALIASES: "-1" }, "GRAPHQL_MAX_ALIASES"],
    [{ GRAPHQL_MAX_DEPTH: "1.5" }, "GRAPHQL_MAX_DEPTH"],
    [{ GRAPHQL_MAX_DIRECTIVES: "none" }, "GRAPHQL_MAX_DIRECTIVES"],
    [{ GRAPHQL_MAX_TOKENS: "100000001" }, "GRAPHQL_MAX_TOKENS"],
    [{ GRAPHQL_MAX_DOCUMENT_BYTES: "100KB" }, "GRAPHQL_MAX_DOCUMENT_BYTES"],
  ])("rejects %j, naming %s", (env, variable) => {
    expect(configError(env).variable).toBe(variable);
  });

  it("masks the password of a database URL", () => {
    expect(maskDatabaseUrl("mysql://audit:s3cret@db:3306/audit")).toBe("mysql://audit:****@db:3306/audit");
    expect(maskDatabaseUrl("mysql://root@db:3306/audit")).toBe("mysql://root@db:3306/audit");
  });
});

describe("starting with a bad configuration", () => {
  it.each([
    [{ PORT: "http" }, "PORT", "a port number from 0 to 65535"],
    [{ NODE_ENV: "production" }, "AUTH_JWT_SECRET", "at least 32 bytes"],
    [{ NODE_ENV: "production", AUTH_JWT_SECRET: STRONG_SECRET }, "AUTH_JWT_ISSUER", "required when NODE_ENV=production"],
    [{ AUTH_JWT_MAX_LIFETIME: "forever" }, "AUTH_JWT_MAX_LIFETIME", "a duration like 90s, 15m, 24h or 365d"],
    [{ DATABASE_URL: "postgres://root@localhost/audit" }, "DATABASE_URL", "mysql or mariadb"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL", "one of fatal, error"],
  ])("%j stops the process with one line naming %s", async (env, variable, expected) => {
    const service = runService(env);
    const { code } = await service.exited;
    expect(code).toBe(1);
    const lines = service.stderr().trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`Configuration error: ${variable} must be`);
    expect(lines[0]).toContain(expected);
    expect(service.stdout()).toBe("");
  });

  it("an unreachable database stops the process with one line, the URL's password masked", async () => {
    const service = runService({ DATABASE_URL: "mysql://audit:hunter2secret@127.0.0.1:1/audit_log" });
    const { code } = await service.exited;
    expect(code).not.toBe(0);
    const lines = service.stderr().trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("mysql://audit:****@127.0.0.1:1/audit_log");
    expect(lines[0]).toContain("DATABASE_URL");
    expect(lines[0]).not.toContain("hunter2secret");
    expect(service.stderr()).not.toMatch(/\n\s+at /);
  });
});
