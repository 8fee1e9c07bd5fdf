import { ENTRY_CHANGES_CHANNEL } from "../src/directory/entry-changes";
import { useTestDatabase } from "./support/database";
import { RECORD_EVENTS, SCREEN_EVENT_FRAGMENT } from "./support/events";
import { until } from "./support/live";
import { customerUpdate, fixtureInputs, minutes } from "./support/log-fixture";
import { describeWith, REDIS_SERVER } from "./support/programs";
import { useRedisProcess } from "./support/redis";
import { postGraphQL, TestServer, useTestServer } from "./support/server";
import { queriesDuring } from "./support/statements";
import { Role, tokenFor, WORKSPACE } from "./support/tokens";

/**
 * Each instance keeps the directory's entries its pages show. Instances on
 * one Redis tell each other what their recordings changed, so that a page
 * on one instance after a rename recorded on another reads only the renamed
 * entries again, not every entry its events mention.
 */

const SCREEN_PAGE = `query Screen { log: workspaceAuditLog(first: 200) { edges { node { ...UiEvent } } } }\n${SCREEN_EVENT_FRAGMENT}`;

type Node = Record<string, unknown> & { id: string };
interface LogData {
  log: { edges: { node: Node }[] };
}

/** A customer and a user renamed by later events. */
const RENAMES = [
  customerUpdate("redis-rename-zoe", 100, { id: "cu-zoe", name: "Zoë Park-Lee" }),
  { idempotencyKey: "redis-rename-ana", type: "AUTHORIZATION", action: "authorization.login_succeeded", occurredAt: minutes(101), actor: { kind: "USER", id: "u-ana", name: "Ana Diaz-Ruiz" } },
];

