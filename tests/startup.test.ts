import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import mysql from "mysql2/promise";
import { TokenVerifier } from "../src/auth/tokens";
import { config } from "../src/config";
import { AuditEventType } from "../src/events/audit-event.enums";
import { TEST_DATABASE } from "./support/database";
import { eventInput, RECORD_EVENTS } from "./support/events";
import { runService, waitUntilListening } from "./support/process";
import { postGraphQL } from "./support/server";
import { Role, tokenFor } from "./support/tokens";

/** Every migration in the repository: a fresh database gets them all. */
const MIGRATION_COUNT = readdirSync(path.resolve(__dirname, "..", "migrations")).filter((file) => file.endsWith(".ts")).length;

/** A database name of its own for each start, dropped after the file. */
const names: string[] = [];
const freshDatabase = (label: string) => {
  const name = `${TEST_DATABASE.database}_${label}`;
  names.push(name);
  const url = new URL(TEST_DATABASE.url);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
};

/** A connection to the test server, as the tests' user or, given `as`, another user on one database. */
async function withServer<T>(work: (connection: mysql.Connection) => Promise<T>, as?: { user: string; password: string; database: string }): Promise<T> {
  const { host, port, user, password } = TEST_DATABASE;
  const connection = await mysql.createConnection(as ? { host, port, ...as } : { host, port, user, password });
  try {
    return await work(connection);
  } finally {
    await connection.end();
  }
}

const databaseExists = (name: string) =>
  withServer(async (connection) => {
    const [rows] = await connection.query(`SELECT 1 FROM information_schema.schemata WHERE schema_name = ?`, [name]);
    return (rows as unknown[]).length === 1;
  });

const count = (name: string, sql: string) =>
  withServer(async (connection) => {
    const [rows] = await connection.query(sql.replace("{db}", `\`${name}\``));
    return Number((rows as { n: number }[])[0].n);
  });

