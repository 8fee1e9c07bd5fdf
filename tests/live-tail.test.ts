import { createLogger } from "../src/common/logger";
import { findEventsAfterSeq } from "../src/database/audit-event.repository";
import type { AuditEventRecord } from "../src/events/audit-event.record";
import { createEventBus } from "../src/live-tail/event-bus";
import { MAX_UNSENT_BYTES } from "../src/live-tail/shared-execution";
import { TailOutput, TailSubscription } from "../src/live-tail/tail-subscription";
import { conversationOf, WorkspaceStream } from "../src/live-tail/workspace-stream";
import { workspaceTopic } from "../src/recording/event-publisher";
import { CLOSE_TOO_SLOW, MAX_SUBSCRIPTIONS_PER_SOCKET } from "../src/server/websocket";
import { useTestDatabase } from "./support/database";
import {
  connectedClient,
  CONVERSATION_TAIL,
  conversationEvent,
  recordOver,
  TailData,
  take,
  until,
  WORKSPACE_TAIL,
} from "./support/live";
import { postGraphQL, useTestServer } from "./support/server";
import { statementsDuring } from "./support/statements";
import { OTHER_WORKSPACE, Role, tokenFor, WORKSPACE } from "./support/tokens";
import { QueuedSocket, TestSubscription, TestWsClient } from "./support/ws-client";

