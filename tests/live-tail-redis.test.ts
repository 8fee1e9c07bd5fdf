import { ENTRY_CHANGES_CHANNEL } from "../src/directory/entry-changes";
import { workspaceTopic } from "../src/recording/event-publisher";
import { useTestDatabase } from "./support/database";
import { connectedClient, CONVERSATION_TAIL, conversationEvent, recordOver, TailData, take, until, WORKSPACE_TAIL } from "./support/live";
import { describeWith, REDIS_SERVER } from "./support/programs";
import { useRedisProcess } from "./support/redis";
import { useTestServer } from "./support/server";
import { Role, tokenFor, WORKSPACE } from "./support/tokens";
import type { TestWsClient } from "./support/ws-client";

describeWith(REDIS_SERVER)("live tail across two instances through Redis", () => {
  const redisServer = useRedisProcess();
  useTestDatabase();
  // Two instances on one database and one Redis; each has its own Redis connections.
  const a = useTestServer((config) => ({ ...config, redisUrl: redisServer.process.url }));
  const b = useTestServer((config) => ({ ...config, redisUrl: redisServer.process.url }));
  let admin: string;
  let agent: string;
  let service: string;
  const clients: TestWsClient[] = [];

  beforeAll(async () => {
    admin = await tokenFor(Role.ADMIN);
    agent = await tokenFor(Role.AGENT);
    service = await tokenFor(Role.SERVICE);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.dispose()));
  });

  const client = async (url: string, token = agent) => {
    const connected = await connectedClient(url, token);
    clients.push(connected);
    return connected;
  };
  const follow = async (server: typeof a, ws: TestWsClient, query: string, variables: Record<string, unknown>) => {
    const before = server.services.liveTail.activeSubscriptions;
    const subscription = ws.subscribe<TailData>({ query, variables });
    await until(() => server.services.liveTail.activeSubscriptions > before, 5_000, "the subscription to start");
    return subscription;
  };
  const readyz = async (url: string) => {
    const response = await fetch(`${url}/readyz`);
    return { status: response.status, body: (await response.json()) as { status: string; database: string; redis?: string } };
  };

  it("delivers an event recorded on one instance to subscribers on the other, in record order", async () => {
    await recordOver(a.graphqlUrl, service, [conversationEvent("c-redis", 0)]);
    const onB = await follow(b, await client(b.wsUrl), CONVERSATION_TAIL, { conversationId: "c-redis" });
    const onA = await follow(a, await client(a.wsUrl, admin), WORKSPACE_TAIL, {});
    const first = await recordOver(a.graphqlUrl, service, [conversationEvent("c-redis", 1), conversationEvent("c-redis", 2)]);
    const second = await recordOver(b.graphqlUrl, service, [conversationEvent("c-redis", 3)]);
    expect((await take(onB, 3)).map((edge) => edge.node.id)).toEqual([...first, ...second]);
    expect((await take(onA, 3)).map((edge) => edge.node.id)).toEqual([...first, ...second]);
  });

  it("reports Redis in /readyz", async () => {
    expect(await readyz(a.url)).toEqual({ status: 200, body: { status: "ready", database: "up", redis: "up" } });
  });

  it("keeps subscribers receiving after Redis drops and returns, and a resuming client loses nothing", async () => {
    await recordOver(a.graphqlUrl, service, [conversationEvent("c-outage", 0)]);
    const staying = await follow(b, await client(b.wsUrl), CONVERSATION_TAIL, { conversationId: "c-outage" });
    const leaving = await connectedClient(b.wsUrl, agent);
    const leavingTail = await follow(b, leaving, CONVERSATION_TAIL, { conversationId: "c-outage" });
    const before = await recordOver(a.graphqlUrl, service, [conversationEvent("c-outage", 1)]);
    expect((await take(staying, 1))[0].node.id).toBe(before[0]);
    const [lastSeen] = await take(leavingTail, 1);
    await leaving.dispose();

    await redisServer.process.stop();
    const down = await until(async () => (await readyz(a.url)).body.redis === "down", 10_000, "/readyz to see Redis down").then(() => readyz(a.url));
    // Recording and the live tail go on without Redis: the instance stays ready, and says what is degraded.
    expect(down).toEqual({ status: 200, body: { status: "degraded", database: "up", redis: "down" } });
    // Stored while the instances cannot tell each other.
    const during = await recordOver(a.graphqlUrl, service, [conversationEvent("c-outage", 2), conversationEvent("c-outage", 3)]);

    await redisServer.process.start();
    await until(async () => (await readyz(a.url)).body.redis === "up" && (await readyz(b.url)).body.redis === "up", 15_000, "Redis to come back");
    const after = await recordOver(a.graphqlUrl, service, [conversationEvent("c-outage", 4)]);

    expect((await take(staying, 3, 15_000)).map((edge) => edge.node.id)).toEqual([...during, ...after]);
    const resumed = (await client(b.wsUrl)).subscribe<TailData>({
      query: CONVERSATION_TAIL,
      variables: { conversationId: "c-outage", after: lastSeen.cursor },
    });
    expect((await take(resumed, 3)).map((edge) => edge.node.id)).toEqual([...during, ...after]);
  }, 60_000);

  it("leaves no Redis subscription behind once every client has gone", async () => {
    await recordOver(a.graphqlUrl, service, [conversationEvent("c-leave", 0)]);
    const inspector = redisServer.process.client();
    try {
      const channel = workspaceTopic(WORKSPACE);
      const subscribers = async () => Number(((await inspector.pubsub("NUMSUB", channel)) as [string, number])[1]);
      const wsA = await client(a.wsUrl);
      const wsB = await client(b.wsUrl);
      await follow(a, wsA, CONVERSATION_TAIL, { conversationId: "c-leave" });
      await follow(b, wsB, CONVERSATION_TAIL, { conversationId: "c-leave" });
      await until(async () => (await subscribers()) === 2, 5_000, "one Redis subscription per instance");

      await Promise.all(clients.splice(0).map((ws) => ws.dispose()));
      await until(
        () => a.services.liveTail.activeSubscriptions === 0 && b.services.liveTail.activeSubscriptions === 0,
        5_000,
        "tails to end",
      );
      await until(async () => (await subscribers()) === 0, 5_000, "Redis subscriptions to end");
      expect(a.services.bus.subscribedTopics() + b.services.bus.subscribedTopics()).toBe(0);
      // What stays is the channel of the directory's changes, which is no tail's.
      expect(await inspector.pubsub("CHANNELS")).toEqual([ENTRY_CHANGES_CHANNEL]);
    } finally {
      inspector.disconnect();
    }
  });
});
