import { useTestDatabase } from "./support/database";
import { postGraphQL, useTestServer } from "./support/server";
import { Role, tokenFor } from "./support/tokens";
import { createTestWsClient } from "./support/ws-client";

const VIEWER_WITH_USER = `query Viewer { viewer { userId user { name } } }`;

describe("unexpected errors", () => {
  const dataSource = useTestDatabase();
  const server = useTestServer();
  const development = useTestServer((config) => ({ ...config, nodeEnv: "development" }));

  // A real failure inside a resolver: the directory table is missing (the database is dropped after).
  beforeAll(() => dataSource.query(`RENAME TABLE users TO users_away`));

  it("reach the client masked, with the request id, and are logged under that id", async () => {
    const response = await postGraphQL(server.graphqlUrl, { query: VIEWER_WITH_USER }, { token: await tokenFor(Role.ADMIN) });
    const requestId = response.headers.get("x-request-id");
    expect(requestId).toBeTruthy();
    expect(response.body.data).toEqual({ viewer: { userId: "admin-1", user: null } });
    expect(response.body.errors).toEqual([
      {
        message: "Internal server error",
        locations: expect.any(Array),
        path: ["viewer", "user"],
        extensions: { code: "INTERNAL_SERVER_ERROR", requestId },
      },
    ]);
    expect(JSON.stringify(response.body)).not.toMatch(/FROM|SELECT|ER_NO_SUCH_TABLE|doesn.t exist|\.ts:/);

    const logged = server.logs.find((line) => line.requestId === requestId && line.msg === "unexpected error");
    expect(logged).toMatchObject({ level: 50, err: { message: expect.stringContaining("users") } });
  });

  it("keep the client's request id when it sends a plain one", async () => {
    const response = await postGraphQL(
      server.graphqlUrl,
      { query: VIEWER_WITH_USER },
      { token: await tokenFor(Role.ADMIN), headers: { "x-request-id": "req-from-client-42" } },
    );
    expect(response.headers.get("x-request-id")).toBe("req-from-client-42");
    expect(response.body.errors?.[0].extensions?.requestId).toBe("req-from-client-42");
  });

  it("are masked over WebSocket too", async () => {
    const ws = createTestWsClient(server.wsUrl, { authorization: await tokenFor(Role.ADMIN) });
    try {
      await ws.connected;
      const result = await ws.execute({ query: VIEWER_WITH_USER });
      expect(result.errors).toEqual([
        expect.objectContaining({ message: "Internal server error", extensions: { code: "INTERNAL_SERVER_ERROR", requestId: expect.any(String) } }),
      ]);
      expect(JSON.stringify(result)).not.toMatch(/users|SELECT/);
    } finally {
      await ws.dispose();
    }
  });

  it("show their detail only when NODE_ENV is development", async () => {
    const response = await postGraphQL(development.graphqlUrl, { query: VIEWER_WITH_USER }, { token: await tokenFor(Role.ADMIN) });
    expect(response.body.errors?.[0].extensions).toMatchObject({
      code: "INTERNAL_SERVER_ERROR",
      detail: expect.stringContaining("users"),
    });
  });
});
