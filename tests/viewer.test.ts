import { authChecker } from "../src/auth/auth-checker";
import { ForbiddenError } from "../src/common/errors";
import type { AppContext } from "../src/server/context";
import { useTestDatabase } from "./support/database";
import { postGraphQL, useTestServer } from "./support/server";
import { Role, tokenFor, WORKSPACE, OTHER_WORKSPACE } from "./support/tokens";

const VIEWER = `query Viewer { viewer { userId role workspaceId user { id name email } } }`;

describe("viewer", () => {
  const dataSource = useTestDatabase();
  const server = useTestServer();

  beforeAll(async () => {
    await dataSource.query(
      `INSERT INTO users (workspace_id, id, name, email, name_occurred_at) VALUES
         (?, 'u-ana', 'Ana Diaz', 'ana@example.com', NOW(3)),
         (?, 'u-ana', 'Another Ana', NULL, NOW(3))`,
      [WORKSPACE, OTHER_WORKSPACE],
    );
  });

  it.each([
    [Role.ADMIN, "ADMIN"],
    [Role.AGENT, "AGENT"],
    [Role.SERVICE, "SERVICE"],
  ])("tells a %s who they are", async (role, roleName) => {
    const response = await postGraphQL(server.graphqlUrl, { query: VIEWER }, { token: await tokenFor(role, { userId: "u-someone" }) });
    expect(response.status).toBe(200);
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data).toEqual({ viewer: { userId: "u-someone", role: roleName, workspaceId: WORKSPACE, user: null } });
  });

  it("gives a user their directory entry from their own workspace", async () => {
    const response = await postGraphQL(server.graphqlUrl, { query: VIEWER }, { token: await tokenFor(Role.AGENT, { userId: "u-ana" }) });
    expect(response.body.data).toEqual({
      viewer: {
        userId: "u-ana",
        role: "AGENT",
        workspaceId: WORKSPACE,
        user: { id: "u-ana", name: "Ana Diaz", email: "ana@example.com" },
      },
    });
  });

  it("reads the directory of the token's workspace only", async () => {
    const token = await tokenFor(Role.ADMIN, { userId: "u-ana", workspaceId: OTHER_WORKSPACE });
    const response = await postGraphQL(server.graphqlUrl, { query: VIEWER }, { token });
    expect(response.body.data?.viewer).toMatchObject({ workspaceId: OTHER_WORKSPACE, user: { name: "Another Ana", email: null } });
  });

  it("never gives a SERVICE client a user's directory entry", async () => {
    const token = await tokenFor(Role.SERVICE, { userId: "u-ana" });
    const response = await postGraphQL(server.graphqlUrl, { query: VIEWER }, { token });
    expect(response.body.data?.viewer).toMatchObject({ role: "SERVICE", user: null });
  });
});

describe("authChecker", () => {
  const context = (role: Role, expiresAt = Date.now() + 60_000) =>
    ({ principal: { userId: "u-1", workspaceId: WORKSPACE, role, expiresAt } }) as AppContext;
  const check = (ctx: AppContext, roles: Role[]) =>
    authChecker({ context: ctx, root: {}, args: {}, info: {} as never }, roles);

  it("lets a listed role through", () => {
    expect(check(context(Role.AGENT), [Role.ADMIN, Role.AGENT])).toBe(true);
  });

  it("refuses an unlisted role with FORBIDDEN, not type-graphql's code", () => {
    expect(() => check(context(Role.AGENT), [Role.ADMIN])).toThrow(ForbiddenError);
    try {
      check(context(Role.SERVICE), [Role.ADMIN]);
    } catch (error) {
      expect((error as ForbiddenError).extensions.code).toBe("FORBIDDEN");
    }
  });

  it("checks the role only: expiry is checked where the token is used, so a result subscribers share never depends on it", () => {
    expect(check(context(Role.ADMIN, Date.now() - 1), [Role.ADMIN])).toBe(true);
  });
});
