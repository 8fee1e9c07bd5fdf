import { TEST_DATABASE, useTestDatabase } from "./support/database";
import { runService, ServiceProcess, waitUntilListening } from "./support/process";
import { TcpProxy } from "./support/tcp-proxy";

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

describe("health and readiness", () => {
  useTestDatabase();
  const proxy = new TcpProxy(TEST_DATABASE.host, TEST_DATABASE.port);
  let service: ServiceProcess;
  let url: string;

  beforeAll(async () => {
    await proxy.start();
    const { user, password, database } = TEST_DATABASE;
    const credentials = password ? `${user}:${encodeURIComponent(password)}` : user;
    service = runService({ PORT: "0", DATABASE_URL: `mysql://${credentials}@127.0.0.1:${proxy.port}/${database}` });
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