describe("live tail (in-process pub/sub)", () => {
  const dataSource = useTestDatabase();
  const server = useTestServer();
  let admin: string;
  let agent: string;
  let service: string;
  let foreignService: string;
  const clients: TestWsClient[] = [];
  /** Raw sockets, closed after each test as clients are. */
  const sockets: QueuedSocket[] = [];

  beforeAll(async () => {
    admin = await tokenFor(Role.ADMIN, { userId: "u-ana" });
    agent = await tokenFor(Role.AGENT, { userId: "u-ben" });
    service = await tokenFor(Role.SERVICE);
    foreignService = await tokenFor(Role.SERVICE, { workspaceId: OTHER_WORKSPACE });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.dispose()));
    for (const socket of sockets.splice(0)) socket.close();
    await until(() => server.services.liveTail.activeSubscriptions === 0, 5_000, "tails to end");
  });

  const client = async (token = agent) => {
    const connected = await connectedClient(server.wsUrl, token);
    clients.push(connected);
    return connected;
  };
  const record = (events: unknown[], token = service) => recordOver(server.graphqlUrl, token, events);
  const tails = () => server.services.liveTail.activeSubscriptions;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /** An agent's token that expires `seconds` from now, and when exactly. */
  const expiringToken = async (seconds: number) => {
    // exp counts whole seconds: a token signed late in a second would die up to a second early.
    await sleep(1_000 - (Date.now() % 1_000));
    const token = await tokenFor(Role.AGENT, { userId: "u-expiring", ttlSeconds: seconds });
    const expiresAtMs = (JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()) as { exp: number }).exp * 1_000;
    return { token, expiresAtMs };
  };
  const pastExpiry = (expiresAtMs: number) => sleep(Math.max(0, expiresAtMs - Date.now() + 300));

  /** Subscribes and waits until the server follows the tail, so events recorded next are live ones. */
  const follow = async (ws: TestWsClient, query: string, variables: Record<string, unknown>) => {
    const before = tails();
    const subscription = ws.subscribe<TailData>({ query, variables });
    await until(() => tails() > before, 5_000, "the subscription to start");
    return subscription;
  };

  it("delivers a conversation's new events in record order, and nothing of other conversations or workspaces", async () => {
    await record([conversationEvent("c-live", 0), conversationEvent("c-other", 0)]);
    await record([conversationEvent("c-live", "foreign")], foreignService);
    const tail = await follow(await client(), CONVERSATION_TAIL, { conversationId: "c-live" });

    const [first] = await record([conversationEvent("c-live", 1)]);
    await record([conversationEvent("c-other", 1)]);
    await record([conversationEvent("c-live", "foreign-2")], foreignService);
    const [, routed] = await record([
      conversationEvent("c-other", 2),
      {
        idempotencyKey: "routing-of-c-live",
        type: "WORK_SESSION",
        action: "work_session.conversation_routed",
        occurredAt: new Date().toISOString(),
        actor: { kind: "AUTOMATION", id: "router", name: "Queue router" },
        conversation: { id: "c-live" },
      },
    ]);
    const [last] = await record([conversationEvent("c-live", 3)]);

    const edges = await take(tail, 3);
    expect(edges.map((edge) => edge.node.id)).toEqual([first, routed, last]);
    expect(edges.map((edge) => edge.node.action)).toEqual(["conversation.updated", "work_session.conversation_routed", "conversation.updated"]);
    for (const edge of edges) expect(edge.cursor).toMatch(/^[\w-]+\.[\w-]+$/);
    await expect(tail.next(300)).rejects.toThrow(/no result/);
  });

  it("answers NOT_FOUND for an unknown conversation or one of another workspace", async () => {
    await record([conversationEvent("c-only-elsewhere", 0)], foreignService);
    const ws = await client();
    for (const conversationId of ["c-never-recorded", "c-only-elsewhere"]) {
      const result = await ws.subscribe<TailData>({ query: CONVERSATION_TAIL, variables: { conversationId } }).next();
      expect(result.errors?.map((error) => error.extensions?.code)).toEqual(["NOT_FOUND"]);
    }
  });

  it("refuses the workspace tail to an agent, and every tail to a SERVICE client", async () => {
    await record([conversationEvent("c-roles", 0)]);
    const asAgent = await (await client(agent)).subscribe<TailData>({ query: WORKSPACE_TAIL, variables: {} }).next();
    expect(asAgent.errors?.map((error) => error.extensions?.code)).toEqual(["FORBIDDEN"]);
    const serviceClient = await client(service);
    for (const [query, variables] of [
      [WORKSPACE_TAIL, {}],
      [CONVERSATION_TAIL, { conversationId: "c-roles" }],
    ] as const) {
      const result = await serviceClient.subscribe<TailData>({ query, variables }).next();
      expect(result.errors?.map((error) => error.extensions?.code)).toEqual(["FORBIDDEN"]);
    }
  });

  it("filters the workspace tail event by event, as the workspace log filters", async () => {
    const tail = await follow(await client(admin), WORKSPACE_TAIL, { filter: { billing: { userId: "u-ana" } } });
    const billing = (n: number, actor: Record<string, unknown>) => ({
      idempotencyKey: `billing-tail-${n}`,
      type: "BILLING",
      action: "billing.plan_changed",
      occurredAt: new Date().toISOString(),
      actor,
    });
    const ana = { kind: "USER", id: "u-ana", name: "Ana Diaz" };
    const ids = await record([
      billing(1, ana),
      billing(2, { kind: "AUTOMATION", id: "u-ana", name: "Automation with Ana's id" }),
      billing(3, { kind: "USER", id: "u-ben", name: "Ben Ode" }),
      conversationEvent("c-filtered", 1),
      billing(4, ana),
    ]);
    await record([billing(5, ana)], foreignService);
    const edges = await take(tail, 2);
    expect(edges.map((edge) => edge.node.id)).toEqual([ids[0], ids[4]]);
    await expect(tail.next(300)).rejects.toThrow(/no result/);
  });

  it("delivers the workspace tail's conversation filter: that conversation's conversation events only", async () => {
    const tail = await follow(await client(admin), WORKSPACE_TAIL, { filter: { conversation: { conversationId: "c-scoped" } } });
    const workSession = {
      idempotencyKey: "work-session-on-c-scoped",
      type: "WORK_SESSION",
      action: "work_session.conversation_routed",
      occurredAt: new Date().toISOString(),
      actor: { kind: "AUTOMATION", id: "rule-vip", name: "Routing rule 'VIP'" },
      conversation: { id: "c-scoped" },
      workSession: { queue: "Billing", status: "available" },
    };
    const ids = await record([conversationEvent("c-scoped", 1), conversationEvent("c-unscoped", 1), workSession, conversationEvent("c-scoped", 2)]);
    const edges = await take(tail, 2);
    expect(edges.map((edge) => edge.node.id)).toEqual([ids[0], ids[3]]);
    await expect(tail.next(300)).rejects.toThrow(/no result/);
  });

  it("filters the workspace tail by customer name as the database compares it, in record order", async () => {
    const tail = await follow(await client(admin), WORKSPACE_TAIL, { filter: { customer: { customerName: "mila ríos" } } });
    const customerEvent = (n: number, customer: { id: string; name: string }) => ({
      idempotencyKey: `customer-tail-${n}`,
      type: "CUSTOMER",
      action: "customer.updated",
      occurredAt: new Date().toISOString(),
      actor: { kind: "USER", id: "u-ana", name: "Ana Diaz" },
      customer,
    });
    const mila = { id: "cu-mila", name: "Mila Ríos" };
    const ids = await record([
      customerEvent(1, mila),
      conversationEvent("c-customer-tail", 1, { customer: mila }),
      customerEvent(2, { id: "cu-other", name: "Someone Else" }),
      customerEvent(3, mila),
    ]);
    await record([customerEvent(4, mila), conversationEvent("c-customer-tail", 2), customerEvent(5, mila)]).then((more) => ids.push(...more));
    const edges = await take(tail, 4);
    expect(edges.map((edge) => edge.node.id)).toEqual([ids[0], ids[3], ids[4], ids[6]]);
    await expect(tail.next(300)).rejects.toThrow(/no result/);
  });

  it("resumes after the cursor of a log page's edge: stored events first, then live ones", async () => {
    const ids = await record([1, 2, 3, 4, 5].map((n) => conversationEvent("c-resume", n, { occurredAt: new Date(Date.UTC(2026, 10, 1, 9, n)).toISOString() })));
    const page = await postGraphQL<{ conversationAuditLog: { edges: { cursor: string; node: { id: string } }[] } }>(
      server.graphqlUrl,
      { query: `query($id: ID!) { conversationAuditLog(conversationId: $id) { edges { cursor node { id } } } }`, variables: { id: "c-resume" } },
      { token: agent },
    );
    const second = page.body.data!.conversationAuditLog.edges.find((edge) => edge.node.id === ids[1])!;
    const tail = (await client()).subscribe<TailData>({ query: CONVERSATION_TAIL, variables: { conversationId: "c-resume", after: second.cursor } });
    const replayed = await take(tail, 3);
    expect(replayed.map((edge) => edge.node.id)).toEqual(ids.slice(2));
    const [live] = await record([conversationEvent("c-resume", 6)]);
    expect((await take(tail, 1))[0].node.id).toBe(live);
  });

  it("resumes after a delivery's cursor, with nothing lost while disconnected", async () => {
    await record([conversationEvent("c-reconnect", 0)]);
    const ws = await client();
    const tail = await follow(ws, CONVERSATION_TAIL, { conversationId: "c-reconnect" });
    const before = await record([conversationEvent("c-reconnect", 1), conversationEvent("c-reconnect", 2)]);
    const seen = await take(tail, 2);
    await ws.dispose();
    const during = await record([3, 4, 5].map((n) => conversationEvent("c-reconnect", n)));
    const resumed = (await client()).subscribe<TailData>({
      query: CONVERSATION_TAIL,
      variables: { conversationId: "c-reconnect", after: seen[1].cursor },
    });
    expect((await take(resumed, 3)).map((edge) => edge.node.id)).toEqual(during);
    expect(seen.map((edge) => edge.node.id)).toEqual(before);
  });

  it("refuses a cursor that is not genuine or belongs to another workspace", async () => {
    await record([conversationEvent("c-cursor", 0)]);
    const foreignAdmin = await tokenFor(Role.ADMIN, { workspaceId: OTHER_WORKSPACE });
    const foreignPage = await postGraphQL<{ workspaceAuditLog: { pageInfo: { endCursor: string } } }>(
      server.graphqlUrl,
      { query: `{ workspaceAuditLog(first: 1) { pageInfo { endCursor } } }` },
      { token: foreignAdmin },
    );
    const ws = await client();
    for (const after of ["garbage", foreignPage.body.data!.workspaceAuditLog.pageInfo.endCursor]) {
      const result = await ws.subscribe<TailData>({ query: CONVERSATION_TAIL, variables: { conversationId: "c-cursor", after } }).next();
      expect(result.errors?.map((error) => error.extensions?.code)).toEqual(["BAD_USER_INPUT"]);
    }
  });

  it("gives every resuming client every event of its conversation exactly once, in record order, under concurrent writers", async () => {
    const conversations = ["c-busy-1", "c-busy-2"];
    const seeds = new Map<string, string>();
    for (const conversationId of conversations) {
      await record([conversationEvent(conversationId, "seed")]);
      const page = await postGraphQL<{ conversationAuditLog: { edges: { cursor: string }[] } }>(
        server.graphqlUrl,
        { query: `query($id: ID!) { conversationAuditLog(conversationId: $id, first: 1) { edges { cursor } } }`, variables: { id: conversationId } },
        { token: agent },
      );
      seeds.set(conversationId, page.body.data!.conversationAuditLog.edges[0].cursor);
    }

    let writing = true;
    let written = 0;
    const writer = async (name: string) => {
      for (let n = 0; writing; n++) {
        const batch = Array.from({ length: 1 + (n % 3) }, (_, i) => conversationEvent(conversations[(n + i) % 2], `${name}-${n}-${i}`));
        await record(batch);
        written += batch.length;
      }
    };
    const reader = async (conversationId: string, rounds: number) => {
      const ids: string[] = [];
      let after = seeds.get(conversationId)!;
      for (let round = 0; round < rounds; round++) {
        const ws = await connectedClient(server.wsUrl, agent);
        const tail = ws.subscribe<TailData>({ query: CONVERSATION_TAIL, variables: { conversationId, after } });
        const edges = await take(tail, 3 + (round % 4), 15_000);
        ids.push(...edges.map((edge) => edge.node.id));
        after = edges[edges.length - 1].cursor;
        await ws.dispose();
      }
      return { conversationId, ids, after };
    };

    const writers = Promise.all(["w1", "w2", "w3"].map(writer));
    const readers = await Promise.all([reader("c-busy-1", 6), reader("c-busy-1", 4), reader("c-busy-2", 6), reader("c-busy-2", 5)]);
    writing = false;
    await writers;
    expect(written).toBeGreaterThan(20);

    for (const { conversationId, ids, after } of readers) {
      // Drain what is left after the last resume, then compare with storage.
      const stored: { id: string }[] = await dataSource.query(
        `SELECT id FROM audit_events WHERE workspace_id = ? AND conversation_id = ? AND idempotency_key <> ? ORDER BY seq`,
        [WORKSPACE, conversationId, `tail-${conversationId}-seed`],
      );
      const ws = await connectedClient(server.wsUrl, agent);
      const rest = stored.length - ids.length;
      const tail = ws.subscribe<TailData>({ query: CONVERSATION_TAIL, variables: { conversationId, after } });
      const remaining = rest > 0 ? await take(tail, rest, 15_000) : [];
      await ws.dispose();
      const all = [...ids, ...remaining.map((edge) => edge.node.id)];
      expect(new Set(all).size).toBe(all.length);
      expect(all).toEqual(stored.map((row) => row.id));
    }
  }, 60_000);

  it("gives a hot workload's subscribers that drop and resume every event of their log exactly once, in order, while events keep coming", async () => {
    const hotConversations = ["c-hot-1", "c-hot-2", "c-hot-3"];
    await record(hotConversations.map((conversationId) => conversationEvent(conversationId, "seed")));
    const page = await postGraphQL<{ workspaceAuditLog: { edges: { cursor: string; node: { id: string } }[] } }>(
      server.graphqlUrl,
      { query: `{ workspaceAuditLog(first: 1) { edges { cursor node { id } } } }` },
      { token: admin },
    );
    // The log's newest event by occurrence, which an earlier test's event may be: subscribers owe every event stored after it.
    const [newest] = page.body.data!.workspaceAuditLog.edges;
    const seed = newest.cursor;
    const [{ seq: seedSeq }] = await dataSource.query(`SELECT seq FROM audit_events WHERE workspace_id = ? AND id = ?`, [WORKSPACE, newest.node.id]);

    let writing = true;
    const writer = async (name: string) => {
      for (let n = 0; writing; n++) {
        await record(Array.from({ length: 1 + (n % 2) }, (_, i) => conversationEvent(hotConversations[(n + i) % hotConversations.length], `${name}-${n}-${i}`)));
      }
    };
    /** One subscriber: a few rounds of connect, resume after the last cursor, take some, leave. */
    const subscriber = async (conversationId: string | null, rounds: number) => {
      const ids: string[] = [];
      let after = seed;
      for (let round = 0; round < rounds; round++) {
        const ws = await connectedClient(server.wsUrl, conversationId ? agent : admin);
        const tail =
          conversationId === null
            ? ws.subscribe<TailData>({ query: WORKSPACE_TAIL, variables: { after } })
            : ws.subscribe<TailData>({ query: CONVERSATION_TAIL, variables: { conversationId, after } });
        const edges = await take(tail, 2 + (round % 3), 20_000);
        ids.push(...edges.map((edge) => edge.node.id));
        after = edges[edges.length - 1].cursor;
        await ws.dispose();
      }
      return { conversationId, ids, after };
    };

    const writers = Promise.all(["w1", "w2"].map(writer));
    const specs = [...hotConversations.flatMap((conversationId) => Array.from({ length: 8 }, () => conversationId)), ...Array.from({ length: 6 }, () => null)];
    const subscribers = await Promise.all(specs.map((conversationId, k) => subscriber(conversationId, 3 + (k % 2))));
    writing = false;
    await writers;

    for (const { conversationId, ids, after } of subscribers) {
      const stored: { id: string }[] = await dataSource.query(
        `SELECT id FROM audit_events WHERE workspace_id = ? AND seq > ?${conversationId ? " AND conversation_id = ?" : ""} ORDER BY seq`,
        [WORKSPACE, seedSeq, ...(conversationId ? [conversationId] : [])],
      );
      // What is left after the last resume comes from one more resume.
      const rest = stored.length - ids.length;
      const ws = await connectedClient(server.wsUrl, conversationId ? agent : admin);
      const tail =
        conversationId === null
          ? ws.subscribe<TailData>({ query: WORKSPACE_TAIL, variables: { after } })
          : ws.subscribe<TailData>({ query: CONVERSATION_TAIL, variables: { conversationId, after } });
      const remaining = rest > 0 ? await take(tail, rest, 20_000) : [];
      await ws.dispose();
      expect([...ids, ...remaining.map((edge) => edge.node.id)]).toEqual(stored.map((row) => row.id));
    }
  }, 90_000);

  it("executes each event once for all subscribers of the same operation, not once per subscriber", async () => {
    await record([conversationEvent("c-shared", 0, { customer: { id: "cu-shared", name: "Shared Customer" } })]);
    const withDirectory = `subscription($id: ID!, $after: String) { conversationAuditEvents(conversationId: $id, after: $after) {
      cursor node { id ... on ConversationEvent { conversation { subject customer { name } } customer { name } } actor { user { name } } } } }`;
    const deliveryStatements = async (subscribers: number, n: number, afters: (string | null)[] = []) => {
      // Each subscriber waits for its own tail: followed together, the first tail to start would satisfy every wait.
      const tailsOf: Awaited<ReturnType<typeof follow>>[] = [];
      for (let i = 0; i < subscribers; i++) tailsOf.push(await follow(await client(), withDirectory, { id: "c-shared", after: afters[i] ?? null }));
      const statements = await statementsDuring(dataSource, async () => {
        await record([conversationEvent("c-shared", n)]);
        for (const tail of tailsOf) {
          const result = await tail.next();
          expect(result.errors).toBeUndefined();
          expect(result.data).toMatchObject({ conversationAuditEvents: { node: { conversation: { customer: { name: "Shared Customer" } } } } });
        }
      });
      await Promise.all(clients.splice(0).map((ws) => ws.dispose()));
      await until(() => tails() === 0, 5_000, "tails to end");
      // What executing the selection reads: the directory. The stream's own reads (its catch-up poll, on a timer) are no part of it.
      return statements.filter((sql) => /^SELECT\b[\s\S]*\bFROM (users|customers|conversations)\b/.test(sql)).length;
    };
    const one = await deliveryStatements(1, 1);
    const many = await deliveryStatements(25, 2);
    expect(one).toBeGreaterThan(0);
    expect(many).toBe(one);

    // Resuming from different cursors (here of the same, newest event, from two logs) does not split the sharing.
    const cursorOf = async (query: string, token: string) => {
      const response = await postGraphQL<Record<string, { edges: { cursor: string }[] }>>(server.graphqlUrl, { query }, { token });
      return Object.values(response.body.data!)[0].edges[0].cursor;
    };
    const fromConversationLog = await cursorOf(`{ conversationAuditLog(conversationId: "c-shared", first: 1) { edges { cursor } } }`, agent);
    const fromWorkspaceLog = await cursorOf(`{ workspaceAuditLog(first: 1) { edges { cursor } } }`, admin);
    expect(fromConversationLog).not.toBe(fromWorkspaceLog);
    expect(await deliveryStatements(3, 3, [fromConversationLog, fromWorkspaceLog, null])).toBe(one);
  });

  describe("token expiry", () => {
    const expectEndsExpired = async (subscription: TestSubscription<TailData>) => {
      const result = await subscription.next();
      expect(result.data).toBeUndefined();
      expect((result.errors ?? []).map((error) => [error.extensions?.code, error.message])).toEqual([["UNAUTHENTICATED", "The token has expired."]]);
      await subscription.completed;
    };

    it.each([
      { subscribedFirst: "the expired one", order: ["expiring", "valid"] as const, conversationId: "c-expired-first" },
      { subscribedFirst: "the valid one", order: ["valid", "expiring"] as const, conversationId: "c-valid-first" },
    ])(
      "ends only the expired one of two subscriptions sharing an operation, when $subscribedFirst subscribed first",
      async ({ order, conversationId }) => {
        await record([conversationEvent(conversationId, 0)]);
        const { token, expiresAtMs } = await expiringToken(3);
        const tokens = { expiring: token, valid: agent };
        // The same operation, workspace and role: the tails are offered each event in the order they subscribed.
        const subscriptions = {} as Record<(typeof order)[number], TestSubscription<TailData>>;
        for (const who of order) subscriptions[who] = await follow(await client(tokens[who]), CONVERSATION_TAIL, { conversationId });
        const { expiring, valid } = subscriptions;
        await pastExpiry(expiresAtMs);

        const [id] = await record([conversationEvent(conversationId, 1)]);
        expect((await take(valid, 1))[0].node.id).toBe(id);
        await expectEndsExpired(expiring);
        await until(() => tails() === 1, 5_000, "the expired tail to end");
        const [next] = await record([conversationEvent(conversationId, 2)]);
        expect((await take(valid, 1))[0].node.id).toBe(next);
      },
      20_000,
    );

    it("ends a subscription whose token expires mid-stream: one UNAUTHENTICATED error, then complete, then nothing", async () => {
      await record([conversationEvent("c-midstream", 0)]);
      const { token, expiresAtMs } = await expiringToken(3);
      const socket = await QueuedSocket.open(server.wsUrl);
      sockets.push(socket);
      socket.send({ type: "connection_init", payload: { authorization: token } });
      expect(await socket.next()).toMatchObject({ type: "connection_ack" });
      socket.send({ id: "tail", type: "subscribe", payload: { query: CONVERSATION_TAIL, variables: { conversationId: "c-midstream" } } });
      await until(() => tails() === 1, 5_000, "the tail to start");
      const [before] = await record([conversationEvent("c-midstream", 1)]);
      expect(await socket.next()).toMatchObject({ id: "tail", type: "next", payload: { data: { tail: { node: { id: before } } } } });

      await pastExpiry(expiresAtMs);
      await record([conversationEvent("c-midstream", 2)]);
      const ended = await socket.next();
      expect(ended).toMatchObject({ id: "tail", type: "next", payload: { errors: [{ message: "The token has expired.", extensions: { code: "UNAUTHENTICATED" } }] } });
      expect((ended.payload as { errors: unknown[]; data?: unknown }).errors).toHaveLength(1);
      expect(ended.payload).not.toHaveProperty("data");
      expect(await socket.next()).toEqual({ id: "tail", type: "complete" });
      await until(() => tails() === 0, 5_000, "the expired tail to end");

      await record([conversationEvent("c-midstream", 3)]);
      await expect(socket.next(300)).rejects.toThrow(/no message/);
    }, 20_000);
  });

  describe("socket hygiene", () => {
    it("refuses a subscription once the connection's token has expired", async () => {
      await record([conversationEvent("c-expiry", 0)]);
      const { token, expiresAtMs } = await expiringToken(2);
      const ws = await client(token);
      await pastExpiry(expiresAtMs);
      const result = await ws.subscribe<TailData>({ query: CONVERSATION_TAIL, variables: { conversationId: "c-expiry" } }).next().catch((errors) => ({ errors }));
      expect((result.errors as { extensions?: { code?: string }; message: string }[]).map((error) => [error.extensions?.code, error.message])).toEqual([
        ["UNAUTHENTICATED", "The token has expired."],
      ]);
    });

    it(`refuses operation ${MAX_SUBSCRIPTIONS_PER_SOCKET + 1} on one socket with a clear error`, async () => {
      await record([conversationEvent("c-many", 0)]);
      const ws = await client();
      const subscriptions = [];
      for (let n = 0; n < MAX_SUBSCRIPTIONS_PER_SOCKET; n++) {
        subscriptions.push(ws.subscribe<TailData>({ query: CONVERSATION_TAIL, variables: { conversationId: "c-many" } }));
      }
      await until(() => tails() === MAX_SUBSCRIPTIONS_PER_SOCKET, 10_000, "50 tails");
      const extra = await ws.subscribe<TailData>({ query: CONVERSATION_TAIL, variables: { conversationId: "c-many" } }).next().catch((errors) => ({ errors }));
      expect((extra.errors as { extensions?: { code?: string }; message: string }[])[0]).toMatchObject({
        message: expect.stringContaining("at most 50 active operations"),
        extensions: { code: "BAD_USER_INPUT" },
      });
      // The first 50 still work.
      const [id] = await record([conversationEvent("c-many", 1)]);
      expect((await take(subscriptions[49], 1))[0].node.id).toBe(id);
    });

    it("closes a socket that sends a message over 64 KiB with 1009", async () => {
      const socket = await QueuedSocket.open(server.wsUrl);
      socket.send({ type: "connection_init", payload: { authorization: agent } });
      expect(await socket.next()).toMatchObject({ type: "connection_ack" });
      socket.send({ id: "1", type: "subscribe", payload: { query: `{ viewer { userId } }`, variables: { padding: "x".repeat(65 * 1024) } } });
      expect((await socket.closed).code).toBe(1009);
    });

    it("delivers a burst to a subscriber that reads, after it idled, and keeps its socket open", async () => {
      await record([conversationEvent("c-idle", 0)]);
      const ws = await client();
      let closedWith: number | undefined;
      void ws.closed.then((event) => (closedWith = event.code));
      const tail = await follow(ws, CONVERSATION_TAIL, { conversationId: "c-idle" });
      await sleep(500);

      const burst = await record(Array.from({ length: 300 }, (_, n) => conversationEvent("c-idle", n + 1)));
      expect((await take(tail, 300)).map((edge) => edge.node.id)).toEqual(burst);
      const [later] = await record([conversationEvent("c-idle", 301)]);
      expect((await take(tail, 1))[0].node.id).toBe(later);
      expect(closedWith).toBeUndefined();
    });

    it(`closes a subscriber that stops reading with ${CLOSE_TOO_SLOW}, without holding up the others`, async () => {
      await record([conversationEvent("c-slow", 0)]);
      // A raw client that subscribes, then stops reading from its TCP socket.
      const slow = await QueuedSocket.open(server.wsUrl);
      slow.send({ type: "connection_init", payload: { authorization: agent } });
      await slow.next();
      const before = tails();
      // It asks for the events' metadata, so what it leaves unread soon fills the TCP buffers.
      const withMetadata = `subscription($id: ID!) { conversationAuditEvents(conversationId: $id) { cursor node { id metadata } } }`;
      slow.send({ id: "slow", type: "subscribe", payload: { query: withMetadata, variables: { id: "c-slow" } } });
      await until(() => tails() > before, 5_000, "the slow tail");
      const fast = await follow(await client(), CONVERSATION_TAIL, { conversationId: "c-slow" });
      slow.socket.pause();

      // Events keep coming until the server gives up on the slow client; the fast one gets each of them.
      const big = { blob: "y".repeat(15 * 1024) };
      const ids: string[] = [];
      let largestHeld = 0;
      const slowTailEnded = () => tails() === before + 1;
      for (let batch = 0; !slowTailEnded(); batch++) {
        if (batch > 200) throw new Error("the slow client was never closed");
        ids.push(...(await record(Array.from({ length: 50 }, (_, n) => conversationEvent("c-slow", `${batch}-${n}`, { metadata: big })))));
        await new Promise((resolve) => setTimeout(resolve, 100));
        largestHeld = Math.max(largestHeld, server.webSocketBacklog().largestUnsentBytes);
      }
      // What the service held for it reached the bound (the client did fill it), and never passed it by more than one message.
      expect(largestHeld).toBeGreaterThan(MAX_UNSENT_BYTES / 2);
      expect(largestHeld).toBeLessThanOrEqual(MAX_UNSENT_BYTES + 20 * 1024);
      // Reading again, the slow client finds what was sent before the close, then the close itself.
      slow.socket.resume();
      expect((await slow.closed).code).toBe(CLOSE_TOO_SLOW);
      const received = await take(fast, ids.length, 30_000);
      expect(received.map((edge) => edge.node.id)).toEqual(ids);
    }, 60_000);
  });

  describe("teardown", () => {
    it("releases tails, streams and topics when clients complete, unsubscribe or disconnect", async () => {
      await record([conversationEvent("c-teardown", 0)]);
      const { liveTail, bus } = server.services;
      const completing = await client(admin);
      const unsubscribing = await client(admin);
      const disconnecting = await connectedClient(server.wsUrl, admin);

      const a = await follow(completing, CONVERSATION_TAIL, { conversationId: "c-teardown" });
      const b = await follow(unsubscribing, WORKSPACE_TAIL, {});
      await follow(disconnecting, CONVERSATION_TAIL, { conversationId: "c-teardown" });
      expect(liveTail.activeSubscriptions).toBe(3);
      expect(liveTail.activeStreams).toBe(1);
      expect(bus.subscribedTopics()).toBe(1);

      await record([conversationEvent("c-teardown", 1)]);
      await take(a, 1);
      await take(b, 1);

      a.unsubscribe();
      await until(() => liveTail.activeSubscriptions === 2, 5_000, "the completed tail to end");
      b.unsubscribe();
      await until(() => liveTail.activeSubscriptions === 1, 5_000, "the unsubscribed tail to end");
      disconnecting.client.terminate();
      await until(() => liveTail.activeSubscriptions === 0, 5_000, "the disconnected tail to end");
      expect(liveTail.activeStreams).toBe(0);
      expect(bus.subscribedTopics()).toBe(0);
    });
  });
});