describeWith(REDIS_SERVER)("the names a log's page shows, across instances through Redis", () => {
  const redisServer = useRedisProcess();
  const dataSource = useTestDatabase();
  const a = useTestServer((config) => ({ ...config, redisUrl: redisServer.process.url }));
  const b = useTestServer((config) => ({ ...config, redisUrl: redisServer.process.url }));
  let admin: string;
  let service: string;

  const record = async (server: TestServer, events: unknown[]) => {
    const response = await postGraphQL(server.graphqlUrl, { query: RECORD_EVENTS, variables: { events } }, { token: service });
    expect(response.body.errors).toBeUndefined();
  };
  /** A screen's page read on `server`, and the ids of the directory's entries it read (none: all kept). */
  const screenPage = async (server: TestServer) => {
    let nodes: Node[] = [];
    const queries = await queriesDuring(dataSource, async () => {
      const response = await postGraphQL<LogData>(server.graphqlUrl, { query: SCREEN_PAGE }, { token: admin });
      expect(response.body.errors).toBeUndefined();
      nodes = response.body.data!.log.edges.map((edge) => edge.node);
    });
    expect(queries[0].query).toMatch(/audit_events AS e\b/);
    // The entries' statement (`AS kind`) sends the workspace, then the ids of each table it asks.
    const entryIds = queries.filter(({ query }) => /\bAS kind\b/.test(query)).flatMap(({ parameters }) => parameters.filter(Array.isArray).flat() as string[]);
    return { nodes, statements: queries.length, entryIds: entryIds.sort() };
  };
  const lastSeq = async () => Number((await dataSource.query("SELECT last_seq FROM workspaces WHERE id = ?", [WORKSPACE]))[0].last_seq);
  const namesOf = (nodes: Node[]) => {
    const text = JSON.stringify(nodes);
    return { zoe: new Set(text.match(/\{"name":"Zoë[^"]*"\}/g)), ana: new Set(text.match(/"user":\{"name":"Ana[^"]*"\}/g)) };
  };

  beforeAll(async () => {
    admin = await tokenFor(Role.ADMIN);
    service = await tokenFor(Role.SERVICE);
    await record(a, fixtureInputs());
    // Each instance's first read asks the server's version once: done here, so that the tests count pages alone.
    for (const server of [a, b]) {
      const response = await postGraphQL(server.graphqlUrl, { query: "{ workspaceAuditLog(first: 1) { edges { node { id } } } }" }, { token: admin });
      expect(response.body.errors).toBeUndefined();
    }
  });

  it("reads only what another instance's recording renamed, and shows the new names", async () => {
    // B reads the events' rows and every entry once (a statement each, after the page's), then keeps them.
    expect((await screenPage(b)).statements).toBe(3);
    const kept = await screenPage(b);
    expect(kept.statements).toBe(1);
    expect(namesOf(kept.nodes)).toEqual({ zoe: new Set(['{"name":"Zoë Park"}']), ana: new Set(['"user":{"name":"Ana Diaz"}']) });

    await record(a, RENAMES);
    const version = await lastSeq();
    await until(() => b.services.entries.keptVersion(WORKSPACE) === version, 5_000, "B to hear of A's recording");
    const renamed = await screenPage(b);
    expect(namesOf(renamed.nodes)).toEqual({ zoe: new Set(['{"name":"Zoë Park-Lee"}']), ana: new Set(['"user":{"name":"Ana Diaz-Ruiz"}']) });
    // Told what changed, B read the two renamed entries alone (beside the rows of the two new events); not told, it would read every entry the page shows.
    expect(renamed.statements).toBe(3);
    expect(renamed.entryIds).toEqual(["cu-zoe", "u-ana"]);
    expect((await screenPage(b)).statements).toBe(1);
    // A, which recorded the renames, shows the same page.
    expect((await screenPage(a)).nodes).toEqual(renamed.nodes);
  });

  it("broadcasts to every other instance, never back to the sender", async () => {
    const heard = { a: [] as unknown[], b: [] as unknown[] };
    const channel = "TEST_BROADCAST";
    a.services.bus.onBroadcast(channel, (message) => heard.a.push(message));
    b.services.bus.onBroadcast(channel, (message) => heard.b.push(message));
    const subscribers = redisServer.process.client();
    try {
      await until(async () => Number(((await subscribers.pubsub("NUMSUB", channel)) as [string, number])[1]) === 2, 5_000, "both to listen");
    } finally {
      subscribers.disconnect();
    }
    a.services.bus.broadcast(channel, { from: "a" });
    b.services.bus.broadcast(channel, { from: "b" });
    await until(() => heard.a.length > 0 && heard.b.length > 0, 5_000, "the messages");
    // Redis took both messages before these: a message back to its sender would come before the last one.
    a.services.bus.broadcast(channel, "last");
    b.services.bus.broadcast(channel, "last");
    await until(() => heard.a.includes("last") && heard.b.includes("last"), 5_000, "the last messages");
    expect(heard).toEqual({ a: [{ from: "b" }, "last"], b: [{ from: "a" }, "last"] });
  });

  it("hears each other instance's recordings, and ignores a message it cannot read", async () => {
    await screenPage(a);
    await screenPage(b);
    expect((await screenPage(a)).statements).toBe(1);
    const sender = redisServer.process.client();
    try {
      // Neither a change nor anything else: B warns and keeps what it has.
      const warnings = () => b.logs.filter((line) => line.msg === "unreadable directory changes from another instance").length;
      await sender.publish(ENTRY_CHANGES_CHANNEL, JSON.stringify({ from: "elsewhere", message: { workspaceId: WORKSPACE, firstSeq: "next", lastSeq: 0 } }));
      await until(() => warnings() === 1, 5_000, "B to refuse the message");
      expect((await screenPage(b)).statements).toBe(1);
    } finally {
      sender.disconnect();
    }
    await record(b, [customerUpdate("redis-rename-zoe-again", 110, { id: "cu-zoe", name: "Zoë Lee" })]);
    const version = await lastSeq();
    await until(() => a.services.entries.keptVersion(WORKSPACE) === version, 5_000, "A to hear of B's recording");
    expect(b.services.entries.keptVersion(WORKSPACE)).toBe(version);
    for (const server of [a, b]) {
      const page = await screenPage(server);
      expect(page.entryIds).toEqual(["cu-zoe"]);
      expect(namesOf(page.nodes).zoe).toEqual(new Set(['{"name":"Zoë Lee"}']));
    }
  });
});
