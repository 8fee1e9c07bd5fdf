import { Role } from "../auth/principal";
import { maxLifetimeSeconds, signToken } from "../auth/tokens";
import { formatDuration } from "../config/duration";
import type { AuthConfig } from "../config";
import type { AuditRecorder } from "../recording/recorder.service";
import { DEMO_USERS, DEMO_WORKSPACE, demoEvents } from "./demo-data";

/** Events per recording call while seeding. */
const SEED_BATCH = 500;

/**
 * Records the demo workspace through the recorder, as a producer would:
 * validation, idempotency, directory and publication included.
 */
export async function seedDemo(recorder: AuditRecorder, end = new Date()): Promise<{ recorded: number; duplicates: number }> {
  const events = demoEvents(end);
  const producer = { userId: "demo-seeder", workspaceId: DEMO_WORKSPACE, role: Role.SERVICE, expiresAt: Number.MAX_SAFE_INTEGER };
  let duplicates = 0;
  for (let start = 0; start < events.length; start += SEED_BATCH) {
    const result = await recorder.record(producer, events.slice(start, start + SEED_BATCH));
    duplicates += result.duplicates;
  }
  return { recorded: events.length - duplicates, duplicates };
}

/** Ready-to-paste tokens for the demo's first admin and first agent, valid as long as the configuration allows. */
export async function demoAccess(auth: AuthConfig, port: number): Promise<string> {
  const ttlSeconds = maxLifetimeSeconds(auth, Role.ADMIN);
  const valid = formatDuration(ttlSeconds);
  const admin = DEMO_USERS.find((user) => user.role === "admin")!;
  const agent = DEMO_USERS.find((user) => user.role === "agent")!;
  const adminToken = await signToken(auth, { role: Role.ADMIN, workspaceId: DEMO_WORKSPACE, userId: admin.id, name: admin.name, ttlSeconds });
  const agentToken = await signToken(auth, { role: Role.AGENT, workspaceId: DEMO_WORKSPACE, userId: agent.id, name: agent.name, ttlSeconds });
  return [
    `Demo workspace "${DEMO_WORKSPACE}" is ready. Open GraphiQL: http://localhost:${port}/graphql`,
    `Admin token (${admin.name}, valid for ${valid}):`,
    adminToken,
    `Agent token (${agent.name}, valid for ${valid}):`,
    agentToken,
    "",
  ].join("\n");
}
