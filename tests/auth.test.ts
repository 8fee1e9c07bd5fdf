import { SignJWT } from "jose";
import { signToken } from "../src/auth/tokens";
import { config } from "../src/config";
import { useTestDatabase } from "./support/database";
import { errorCodes, postGraphQL, useTestServer } from "./support/server";
import { Role, tokenFor, WORKSPACE } from "./support/tokens";
import { createTestWsClient, QueuedSocket } from "./support/ws-client";

const VIEWER = `query Viewer { viewer { userId role workspaceId } }`;
const INTROSPECTION = `query Introspect { __schema { queryType { name } } }`;

const secret = () => new TextEncoder().encode(config.auth.jwtSecret);
const nowSeconds = () => Math.floor(Date.now() / 1000);
const inOneHour = () => nowSeconds() + 3600;
const HOUR = 3600;
const DAY = 24 * HOUR;

/** A token signed with the configured secret, with exactly these claims (no `iat` unless given). */
async function signedClaims(claims: { sub?: string; wid?: string; role?: string; iat?: number; exp?: number }): Promise<string> {
  const { sub = "u-1", wid = WORKSPACE, role = "admin", iat, exp = inOneHour() } = claims;
  const jwt = new SignJWT({ wid, role }).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setExpirationTime(exp);
  if (iat !== undefined) jwt.setIssuedAt(iat);
  return jwt.sign(secret());
}

/** Tokens a client might send, none of which may authenticate. */
const BAD_CREDENTIALS: [string, () => Promise<string>][] = [
  ["an empty bearer", async () => "Bearer "],
  ["a malformed token", async () => "Bearer not.a.jwt"],
  ["garbage in place of a JWT", async () => "Bearer 1234567890"],
  [
    "a token signed with another secret",
    async () =>
      `Bearer ${await new SignJWT({ wid: WORKSPACE, role: "admin" })
        .setProtectedHeader({ alg: "HS256" })
        .setSubject("u-1")
        .setExpirationTime(inOneHour())
        .sign(new TextEncoder().encode("another-secret-that-is-long-enough-to-be-valid"))}`,
  ],
  [
    "an expired token",
    async () =>
      `Bearer ${await new SignJWT({ wid: WORKSPACE, role: "admin" })
        .setProtectedHeader({ alg: "HS256" })
        .setSubject("u-1")
        .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
        .sign(secret())}`,
  ],
  [
    "a token without exp",
    async () =>
      `Bearer ${await new SignJWT({ wid: WORKSPACE, role: "admin" }).setProtectedHeader({ alg: "HS256" }).setSubject("u-1").sign(secret())}`,
  ],
  [
    "an unknown role",
    async () =>
      `Bearer ${await new SignJWT({ wid: WORKSPACE, role: "superuser" })
        .setProtectedHeader({ alg: "HS256" })
        .setSubject("u-1")
        .setExpirationTime(inOneHour())
        .sign(secret())}`,
  ],
  [
    "a token without a workspace",
    async () =>
      `Bearer ${await new SignJWT({ role: "admin" })
        .setProtectedHeader({ alg: "HS256" })
        .setSubject("u-1")
        .setExpirationTime(inOneHour())
        .sign(secret())}`,
  ],
  [
    "a token without a subject",
    async () =>
      `Bearer ${await new SignJWT({ wid: WORKSPACE, role: "admin" })
        .setProtectedHeader({ alg: "HS256" })
        .setExpirationTime(inOneHour())
        .sign(secret())}`,
  ],
  ["a workspace id with a trailing space", async () => `Bearer ${await signedClaims({ wid: `${WORKSPACE} ` })}`],
  ["a workspace id with a leading space", async () => `Bearer ${await signedClaims({ wid: ` ${WORKSPACE}` })}`],
  ["a workspace id with a control character", async () => `Bearer ${await signedClaims({ wid: `${WORKSPACE}\u0000` })}`],
  ["a subject with a trailing newline", async () => `Bearer ${await signedClaims({ sub: "u-1\n" })}`],
  ["a subject with a leading no-break space", async () => `Bearer ${await signedClaims({ sub: "\u00a0u-1" })}`],
  ["a subject with a lone surrogate", async () => `Bearer ${await signedClaims({ sub: "u-\ud800" })}`],
  ["a token issued more than 60 s in the future", async () => `Bearer ${await signedClaims({ iat: nowSeconds() + 120, exp: nowSeconds() + HOUR })}`],
  ["an admin token that lives over 24 h", async () => `Bearer ${await signedClaims({ iat: nowSeconds(), exp: nowSeconds() + DAY + 60 })}`],
  ["an agent token without iat that expires over 24 h from now", async () => `Bearer ${await signedClaims({ role: "agent", exp: nowSeconds() + DAY + 60 })}`],
  ["a service token that lives over a year", async () => `Bearer ${await signedClaims({ role: "service", iat: nowSeconds(), exp: nowSeconds() + 366 * DAY })}`],
  [
    "an unsigned token (alg none)",
    async () => {
      const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString("base64url");
      return `Bearer ${encode({ alg: "none", typ: "JWT" })}.${encode({ sub: "u-1", wid: WORKSPACE, role: "admin", exp: inOneHour() })}.`;
    },
  ],
];

