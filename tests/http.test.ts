import type { AddressInfo } from "node:net";
import express from "express";
import { createExpressHttpServer } from "../src/server/express-http-server";
import { useTestDatabase } from "./support/database";
import { errorCodes, postGraphQL, useTestServer } from "./support/server";
import { Role, tokenFor } from "./support/tokens";

const VIEWER = `query Viewer { viewer { role } }`;

describe("HTTP transport", () => {
  useTestDatabase();
  const server = useTestServer();

  it("answers GET /graphql queries (with a CSRF-safe header)", async () => {
    const response = await fetch(`${server.graphqlUrl}?query=${encodeURIComponent(VIEWER)}`, {
      headers: { authorization: `Bearer ${await tokenFor(Role.AGENT)}`, "apollo-require-preflight": "true" },
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { data?: unknown; errors?: unknown };
    expect(body.data).toEqual({ viewer: { role: "AGENT" } });
    expect(body.errors).toBeUndefined();
  });

  it("sends answers without an ETag, which would hash every body", async () => {
    const response = await fetch(`${server.graphqlUrl}?query=${encodeURIComponent(VIEWER)}`, {
      headers: { authorization: `Bearer ${await tokenFor(Role.AGENT)}`, "apollo-require-preflight": "true" },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("etag")).toBeNull();
  });

  it("refuses a GET without a CSRF-safe header", async () => {
    const response = await fetch(`${server.graphqlUrl}?query=${encodeURIComponent(VIEWER)}`, {
      headers: { authorization: `Bearer ${await tokenFor(Role.AGENT)}` },
    });
    expect(response.status).toBe(400);
  });

  // The document itself may hold 100 KiB (tests/operation-limits.test.ts): a large body is a recording's variables.
  it("accepts a body of almost 2 MiB", async () => {
    const padding = " ".repeat(2 * 1024 * 1024 - 1024);
    const response = await postGraphQL(server.graphqlUrl, { query: VIEWER, variables: { padding } }, { token: await tokenFor(Role.ADMIN) });
    expect(response.status).toBe(200);
    expect(response.body.data).toEqual({ viewer: { role: "ADMIN" } });
  });

  it("refuses a body over 2 MiB with 413 and a clear message", async () => {
    const padding = " ".repeat(2 * 1024 * 1024 + 1);
    const response = await postGraphQL(server.graphqlUrl, { query: VIEWER, variables: { padding } }, { token: await tokenFor(Role.ADMIN) });
    expect(response.status).toBe(413);
    expect(errorCodes(response)).toEqual(["PAYLOAD_TOO_LARGE"]);
    expect(response.body.errors?.[0].message).toMatch(/larger than the 2MB limit/);
  });

  it("refuses a body that is not JSON with 400", async () => {
    const response = await fetch(server.graphqlUrl, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await tokenFor(Role.ADMIN)}` },
      body: "{ not json",
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      errors: [{ message: "The request body is not valid JSON.", extensions: { code: "BAD_REQUEST" } }],
    });
  });

  it("reports a syntax error as GRAPHQL_PARSE_FAILED, not as an internal error", async () => {
    const response = await postGraphQL(server.graphqlUrl, { query: "{ viewer { " }, { token: await tokenFor(Role.ADMIN) });
    expect(response.status).toBe(400);
    expect(errorCodes(response)).toEqual(["GRAPHQL_PARSE_FAILED"]);
  });

  it("sends the security headers on every answer: API, health, errors and the GraphiQL page, which gets a policy of its own", async () => {
    const api = await fetch(server.graphqlUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: VIEWER }) });
    const answers = [api, await fetch(`${server.url}/healthz`), await fetch(`${server.url}/readyz`), await fetch(`${server.url}/no-such-page`)];
    for (const answer of answers) {
      expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
      expect(answer.headers.get("referrer-policy")).toBe("no-referrer");
      expect(answer.headers.get("x-frame-options")).toBe("DENY");
      expect(answer.headers.get("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    }
    const page = await fetch(server.graphqlUrl, { headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
    const policy = page.headers.get("content-security-policy") ?? "";
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("connect-src 'self'");
    expect(policy).not.toMatch(/unsafe-eval|\*|https?:/);
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    const script = /src="(\/graphiql\/assets\/[^"]+\.js)"/.exec(await page.text())?.[1];
    expect(script).toBeDefined();
    expect((await fetch(`${server.url}${script}`)).headers.get("content-security-policy")).toBe(policy);
  });
});

describe("an Express app's HTTP server", () => {
  it("creates each request and response with the app's prototypes before Express sees them, and Express serves them as usual", async () => {
    const app = express();
    app.get("/echo", (req, res) => {
      res.json({ header: req.get("x-probe"), query: req.query.q });
    });
    const server = createExpressHttpServer(app);
    const arrived: boolean[] = [];
    // First in line: what Node created, before Express's own handling.
    server.prependListener("request", (req, res) => arrived.push(Object.getPrototypeOf(req) === app.request, Object.getPrototypeOf(res) === app.response));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const response = await fetch(`http://127.0.0.1:${port}/echo?q=1`, { headers: { "x-probe": "yes" } });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ header: "yes", query: "1" });
      expect(arrived).toEqual([true, true]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
