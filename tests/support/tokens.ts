import { Role } from "../../src/auth/principal";
import { signToken, TokenClaims } from "../../src/auth/tokens";
import { AuthConfig, config } from "../../src/config";

export { Role };

export const WORKSPACE = "ws-test";
export const OTHER_WORKSPACE = "ws-other";

/** A real token signed with the test process's configured secret. */
export function tokenFor(
  role: Role,
  claims: Partial<Omit<TokenClaims, "role">> = {},
  auth: AuthConfig = config.auth,
): Promise<string> {
  return signToken(auth, {
    role,
    workspaceId: claims.workspaceId ?? WORKSPACE,
    userId: claims.userId ?? `${role.toLowerCase()}-1`,
    name: claims.name,
    ttlSeconds: claims.ttlSeconds ?? 600,
  });
}
