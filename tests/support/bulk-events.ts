import type { DataSource } from "typeorm";
import { seededRandom } from "../../src/common/random";
import { contentHash, EVENT_COLUMNS, insertValues, newEventId } from "../../src/database/audit-event.storage";
import { placeholders } from "../../src/database/statements";
import { ActorKind, AuditEventType, SettingsSection } from "../../src/events/audit-event.enums";
import type { AuditEventRecord, NewAuditEvent } from "../../src/events/audit-event.record";
import { describeEvent } from "../../src/events/event-catalog";

/**
 * Seeds many events straight into the tables, for tests that need volume
 * (query plans). It stores rows exactly as the recorder does (same mapping),
 * without the HTTP round trips; recording itself is tested elsewhere.
 */
export interface BulkOptions {
  workspaceId: string;
  events: number;
  users?: number;
  customers?: number;
  conversations?: number;
  /** Deterministic pseudo-random seed. */
  seed?: number;
  /** Words for event `n` to carry as a changed value, so that search finds it by them; none by default. */
  words?: (n: number, next: () => number) => string | null;
  /** When the events occur: from this instant over 180 days. @default 2026-01-01 */
  start?: number;
}

export async function seedBulkEvents(dataSource: DataSource, options: BulkOptions): Promise<void> {
  const next = seededRandom(options.seed ?? 1);
  const users = options.users ?? 60;
  const customers = options.customers ?? 2000;
  const conversations = options.conversations ?? 8000;
  // Skewed like real traffic: a few actors and conversations take most events.
  const skewed = (n: number) => Math.floor(n * next() ** 3);
  const start = options.start ?? Date.UTC(2026, 0, 1);
  const span = 180 * 24 * 3600_000;
  const known: { last: number }[] = await dataSource.query(`SELECT last_seq AS last FROM workspaces WHERE id = ?`, [options.workspaceId]);
  const firstSeq = Number(known[0]?.last ?? 0) + 1;
  let seq = firstSeq - 1;

  const customerOfConversation = (conversation: number) => conversation % customers;
  const make = (n: number): NewAuditEvent => {
    const occurredAt = new Date(start + Math.floor(next() * span));
    const user = skewed(users);
    const actor =
      next() < 0.15
        ? { kind: ActorKind.AUTOMATION, id: `rule-${skewed(5)}`, name: "Routing rule" }
        : { kind: ActorKind.USER, id: `u-${user}`, name: `User ${user}` };
    const conversation = skewed(conversations);
    const customer = customerOfConversation(conversation);
    const words = options.words?.(n, next) ?? null;
    const changes = words === null ? [] : [{ field: "note", before: null, after: words }];
    const common = { idempotencyKey: `bulk-${options.seed ?? 1}-${seq}-${n}`, occurredAt, actor, changes, metadata: null, source: null };
    const pick = next();
    if (pick < 0.55) {
      return {
        ...common,
        type: AuditEventType.CONVERSATION,
        action: "conversation.status_changed",
        targets: { conversation: { id: `c-${conversation}`, subject: `Conversation ${conversation}` }, customer: { id: `cu-${customer}`, name: `Customer ${customer}` }, subjectUser: null, csat: null },
      };
    }
    if (pick < 0.65) return { ...common, type: AuditEventType.CUSTOMER, action: "customer.updated", targets: { customer: { id: `cu-${skewed(customers)}`, name: `Customer` } } };
    if (pick < 0.8) {
      return {
        ...common,
        type: AuditEventType.WORK_SESSION,
        action: "work_session.conversation_routed",
        targets: { workSession: { queue: "General", status: null }, conversation: { id: `c-${conversation}`, subject: null }, customer: null, subjectUser: null },
      };
    }
    if (pick < 0.9) return { ...common, type: AuditEventType.AUTHORIZATION, action: "authorization.login_succeeded", targets: { subjectUser: null } };
    if (pick < 0.95) return { ...common, type: AuditEventType.BILLING, action: "billing.plan_changed", targets: { subjectUser: null } };
    const sections = Object.values(SettingsSection);
    return {
      ...common,
      type: AuditEventType.SETTINGS,
      action: "settings.updated",
      targets: { settings: { section: sections[Math.floor(next() * sections.length)], objectId: "o-1", objectName: "Object" } },
    };
  };

  const chunk = 1000;
  for (let done = 0; done < options.events; done += chunk) {
    const rows: unknown[] = [];
    const count = Math.min(chunk, options.events - done);
    for (let i = 0; i < count; i++) {
      const event = make(done + i);
      const targets = event.targets as { customer?: { id: string } | null; conversation?: { id: string } | null };
      const customerId = targets.customer?.id ?? (targets.conversation ? `cu-${customerOfConversation(Number(targets.conversation.id.slice(2)))}` : null);
      const record = {
        ...event,
        workspaceId: options.workspaceId,
        seq: ++seq,
        id: newEventId(),
        recordedAt: new Date(),
        description: describeEvent(event),
        customerId,
      } as AuditEventRecord;
      rows.push(...insertValues(record, contentHash(event)));
    }
    await dataSource.query(
      `INSERT INTO audit_events (${EVENT_COLUMNS.join(", ")}, search_text) VALUES ${placeholders(count, EVENT_COLUMNS.length + 1)}`,
      rows,
    );
  }
  // Each event with a customer in that customer's log, as the recorder files it.
  await dataSource.query(
    `INSERT INTO customer_log_entries (workspace_id, seq, customer_id, occurred_at)
     SELECT workspace_id, seq, customer_id, occurred_at FROM audit_events WHERE workspace_id = ? AND seq >= ? AND customer_id IS NOT NULL`,
    [options.workspaceId, firstSeq],
  );
  await dataSource.query(
    `INSERT INTO workspaces (id, last_seq) VALUES (?, ?) ON DUPLICATE KEY UPDATE last_seq = VALUES(last_seq)`,
    [options.workspaceId, seq],
  );
  const directory = async (sql: string, values: unknown[][]) => {
    for (let i = 0; i < values.length; i += chunk) {
      const part = values.slice(i, i + chunk);
      await dataSource.query(`${sql} VALUES ${placeholders(part.length, part[0].length)} ON DUPLICATE KEY UPDATE id = id`, part.flat());
    }
  };
  const now = new Date();
  await directory(
    `INSERT INTO customers (workspace_id, id, name, name_occurred_at)`,
    Array.from({ length: customers }, (_, n) => [options.workspaceId, `cu-${n}`, `Customer ${n}`, now]),
  );
  await directory(
    `INSERT INTO conversations (workspace_id, id, subject, customer_id)`,
    Array.from({ length: conversations }, (_, n) => [options.workspaceId, `c-${n}`, `Conversation ${n}`, `cu-${customerOfConversation(n)}`]),
  );
  await directory(
    `INSERT INTO users (workspace_id, id, name, name_occurred_at)`,
    Array.from({ length: users }, (_, n) => [options.workspaceId, `u-${n}`, `User ${n}`, now]),
  );
}
