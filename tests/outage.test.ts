import { AuditEventType } from "../src/events/audit-event.enums";
import { TEST_DATABASE, useTestDatabase } from "./support/database";
import { eventInput, RECORD_EVENTS, ZOE } from "./support/events";
import { runService, ServiceProcess, waitUntilListening } from "./support/process";
import { postGraphQL } from "./support/server";
import { TcpProxy } from "./support/tcp-proxy";
import { Role, tokenFor } from "./support/tokens";

const CUSTOMER_LOG = `query CustomerLog($customerId: ID!) { customerAuditLog(customerId: $customerId, first: 5) { edges { cursor } } }`;

describe("while the database is down", () => {
  useTestDatabase();
  const proxy = new TcpProxy(TEST_DATABASE.host, TEST_DATABASE.port);
  let service: ServiceProcess;
  let url: string;
  let graphqlUrl: string;

  beforeAll(async () => {
    await proxy.start();
    service = runService({ PORT: "0", DATABASE_URL: proxy.urlThrough(TEST_DATABASE.url) });
    url = await waitUntilListening(service);
    graphqlUrl = `${url}/graphql`;
  });

  afterAll(async () => {
    service.child.kill("SIGTERM");
    await service.exited;
    await proxy.stop();
  });

  it("recording and reading answer 503 SERVICE_UNAVAILABLE with Retry-After, and a retry with the same keys records once it is back", async () => {
    const serviceToken = await tokenFor(Role.SERVICE);
    const agentToken = await tokenFor(Role.AGENT);
    const events = [eventInput(AuditEventType.CUSTOMER, "customer.updated", { customer: ZOE })];
    const recording = { query: RECORD_EVENTS, variables: { events } };
    const reading = { query: CUSTOMER_LOG, variables: { customerId: ZOE.id } };
    // The pool has connections open before the outage, as it has in service.
    expect((await postGraphQL(graphqlUrl, reading, { token: agentToken })).status).toBe(200);

    await proxy.stop();
    try {
      for (const [operation, token] of [[recording, serviceToken], [reading, agentToken]] as const) {
        const response = await postGraphQL(graphqlUrl, operation, { token });
        expect({ status: response.status, codes: response.body.errors?.map((error) => error.extensions?.code) }).toEqual({
          status: 503,
          codes: ["SERVICE_UNAVAILABLE"],
        });
        expect(response.headers.get("retry-after")).toMatch(/^\d+$/);
        expect(response.body.errors?.[0].message).toMatch(/retry/i);
      }
    } finally {
      await proxy.start();
    }
    await waitUntilReady(url);

    const retried = await postGraphQL<{ recordAuditEvents: { duplicates: number; events: { id: string }[] } }>(graphqlUrl, recording, { token: serviceToken });
    expect(retried.status).toBe(200);
    expect(retried.body.data?.recordAuditEvents).toMatchObject({ duplicates: 0, events: [{ id: expect.any(String) }] });
    const log = await postGraphQL<{ customerAuditLog: { edges: unknown[] } }>(graphqlUrl, reading, { token: agentToken });
    expect(log.body.data?.customerAuditLog.edges).toHaveLength(1);
  });
});

async function waitUntilReady(url: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while ((await fetch(`${url}/readyz`)).status !== 200) {
    if (Date.now() > deadline) throw new Error("the service did not get ready again");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
