import { Role } from "../src/auth/principal";
import { BackgroundThread } from "../src/background/background-thread";
import { createLogger } from "../src/common/logger";
import { config } from "../src/config";
import { decodePostings, indexedSeq } from "../src/database/search-postings.repository";
import { AuditEventType } from "../src/events/audit-event.enums";
import { ROUND_DELAY_MS, SearchIndexer } from "../src/search/search-indexer";
import { termsOf } from "../src/search/search-terms";
import { seedBulkEvents } from "./support/bulk-events";
import { PassThrough } from "node:stream";
import { TEST_DATABASE, useTestDatabase } from "./support/database";
import { runService, waitUntilListening } from "./support/process";
import { eventInput, RECORD_EVENTS } from "./support/events";
import { postGraphQL, useTestServer } from "./support/server";
import { OTHER_WORKSPACE, tokenFor, WORKSPACE } from "./support/tokens";

const THIRD_WORKSPACE = "ws-third";
const QUIET_WORKSPACE = "ws-quiet";

describe("the search indexer", () => {
  const dataSource = useTestDatabase();
  const server = useTestServer();

  const lastSeq = async (workspaceId: string): Promise<number> => {
    const rows: { last: number | string }[] = await dataSource.query(`SELECT last_seq AS last FROM workspaces WHERE id = ?`, [workspaceId]);
    return Number(rows[0].last);
  };

  const waitUntilIndexed = async (workspaceId: string, seq: number, withinMs: number) => {
    const deadline = Date.now() + withinMs;
    while ((await indexedSeq(dataSource, workspaceId)) < seq) {
      if (Date.now() > deadline) throw new Error(`${workspaceId} not indexed up to ${seq} within ${withinMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  /** Every (term, seq) the index holds for the workspace, and how often. */
  const postingsOf = async (workspaceId: string): Promise<Map<string, number>> => {
    const rows: { term: string; delta_postings: Buffer }[] = await dataSource.query(`SELECT term, delta_postings FROM search_postings WHERE workspace_id = ?`, [
      workspaceId,
    ]);
    const counted = new Map<string, number>();
    for (const row of rows) {
      for (const posting of decodePostings(row.delta_postings)) {
        const key = `${row.term} ${posting.seq}`;
        counted.set(key, (counted.get(key) ?? 0) + 1);
      }
    }
    return counted;
  };

  /** Every (term, seq) the workspace's events hold. */
  const termsOfEvents = async (workspaceId: string): Promise<Set<string>> => {
    const rows: { seq: number | string; search_text: string }[] = await dataSource.query(`SELECT seq, search_text FROM audit_events WHERE workspace_id = ?`, [
      workspaceId,
    ]);
    return new Set(rows.flatMap((row) => termsOf(row.search_text).map((term) => `${term} ${Number(row.seq)}`)));
  };

  it("indexes what is recorded through the API within moments, by itself", async () => {
    const token = await tokenFor(Role.SERVICE);
    const events = ["quokka sighting", "wombat burrow"].map((subject, n) =>
      eventInput(AuditEventType.CONVERSATION, "conversation.created", { conversation: { id: `c-idx-${n}`, subject } }),
    );
    const response = await postGraphQL(server.graphqlUrl, { query: RECORD_EVENTS, variables: { events } }, { token });
    expect(response.body.errors).toBeUndefined();
    await waitUntilIndexed(WORKSPACE, await lastSeq(WORKSPACE), 5_000);
    const postings = await postingsOf(WORKSPACE);
    expect([...postings.keys()].filter((key) => key.startsWith("quokka ") || key.startsWith("wombat "))).toHaveLength(2);
  });

  it("indexes from a thread of its own: the service's connections send none of its statements", async () => {
    const sent: string[] = [];
    const logger = dataSource.logger;
    const original = logger.logQuery.bind(logger);
    logger.logQuery = (query, parameters, queryRunner) => {
      sent.push(query);
      return original(query, parameters, queryRunner);
    };
    try {
      const event = eventInput(AuditEventType.CONVERSATION, "conversation.created", { conversation: { id: "c-thread", subject: "narwhal parade" } });
      const response = await postGraphQL(server.graphqlUrl, { query: RECORD_EVENTS, variables: { events: [event] } }, { token: await tokenFor(Role.SERVICE) });
      expect(response.body.errors).toBeUndefined();
      await server.services.background.catchUp();
    } finally {
      logger.logQuery = original;
    }
    expect(await indexedSeq(dataSource, WORKSPACE)).toBe(await lastSeq(WORKSPACE));
    expect([...(await postingsOf(WORKSPACE)).keys()].filter((key) => key.startsWith("narwhal "))).toHaveLength(1);
    expect(sent.some((sql) => sql.includes("INSERT INTO audit_events"))).toBe(true);
    expect(sent.filter((sql) => /search_(postings|progress)/.test(sql))).toEqual([]);
  });

  it("starts its thread again each time it ends, until stopped", async () => {
    const lines: { msg?: string }[] = [];
    const stream = new PassThrough();
    stream.on("data", (chunk: Buffer) => lines.push(...chunk.toString("utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line) as { msg?: string })));
    // Nothing listens on port 1: the thread cannot open its pool, and ends.
    const thread = new BackgroundThread(
      { database: { ...TEST_DATABASE, port: 1 }, logLevel: "silent", jobs: { searchIndex: true, merkleLog: true }, integrity: config.integrity },
      createLogger("warn", stream),
    );
    thread.start();
    const ended = () => lines.filter((line) => line.msg === "background thread: ended; starting it again").length;
    // Twice: it ended, was started again after the delay, and ended again.
    const deadline = Date.now() + 25_000;
    while (ended() < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(ended()).toBeGreaterThanOrEqual(2);
    await expect(thread.catchUp()).rejects.toThrow();
    await thread.stop();
    await expect(thread.catchUp()).rejects.toThrow("not running");
  }, 30_000);

  it("indexes events stored before it started (the backlog after the migration), in rounds", async () => {
    await seedBulkEvents(dataSource, { workspaceId: OTHER_WORKSPACE, events: 12_000, seed: 5 });
    expect(await indexedSeq(dataSource, OTHER_WORKSPACE)).toBe(0);
    const indexer = new SearchIndexer(dataSource, createLogger("silent"), { roundDelayMs: 10, sweepIntervalMs: 60_000 });
    indexer.start();
    try {
      await waitUntilIndexed(OTHER_WORKSPACE, 12_000, 60_000);
    } finally {
      await indexer.stop();
    }
    const rounds: { n: number | string }[] = await dataSource.query(`SELECT COUNT(DISTINCT first_seq) AS n FROM search_postings WHERE workspace_id = ?`, [
      OTHER_WORKSPACE,
    ]);
    expect(Number(rounds[0].n)).toBe(3);
    const expected = await termsOfEvents(OTHER_WORKSPACE);
    const indexed = await postingsOf(OTHER_WORKSPACE);
    expect(indexed.size).toBe(expected.size);
    for (const key of expected) expect(indexed.get(key)).toBe(1);
  }, 90_000);

  it("indexes each event once when two indexers (two instances) work on the same workspace", async () => {
    await seedBulkEvents(dataSource, { workspaceId: THIRD_WORKSPACE, events: 9_000, seed: 6 });
    const indexers = [0, 1].map(() => new SearchIndexer(dataSource, createLogger("silent")));
    await Promise.all(indexers.map((indexer) => indexer.catchUp()));
    expect(await indexedSeq(dataSource, THIRD_WORKSPACE)).toBe(9_000);
    const expected = await termsOfEvents(THIRD_WORKSPACE);
    const indexed = await postingsOf(THIRD_WORKSPACE);
    expect([...indexed.values()].filter((count) => count !== 1)).toEqual([]);
    expect(new Set(indexed.keys())).toEqual(expected);
  }, 90_000);

  it("leaves the index alone on an instance started with SEARCH_INDEXING=false, whose searches still find what it records", async () => {
    // This file's in-process service indexes too: it stops, so that nothing else indexes meanwhile.
    await server.services.background.stop();
    const service = runService({ PORT: "0", DATABASE_URL: TEST_DATABASE.url, SEARCH_INDEXING: "false" });
    try {
      const url = await waitUntilListening(service);
      const event = eventInput(AuditEventType.CONVERSATION, "conversation.created", { conversation: { id: "c-quiet", subject: "platypus escape" } });
      const recorded = await postGraphQL(`${url}/graphql`, { query: RECORD_EVENTS, variables: { events: [event] } }, { token: await tokenFor(Role.SERVICE, { workspaceId: QUIET_WORKSPACE }) });
      expect(recorded.body.errors).toBeUndefined();
      // Longer than an indexer waits before a round.
      await new Promise((resolve) => setTimeout(resolve, 3 * ROUND_DELAY_MS));
      expect(await indexedSeq(dataSource, QUIET_WORKSPACE)).toBe(0);
      const found = await postGraphQL<{ workspaceAuditLog: { edges: unknown[] } }>(
        `${url}/graphql`,
        { query: `query { workspaceAuditLog(search: "platypus") { edges { node { id } } } }` },
        { token: await tokenFor(Role.ADMIN, { workspaceId: QUIET_WORKSPACE }) },
      );
      expect(found.body.data?.workspaceAuditLog.edges).toHaveLength(1);
    } finally {
      service.child.kill("SIGKILL");
      await service.exited;
    }
  }, 60_000);
});
