import { Principal, Role } from "../src/auth/principal";
import type { LogRequest } from "../src/logs/audit-log.service";
import { createLogger } from "../src/common/logger";
import { keptRowsStatement } from "../src/database/audit-event.repository";
import { directoryEntriesStatement } from "../src/database/directory-entries.repository";
import { postingBlocksStatement, termsWithPrefixStatement } from "../src/database/search-postings.repository";
import { SearchIndexer } from "../src/search/search-indexer";
import { seedBulkEvents } from "./support/bulk-events";
import { useTestDatabase } from "./support/database";
import { useTestServer } from "./support/server";
import { OTHER_WORKSPACE, WORKSPACE } from "./support/tokens";

interface PlanRow {
  id: number;
  select_type: string;
  table: string | null;
  type: string | null;
  key: string | null;
  rows: number | null;
  Extra: string | null;
}

const admin: Principal = { userId: "u-0", workspaceId: WORKSPACE, role: Role.ADMIN, expiresAt: Date.now() + 3600_000 };
const RANGE = { from: new Date(Date.UTC(2026, 1, 1)), to: new Date(Date.UTC(2026, 3, 1)) };

/** The customer log's own index, of its entries (customer_log_entries), which join their events by primary key. */
const CUSTOMER_LOG_INDEX = "ix_customer_log_entries_log";

/** Every log and filter, each with the index its page must scan. */
const CASES: [string, LogRequest, string][] = [
  ["workspace log", { log: "workspace" }, "ix_audit_events_time"],
  ["allEvents of a user", { log: "workspace", filter: { allEvents: { userId: "u-3" } } }, "ix_audit_events_actor"],
  ["authorization by a user", { log: "workspace", filter: { authorization: { userId: "u-3" } } }, "ix_audit_events_type_actor"],
  ["billing by a user", { log: "workspace", filter: { billing: { userId: "u-3" } } }, "ix_audit_events_type_actor"],
  ["work sessions of a user", { log: "workspace", filter: { workSession: { userId: "u-3" } } }, "ix_audit_events_type_actor"],
  ["a conversation", { log: "workspace", filter: { conversation: { conversationId: "c-1" } } }, "ix_audit_events_conversation"],
  ["a conversation, by a user", { log: "workspace", filter: { conversation: { conversationId: "c-1", userId: "u-1" } } }, "ix_audit_events_conversation"],
  ["a customer by name", { log: "workspace", filter: { customer: { customerName: "Customer 7" } } }, "ix_audit_events_customer_type"],
  ["a customer by name, by a user", { log: "workspace", filter: { customer: { customerName: "customer 7", userId: "u-1" } } }, "ix_audit_events_customer_type"],
  ["a settings section", { log: "workspace", filter: { settings: { section: "SHORTCUTS" as never } } }, "ix_audit_events_section"],
  ["a settings section, by a user", { log: "workspace", filter: { settings: { section: "SUPPORT_ACCESS" as never, userId: "u-0" } } }, "ix_audit_events_section"],
  ["customer log", { log: "customer", customerId: "cu-1" }, CUSTOMER_LOG_INDEX],
  ["customer log, by a user", { log: "customer", customerId: "cu-1", userId: "u-0" }, CUSTOMER_LOG_INDEX],
  ["conversation log", { log: "conversation", conversationId: "c-1" }, "ix_audit_events_conversation"],
  ["conversation log, by a user", { log: "conversation", conversationId: "c-1", userId: "u-0" }, "ix_audit_events_conversation"],
];

