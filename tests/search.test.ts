import { Role } from "../src/auth/principal";
import { indexedSeq } from "../src/database/search-postings.repository";
import { SearchIndexer } from "../src/search/search-indexer";
import { findSearchPage } from "../src/search/search-page";
import { matchesEveryWord, parseSearch, storedTerms, termsOf } from "../src/search/search-terms";
import { createLogger } from "../src/common/logger";
import { seedBulkEvents } from "./support/bulk-events";
import { useTestDatabase } from "./support/database";
import { postGraphQL, useTestServer } from "./support/server";
import { OTHER_WORKSPACE, tokenFor, WORKSPACE } from "./support/tokens";

/**
 * Words of known frequency, carried as a changed value by the seeded events:
 * a common word, a rarer one, a rare one, a family of words sharing a prefix,
 * accented spellings, and one word only the other workspace has.
 */
function wordsOf(n: number, next: () => number): string | null {
  const words: string[] = [];
  const r = next();
  if (r < 0.04) words.push("alpha");
  if (next() < 0.012) words.push("Bravo");
  if (next() < 0.003) words.push("zephyr");
  if (next() < 0.05) words.push(["report", "reporter", "reports", "repository", "reptile"][Math.floor(next() * 5)]);
  if (next() < 0.01) words.push(["Café", "CAFE", "cafés", "Ærøskøbing"][Math.floor(next() * 4)]);
  if (next() < 0.02) words.push(`item${n % 97}`);
  return words.length > 0 ? words.join(", ") : null;
}

const otherWords = (_n: number, next: () => number) => (next() < 0.3 ? "alpha zephyr onlyelsewhere" : null);

/** What the log shows for a request, by a plain scan: every event of the workspace, checked word by word. */
const FILTERS: Record<string, { filter?: Record<string, unknown>; sql: string }> = {
  none: { sql: "TRUE" },
  allEvents: { filter: { allEvents: { userId: "u-1" } }, sql: "actor_kind = 'USER' AND actor_id = 'u-1'" },
  authorization: { filter: { authorization: { userId: "u-0" } }, sql: "type = 'AUTHORIZATION' AND actor_kind = 'USER' AND actor_id = 'u-0'" },
  conversation: { filter: { conversation: { conversationId: "c-0" } }, sql: "type = 'CONVERSATION' AND conversation_id = 'c-0'" },
  customer: {
    filter: { customer: { customerName: "Customer 7" } },
    sql: "type = 'CUSTOMER' AND customer_id IN (SELECT id FROM customers WHERE workspace_id = e.workspace_id AND name = 'Customer 7')",
  },
  settings: { filter: { settings: { section: "SEARCHES" } }, sql: "settings_section = 'SEARCHES'" },
};

const RANGE = { from: "2026-02-01T00:00:00.000Z", to: "2026-04-15T00:00:00.000Z" };

const SEARCHES = [
  "alpha",
  "bravo",
  "zephyr",
  "rep",
  "repo",
  "reporter",
  "cafe",
  "aerosk",
  "alpha bravo",
  "alpha rep item1",
  "nonexistent",
  "onlyelsewhere",
  "customer",
  "item4",
];

const WORKSPACE_LOG = `
  query Search($search: String, $filter: AuditEventFilter, $range: DateRange, $first: Int, $after: String) {
    workspaceAuditLog(search: $search, filter: $filter, range: $range, first: $first, after: $after) {
      edges { node { id } }
      pageInfo { hasNextPage endCursor }
    }
  }`;

