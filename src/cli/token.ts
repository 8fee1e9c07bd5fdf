import { parseArgs } from "node:util";
import { Role, ROLE_CLAIMS } from "../auth/principal";
import { signToken } from "../auth/tokens";
import { config } from "../config";

const USAGE =
  'usage: npm run token -- --role admin|agent|service --workspace <id> --user <id> [--name "Ana Diaz"] [--ttl 1h]';

/** Parses a lifetime like 90s, 15m, 1h or 7d into seconds. */
export function parseTtl(text: string): number {
  const match = /^(\d+)\s*([smhd])$/.exec(text.trim());
  if (!match) throw new Error(`--ttl must look like 90s, 15m, 1h or 7d; got ${JSON.stringify(text)}`);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[match[2] as "s" | "m" | "h" | "d"];
  const seconds = Number(match[1]) * unit;
  if (seconds <= 0) throw new Error("--ttl must be positive");
  return seconds;
}

/** Prints a signed development token for the configured secret. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      role: { type: "string" },
      workspace: { type: "string" },
      user: { type: "string" },
      name: { type: "string" },
      ttl: { type: "string", default: "1h" },
    },
    strict: true,
  });
  const role: Role | undefined = values.role ? ROLE_CLAIMS[values.role.toLowerCase()] : undefined;
  if (!role || !values.workspace || !values.user) throw new Error(USAGE);
  const token = await signToken(config.auth, {
    role,
    workspaceId: values.workspace,
    userId: values.user,
    name: values.name,
    ttlSeconds: parseTtl(values.ttl ?? "1h"),
  });
  process.stdout.write(`${token}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
