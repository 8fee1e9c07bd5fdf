import { TEST_DATABASE, useTestDatabase } from "./support/database";
import { runService, ServiceProcess, waitUntilListening } from "./support/process";
import { Role, tokenFor, WORKSPACE } from "./support/tokens";
import { createTestWsClient } from "./support/ws-client";

const VIEWER_WITH_USER = `query Viewer { viewer { userId user { name } } }`;

describe("graceful shutdown", () => {
  const dataSource = useTestDatabase();
  let service: ServiceProcess;
  let url: string;

  beforeAll(async () => {
    await dataSource.query(
      `INSERT INTO users (workspace_id, id, name, name_occurred_at) VALUES (?, 'u-ana', 'Ana Diaz', NOW(3))`,
      [WORKSPACE],
    );
    service = runService({ PORT: "0", DATABASE_URL: TEST_DATABASE.url });
    url = await waitUntilListening(service);
  });

  afterAll(() => {
    if (service.child.exitCode === null) service.child.kill("SIGKILL");
  });

  it("on SIGTERM stops accepting, finishes the request in flight, closes WebSockets with 1001 and exits 0", async () => {
    const token = await tokenFor(Role.AGENT, { userId: "u-ana" });
    const ws = createTestWsClient(`${url.replace("http", "ws")}/graphql`, { authorization: token });
    await ws.connected;

    // Hold the directory table so the viewer's user lookup waits inside the server.
    const lock = dataSource.createQueryRunner();
    await lock.connect();
    await lock.query(`LOCK TABLES users WRITE`);
    try {
      const inFlight = fetch(`${url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: VIEWER_WITH_USER }),
      });
      await waitForLockedQuery(lock);

      service.child.kill("SIGTERM");
      expect(await ws.closed).toMatchObject({ code: 1001 });
      await expect(fetch(`${url}/healthz`)).rejects.toThrow();
      expect(service.child.exitCode).toBeNull();

      await lock.query(`UNLOCK TABLES`);
      const response = await inFlight;
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ data: { viewer: { userId: "u-ana", user: { name: "Ana Diaz" } } } });
    } finally {
      await lock.query(`UNLOCK TABLES`);
      await lock.release();
      await ws.dispose();
    }

    expect(await service.exited).toEqual({ code: 0, signal: null });
    expect(service.stdout()).toContain('"msg":"stopped"');
  });
});

/** Waits until the server's query is blocked on the table lock, so the request is really in flight. */
async function waitForLockedQuery(lock: { query(sql: string): Promise<{ info: string | null; state: string | null }[]> }) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const processes = await lock.query(`SELECT info, state FROM information_schema.processlist`);
    if (processes.some((row) => row.info?.includes("FROM users") && /lock/i.test(row.state ?? ""))) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error("the server's query never waited for the lock");
}