describe("query plans on 50,000 events", () => {
  const dataSource = useTestDatabase();
  const server = useTestServer();

  beforeAll(async () => {
    await seedBulkEvents(dataSource, { workspaceId: WORKSPACE, events: 40_000, seed: 1 });
    await seedBulkEvents(dataSource, { workspaceId: OTHER_WORKSPACE, events: 10_000, seed: 2 });
    await dataSource.query(`ANALYZE TABLE audit_events, customers, conversations, users`);
    const [{ n }]: { n: number }[] = await dataSource.query(`SELECT COUNT(*) AS n FROM audit_events`);
    expect(Number(n)).toBe(50_000);
  }, 120_000);

  const explain = async (request: LogRequest): Promise<PlanRow[]> => {
    const built = await server.services.logs.pageQuery(admin, request);
    if (!built) throw new Error("the request needs no query");
    // Nothing a page shows comes from the content hash, and a binary column costs a Buffer per row read.
    expect(built.query.sql).not.toMatch(/\bcontent_hash\b/);
    const plan: PlanRow[] = await dataSource.query(`EXPLAIN ${built.query.sql}`, built.query.params);
    // A customer name's recalled customers are tested once per statement (not per row), on the names' index.
    const premise = plan.filter((step) => step.table === "named");
    expect(premise).toHaveLength(/\bAS premise_held\b/.test(built.query.sql) ? 1 : 0);
    for (const step of premise) expect(step).toMatchObject({ select_type: "SUBQUERY", key: "ix_customers_name", type: "ref" });
    // The version of the directory the kept names must be of: the workspace's last seq, read once per statement by primary key.
    const version = plan.filter((step) => step.table === "workspaces");
    expect(version).toHaveLength(/\bAS directory_version\b/.test(built.query.sql) ? 1 : 0);
    for (const step of version) expect(step).toMatchObject({ select_type: "SUBQUERY", key: "PRIMARY", type: "const" });
    return plan.filter((step) => step.table !== "named" && step.table !== "workspaces");
  };

  /** A cursor in the middle of the log, so the keyset condition is part of the plan. */
  const middleCursor = async (request: LogRequest): Promise<string> => {
    const page = await server.services.logs.page(admin, { ...request, first: 5 });
    expect(page.edges.length).toBeGreaterThan(0);
    return page.pageInfo.endCursor!;
  };

  const variants: [string, LogRequest, string, boolean][] = CASES.flatMap(([name, request, index]) => [
    [name, request, index, false],
    [`${name}, with a date range`, { ...request, range: RANGE }, index, false],
    [`${name}, next page`, request, index, true],
  ]);

  it.each(variants)("%s scans its index backwards, with no filesort and no full scan, and joins no names", async (_name, request, index, nextPage) => {
    const withCursor = nextPage ? { ...request, after: await middleCursor(request) } : request;
    const plan = await explain(withCursor);
    const throughEntries = index === CUSTOMER_LOG_INDEX;
    expect(plan).toHaveLength(throughEntries ? 2 : 1);
    const [step, ...joins] = plan;
    expect(step.table).toBe(throughEntries ? "entry" : "e");
    expect(step.key).toBe(index);
    expect(["range", "ref"]).toContain(step.type);
    expect(step.Extra ?? "").not.toMatch(/filesort|temporary/i);
    if (throughEntries) {
      // Each entry read in index order joins its event by primary key, before the names.
      const event = joins.shift()!;
      expect(event).toMatchObject({ table: "e", key: "PRIMARY", type: "eq_ref" });
    }
  });

  it("reads the events' rows a page lacks by primary key", async () => {
    const plan: PlanRow[] = await dataSource.query(`EXPLAIN ${keptRowsStatement}`, [WORKSPACE, [1, 500, 20_000]]);
    expect(plan).toHaveLength(1);
    expect(plan[0]).toMatchObject({ table: "e", key: "PRIMARY", type: "range" });
    expect(Number(plan[0].rows)).toBeLessThanOrEqual(3);
  });

  it("reads the directory's entries a page lacks by primary key, the three tables' in one statement", async () => {
    const statement = directoryEntriesStatement(WORKSPACE, { users: ["u-1", "u-2"], customers: ["cu-1", "cu-2", "cu-3"], conversations: ["c-1", "c-2"] })!;
    const plan: PlanRow[] = await dataSource.query(`EXPLAIN ${statement.sql}`, statement.params);
    const tables = plan.filter((step) => step.table !== null && !/union/i.test(step.table));
    expect(tables.map((step) => step.table).sort()).toEqual(["conversation", "customer", "customers", "users"]);
    for (const step of tables) {
      expect(step.key).toBe("PRIMARY");
      // range: the ids of one table; eq_ref: a conversation's customer.
      expect(["range", "eq_ref", "const"]).toContain(step.type);
    }
    expect(directoryEntriesStatement(WORKSPACE, { users: [], customers: [], conversations: [] })).toBeNull();
  });

  it("tests a customer name's recalled customers in the page's statement once they are known", async () => {
    const request: LogRequest = { log: "workspace", filter: { customer: { customerName: "Customer 9" } } };
    const first = await server.services.logs.pageQuery(admin, request);
    const next = await server.services.logs.pageQuery(admin, request);
    expect(first!.query.sql).not.toMatch(/\bAS premise_held\b/);
    expect(next!.query.sql).toMatch(/\bAS premise_held\b/);
    const plan = await explain(request);
    expect(plan[0]).toMatchObject({ table: "e", key: "ix_audit_events_customer_type" });
  });

  it("merges several customers of one name from one keyset scan per customer", async () => {
    await dataSource.query(`UPDATE customers SET name = 'Twin' WHERE workspace_id = ? AND id IN ('cu-1', 'cu-2', 'cu-3')`, [WORKSPACE]);
    const request: LogRequest = { log: "workspace", filter: { customer: { customerName: "twin" } } };
    // Asked, then recalled and tested: the same plan.
    const asked = await explain(request);
    const plan = await explain(request);
    const shape = (steps: PlanRow[]) => steps.map(({ select_type, key, type, Extra }) => ({ select_type, key, type, Extra }));
    expect(shape(plan)).toEqual(shape(asked));
    const scans = plan.filter((step) => step.table === "e");
    expect(scans).toHaveLength(3);
    for (const scan of scans) {
      expect(scan.key).toBe("ix_audit_events_customer_type");
      expect(scan.Extra ?? "").not.toMatch(/filesort/i);
    }
    // Only the merge of at most 3 x (page + 1) rows is sorted; the page's rows join no names.
    const [page, ...joins] = plan.filter((step) => step.select_type === "PRIMARY");
    expect(page.table).toMatch(/derived/);
    expect(joins).toEqual([]);
  });

  describe("search", () => {
    beforeAll(async () => {
      await new SearchIndexer(dataSource, createLogger("silent")).catchUp();
      await dataSource.query(`ANALYZE TABLE search_postings`);
    }, 60_000);

    const explainStatement = (statement: { sql: string; params: unknown[] }): Promise<PlanRow[]> => dataSource.query(`EXPLAIN ${statement.sql}`, statement.params);

    it("reads the log's newest events first through the filter's own index, with no names joined", async () => {
      const plan = await explain({ log: "workspace", search: "routing", filter: { allEvents: { userId: "u-1" } }, range: RANGE });
      expect(plan).toHaveLength(1);
      expect(plan[0]).toMatchObject({ table: "e", key: "ix_audit_events_actor" });
      expect(plan[0].Extra ?? "").not.toMatch(/filesort/i);
    });

    it("lists the terms a word is the prefix of from the term index alone", async () => {
      const [step, ...more] = await explainStatement(termsWithPrefixStatement(WORKSPACE, "rou", 501));
      expect(more).toEqual([]);
      expect(step).toMatchObject({ table: "search_postings", key: "ix_search_postings_term", type: "range" });
      expect(step.Extra).toMatch(/Using index/);
    });

    it("reads a term's posting rows newest first along the term index, without sorting", async () => {
      const [step, ...more] = await explainStatement(postingBlocksStatement(WORKSPACE, ["routing"], { before: null, from: null, resume: null, limit: 64 }));
      expect(more).toEqual([]);
      expect(step).toMatchObject({ table: "search_postings", key: "ix_search_postings_term" });
      expect(step.Extra ?? "").not.toMatch(/filesort/i);
    });
  });
});
