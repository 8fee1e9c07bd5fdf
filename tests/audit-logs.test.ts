import { createHmac, hkdfSync } from "node:crypto";
import { config } from "../src/config";
import { CursorCodec } from "../src/logs/cursor";
import { useTestDatabase } from "./support/database";
import { RECORD_EVENTS } from "./support/events";
import { BASE_TIME, byUser, expected, Facts, factsOf, fixtureInputs, minutes } from "./support/log-fixture";
import { errorCodes, postGraphQL, useTestServer } from "./support/server";
import { statementsDuring } from "./support/statements";
import { OTHER_WORKSPACE, Role, tokenFor } from "./support/tokens";
import { createTestWsClient } from "./support/ws-client";

const PAGE_FIELDS = `edges { cursor node { id description } } pageInfo { hasNextPage endCursor }`;

const WORKSPACE_LOG = `
  query WorkspaceLog($filter: AuditEventFilter, $range: DateRange, $search: String, $first: Int, $after: String) {
    log: workspaceAuditLog(filter: $filter, range: $range, search: $search, first: $first, after: $after) { ${PAGE_FIELDS} }
  }`;
const CUSTOMER_LOG = `
  query CustomerLog($customerId: ID!, $range: DateRange, $userId: ID, $first: Int, $after: String) {
    log: customerAuditLog(customerId: $customerId, range: $range, userId: $userId, first: $first, after: $after) { ${PAGE_FIELDS} }
  }`;
const CONVERSATION_LOG = `
  query ConversationLog($conversationId: ID!, $range: DateRange, $userId: ID, $first: Int, $after: String) {
    log: conversationAuditLog(conversationId: $conversationId, range: $range, userId: $userId, first: $first, after: $after) { ${PAGE_FIELDS} }
  }`;

