import { parseArgs } from "node:util";
import { Role, ROLE_CLAIMS } from "../auth/principal";
import { isTokenId, MAX_ID_LENGTH, maxLifetimeSeconds, signToken } from "../auth/tokens";
import { DURATION_FORMAT, formatDuration, parseDuration } from "../config/duration";
import { config } from "../config";

const USAGE =
  'usage: npm run token -- --role admin|agent|service --workspace <id> --user <id> [--name "Ana Diaz"] [--ttl 1h]';
/** The lifetime of a token when --ttl is not given, or the role's maximum when that is shorter. @default 3600 */
export const DEFAULT_TTL_SECONDS = 3600;

/** Parses a lifetime like 90s, 15m, 1h or 7d into seconds. */
export function parseTtl(text: string): number {
  const seconds = parseDuration(text);
  if (seconds === undefined) throw new Error(`--ttl must be ${DURATION_FORMAT}; got ${JSON.stringify(text)}`);
  if (seconds <= 0) throw new Error("--ttl must be positive");
  return seconds;
}

/** Prints a signed development token for the configured secret, issuer and audience. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      role: { type: "string" },
      workspace: { type: "string" },
      user: { type: "string" },
      name: { type: "string" },
      ttl: { type: "string" },
    },
    strict: true,
  });
  const role: Role | undefined = values.role ? ROLE_CLAIMS[values.role.toLowerCase()] : undefined;
  if (!role || !values.workspace || !values.user) throw new Error(USAGE);
  for (const [option, id] of [["--workspace", values.workspace], ["--user", values.user]]) {
    if (!isTokenId(id)) {
      throw new Error(`${option} must be at most ${MAX_ID_LENGTH} characters, without leading or trailing whitespace or control characters`);
    }
  }
  const maxTtl = maxLifetimeSeconds(config.auth, role);
  const ttlSeconds = values.ttl === undefined ? Math.min(DEFAULT_TTL_SECONDS, maxTtl) : parseTtl(values.ttl);
  if (ttlSeconds > maxTtl) {
    const variable = role === Role.SERVICE ? "AUTH_JWT_SERVICE_MAX_LIFETIME" : "AUTH_JWT_MAX_LIFETIME";
    throw new Error(`--ttl must be at most ${formatDuration(maxTtl)} for a ${role.toLowerCase()} token (${variable}); the service refuses longer ones`);
  }
  const token = await signToken(config.auth, {
    role,
    workspaceId: values.workspace,
    userId: values.user,
    name: values.name,
    ttlSeconds,
  });
  process.stdout.write(`${token}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
