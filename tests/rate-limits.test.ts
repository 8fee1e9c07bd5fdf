import { AuditEventType } from "../src/events/audit-event.enums";
import type { AppConfig } from "../src/config";
import { useTestDatabase } from "./support/database";
import { eventInput, RECORD_EVENTS } from "./support/events";
import { describeWith, REDIS_SERVER } from "./support/programs";
import { useRedisProcess } from "./support/redis";
import { errorCodes, postGraphQL, useTestServer } from "./support/server";
import { Role, tokenFor } from "./support/tokens";
import { createTestWsClient } from "./support/ws-client";

/** A page of 200 events with names: 2,602 points (see tests/operation-limits.test.ts). */
const LARGE_PAGE = `{ workspaceAuditLog(first: 200) { edges { cursor node { id actor { name user { name } } changes { field before after }
  ... on ConversationEvent { conversation { subject customer { name } } csat { rating } } ... on CustomerEvent { customer { name } } } } pageInfo { endCursor } } }`;
const LARGE_PAGE_COST = 2_602;
const VIEWER = "{ viewer { userId } }";

/** Budgets of 5,000 points (the most an operation may cost) that refill at 1 point a second: two large pages empty one. */
const tight = (config: AppConfig): AppConfig => ({
  ...config,
  rateLimits: { user: { capacity: 5_000, refillPerSecond: 1 }, service: { capacity: 5_000, refillPerSecond: 1 }, refusalDelayMs: 1_000 },
});

describe("each token's budget of cost points", () => {
  useTestDatabase();
  const server = useTestServer(tight);

  it("takes each operation's cost, says what is left, and refuses one it cannot pay for with 429, RATE_LIMITED and Retry-After", async () => {
    const admin = await tokenFor(Role.ADMIN, { userId: "u-flood" });
    const first = await postGraphQL(server.graphqlUrl, { query: LARGE_PAGE }, { token: admin });
    expect(first.status).toBe(200);
    const status = (first.body.extensions as { cost: { throttleStatus: Record<string, number> } }).cost.throttleStatus;
    expect(status).toEqual({ maximumAvailable: 5_000, currentlyAvailable: 5_000 - LARGE_PAGE_COST, restoreRate: 1 });

    const refusedAt = Date.now();
    const second = await postGraphQL(server.graphqlUrl, { query: LARGE_PAGE }, { token: admin });
    expect(second.status).toBe(429);
    // Held a second before it answers: a client that ignores Retry-After cannot spin on refusals.
    expect(Date.now() - refusedAt).toBeGreaterThanOrEqual(950);
    expect(second.body.data).toBeUndefined();
    expect(errorCodes(second)).toEqual(["RATE_LIMITED"]);
    const { extensions, message } = second.body.errors![0];
    const retryAfter = extensions!.retryAfterSeconds as number;
    // 204 points short, at 1 point a second (a few more points may have come back meanwhile).
    expect(retryAfter).toBeGreaterThan(190);
    expect(retryAfter).toBeLessThanOrEqual(LARGE_PAGE_COST - (5_000 - LARGE_PAGE_COST));
    expect(second.headers.get("retry-after")).toBe(String(retryAfter));
    expect(extensions).toMatchObject({ cost: LARGE_PAGE_COST, throttleStatus: { maximumAvailable: 5_000, restoreRate: 1 } });
    expect(message).toMatch(/costs 2602 points/);

    // What is left still pays for a cheap operation.
    const cheap = await postGraphQL(server.graphqlUrl, { query: VIEWER }, { token: admin });
    expect(cheap.body).toMatchObject({ data: { viewer: { userId: "u-flood" } } });
  });

  it("keeps users apart: another user of the workspace, or the same user id in another workspace, has a budget of its own", async () => {
    const flooding = await tokenFor(Role.ADMIN, { userId: "u-greedy" });
    await postGraphQL(server.graphqlUrl, { query: LARGE_PAGE }, { token: flooding });
    expect((await postGraphQL(server.graphqlUrl, { query: LARGE_PAGE }, { token: flooding })).status).toBe(429);
    for (const other of [await tokenFor(Role.ADMIN, { userId: "u-patient" }), await tokenFor(Role.ADMIN, { userId: "u-greedy", workspaceId: "ws-elsewhere" })]) {
      expect((await postGraphQL(server.graphqlUrl, { query: LARGE_PAGE }, { token: other })).status).toBe(200);
    }
  });

  it("charges the same budget over WebSocket, and refuses there with the same error", async () => {
    const admin = await tokenFor(Role.ADMIN, { userId: "u-both" });
    expect((await postGraphQL(server.graphqlUrl, { query: LARGE_PAGE }, { token: admin })).status).toBe(200);
    const ws = createTestWsClient(server.wsUrl, { authorization: admin });
    try {
      await ws.connected;
      await expect(ws.execute({ query: LARGE_PAGE })).rejects.toEqual([
        expect.objectContaining({ extensions: expect.objectContaining({ code: "RATE_LIMITED", cost: LARGE_PAGE_COST }) }),
      ]);
      expect((await ws.execute({ query: VIEWER })).data).toEqual({ viewer: { userId: "u-both" } });
    } finally {
      await ws.dispose();
    }
  });

  it("gives producers a recording budget of their own", async () => {
    const producer = await tokenFor(Role.SERVICE, { userId: "u-shared" });
    const admin = await tokenFor(Role.ADMIN, { userId: "u-shared" });
    expect((await postGraphQL(server.graphqlUrl, { query: LARGE_PAGE }, { token: admin })).status).toBe(200);
    expect((await postGraphQL(server.graphqlUrl, { query: LARGE_PAGE }, { token: admin })).status).toBe(429);
    const events = Array.from({ length: 3 }, () => eventInput(AuditEventType.CUSTOMER, "customer.updated"));
    const recorded = await postGraphQL(server.graphqlUrl, { query: RECORD_EVENTS, variables: { events } }, { token: producer });
    expect(recorded.body.errors).toBeUndefined();
    expect((recorded.body.extensions as { cost: { throttleStatus: unknown } }).cost.throttleStatus).toEqual({
      maximumAvailable: 5_000,
      currentlyAvailable: 5_000 - 7,
      restoreRate: 1,
    });
  });
});