describe("tokens over HTTP", () => {
  useTestDatabase();
  const server = useTestServer();

  it("accepts a valid bearer token", async () => {
    const response = await postGraphQL(server.graphqlUrl, { query: VIEWER }, { token: await tokenFor(Role.AGENT) });
    expect(response.status).toBe(200);
    expect(response.body.data).toEqual({ viewer: { userId: "agent-1", role: "AGENT", workspaceId: WORKSPACE } });
  });

  it("rejects a request without a token with 401 UNAUTHENTICATED", async () => {
    const response = await postGraphQL(server.graphqlUrl, { query: VIEWER });
    expect(response.status).toBe(401);
    expect(errorCodes(response)).toEqual(["UNAUTHENTICATED"]);
    expect(response.body.data).toBeUndefined();
  });

  it.each(BAD_CREDENTIALS)("rejects %s with 401 UNAUTHENTICATED", async (_name, credential) => {
    const response = await postGraphQL(server.graphqlUrl, { query: VIEWER }, { authorization: await credential() });
    expect(response.status).toBe(401);
    expect(errorCodes(response)).toEqual(["UNAUTHENTICATED"]);
    expect(response.body.data).toBeUndefined();
  });

  it("says an expired token has expired", async () => {
    const [, expired] = BAD_CREDENTIALS.find(([name]) => name === "an expired token")!;
    const response = await postGraphQL(server.graphqlUrl, { query: VIEWER }, { authorization: await expired() });
    expect(response.body.errors?.[0].message).toBe("The token has expired.");
  });

  it("says a token from the future was issued in the future, and a too long-lived one that its lifetime is too long", async () => {
    const future = await signedClaims({ iat: nowSeconds() + 120 });
    expect((await postGraphQL(server.graphqlUrl, { query: VIEWER }, { token: future })).body.errors?.[0].message).toContain("issued in the future");
    const longLived = await signedClaims({ role: "agent", iat: nowSeconds(), exp: nowSeconds() + 2 * DAY });
    expect((await postGraphQL(server.graphqlUrl, { query: VIEWER }, { token: longLived })).body.errors?.[0].message).toContain("lifetime is over the 1d");
  });

  it.each([
    ["an iat up to 60 s ahead of the service's clock", () => ({ iat: nowSeconds() + 30 })],
    ["an admin token that lives exactly 24 h", () => ({ iat: nowSeconds(), exp: nowSeconds() + DAY })],
    ["an agent token without iat that expires within 24 h", () => ({ role: "agent", exp: nowSeconds() + DAY - 60 })],
    ["a service token that lives a year", () => ({ role: "service", iat: nowSeconds(), exp: nowSeconds() + 365 * DAY })],
  ])("accepts %s", async (_name, claims) => {
    const response = await postGraphQL(server.graphqlUrl, { query: VIEWER }, { token: await signedClaims(claims()) });
    expect(response.status).toBe(200);
    expect(response.body.data?.viewer).toMatchObject({ userId: "u-1", workspaceId: WORKSPACE });
  });

  it("refuses a token once it expires, though it was accepted (and remembered) before", async () => {
    const token = await tokenFor(Role.AGENT, { ttlSeconds: 2 });
    const before = await postGraphQL(server.graphqlUrl, { query: VIEWER }, { token });
    expect(before.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const after = await postGraphQL(server.graphqlUrl, { query: VIEWER }, { token });
    expect(after.status).toBe(401);
    expect(after.body.errors?.[0].message).toBe("The token has expired.");
  });

  it("refuses a token whose claims were altered after its genuine form was accepted", async () => {
    const token = await tokenFor(Role.AGENT);
    expect((await postGraphQL(server.graphqlUrl, { query: VIEWER }, { token })).status).toBe(200);
    const [header, payload, signature] = token.split(".");
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
    const promoted = Buffer.from(JSON.stringify({ ...claims, role: "admin" })).toString("base64url");
    const response = await postGraphQL(server.graphqlUrl, { query: VIEWER }, { token: `${header}.${promoted}.${signature}` });
    expect(response.status).toBe(401);
    expect(errorCodes(response)).toEqual(["UNAUTHENTICATED"]);
  });

  it("allows introspection without a token while introspection is on", async () => {
    const response = await postGraphQL(server.graphqlUrl, { query: INTROSPECTION });
    expect(response.status).toBe(200);
    expect(response.body.data).toEqual({ __schema: { queryType: { name: "Query" } } });
  });

  it("does not let an introspection query carry a real field without a token", async () => {
    const response = await postGraphQL(server.graphqlUrl, { query: `{ __typename viewer { userId } }` });
    expect(response.status).toBe(401);
    expect(errorCodes(response)).toEqual(["UNAUTHENTICATED"]);
  });
});

describe("tokens with issuer and audience configured", () => {
  useTestDatabase();
  const auth = { ...config.auth, jwtIssuer: "platform", jwtAudience: "audit-log" };
  const server = useTestServer((base) => ({ ...base, auth }));

  it("accepts a token with the configured issuer and audience", async () => {
    const token = await tokenFor(Role.ADMIN, {}, auth);
    const response = await postGraphQL(server.graphqlUrl, { query: VIEWER }, { token });
    expect(response.status).toBe(200);
    expect(response.body.data?.viewer).toMatchObject({ role: "ADMIN" });
  });

  it.each([
    ["another issuer", { ...auth, jwtIssuer: "elsewhere" }],
    ["another audience", { ...auth, jwtAudience: "billing" }],
    ["no issuer or audience", { ...auth, jwtIssuer: undefined, jwtAudience: undefined }],
  ])("rejects a token with %s", async (_name, signedWith) => {
    const token = await signToken(signedWith, { role: Role.ADMIN, workspaceId: WORKSPACE, userId: "u-1" });
    const response = await postGraphQL(server.graphqlUrl, { query: VIEWER }, { token });
    expect(response.status).toBe(401);
    expect(errorCodes(response)).toEqual(["UNAUTHENTICATED"]);
  });
});

describe("tokens with configured maximum lifetimes", () => {
  useTestDatabase();
  const auth = { ...config.auth, maxLifetimeSeconds: { user: 10 * 60, service: 2 * HOUR } };
  const server = useTestServer((base) => ({ ...base, auth }));

  it.each([
    ["an admin token of 10 minutes", 200, () => ({ iat: nowSeconds(), exp: nowSeconds() + 10 * 60 })],
    ["an admin token of 11 minutes", 401, () => ({ iat: nowSeconds(), exp: nowSeconds() + 11 * 60 })],
    ["an agent token without iat that expires in 11 minutes", 401, () => ({ role: "agent", exp: nowSeconds() + 11 * 60 })],
    ["a service token of 2 hours", 200, () => ({ role: "service", iat: nowSeconds(), exp: nowSeconds() + 2 * HOUR })],
    ["a service token of 3 hours", 401, () => ({ role: "service", iat: nowSeconds(), exp: nowSeconds() + 3 * HOUR })],
  ])("answers %s with %d", async (_name, status, claims) => {
    const response = await postGraphQL(server.graphqlUrl, { query: VIEWER }, { token: await signedClaims(claims()) });
    expect(response.status).toBe(status);
    if (status === 401) expect(errorCodes(response)).toEqual(["UNAUTHENTICATED"]);
  });

  it("closes a WebSocket whose token lives longer than the maximum with 4403", async () => {
    const ws = createTestWsClient(server.wsUrl, { authorization: await signedClaims({ iat: nowSeconds(), exp: nowSeconds() + HOUR }) });
    await expect(ws.connected).rejects.toMatchObject({ code: 4403 });
    await ws.dispose();
  });
});

describe("introspection turned off", () => {
  useTestDatabase();
  const server = useTestServer((base) => ({ ...base, introspection: false }));

  it("refuses introspection without a token", async () => {
    const response = await postGraphQL(server.graphqlUrl, { query: INTROSPECTION });
    expect(response.status).toBe(401);
    expect(errorCodes(response)).toEqual(["UNAUTHENTICATED"]);
  });

  it("refuses introspection with a token too", async () => {
    const response = await postGraphQL(server.graphqlUrl, { query: INTROSPECTION }, { token: await tokenFor(Role.ADMIN) });
    expect(response.body.data).toBeUndefined();
    expect(errorCodes(response)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
  });

  it("refuses introspection over WebSocket", async () => {
    const ws = createTestWsClient(server.wsUrl, { authorization: `Bearer ${await tokenFor(Role.ADMIN)}` });
    try {
      await ws.connected;
      const errors: { message: string; extensions?: { code?: string } }[] = await ws
        .execute({ query: INTROSPECTION })
        .then(() => [], (rejection: typeof errors) => rejection);
      expect(errors.length).toBeGreaterThan(0);
      for (const error of errors) {
        expect(error.message).toContain("introspection has been disabled");
        expect(error.extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
      }
    } finally {
      await ws.dispose();
    }
  });
});

describe("tokens over WebSocket", () => {
  useTestDatabase();
  const server = useTestServer();

  it("runs operations for a connection with a valid token", async () => {
    const ws = createTestWsClient(server.wsUrl, { authorization: `Bearer ${await tokenFor(Role.ADMIN)}` });
    try {
      await ws.connected;
      const result = await ws.execute({ query: VIEWER });
      expect(result.errors).toBeUndefined();
      expect(result.data).toEqual({ viewer: { userId: "admin-1", role: "ADMIN", workspaceId: WORKSPACE } });
    } finally {
      await ws.dispose();
    }
  });

  it("accepts the bare token as well as Bearer <token>", async () => {
    const ws = createTestWsClient(server.wsUrl, { authorization: await tokenFor(Role.AGENT) });
    try {
      await ws.connected;
      const result = await ws.execute({ query: VIEWER });
      expect(result.data).toEqual({ viewer: { userId: "agent-1", role: "AGENT", workspaceId: WORKSPACE } });
    } finally {
      await ws.dispose();
    }
  });

  it("closes a connection without a token with 4403", async () => {
    const ws = createTestWsClient(server.wsUrl, {});
    await expect(ws.connected).rejects.toMatchObject({ code: 4403 });
    await ws.dispose();
  });

  it.each(BAD_CREDENTIALS)("closes a connection with %s with 4403", async (_name, credential) => {
    const ws = createTestWsClient(server.wsUrl, { authorization: await credential() });
    await expect(ws.connected).rejects.toMatchObject({ code: 4403 });
    await ws.dispose();
  });

  it("closes a socket that never sends connection_init with 4408", async () => {
    const socket = await QueuedSocket.open(server.wsUrl);
    const { code } = await socket.closed;
    expect(code).toBe(4408);
  });
});