interface Page {
  log: {
    edges: { cursor: string; node: { id: string; description: string } }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

describe("the three logs", () => {
  const dataSource = useTestDatabase();
  const server = useTestServer();
  let admin: string;
  let agent: string;
  let service: string;
  let facts: Facts[];
  let otherFacts: Facts[];

  beforeAll(async () => {
    admin = await tokenFor(Role.ADMIN, { userId: "u-ana" });
    agent = await tokenFor(Role.AGENT, { userId: "u-ben" });
    service = await tokenFor(Role.SERVICE);
    const record = async (token: string) => {
      const inputs = fixtureInputs();
      const response = await postGraphQL<{ recordAuditEvents: { events: { id: string }[] } }>(
        server.graphqlUrl,
        { query: RECORD_EVENTS, variables: { events: inputs } },
        { token },
      );
      expect(response.body.errors).toBeUndefined();
      return factsOf(inputs, response.body.data!.recordAuditEvents.events.map((event) => event.id));
    };
    facts = await record(service);
    // The same producers' ids in another workspace name other things: none of them may show up.
    otherFacts = await record(await tokenFor(Role.SERVICE, { workspaceId: OTHER_WORKSPACE }));
  });

  const query = (source: string, variables: Record<string, unknown>, token = admin) =>
    postGraphQL<Page>(server.graphqlUrl, { query: source, variables }, { token });

  /** Follows endCursor to the end and returns every id, checking each page on the way. */
  async function allIds(source: string, variables: Record<string, unknown>, token = admin, first = 7): Promise<string[]> {
    const ids: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const response = await query(source, { ...variables, first, after }, token);
      expect(response.body.errors).toBeUndefined();
      const { edges, pageInfo } = response.body.data!.log;
      expect(edges.length).toBeLessThanOrEqual(first);
      ids.push(...edges.map((edge) => edge.node.id));
      expect(pageInfo.endCursor).toBe(edges.length ? edges[edges.length - 1].cursor : null);
      if (!pageInfo.hasNextPage) return ids;
      expect(edges).toHaveLength(first);
      after = pageInfo.endCursor;
    }
    throw new Error("the log did not end");
  }

  describe("who sees what", () => {
    it("refuses the workspace log to an agent and every log to a SERVICE client", async () => {
      expect(errorCodes(await query(WORKSPACE_LOG, {}, agent))).toEqual(["FORBIDDEN"]);
      expect(errorCodes(await query(WORKSPACE_LOG, {}, service))).toEqual(["FORBIDDEN"]);
      expect(errorCodes(await query(CUSTOMER_LOG, { customerId: "cu-zoe" }, service))).toEqual(["FORBIDDEN"]);
      expect(errorCodes(await query(CONVERSATION_LOG, { conversationId: "c-1" }, service))).toEqual(["FORBIDDEN"]);
    });

    it("lets agents and admins read customer and conversation logs", async () => {
      for (const token of [admin, agent]) {
        expect((await query(CUSTOMER_LOG, { customerId: "cu-zoe" }, token)).body.data!.log.edges.length).toBeGreaterThan(0);
        expect((await query(CONVERSATION_LOG, { conversationId: "c-1" }, token)).body.data!.log.edges.length).toBeGreaterThan(0);
      }
    });

    it.each([
      ["customer", CUSTOMER_LOG, { customerId: "cu-nobody" }, { customerId: "cu-only-elsewhere" }],
      ["conversation", CONVERSATION_LOG, { conversationId: "c-nobody" }, { conversationId: "c-only-elsewhere" }],
    ])("answers NOT_FOUND for a %s of another workspace exactly as for an unknown one", async (_kind, source, unknown, foreign) => {
      const elsewhere = await tokenFor(Role.SERVICE, { workspaceId: OTHER_WORKSPACE });
      const created = await postGraphQL(
        server.graphqlUrl,
        {
          query: RECORD_EVENTS,
          variables: {
            events: [
              {
                idempotencyKey: `only-elsewhere-${_kind}`,
                type: "CONVERSATION",
                action: "conversation.created",
                occurredAt: minutes(1),
                actor: { kind: "USER", id: "u-x", name: "X" },
                conversation: { id: "c-only-elsewhere" },
                customer: { id: "cu-only-elsewhere", name: "Elsewhere" },
              },
            ],
          },
        },
        { token: elsewhere },
      );
      expect(created.body.errors).toBeUndefined();
      const a = await query(source, unknown);
      const b = await query(source, foreign);
      expect(errorCodes(a)).toEqual(["NOT_FOUND"]);
      expect(errorCodes(b)).toEqual(["NOT_FOUND"]);
      expect(a.status).toBe(b.status);
      expect(b.body.data).toBeNull();
    });
  });

  describe("what a page costs", () => {
    const SCOPED_LOGS: [string, string, Record<string, string>][] = [
      ["customer", CUSTOMER_LOG, { customerId: "cu-zoe" }],
      ["conversation", CONVERSATION_LOG, { conversationId: "c-1" }],
    ];

    it.each(SCOPED_LOGS)("reads a page of a %s's log in one statement when it holds events", async (_kind, source, variables) => {
      let response!: Awaited<ReturnType<typeof query>>;
      const statements = await statementsDuring(dataSource, async () => {
        response = await query(source, variables);
      });
      expect(response.body.data!.log.edges.length).toBeGreaterThan(0);
      expect(statements).toHaveLength(1);
      expect(statements[0]).toMatch(/audit_events AS e\b/);
    });

    it.each(SCOPED_LOGS)("checks that the %s exists when its page is empty, and answers an empty page", async (_kind, source, variables) => {
      let response!: Awaited<ReturnType<typeof query>>;
      const statements = await statementsDuring(dataSource, async () => {
        response = await query(source, { ...variables, userId: "u-who-never-acted" });
      });
      expect(response.body.errors).toBeUndefined();
      expect(response.body.data!.log).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
      expect(statements).toHaveLength(2);
    });
  });

  describe("what each log holds", () => {
    it("the workspace log: every event of the workspace, newest first, ties in the order stored", async () => {
      const ids = await allIds(WORKSPACE_LOG, {});
      expect(ids).toEqual(expected(facts, () => true));
      expect(ids.some((id) => otherFacts.some((fact) => fact.id === id))).toBe(false);
    });

    it("the conversation log: every event on the conversation, CSAT answers and routing included", async () => {
      const ids = await allIds(CONVERSATION_LOG, { conversationId: "c-1" });
      expect(ids).toEqual(expected(facts, (fact) => fact.conversationId === "c-1"));
      const types = new Set(facts.filter((fact) => ids.includes(fact.id)).map((fact) => fact.input.action));
      expect(types).toEqual(
        new Set([
          "conversation.created",
          "conversation.status_changed",
          "work_session.conversation_routed",
          "work_session.conversation_accepted",
          "conversation.csat_survey_sent",
          "conversation.csat_answered",
        ]),
      );
    });

    it("the customer log: the customer's events and those of their conversations, also ones recorded without the customer", async () => {
      const ids = await allIds(CUSTOMER_LOG, { customerId: "cu-zoe" });
      expect(ids).toEqual(expected(facts, (fact) => fact.customerId === "cu-zoe"));
      // c-3's creation named no customer; a later event tied c-3 to Zoë.
      const creationOfC3 = facts.find((fact) => fact.conversationId === "c-3" && fact.input.action === "conversation.created")!;
      expect(ids).toContain(creationOfC3.id);
      // Routing and acceptance of c-1 carry no customer, but c-1 is Zoë's.
      expect(ids).toContain(facts.find((fact) => fact.input.action === "work_session.conversation_routed")!.id);
    });

    it("narrows the customer and conversation logs to what a user did", async () => {
      expect(await allIds(CUSTOMER_LOG, { customerId: "cu-zoe", userId: "u-ben" })).toEqual(
        expected(facts, (fact) => fact.customerId === "cu-zoe" && byUser("u-ben")(fact)),
      );
      expect(await allIds(CONVERSATION_LOG, { conversationId: "c-2", userId: "u-ben" })).toEqual(
        expected(facts, (fact) => fact.conversationId === "c-2" && byUser("u-ben")(fact)),
      );
    });
  });

  describe("filters of the workspace log", () => {
    const cases: [string, Record<string, unknown>, (fact: Facts) => boolean][] = [
      ["allEvents of a user (not an automation with the same id)", { allEvents: { userId: "u-ben" } }, byUser("u-ben")],
      ["authorization by a user", { authorization: { userId: "u-ben" } }, (f) => f.type === "AUTHORIZATION" && byUser("u-ben")(f)],
      ["billing by a user", { billing: { userId: "u-ana" } }, (f) => f.type === "BILLING" && byUser("u-ana")(f)],
      ["work sessions of a user", { workSession: { userId: "u-ben" } }, (f) => f.type === "WORK_SESSION" && byUser("u-ben")(f)],
      ["one conversation", { conversation: { conversationId: "c-1" } }, (f) => f.type === "CONVERSATION" && f.conversationId === "c-1"],
      [
        "one conversation, by a user",
        { conversation: { conversationId: "c-3", userId: "u-ben" } },
        (f) => f.type === "CONVERSATION" && f.conversationId === "c-3" && byUser("u-ben")(f),
      ],
      [
        "customers named alike, ignoring case",
        { customer: { customerName: "zoë park" } },
        (f) => f.type === "CUSTOMER" && (f.customerId === "cu-zoe" || f.customerId === "cu-zoe-2"),
      ],
      [
        "customers by name, by a user",
        { customer: { customerName: "ZOË PARK", userId: "u-ben" } },
        (f) => f.type === "CUSTOMER" && (f.customerId === "cu-zoe" || f.customerId === "cu-zoe-2") && byUser("u-ben")(f),
      ],
      ["a customer that does not exist", { customer: { customerName: "Nobody" } }, () => false],
      ["a settings section", { settings: { section: "SHORTCUTS" } }, (f) => f.section === "SHORTCUTS"],
      ["support access", { settings: { section: "SUPPORT_ACCESS" } }, (f) => f.section === "SUPPORT_ACCESS"],
      ["a settings section, by a user", { settings: { section: "SEARCHES", userId: "u-ana" } }, () => false],
    ];

    it.each(cases)("%s", async (_name, filter, keep) => {
      expect(await allIds(WORKSPACE_LOG, { filter }, admin, 3)).toEqual(expected(facts, keep));
    });

    it.each([
      ["two members", { allEvents: { userId: "u-ana" }, billing: { userId: "u-ana" } }],
      ["no member", {}],
    ])("refuses a filter with %s, from graphql's own validation", async (_name, filter) => {
      const overVariables = await query(WORKSPACE_LOG, { filter });
      expect(errorCodes(overVariables)).toEqual(["BAD_USER_INPUT"]);
      const inline = await postGraphQL(
        server.graphqlUrl,
        { query: `{ workspaceAuditLog(filter: ${JSON.stringify(filter).replace(/"(\w+)":/g, "$1:")}) { edges { cursor } } }` },
        { token: admin },
      );
      expect(errorCodes(inline)).toEqual(["BAD_USER_INPUT"]);
      expect(inline.body.errors![0].message).toMatch(/exactly one key/);
    });
  });

  describe("date range", () => {
    it("includes from and excludes to, on every log", async () => {
      const range = { from: minutes(9), to: minutes(24) };
      const inRange = (fact: Facts) => fact.occurredAt >= BASE_TIME + 9 * 60_000 && fact.occurredAt < BASE_TIME + 24 * 60_000;
      expect(await allIds(WORKSPACE_LOG, { range })).toEqual(expected(facts, inRange));
      expect(await allIds(CUSTOMER_LOG, { customerId: "cu-zoe", range })).toEqual(expected(facts, (f) => f.customerId === "cu-zoe" && inRange(f)));
      expect(await allIds(CONVERSATION_LOG, { conversationId: "c-1", range })).toEqual(expected(facts, (f) => f.conversationId === "c-1" && inRange(f)));
      expect(await allIds(WORKSPACE_LOG, { range, filter: { allEvents: { userId: "u-ana" } } })).toEqual(
        expected(facts, (f) => byUser("u-ana")(f) && inRange(f)),
      );
    });

    it("takes either bound alone", async () => {
      expect(await allIds(WORKSPACE_LOG, { range: { from: minutes(24) } })).toEqual(expected(facts, (f) => f.occurredAt >= BASE_TIME + 24 * 60_000));
      expect(await allIds(WORKSPACE_LOG, { range: { to: minutes(3) } })).toEqual(expected(facts, (f) => f.occurredAt < BASE_TIME + 3 * 60_000));
    });

    it("refuses from after to", async () => {
      for (const [source, variables] of [
        [WORKSPACE_LOG, {}],
        [CUSTOMER_LOG, { customerId: "cu-zoe" }],
        [CONVERSATION_LOG, { conversationId: "c-1" }],
      ] as const) {
        const response = await query(source, { ...variables, range: { from: minutes(10), to: minutes(9) } });
        expect(errorCodes(response)).toEqual(["BAD_USER_INPUT"]);
        expect(response.body.errors![0].extensions!.invalid).toEqual([{ path: "range", message: "from must not be after to" }]);
      }
    });

    it("refuses a bound that is not a date-time", async () => {
      expect(errorCodes(await query(WORKSPACE_LOG, { range: { from: "yesterday" } }))).toEqual(["BAD_USER_INPUT"]);
    });
  });

  describe("search", () => {
    const search = (text: string, extra: Record<string, unknown> = {}) => allIds(WORKSPACE_LOG, { search: text, ...extra });
    const idsOf = (keep: (fact: Facts) => boolean) => expected(facts, keep);

    it("finds words of descriptions, actor names, customer and conversation names and changed values", async () => {
      // The subject is recorded on c-2's creation; the later event names c-2 by id, and its sentence by the subject.
      expect(await search("zipper")).toEqual(idsOf((f) => f.conversationId === "c-2"));
      expect(await search("Enterprise")).toEqual(idsOf((f) => f.input.action === "billing.plan_changed"));
      expect(await search("wonderful")).toEqual(idsOf((f) => f.input.action === "conversation.csat_answered"));
      expect(await search("Lind")).toEqual(idsOf((f) => (f.input.customer as { id?: string } | undefined)?.id === "cu-ivo"));
      expect(await search("urgent")).toEqual(idsOf((f) => f.input.action === "conversation.priority_changed"));
      const byRule = await search("routing rule");
      expect(byRule).toEqual(idsOf((f) => f.actorKind === "AUTOMATION" || (f.input.settings as { objectName?: string } | undefined)?.objectName === "VIP routing"));
    });

    it("matches word prefixes and ignores case", async () => {
      expect(await search("REFUN")).toEqual(await search("refund"));
      expect((await search("refund")).length).toBeGreaterThan(0);
    });

    it("combines with a filter and a range", async () => {
      const filtered = await search("refund", { filter: { allEvents: { userId: "u-ana" } }, range: { from: minutes(8) } });
      const all = await search("refund");
      expect(filtered.length).toBeGreaterThan(0);
      expect(filtered.length).toBeLessThan(all.length);
      for (const id of filtered) {
        const fact = facts.find((candidate) => candidate.id === id)!;
        expect(byUser("u-ana")(fact) && fact.occurredAt >= BASE_TIME + 8 * 60_000).toBe(true);
      }
    });

    it("ignores an empty or blank search", async () => {
      const everything = expected(facts, () => true);
      expect(await search("")).toEqual(everything);
      expect(await search("   ")).toEqual(everything);
    });

    it.each([`"unbalanced`, `refund*"`, `(zipper`, `O'Brien`, `100%`, `+refund -zipper <urgent> ~wonderful`])(
      "never fails on search syntax: %s",
      async (text) => {
        const response = await query(WORKSPACE_LOG, { search: text });
        expect(response.body.errors).toBeUndefined();
      },
    );

    describe("words the index cannot find", () => {
      let minWordLength: number;
      beforeAll(async () => {
        const [row]: { size: number }[] = await dataSource.query(`SELECT @@innodb_ft_min_token_size AS size`);
        minWordLength = Number(row.size);
      });

      it.each([
        ["a word too short for the index", "ab"],
        ["a stop word", "the"],
        ["stop words in capitals", "THE With Of"],
        ["an emoji", "😀"],
        ["an injection attempt", `'" OR 1=1`],
        ["only search syntax", `+-<>()~*@`],
        ["a backslash", `\\`],
        ["short words and symbols", "a OR 1=1; --"],
      ])("refuses %s as BAD_USER_INPUT naming the shortest word the index holds", async (_name, text) => {
        const response = await query(WORKSPACE_LOG, { search: text });
        expect(errorCodes(response)).toEqual(["BAD_USER_INPUT"]);
        const [error] = response.body.errors!;
        expect(error.message).toContain(`${minWordLength} or more letters or digits`);
        expect(error.extensions!.invalid).toEqual([{ path: "search", message: expect.stringContaining(`${minWordLength} or more`) }]);
      });

      it("leaves them out of a search with real words, with the same result, and names them in extensions.searchIgnoredWords", async () => {
        const alone = await query(WORKSPACE_LOG, { search: "routing rule", first: 200 });
        const mixed = await query(WORKSPACE_LOG, { search: "The routing of ab rule 😀 the", first: 200 });
        expect(alone.body.data!.log.edges.length).toBeGreaterThan(0);
        expect(mixed.body.data).toEqual(alone.body.data);
        expect(mixed.body.extensions?.searchIgnoredWords).toEqual(["The", "of", "ab"]);
        expect(alone.body.extensions?.searchIgnoredWords).toBeUndefined();
        expect(await search("the refund ab")).toEqual(await search("refund"));
      });

      it("names the words past the tenth as ignored too", async () => {
        const words = ["refund", "request", "conversation", "status", "open", "done", "changed", "ana", "diaz", "customer", "zipper", "urgent"];
        const response = await query(WORKSPACE_LOG, { search: words.join(" ") });
        expect(response.body.errors).toBeUndefined();
        expect(response.body.extensions?.searchIgnoredWords).toEqual(["zipper", "urgent"]);
      });

      it("names them over WebSocket too", async () => {
        const ws = createTestWsClient(server.wsUrl, { authorization: admin });
        try {
          await ws.connected;
          const result = await ws.execute({ query: WORKSPACE_LOG, variables: { search: "refund ab" } });
          expect(result.errors).toBeUndefined();
          expect((result.extensions as { searchIgnoredWords?: string[] } | undefined)?.searchIgnoredWords).toEqual(["ab"]);
        } finally {
          await ws.dispose();
        }
      });
    });

    it("refuses a search over 200 characters", async () => {
      const response = await query(WORKSPACE_LOG, { search: "x".repeat(201) });
      expect(errorCodes(response)).toEqual(["BAD_USER_INPUT"]);
      expect((await query(WORKSPACE_LOG, { search: "x".repeat(200) })).body.errors).toBeUndefined();
    });
  });

  describe("pages", () => {
    it("defaults to 50 and accepts 1 to 200", async () => {
      const all = expected(facts, () => true);
      const page = await query(WORKSPACE_LOG, {});
      expect(page.body.data!.log.edges).toHaveLength(Math.min(50, all.length));
      const one = await query(WORKSPACE_LOG, { first: 1 });
      expect(one.body.data!.log.edges.map((edge) => edge.node.id)).toEqual([all[0]]);
      expect(one.body.data!.log.pageInfo.hasNextPage).toBe(true);
      const max = await query(WORKSPACE_LOG, { first: 200 });
      expect(max.body.data!.log.pageInfo.hasNextPage).toBe(false);
    });

    it.each([0, -1, 201, 1000])("refuses first = %s", async (first) => {
      for (const [source, variables] of [
        [WORKSPACE_LOG, {}],
        [CUSTOMER_LOG, { customerId: "cu-zoe" }],
        [CONVERSATION_LOG, { conversationId: "c-1" }],
      ] as const) {
        const response = await query(source, { ...variables, first });
        expect(errorCodes(response)).toEqual(["BAD_USER_INPUT"]);
        expect(response.body.errors![0].extensions!.invalid).toEqual([{ path: "first", message: "must be from 1 to 200" }]);
      }
    });

    it("refuses a malformed, altered or foreign cursor with BAD_USER_INPUT", async () => {
      const first = await query(WORKSPACE_LOG, { first: 2 });
      const cursor = first.body.data!.log.pageInfo.endCursor!;
      const [body, mac] = cursor.split(".");
      const decoded = JSON.parse(Buffer.from(body, "base64url").toString());
      const forged = `${Buffer.from(JSON.stringify([...decoded.slice(0, 4), decoded[4] + 1])).toString("base64url")}.${mac}`;
      const flipped = `${body}.${mac.slice(0, -2)}${mac.endsWith("AA") ? "AB" : "AA"}`;
      const customerCursor = (await query(CUSTOMER_LOG, { customerId: "cu-zoe", first: 1 })).body.data!.log.pageInfo.endCursor!;
      const foreignAdmin = await tokenFor(Role.ADMIN, { workspaceId: OTHER_WORKSPACE });
      const foreignCursor = (await query(WORKSPACE_LOG, { first: 1 }, foreignAdmin)).body.data!.log.pageInfo.endCursor!;
      const otherCustomerCursor = (await query(CUSTOMER_LOG, { customerId: "cu-ivo", first: 1 })).body.data!.log.pageInfo.endCursor!;
      const position = { workspaceId: decoded[1], log: decoded[2], occurredAt: new Date(decoded[3]), seq: decoded[4] };
      const otherKey = new CursorCodec("a secret this service does not have, long enough to be one").encode(position);
      const shortened = `${body}.${mac.slice(0, -1)}`;
      // Version 1 cursors carried an HMAC-SHA256 under the key the service derived then: no longer accepted.
      const versionOneKey = Buffer.from(hkdfSync("sha256", config.auth.jwtSecret, "audit-log", "cursor signing key", 32));
      const versionOneBody = Buffer.from(JSON.stringify([1, ...decoded.slice(1)])).toString("base64url");
      const versionOne = `${versionOneBody}.${createHmac("sha256", versionOneKey).update(versionOneBody).digest().subarray(0, 16).toString("base64url")}`;

      const attempts: [string, Record<string, unknown>][] = [
        [WORKSPACE_LOG, { after: "not-a-cursor" }],
        [WORKSPACE_LOG, { after: "" }],
        [WORKSPACE_LOG, { after: forged }],
        [WORKSPACE_LOG, { after: flipped }],
        [WORKSPACE_LOG, { after: otherKey }],
        [WORKSPACE_LOG, { after: shortened }],
        [WORKSPACE_LOG, { after: versionOne }],
        [WORKSPACE_LOG, { after: `${cursor}.extra` }],
        [WORKSPACE_LOG, { after: customerCursor }],
        [WORKSPACE_LOG, { after: foreignCursor }],
        [CUSTOMER_LOG, { customerId: "cu-zoe", after: otherCustomerCursor }],
        [CONVERSATION_LOG, { conversationId: "c-1", after: cursor }],
      ];
      for (const [source, variables] of attempts) {
        const response = await query(source, variables);
        expect(response.status).toBeLessThan(500);
        expect(errorCodes(response)).toEqual(["BAD_USER_INPUT"]);
      }
    });

    it("returns every event exactly once while new events are being recorded", async () => {
      const before = expected(facts, () => true);
      const ids: string[] = [];
      let after: string | null = null;
      let recorded = 0;
      for (;;) {
        const response = await query(WORKSPACE_LOG, { first: 4, after });
        const { edges, pageInfo } = response.body.data!.log;
        ids.push(...edges.map((edge) => edge.node.id));
        // Between pages, events land both ahead of and behind the reader's position.
        const fresh = await postGraphQL(
          server.graphqlUrl,
          {
            query: RECORD_EVENTS,
            variables: {
              events: [0, 30].map((minute) => ({
                idempotencyKey: `during-paging-${recorded++}`,
                type: "BILLING",
                action: "billing.payment_method_added",
                occurredAt: minutes(minute + (recorded % 20) / 10),
                actor: { kind: "USER", id: "u-ana", name: "Ana Diaz" },
              })),
            },
          },
          { token: service },
        );
        expect(fresh.body.errors).toBeUndefined();
        if (!pageInfo.hasNextPage) break;
        after = pageInfo.endCursor;
      }
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of before) expect(ids).toContain(id);
    });
  });

  describe("pickers", () => {
    const CUSTOMERS = `query($text: String!, $first: Int) { customers(nameContains: $text, first: $first) { id name } }`;
    const USERS = `query($text: String, $first: Int) { users(search: $text, first: $first) { id name email } }`;

    it("finds customers whose current name contains the text, ignoring case", async () => {
      const response = await postGraphQL(server.graphqlUrl, { query: CUSTOMERS, variables: { text: "zoë" } }, { token: agent });
      // Equal names ignoring case: by id.
      expect(response.body.data).toEqual({ customers: [{ id: "cu-zoe", name: "Zoë Park" }, { id: "cu-zoe-2", name: "ZOË PARK" }] });
    });

    it("takes % and _ in the text literally", async () => {
      const response = await postGraphQL(server.graphqlUrl, { query: CUSTOMERS, variables: { text: "%" } }, { token: admin });
      expect(response.body.data).toEqual({ customers: [] });
    });

    it("finds users by name or email", async () => {
      const byEmail = await postGraphQL(server.graphqlUrl, { query: USERS, variables: { text: "ben@" } }, { token: admin });
      expect(byEmail.body.data).toEqual({ users: [{ id: "u-ben", name: "Ben Ode", email: "ben@example.com" }] });
      const everyone = await postGraphQL(server.graphqlUrl, { query: USERS, variables: {} }, { token: admin });
      expect((everyone.body.data as { users: { id: string }[] }).users.map((user) => user.id)).toEqual(["u-ana", "u-ben"]);
    });

    it("refuses a SERVICE client, and bad sizes and texts", async () => {
      expect(errorCodes(await postGraphQL(server.graphqlUrl, { query: USERS, variables: {} }, { token: service }))).toEqual(["FORBIDDEN"]);
      expect(errorCodes(await postGraphQL(server.graphqlUrl, { query: CUSTOMERS, variables: { text: "a", first: 0 } }, { token: admin }))).toEqual([
        "BAD_USER_INPUT",
      ]);
      expect(errorCodes(await postGraphQL(server.graphqlUrl, { query: USERS, variables: { first: 101 } }, { token: admin }))).toEqual(["BAD_USER_INPUT"]);
      expect(
        errorCodes(await postGraphQL(server.graphqlUrl, { query: CUSTOMERS, variables: { text: "x".repeat(256) } }, { token: admin })),
      ).toEqual(["BAD_USER_INPUT"]);
    });
  });

  describe("no N+1", () => {
    const DEEP_PAGE = `
      query Deep($first: Int) {
        log: workspaceAuditLog(first: $first) {
          edges { node {
            id actor { user { id name } }
            ... on ConversationEvent { customer { id name } conversation { id subject customer { id name } } }
            ... on CustomerEvent { customerOfEvent: customer { id name } }
            ... on WorkSessionEvent { routed: conversation { id customer { id } } }
            ... on AuthorizationEvent { subjectUser { id name } }
          } }
        }
      }`;

    it("reads a page of 200 with its users, customers and conversations in as many statements as a page of 10: three, then one once their rows and entries are kept", async () => {
      // Enough events for a page of 200 with many distinct users, customers and conversations.
      const events = Array.from({ length: 200 }, (_, n) => ({
        idempotencyKey: `n-plus-one-${n}`,
        type: "CONVERSATION",
        action: "conversation.updated",
        occurredAt: minutes(100 + n),
        actor: { kind: "USER", id: `u-${n % 40}`, name: `User ${n % 40}` },
        conversation: { id: `c-many-${n % 70}`, subject: `Subject ${n % 70}` },
        customer: { id: `cu-many-${n % 50}`, name: `Customer ${n % 50}` },
      }));
      const recorded = await postGraphQL(server.graphqlUrl, { query: RECORD_EVENTS, variables: { events } }, { token: service });
      expect(recorded.body.errors).toBeUndefined();

      const countFor = async (first: number) => {
        let response!: Awaited<ReturnType<typeof query>>;
        const statements = await statementsDuring(dataSource, async () => {
          response = await query(DEEP_PAGE, { first });
        });
        expect(response.body.errors).toBeUndefined();
        expect(response.body.data!.log.edges).toHaveLength(first);
        return statements.length;
      };
      // The page's statement (its events' keys), one read of the rows and one of the directory's entries this instance does not keep yet.
      expect(await countFor(10)).toBe(3);
      expect(await countFor(200)).toBe(3);
      // Kept since, and current while no event is recorded: the page's statement alone.
      expect(await countFor(200)).toBe(1);
      expect(await countFor(10)).toBe(1);
    });
  });
});