describe("the workspace stream", () => {
  const dataSource = useTestDatabase();
  const server = useTestServer();

  it("emits in seq order when notices come out of order, and fills a gap no notice closes from storage", async () => {
    const service = await tokenFor(Role.SERVICE);
    await recordOver(server.graphqlUrl, service, [conversationEvent("c-stream", 0)]);
    // A bus of its own: the stream hears only the notices this test sends.
    const bus = createEventBus({ logger: createLogger("silent") });
    const stream = new WorkspaceStream(WORKSPACE, dataSource, bus.target, createLogger("silent"), { gapWaitMs: 30, pollMs: 60_000 });
    await stream.whenReady();
    const emitted: number[] = [];
    stream.addListener((event) => emitted.push(event.seq));
    const start = stream.position;

    const ids = await recordOver(server.graphqlUrl, service, [1, 2, 3, 4, 5].map((n) => conversationEvent("c-stream", n)));
    const rows: { id: string; seq: number }[] = await dataSource.query(`SELECT id, seq FROM audit_events WHERE id IN (?) ORDER BY seq`, [ids]);
    const records = await Promise.all(rows.map(async (row) => (await server.services.events.findById({ userId: "u", workspaceId: WORKSPACE, role: Role.ADMIN, expiresAt: Date.now() + 60_000 }, row.id)) as AuditEventRecord));
    const notice = (...positions: number[]) =>
      bus.target.dispatchEvent(new CustomEvent(workspaceTopic(WORKSPACE), { detail: { workspaceId: WORKSPACE, events: positions.map((p) => records[p]) } }));

    notice(1); // seq start+1 before start: held
    notice(0); // now both go out, in order
    expect(emitted).toEqual([start, start + 1]);
    notice(4); // start+2 and start+3 never get a notice: read from storage after the wait
    await until(() => emitted.length === 5, 5_000, "the gap to be filled");
    expect(emitted).toEqual([start, start + 1, start + 2, start + 3, start + 4]);
    notice(2); // late duplicate: ignored
    notice(3);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(emitted).toHaveLength(5);
    stream.stop();
    expect(bus.subscribedTopics()).toBe(0);
  });

  it("offers a conversation's listeners that conversation's events only, and unscoped listeners every event", async () => {
    const service = await tokenFor(Role.SERVICE);
    const bus = createEventBus({ logger: createLogger("silent") });
    const stream = new WorkspaceStream(WORKSPACE, dataSource, bus.target, createLogger("silent"), { gapWaitMs: 30, pollMs: 100 });
    await stream.whenReady();
    const offered = { every: [] as string[], a: [] as string[], b: [] as string[] };
    const toA = (event: AuditEventRecord) => offered.a.push(event.id);
    stream.addListener((event) => offered.every.push(event.id));
    stream.addListener(toA, { conversationId: "c-scope-a" });
    stream.addListener((event) => offered.b.push(event.id), { conversationId: "c-scope-b" });
    const billing = { idempotencyKey: "scope-billing", type: "BILLING", action: "billing.plan_changed", occurredAt: new Date().toISOString(), actor: { kind: "USER", id: "u-ana", name: "Ana Diaz" } };
    const ids = await recordOver(server.graphqlUrl, service, [conversationEvent("c-scope-a", 1), conversationEvent("c-scope-b", 1), billing, conversationEvent("c-scope-a", 2)]);
    await until(() => offered.every.length === 4, 5_000, "the poll to find the events");
    expect(offered).toEqual({ every: ids, a: [ids[0], ids[3]], b: [ids[1]] });

    stream.removeListener(toA);
    expect(stream.listenerCount).toBe(2);
    const [later] = await recordOver(server.graphqlUrl, service, [conversationEvent("c-scope-a", 3)]);
    await until(() => offered.every.length === 5, 5_000, "the poll to find the event");
    expect(offered.every[4]).toBe(later);
    expect(offered.a).toEqual([ids[0], ids[3]]);
    stream.stop();
  });

  it("catches up from storage when notices stop coming", async () => {
    const service = await tokenFor(Role.SERVICE);
    const bus = createEventBus({ logger: createLogger("silent") });
    const stream = new WorkspaceStream(WORKSPACE, dataSource, bus.target, createLogger("silent"), { gapWaitMs: 30, pollMs: 100 });
    await stream.whenReady();
    const emitted: string[] = [];
    stream.addListener((event) => emitted.push(event.id));
    const ids = await recordOver(server.graphqlUrl, service, [6, 7].map((n) => conversationEvent("c-stream", n)));
    await until(() => emitted.length === 2, 5_000, "the poll to find the events");
    expect(emitted).toEqual(ids);
    stream.stop();
  });

  describe("a tail on it", () => {
    /** An output that keeps what it is given. */
    const collecting = () => {
      const pushed: string[] = [];
      let endedWith: { error?: unknown } | undefined;
      const output: TailOutput<string> = {
        push: (edge) => pushed.push(edge),
        flushed: async () => undefined,
        ended: (error) => (endedWith = { error }),
      };
      return { output, pushed, ended: () => endedWith };
    };
    const openTail = async (stream: WorkspaceStream, after: number | null, replayPage: (seq: number) => Promise<AuditEventRecord[]>) => {
      let ends = 0;
      const tail = new TailSubscription<string>({
        stream,
        scope: null,
        matches: (event) => conversationOf(event) === "c-push",
        after,
        replayPage,
        toEdge: (event) => event.id,
        onEnd: () => (ends += 1),
      });
      return { tail, ends: () => ends };
    };
    const newStream = async () => {
      const bus = createEventBus({ logger: createLogger("silent") });
      const stream = new WorkspaceStream(WORKSPACE, dataSource, bus.target, createLogger("silent"), { gapWaitMs: 30, pollMs: 100 });
      await stream.whenReady();
      return stream;
    };

    it("holds what arrives before it starts, then pushes each matching event once, in seq order, until it ends", async () => {
      const service = await tokenFor(Role.SERVICE);
      const stream = await newStream();
      const { tail, ends } = await openTail(stream, null, async () => []);
      const early = await recordOver(server.graphqlUrl, service, [conversationEvent("c-push", 1), conversationEvent("c-other", 1), conversationEvent("c-push", 2)]);
      await until(() => stream.position > 0 && stream.listenerCount === 1, 5_000, "the stream to move");
      await new Promise((resolve) => setTimeout(resolve, 200));
      const { output, pushed, ended } = collecting();
      tail.start(output);
      expect(pushed).toEqual([early[0], early[2]]);

      const later = await recordOver(server.graphqlUrl, service, [conversationEvent("c-push", 3)]);
      await until(() => pushed.length === 3, 5_000, "the live event");
      expect(pushed).toEqual([early[0], early[2], later[0]]);

      tail.end();
      tail.end();
      expect(ends()).toBe(1);
      expect(ended()).toEqual({ error: undefined });
      expect(stream.listenerCount).toBe(0);
      await recordOver(server.graphqlUrl, service, [conversationEvent("c-push", 4)]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(pushed).toHaveLength(3);
      stream.stop();
    });

    it("holds its replay while the database is unavailable, and replays once it answers, without ending", async () => {
      const service = await tokenFor(Role.SERVICE);
      const stored = await recordOver(server.graphqlUrl, service, [conversationEvent("c-push", "outage-1"), conversationEvent("c-push", "outage-2")]);
      const stream = await newStream();
      const after = stream.position - 3;
      let refusals = 0;
      const { tail, ends } = await openTail(stream, after, async (seq) => {
        if (refusals < 2) {
          refusals += 1;
          throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
        }
        return (await findEventsAfterSeq(dataSource, WORKSPACE, seq, 10)).filter((event) => event.seq < stream.position);
      });
      const { output, pushed, ended } = collecting();
      tail.start(output);
      await until(() => pushed.length === 2, 5_000, "the replay after the outage");
      expect(pushed).toEqual(stored);
      expect(refusals).toBe(2);
      expect(ended()).toBeUndefined();
      tail.end();
      expect(ends()).toBe(1);
      stream.stop();
    });

    it("ends with the error when its replay cannot read storage, and pushes nothing", async () => {
      const stream = await newStream();
      const failure = new Error("storage is away");
      const { tail, ends } = await openTail(stream, 0, () => Promise.reject(failure));
      const { output, pushed, ended } = collecting();
      tail.start(output);
      await until(() => ended() !== undefined, 5_000, "the tail to end");
      expect(ended()).toEqual({ error: failure });
      expect(ends()).toBe(1);
      expect(pushed).toEqual([]);
      expect(stream.listenerCount).toBe(0);
      stream.stop();
    });
  });
});
