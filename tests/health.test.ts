import { AuditEventType } from "../src/events/audit-event.enums";
import { TEST_DATABASE, useTestDatabase } from "./support/database";
import { eventInput, RECORD_EVENTS } from "./support/events";
import { runService, ServiceProcess, waitUntilListening } from "./support/process";
import { describeWith, REDIS_SERVER } from "./support/programs";
import { RedisProcess } from "./support/redis";
import { postGraphQL } from "./support/server";
import { TcpProxy } from "./support/tcp-proxy";
import { Role, tokenFor } from "./support/tokens";

async function status(url: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.json() };
}

async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

useTestDatabase();

describe("health and readiness", () => {
  const proxy = new TcpProxy(TEST_DATABASE.host, TEST_DATABASE.port);
  let service: ServiceProcess;
  let url: string;

  beforeAll(async () => {
    await proxy.start();
    service = runService({ PORT: "0", DATABASE_URL: proxy.urlThrough(TEST_DATABASE.url) });
    url = await waitUntilListening(service);
  });

  afterAll(async () => {
    service.child.kill("SIGTERM");
    await service.exited;
    await proxy.stop();
  });

  it("/healthz answers while the process is up", async () => {
    expect(await status(`${url}/healthz`)).toEqual({ status: 200, body: { status: "ok" } });
  });

  it("/readyz is 200 while the database answers, 503 while it is unreachable, and 200 again after", async () => {
    expect(await status(`${url}/readyz`)).toEqual({ status: 200, body: { status: "ready", database: "up" } });

    await proxy.stop();
    const down = await eventually(() => status(`${url}/readyz`), (result) => result.status === 503);
    expect(down).toEqual({ status: 503, body: { status: "unavailable", database: "down" } });
    expect((await status(`${url}/healthz`)).status).toBe(200);

    await proxy.start();
    const up = await eventually(() => status(`${url}/readyz`), (result) => result.status === 200);
    expect(up).toEqual({ status: 200, body: { status: "ready", database: "up" } });
  });
});

describeWith(REDIS_SERVER)("readiness with Redis", () => {
  let redis: RedisProcess;
  let service: ServiceProcess;
  let url: string;

  beforeAll(async () => {
    redis = await RedisProcess.start();
    service = runService({ PORT: "0", DATABASE_URL: TEST_DATABASE.url, REDIS_URL: redis.url });
    url = await waitUntilListening(service);
  });

  afterAll(async () => {
    service.child.kill("SIGTERM");
    await service.exited;
    await redis.stop();
  });

  it("/readyz stays 200 while Redis is down, naming Redis as the degraded part, and recording goes on", async () => {
    expect(await status(`${url}/readyz`)).toEqual({ status: 200, body: { status: "ready", database: "up", redis: "up" } });

    await redis.stop();
    const degraded = await eventually(() => status(`${url}/readyz`), (result) => (result.body as { redis?: string }).redis === "down");
    expect(degraded).toEqual({ status: 200, body: { status: "degraded", database: "up", redis: "down" } });
    const recorded = await postGraphQL(
      `${url}/graphql`,
      { query: RECORD_EVENTS, variables: { events: [eventInput(AuditEventType.CUSTOMER, "customer.updated")] } },
      { token: await tokenFor(Role.SERVICE) },
    );
    expect({ status: recorded.status, errors: recorded.body.errors }).toEqual({ status: 200, errors: undefined });

    await redis.start();
    const ready = await eventually(() => status(`${url}/readyz`), (result) => (result.body as { redis?: string }).redis === "up");
    expect(ready).toEqual({ status: 200, body: { status: "ready", database: "up", redis: "up" } });
  });
});