describeWith(REDIS_SERVER)("budgets across instances through Redis", () => {
  const redisServer = useRedisProcess();
  useTestDatabase();
  const a = useTestServer((config) => tight({ ...config, redisUrl: redisServer.process.url }));
  const b = useTestServer((config) => tight({ ...config, redisUrl: redisServer.process.url }));

  it("shares one budget per user across the fleet", async () => {
    const admin = await tokenFor(Role.ADMIN, { userId: "u-fleet" });
    expect((await postGraphQL(a.graphqlUrl, { query: LARGE_PAGE }, { token: admin })).status).toBe(200);
    const onB = await postGraphQL(b.graphqlUrl, { query: LARGE_PAGE }, { token: admin });
    expect(onB.status).toBe(429);
    expect(errorCodes(onB)).toEqual(["RATE_LIMITED"]);
  });

  it("lets operations through while Redis does not answer, and meters them again once it is back", async () => {
    const admin = await tokenFor(Role.ADMIN, { userId: "u-outage" });
    const redis = redisServer.process;
    await redis.stop();
    try {
      for (let n = 0; n < 3; n++) expect((await postGraphQL(a.graphqlUrl, { query: LARGE_PAGE }, { token: admin })).status).toBe(200);
    } finally {
      await redis.start();
    }
    // ioredis reconnects on its own; the bucket starts full again.
    let status = 0;
    for (const deadline = Date.now() + 10_000; status !== 429 && Date.now() < deadline; ) {
      status = (await postGraphQL(b.graphqlUrl, { query: LARGE_PAGE }, { token: admin })).status;
      if (status !== 429) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(429);
  });
});
