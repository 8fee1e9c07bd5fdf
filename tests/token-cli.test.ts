import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { TokenVerifier } from "../src/auth/tokens";
import { parseTtl } from "../src/cli/token";
import { config } from "../src/config";

const CLI = path.resolve(__dirname, "..", "dist", "src", "cli", "token.js");
const run = (args: string[]) => promisify(execFile)(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH } });

describe("npm run token", () => {
  it("prints a token the service accepts, with the given claims", async () => {
    const before = Date.now();
    const { stdout } = await run(["--role", "admin", "--workspace", "demo", "--user", "u-1", "--name", "Ana Diaz", "--ttl", "2h"]);
    const principal = await new TokenVerifier(config.auth).verify(stdout.trim());
    expect(principal).toMatchObject({ userId: "u-1", workspaceId: "demo", role: "ADMIN", name: "Ana Diaz" });
    expect(principal.expiresAt).toBeGreaterThanOrEqual(before + 2 * 3600_000 - 1000);
    expect(principal.expiresAt).toBeLessThanOrEqual(Date.now() + 2 * 3600_000 + 1000);
  });

  it.each([
    [["--role", "owner", "--workspace", "demo", "--user", "u-1"], /usage: npm run token/],
    [["--role", "agent", "--user", "u-1"], /usage: npm run token/],
    [["--role", "agent", "--workspace", "demo", "--user", "u-1", "--ttl", "soon"], /--ttl must look like/],
  ])("refuses %j with a message and exit code 1", async (args, message) => {
    await expect(run(args)).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(message) });
  });

  it("reads lifetimes in seconds, minutes, hours and days", () => {
    expect([parseTtl("90s"), parseTtl("15m"), parseTtl("1h"), parseTtl("7d")]).toEqual([90, 900, 3600, 604800]);
    expect(() => parseTtl("0h")).toThrow("positive");
  });
});
