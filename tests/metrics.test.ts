import type { AppConfig } from "../src/config";
import { useTestDatabase } from "./support/database";
import { connectedClient, CONVERSATION_TAIL, conversationEvent, recordOver, take, TailData, until } from "./support/live";
import { postGraphQL, useTestServer } from "./support/server";
import { Role, tokenFor } from "./support/tokens";

/** The value of one series in Prometheus' text format (0 when it is absent). */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

const PAGE = "query Page { workspaceAuditLog(first: 5) { edges { node { id } } } }";

describe("the Prometheus metrics on METRICS_PORT", () => {
  const dataSource = useTestDatabase();
  // Metrics on a free port; a small budget, and a short read time limit, so that both show.
  const server = useTestServer(
    (config): AppConfig => ({
      ...config,
      metricsPort: 0,
      rateLimits: { ...config.rateLimits, user: { capacity: 5_000, refillPerSecond: 1 } },
      database: { ...config.database, readTimeoutMs: 200 },
    }),
  );
  const scrape = async () => {
    const response = await fetch(server.metricsUrl!);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/plain");
    return response.text();
  };

  it("counts operations, costs, refusals, recordings, tails, deliveries and timeouts after traffic", async () => {
    const before = await scrape();
    const admin = await tokenFor(Role.ADMIN, { userId: "u-metrics" });
    const producer = await tokenFor(Role.SERVICE);

    const first = conversationEvent("c-metrics", 1);
    await recordOver(server.graphqlUrl, producer, [first]);
    // The same event again: a duplicate, answered and not stored.
    await recordOver(server.graphqlUrl, producer, [first, conversationEvent("c-metrics", 2)]);
    expect((await postGraphQL(server.graphqlUrl, { query: PAGE }, { token: admin })).status).toBe(200);
    const bomb = `query Bomb { ${Array.from({ length: 16 }, (_, n) => `v${n}: viewer { userId }`).join(" ")} }`;
    expect((await postGraphQL(server.graphqlUrl, { query: bomb }, { token: admin })).status).toBe(400);
    // 2,601 points: the budget of 5,000 pays for one.
    const large = `query Large { workspaceAuditLog(first: 200) { edges { node { metadata changes { before after } actor { user { name } }
      ... on ConversationEvent { conversation { customer { name } } } } } } }`;
    expect((await postGraphQL(server.graphqlUrl, { query: large }, { token: admin })).status).toBe(200);
    expect((await postGraphQL(server.graphqlUrl, { query: large }, { token: admin })).status).toBe(429);
    await expect(server.services.reads.query("SELECT SLEEP(3) AS slept")).rejects.toThrow(/was stopped/);

    const client = await connectedClient(server.wsUrl, admin);
    try {
      const tail = client.subscribe<TailData>({ query: CONVERSATION_TAIL, variables: { conversationId: "c-metrics" } });
      await until(() => server.services.liveTail.activeSubscriptions === 1, 5_000, "the tail to start");
      await recordOver(server.graphqlUrl, producer, [conversationEvent("c-metrics", 3)]);
      await take(tail, 1);

      const after = await scrape();
      const moved = (series: string) => sample(after, series) - sample(before, series);
      expect(moved('audit_log_operations_total{transport="http",operation="Page",code="OK"}')).toBe(1);
      expect(moved('audit_log_operations_total{transport="http",operation="Bomb",code="QUERY_TOO_COMPLEX"}')).toBe(1);
      expect(moved('audit_log_operations_total{transport="http",operation="Large",code="RATE_LIMITED"}')).toBe(1);
      expect(moved('audit_log_rate_limited_total{transport="http"}')).toBe(1);
      expect(moved('audit_log_operations_total{transport="ws",operation="ConversationTail",code="OK"}')).toBe(1);
      expect(moved('audit_log_operation_duration_seconds_count{transport="http",operation="Page"}')).toBe(1);
      expect(moved('audit_log_operation_cost_points_count{transport="http"}')).toBeGreaterThanOrEqual(5);
      expect(moved("audit_log_events_recorded_total")).toBe(3);
      expect(moved("audit_log_events_duplicate_total")).toBe(1);
      expect(moved("audit_log_live_deliveries_total")).toBe(1);
      expect(moved("audit_log_read_statement_timeouts_total")).toBe(1);
      expect(sample(after, "audit_log_live_subscriptions")).toBe(1);
      expect(sample(after, "audit_log_websockets")).toBe(1);
      for (const level of ["audit_log_db_pool_in_use", "audit_log_db_pool_waiting", "audit_log_db_reads_running", "audit_log_db_reads_waiting"]) {
        expect(after).toMatch(new RegExp(`^${level} \\d+$`, "m"));
      }
      expect(after).toMatch(/^audit_log_process_cpu_seconds_total /m);
      tail.unsubscribe();
    } finally {
      await client.dispose();
    }
    // The events the counters speak of are stored.
    const [{ n }]: { n: number | string }[] = await dataSource.query(`SELECT COUNT(*) AS n FROM audit_events WHERE conversation_id = 'c-metrics'`);
    expect(Number(n)).toBe(3);
  });

  it("serves only /metrics on its port, and nothing of it on the API's", async () => {
    expect((await fetch(server.metricsUrl!.replace("/metrics", "/graphql"))).status).toBe(404);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
  });
});