describe("starting the service", () => {
  afterAll(() => withServer(async (connection) => {
    for (const name of names) await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
  }));

  it("creates a missing database and applies the migrations", async () => {
    const database = freshDatabase("create");
    const service = runService({ PORT: "0", DATABASE_URL: database.url });
    await waitUntilListening(service);
    service.child.kill("SIGTERM");
    expect(await service.exited).toEqual({ code: 0, signal: null });
    expect(await count(database.name, "SELECT COUNT(*) AS n FROM {db}.schema_migrations")).toBe(MIGRATION_COUNT);
    expect(await count(database.name, "SELECT COUNT(*) AS n FROM {db}.audit_events")).toBe(0);
  });

  it("runs with V8's allocation-site pretenuring off, as the command-line flag would set it", async () => {
    // V8's code-cache tag hashes its flags: the service's, read as it exits, must be that of a process started with the flag.
    const tagLine = "v8 cached data version tag: ";
    const printTag = `console.log(${JSON.stringify(tagLine)} + require("node:v8").cachedDataVersionTag())`;
    const directory = mkdtempSync(path.join(tmpdir(), "heap-settings-"));
    const preload = path.join(directory, "print-tag.js");
    writeFileSync(preload, `process.on("exit", () => process.stderr.write(${JSON.stringify(tagLine)} + require("node:v8").cachedDataVersionTag() + "\\n"));\n`);
    const tagOf = (options: string[]) => execFileSync(process.execPath, [...options, "-e", printTag]).toString().trim();

    const service = runService({ PORT: "0", DATABASE_URL: freshDatabase("heap").url }, ["--require", preload]);
    try {
      await waitUntilListening(service);
      service.child.kill("SIGTERM");
      expect(await service.exited).toEqual({ code: 0, signal: null });
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
    const serviceTag = service.stderr().split("\n").find((line) => line.startsWith(tagLine));
    expect(serviceTag).toBe(tagOf(["--no-allocation-site-pretenuring"]));
    expect(serviceTag).not.toBe(tagOf([]));
  });

  it("with DB_MIGRATE=false neither creates the database nor migrates", async () => {
    const database = freshDatabase("nomigrate");
    const service = runService({ PORT: "0", DATABASE_URL: database.url, DB_MIGRATE: "false" });
    const { code } = await service.exited;
    expect(code).not.toBe(0);
    expect(service.stderr()).toContain("Unknown database");
    expect(await databaseExists(database.name)).toBe(false);
  });

  it("in development records the demo workspace on an empty database and prints tokens to try it", async () => {
    const database = freshDatabase("demo");
    const service = runService({ PORT: "0", DATABASE_URL: database.url, NODE_ENV: "development" });
    await waitUntilListening(service, 60_000);
    service.child.kill("SIGTERM");
    await service.exited;
    expect(await count(database.name, "SELECT COUNT(*) AS n FROM {db}.audit_events WHERE workspace_id = 'demo'")).toBeGreaterThan(5_000);
    expect(service.stdout()).toMatch(/Open GraphiQL: http:\/\/localhost:\d+\/graphql/);
    const admin = /Admin token \(Ana Diaz, valid for 1d\):\n([\w-]+\.[\w-]+\.[\w-]+)\n/.exec(service.stdout());
    const agent = /Agent token \(Ben Ode, valid for 1d\):\n([\w-]+\.[\w-]+\.[\w-]+)\n/.exec(service.stdout());
    // The same (development) secret as this process's: the service would accept them.
    const verifier = new TokenVerifier(config.auth);
    await expect(verifier.verify(admin?.[1])).resolves.toMatchObject({ workspaceId: "demo", role: "ADMIN" });
    await expect(verifier.verify(agent?.[1])).resolves.toMatchObject({ workspaceId: "demo", role: "AGENT" });
  }, 90_000);

  it("migrates as the owner DATABASE_MIGRATE_URL names, and serves as a user that may not change the schema", async () => {
    const database = freshDatabase("leastprivilege");
    const user = `audit_svc_${process.pid}`;
    const password = "service-password";
    await withServer(async (connection) => {
      await connection.query(`CREATE DATABASE \`${database.name}\``);
      await connection.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
      await connection.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON \`${database.name}\`.* TO '${user}'@'%'`);
    });
    try {
      const runtime = new URL(database.url);
      runtime.username = user;
      runtime.password = password;
      // Without the owner, the service's user cannot migrate: the start fails, saying so.
      const refused = runService({ PORT: "0", DATABASE_URL: runtime.toString() });
      expect((await refused.exited).code).not.toBe(0);
      expect(refused.stderr()).toMatch(/denied/i);

      const service = runService({ PORT: "0", DATABASE_URL: runtime.toString(), DATABASE_MIGRATE_URL: database.url, SEARCH_INDEXING: "false" });
      const url = await waitUntilListening(service);
      try {
        expect(await count(database.name, "SELECT COUNT(*) AS n FROM {db}.schema_migrations")).toBe(MIGRATION_COUNT);
        const producer = await tokenFor(Role.SERVICE);
        const recorded = await postGraphQL(`${url}/graphql`, { query: RECORD_EVENTS, variables: { events: [eventInput(AuditEventType.CUSTOMER, "customer.updated")] } }, { token: producer });
        expect(recorded.body.errors).toBeUndefined();
        const page = await postGraphQL(`${url}/graphql`, { query: "{ workspaceAuditLog { edges { node { action } } } }" }, { token: await tokenFor(Role.ADMIN) });
        expect(page.body.data).toEqual({ workspaceAuditLog: { edges: [{ node: { action: "customer.updated" } }] } });
      } finally {
        service.child.kill("SIGTERM");
        await service.exited;
      }
      await withServer(
        async (asService) => {
          await expect(asService.query("CREATE TABLE intruder (id INT)")).rejects.toThrow(/denied/i);
          await expect(asService.query("ALTER TABLE audit_events ADD COLUMN intruder INT")).rejects.toThrow(/denied/i);
        },
        { user, password, database: database.name },
      );
    } finally {
      await withServer((connection) => connection.query(`DROP USER IF EXISTS '${user}'@'%'`));
    }
  }, 60_000);

  it("serves as a user that may not UPDATE audit_events: records, files a late tie, pages the customer log", async () => {
    const database = freshDatabase("appendonly");
    // The schema first, as its owner.
    const owner = runService({ PORT: "0", DATABASE_URL: database.url, SEARCH_INDEXING: "false", MERKLE_LOG: "false" });
    await waitUntilListening(owner);
    owner.child.kill("SIGTERM");
    await owner.exited;
    const user = `audit_rt_${process.pid}`;
    const password = "runtime-password";
    const tables: string[] = await withServer(async (connection) => {
      const [rows] = await connection.query(`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ?`, [database.name]);
      return (rows as { name: string }[]).map((row) => row.name);
    });
    expect(tables).toContain("audit_events");
    await withServer(async (connection) => {
      await connection.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
      await connection.query(`GRANT SELECT, INSERT, DELETE ON \`${database.name}\`.* TO '${user}'@'%'`);
      for (const table of tables.filter((name) => name !== "audit_events")) await connection.query(`GRANT UPDATE ON \`${database.name}\`.\`${table}\` TO '${user}'@'%'`);
    });
    try {
      const runtime = new URL(database.url);
      runtime.username = user;
      runtime.password = password;
      const service = runService({ PORT: "0", DATABASE_URL: runtime.toString(), DATABASE_MIGRATE_URL: database.url });
      const url = await waitUntilListening(service);
      try {
        const producer = await tokenFor(Role.SERVICE);
        const record = async (customer: { id: string; name: string } | null) => {
          const input = eventInput(AuditEventType.CONVERSATION, "conversation.updated", { conversation: { id: "c-late" }, customer });
          const response = await postGraphQL<{ recordAuditEvents: { events: { id: string }[] } }>(`${url}/graphql`, { query: RECORD_EVENTS, variables: { events: [input] } }, { token: producer });
          expect(response.body.errors).toBeUndefined();
          return response.body.data!.recordAuditEvents.events[0].id;
        };
        const early = await record(null);
        const tie = await record({ id: "cu-late", name: "Noor" });
        const page = await postGraphQL<{ customerAuditLog: { edges: { node: { id: string } }[] } }>(
          `${url}/graphql`,
          { query: `{ customerAuditLog(customerId: "cu-late") { edges { node { id } } } }` },
          { token: await tokenFor(Role.ADMIN) },
        );
        expect(page.body.errors).toBeUndefined();
        expect(page.body.data!.customerAuditLog.edges.map((edge) => edge.node.id)).toEqual([tie, early]);
      } finally {
        service.child.kill("SIGTERM");
        await service.exited;
      }
      await withServer(
        (asService) => expect(asService.query("UPDATE audit_events SET actor_name = 'Someone Else'")).rejects.toThrow(/UPDATE command denied/i),
        { user, password, database: database.name },
      );
    } finally {
      await withServer((connection) => connection.query(`DROP USER IF EXISTS '${user}'@'%'`));
    }
  }, 90_000);

  it("in development with DEMO_DATA=off leaves the database empty", async () => {
    const database = freshDatabase("nodemo");
    const service = runService({ PORT: "0", DATABASE_URL: database.url, NODE_ENV: "development", DEMO_DATA: "off" });
    await waitUntilListening(service);
    service.child.kill("SIGTERM");
    await service.exited;
    expect(await count(database.name, "SELECT COUNT(*) AS n FROM {db}.audit_events")).toBe(0);
  });
});
