import { ConfigError, DEFAULT_DATABASE_URL, DEVELOPMENT_JWT_SECRET, loadConfig, maskDatabaseUrl } from "../src/config/config";
import { runService } from "./support/process";

const STRONG_SECRET = "a-test-secret-that-is-long-enough-0123456789";
/** The least a production environment must set. */
const PRODUCTION = { NODE_ENV: "production", AUTH_JWT_SECRET: STRONG_SECRET, AUTH_JWT_ISSUER: "platform", AUTH_JWT_AUDIENCE: "audit-log" };

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
    expect(config.searchIndexing).toBe(true);
  });

  it("lets an instance leave search indexing to others", () => {
    expect(loadConfig({ SEARCH_INDEXING: "false" }).searchIndexing).toBe(false);
  });

  it("takes the shutdown grace in milliseconds", () => {
    expect(loadConfig({ SHUTDOWN_GRACE_MS: "2500" }).shutdownGraceMs).toBe(2_500);
    expect(loadConfig({ SHUTDOWN_GRACE_MS: "0" }).shutdownGraceMs).toBe(0);
  });

  it("takes the pool's size", () => {
    expect(loadConfig({ DB_POOL_SIZE: "32" }).database.poolSize).toBe(32);
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
