import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { TokenVerifier } from "../src/auth/tokens";
import { parseTtl } from "../src/cli/token";
import { config } from "../src/config";

const CLI = path.resolve(__dirname, "..", "dist", "src", "cli", "token.js");
const run = (args: string[], env: Record<string, string> = {}) =>
  promisify(execFile)(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env } });
/** The `exp - iat` of a token, in seconds. */
const lifetimeOf = (token: string): number => {
  const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8")) as { exp: number; iat: number };
  return claims.exp - claims.iat;
};

describe("npm run token", () => {
  it("prints a token the service accepts, with the given claims", async () => {
    const before = Date.now();
    const { stdout } = await run(["--role", "admin", "--workspace", "demo", "--user", "u-1", "--name", "Ana Diaz", "--ttl", "2h"]);
    const principal = await new TokenVerifier(config.auth).verify(stdout.trim());
    expect(principal).toMatchObject({ userId: "u-1", workspaceId: "demo", role: "ADMIN", name: "Ana Diaz" });
    expect(principal.expiresAt).toBeGreaterThanOrEqual(before + 2 * 3600_000 - 1000);
    expect(principal.expiresAt).toBeLessThanOrEqual(Date.now() + 2 * 3600_000 + 1000);
  });

  it("gives a token one hour by default, or the role's maximum lifetime when that is shorter, and the service accepts it", async () => {
    const agent = ["--role", "agent", "--workspace", "demo", "--user", "u-1"];
    const byDefault = (await run(agent)).stdout.trim();
    expect(lifetimeOf(byDefault)).toBe(3600);
    await expect(new TokenVerifier(config.auth).verify(byDefault)).resolves.toMatchObject({ userId: "u-1" });

    const shortLived = (await run(agent, { AUTH_JWT_MAX_LIFETIME: "30m" })).stdout.trim();
    expect(lifetimeOf(shortLived)).toBe(1800);
    const strict = new TokenVerifier({ ...config.auth, maxLifetimeSeconds: { user: 1800, service: 1800 } });
    await expect(strict.verify(shortLived)).resolves.toMatchObject({ userId: "u-1" });
  });

  it("gives a service token up to a year, and refuses a lifetime over the role's maximum", async () => {
    const service = ["--role", "service", "--workspace", "demo", "--user", "api-1"];
    const yearLong = (await run([...service, "--ttl", "365d"])).stdout.trim();
    await expect(new TokenVerifier(config.auth).verify(yearLong)).resolves.toMatchObject({ role: "SERVICE" });
    await expect(run([...service, "--ttl", "366d"])).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining("--ttl must be at most 365d") });
    await expect(run(["--role", "admin", "--workspace", "demo", "--user", "u-1", "--ttl", "25h"])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining("AUTH_JWT_MAX_LIFETIME"),
    });
  });

  it.each([
    [["--role", "agent", "--workspace", "demo ", "--user", "u-1"], /--workspace must be/],
    [["--role", "agent", "--workspace", "demo", "--user", "u-1\t"], /--user must be/],
    [["--role", "owner", "--workspace", "demo", "--user", "u-1"], /usage: npm run token/],
    [["--role", "agent", "--user", "u-1"], /usage: npm run token/],
    [["--role", "agent", "--workspace", "demo", "--user", "u-1", "--ttl", "soon"], /--ttl must be a duration like/],
  ])("refuses %j with a message and exit code 1", async (args, message) => {
    await expect(run(args)).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(message) });
  });

  it("reads lifetimes in seconds, minutes, hours and days", () => {
    expect([parseTtl("90s"), parseTtl("15m"), parseTtl("1h"), parseTtl("7d")]).toEqual([90, 900, 3600, 604800]);
    expect(() => parseTtl("0h")).toThrow("positive");
  });
});