describe("search on the workspace log's own index", () => {
  const dataSource = useTestDatabase();
  const server = useTestServer();
  let token = "";

  /** The reference: the ids a plain scan of the workspace finds, newest first. */
  const expectedIds = async (search: string, filterName: string, range: boolean): Promise<string[]> => {
    const { words } = parseSearch(search);
    const conditions = [`e.workspace_id = ?`, FILTERS[filterName].sql];
    const params: unknown[] = [WORKSPACE];
    if (range) {
      conditions.push("e.occurred_at >= ? AND e.occurred_at < ?");
      params.push(new Date(RANGE.from), new Date(RANGE.to));
    }
    const rows: { id: string; search_text: string }[] = await dataSource.query(
      `SELECT e.id, e.search_text FROM audit_events AS e WHERE ${conditions.join(" AND ")} ORDER BY e.occurred_at DESC, e.seq DESC`,
      params,
    );
    return rows.filter((row) => matchesEveryWord(termsOf(row.search_text), words)).map((row) => row.id);
  };

  /** Every page of the search through the API, following endCursor. */
  const servedIds = async (search: string, filterName: string, range: boolean, first: number): Promise<string[]> => {
    const ids: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 1000; pages++) {
      const variables: Record<string, unknown> = { search, first, after, filter: FILTERS[filterName].filter ?? null, range: range ? RANGE : null };
      const response = await postGraphQL<{
        workspaceAuditLog: { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
      }>(server.graphqlUrl, { query: WORKSPACE_LOG, variables }, { token });
      expect(response.body.errors).toBeUndefined();
      const log = response.body.data!.workspaceAuditLog;
      ids.push(...log.edges.map((edge) => edge.node.id));
      if (!log.pageInfo.hasNextPage) return ids;
      after = log.pageInfo.endCursor;
    }
    throw new Error("more than 1000 pages");
  };

  const compareAll = async () => {
    for (const search of SEARCHES) {
      for (const filterName of Object.keys(FILTERS)) {
        for (const range of [false, true]) {
          const expected = await expectedIds(search, filterName, range);
          const served = await servedIds(search, filterName, range, 37);
          expect({ search, filterName, range, ids: served }).toEqual({ search, filterName, range, ids: expected });
        }
      }
    }
  };

  beforeAll(async () => {
    token = await tokenFor(Role.ADMIN);
    await server.services.background.stop();
    await seedBulkEvents(dataSource, { workspaceId: WORKSPACE, events: 5_000, seed: 11, words: wordsOf });
    await seedBulkEvents(dataSource, { workspaceId: OTHER_WORKSPACE, events: 1_000, seed: 12, words: otherWords });
  }, 60_000);

  it("finds what a plain scan finds, in the same order, before anything is indexed", async () => {
    expect(await indexedSeq(dataSource, WORKSPACE)).toBe(0);
    await compareAll();
  }, 120_000);

  it("finds what a plain scan finds once indexed, and with newer events not indexed yet among the indexed ones", async () => {
    await new SearchIndexer(dataSource, createLogger("silent")).catchUp();
    expect(await indexedSeq(dataSource, WORKSPACE)).toBe(5_000);
    await compareAll();
    // Events recorded after the round, at times among the indexed ones: read directly, merged by position.
    await seedBulkEvents(dataSource, { workspaceId: WORKSPACE, events: 800, seed: 13, words: wordsOf });
    expect(await indexedSeq(dataSource, WORKSPACE)).toBe(5_000);
    await compareAll();
  }, 240_000);

  it.each([
    ["the posting lists for nearly every page", { sampleEvents: 1, maxScannedEvents: 1, maxTermsPerWord: 500, maxUnindexedEvents: 10_000 }],
    ["a scan of the log for a word of several terms", { sampleEvents: 5, maxScannedEvents: 10, maxTermsPerWord: 1, maxUnindexedEvents: 10_000 }],
    ["a scan of the log while the indexer is far behind", { sampleEvents: 5, maxScannedEvents: 10, maxTermsPerWord: 500, maxUnindexedEvents: 10 }],
  ])(
    "finds the same through %s",
    async (_way, limits) => {
      for (const search of SEARCHES) {
        const { words } = parseSearch(search);
        const ids: string[] = [];
        let after: { occurredAt: Date; seq: number } | null = null;
        for (;;) {
          const page = await findSearchPage(dataSource, { workspaceId: WORKSPACE, conditions: [], from: null, to: null, after, size: 23 }, words, limits);
          ids.push(...page.events.map((event) => event.id));
          if (!page.hasMore) break;
          const last = page.events[page.events.length - 1];
          after = { occurredAt: last.occurredAt, seq: last.seq };
        }
        expect({ search, ids }).toEqual({ search, ids: await expectedIds(search, "none", false) });
      }
    },
    120_000,
  );
});

describe("search terms", () => {
  it("folds case and accents as the Unicode collation does", () => {
    expect(termsOf("Café CAFÉ cafe")).toEqual(["cafe"]);
    expect(termsOf("Ærøskøbing Straße")).toEqual(["aeroskobing", "strasse"]);
    expect(termsOf("Zoë PARK")).toEqual(["zoe", "park"]);
  });

  it("leaves out words shorter than three characters and stop words, keeping digits", () => {
    expect(termsOf("The ab of 42 abc 123 where ticket-991")).toEqual(["abc", "123", "ticket", "991"]);
  });

  it("gives the same terms for its own output", () => {
    const text = "Ana Díaz changed status from open to Überprüfung, ticket ÆØÅ-7";
    expect(termsOf(termsOf(text).join(" "))).toEqual(termsOf(text));
  });

  it("reads stored terms back as they were written, and tokenizes text stored before the index", () => {
    const text = "Ana Díaz changed status from open to Überprüfung";
    const stored = termsOf(text).join(" ");
    expect(storedTerms(stored)).toEqual(termsOf(text));
    expect(storedTerms(`${text}\nAna Díaz`)).toEqual(termsOf(text));
    expect(storedTerms("")).toEqual([]);
  });

  it("matches every word as a prefix", () => {
    const terms = termsOf("Quarterly reporting review");
    expect(matchesEveryWord(terms, parseSearch("REPORT quart").words)).toBe(true);
    expect(matchesEveryWord(terms, parseSearch("porting").words)).toBe(false);
    expect(matchesEveryWord(terms, parseSearch("report weekly").words)).toBe(false);
  });

  it("names the words it leaves out, as typed", () => {
    expect(parseSearch("The routing of ab rule 😀 the")).toEqual({ words: ["routing", "rule"], ignored: ["The", "of", "ab"] });
  });
});
