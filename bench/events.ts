import { createHash, randomUUID } from "node:crypto";
import { ActorKind, AuditEventType, SettingsSection } from "../src/events/audit-event.enums";
import type { ActorRecord, FieldChangeRecord, JsonValue, NewAuditEvent } from "../src/events/audit-event.record";

/**
 * Deterministic, realistic events: a workspace has users, customers and
 * conversations whose activity follows Zipf's law (a few take most events),
 * event types and actions in proportions like a help desk's, and subjects
 * drawn from a small vocabulary so that full-text search finds real words.
 * Event n of a workspace is always the same event.
 */

/** mulberry32: a small seeded generator of numbers in [0, 1). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A well-mixed 32-bit seed from two integers. */
function mix(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}

/** Ranks 0..n-1 with P(rank k) proportional to 1/(k+1)^s. */
class Zipf {
  private readonly cdf: Float64Array;

  constructor(n: number, s = 1.07) {
    this.cdf = new Float64Array(n);
    let total = 0;
    for (let k = 0; k < n; k++) this.cdf[k] = total += 1 / (k + 1) ** s;
    for (let k = 0; k < n; k++) this.cdf[k] /= total;
  }

  rank(u: number): number {
    let low = 0;
    let high = this.cdf.length - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.cdf[middle] < u) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

const FIRST = "Ana Ben Carla Dev Elif Farid Grace Hiro Ines Jonas Kai Lena Mateo Nora Omar Priya Quinn Rosa Sven Tara Umar Vera Wen Xavi Yara Zoe Aiko Bruno Chloe Dario Emeka Freya Goran Hana Ivan Jade Kofi Luca Mina Nils".split(" ");
const LAST = "Diaz Ode Park Kim Novak Silva Haddad Tanaka Rossi Berg Okafor Meyer Costa Singh Larsen Moreau Ivanova Chen Duarte Nagy Kowalski Hansen Ali Brooks Varga Sato Reyes Fischer Adeyemi Lund Horvat Nakamura Petrov Garcia Stone Wright Keller Mendes Yilmaz Olsen".split(" ");
const TOPICS = [
  "Refund request for order",
  "Package arrived damaged, order",
  "Cannot reset password for account",
  "Invoice missing for subscription",
  "Shipping delay on delivery",
  "Change delivery address for order",
  "Warranty claim for device",
  "Cancel subscription renewal",
  "Discount code rejected at checkout",
  "Wrong size received, exchange order",
  "Login problem after update",
  "Billing address update request",
  "Tracking number not working",
  "Double charge on credit card",
  "Product question about battery",
];
const QUEUES = ["General", "Billing", "Returns", "VIP", "Technical", "Onboarding"];
const STATUSES = ["open", "pending", "on_hold", "solved", "closed"];
const AGENT_STATUSES = ["available", "away", "busy", "offline"];
const PRIORITIES = ["low", "normal", "high", "urgent"];
const TAGS = ["shipping", "damaged", "refund", "vip", "billing", "bug", "feedback", "urgent", "returns", "login"];
const PLANS = ["starter", "team", "business", "enterprise"];
const SETTINGS_OBJECTS = ["VIP routing rule", "Refund macro", "Open tickets view", "Escalation rule", "Greeting shortcut", "Weekend hours"];
const SECTIONS = Object.values(SettingsSection);
const COMMENTS = ["Quick and kind", "Took too long", "Solved my problem", "Friendly agent", "Still waiting for the refund"];

export const userId = (rank: number) => `u-${rank}`;
export const customerId = (rank: number) => `cu-${rank}`;
export const conversationId = (rank: number) => `c-${rank}`;

const userName = (rank: number) => `${FIRST[rank % FIRST.length]} ${LAST[Math.floor(rank / FIRST.length) % LAST.length]}${rank >= FIRST.length * LAST.length ? ` ${rank}` : ""}`;
const userEmail = (rank: number) => `${userName(rank).toLowerCase().replace(/[^a-z0-9]+/g, ".")}@example.com`;
const conversationSubject = (rank: number) => `${TOPICS[mix(rank, 3) % TOPICS.length]} ${10_000 + rank}`;

/** Mostly distinct names; a few are shared, as in real customer bases. */
export function customerName(rank: number): string {
  const h = mix(rank, 7);
  const initial = String.fromCharCode(65 + (h % 26));
  return `${FIRST[(h >>> 5) % FIRST.length]} ${initial}. ${LAST[(h >>> 11) % LAST.length]}`;
}

/** The Zipf laws of one workspace's directory. */
export type WorkspacePlan = ReturnType<typeof workspacePlan>;

export function workspacePlan(id: string, sizes: { users: number; customers: number; conversations: number }, seed: number) {
  return { id, seed, zipfUsers: new Zipf(sizes.users), zipfCustomers: new Zipf(sizes.customers), zipfConversations: new Zipf(sizes.conversations) };
}

/** The customer a conversation belongs to: itself Zipf-distributed, fixed per conversation. */
const customerOfConversation = (plan: WorkspacePlan, conversation: number) => plan.zipfCustomers.rank(random(mix(plan.seed ^ 0x5bd1e995, conversation))());

const change = (field: string, before: JsonValue, after: JsonValue): FieldChangeRecord => ({ field, before, after });

/** Event `n` of the workspace, occurring at `occurredAt`. */
export function makeEvent(plan: WorkspacePlan, n: number, occurredAt: Date, keyPrefix = "bench"): NewAuditEvent {
  const next = random(mix(plan.seed, n));
  const choose = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)];
  const user = () => plan.zipfUsers.rank(next());
  const userRef = (rank: number) => ({ id: userId(rank), name: userName(rank), email: userEmail(rank) });
  const userActor = (): ActorRecord => {
    const rank = user();
    return { kind: ActorKind.USER, id: userId(rank), name: userName(rank) };
  };
  const anyActor = (): ActorRecord => {
    const r = next();
    if (r < 0.8) return userActor();
    if (r < 0.95) {
      const rule = Math.floor(next() * 12);
      return { kind: ActorKind.AUTOMATION, id: `rule-${rule}`, name: `Routing rule ${rule}` };
    }
    if (r < 0.98) return { kind: ActorKind.SYSTEM, id: null, name: "Platform" };
    const key = Math.floor(next() * 4);
    return { kind: ActorKind.API_CLIENT, id: `key-${key}`, name: `Integration ${key}` };
  };
  const conversation = () => {
    const rank = plan.zipfConversations.rank(next());
    return { rank, ref: { id: conversationId(rank), subject: conversationSubject(rank) } };
  };
  const common = {
    idempotencyKey: `${keyPrefix}-${plan.id}-${n}`,
    occurredAt,
    metadata: next() < 0.7 ? ({ channel: choose(["email", "chat", "phone", "api"]), ticket: 100_000 + n } as JsonValue) : null,
    source: next() < 0.5 ? { ip: `203.0.113.${n % 250}`, userAgent: "agent-console/4.2 (Windows NT 10.0; Win64; x64)", requestId: `req-${n}` } : null,
  };

  const pick = next();
  if (pick < 0.5) {
    const { rank, ref } = conversation();
    const customerRank = customerOfConversation(plan, rank);
    const customer = next() < 0.9 ? { id: customerId(customerRank), name: customerName(customerRank) } : null;
    const a = next();
    const base = { ...common, type: AuditEventType.CONVERSATION as const, actor: anyActor() };
    const targets = { conversation: ref, customer, subjectUser: null, csat: null };
    if (a < 0.3) {
      const from = choose(STATUSES);
      return { ...base, action: "conversation.status_changed", targets, changes: [change("status", from, choose(STATUSES.filter((s) => s !== from)))] };
    }
    if (a < 0.5) return { ...base, action: "conversation.assigned", targets: { ...targets, subjectUser: userRef(user()) }, changes: [] };
    if (a < 0.65) {
      const before = [choose(TAGS)];
      return { ...base, action: "conversation.tags_changed", targets, changes: [change("tags", before, [...before, choose(TAGS)])] };
    }
    if (a < 0.75) return { ...base, action: "conversation.updated", targets, changes: [change("subject", ref.subject, `${ref.subject} (follow-up)`)] };
    if (a < 0.85) return { ...base, action: "conversation.priority_changed", targets, changes: [change("priority", choose(PRIORITIES), choose(PRIORITIES))] };
    if (a < 0.93) return { ...base, action: "conversation.created", targets, changes: [] };
    if (a < 0.98) {
      const csat = { surveyId: `s-${n}`, rating: 1 + Math.floor(next() * 5), ratingScale: 5, comment: next() < 0.5 ? choose(COMMENTS) : null };
      return { ...base, action: "conversation.csat_answered", targets: { ...targets, csat }, changes: [] };
    }
    return { ...base, action: "conversation.csat_survey_sent", targets, changes: [] };
  }
  if (pick < 0.65) {
    const base = { ...common, type: AuditEventType.WORK_SESSION as const, actor: userActor() };
    const a = next();
    const none = { workSession: null, conversation: null, customer: null, subjectUser: null };
    if (a < 0.2) return { ...base, action: "work_session.started", targets: { ...none, workSession: { queue: null, status: "available" } }, changes: [] };
    if (a < 0.4) return { ...base, action: "work_session.ended", targets: none, changes: [] };
    if (a < 0.6) {
      return { ...base, action: "work_session.status_changed", targets: none, changes: [change("status", choose(AGENT_STATUSES), choose(AGENT_STATUSES))] };
    }
    if (a < 0.75) return { ...base, action: "work_session.queue_joined", targets: { ...none, workSession: { queue: choose(QUEUES), status: null } }, changes: [] };
    const { ref } = conversation();
    return {
      ...base,
      actor: next() < 0.7 ? { kind: ActorKind.AUTOMATION, id: "router", name: "Queue router" } : base.actor,
      action: "work_session.conversation_routed",
      targets: { workSession: { queue: choose(QUEUES), status: null }, conversation: { id: ref.id, subject: null }, customer: null, subjectUser: userRef(user()) },
      changes: [],
    };
  }
  if (pick < 0.77) {
    const base = { ...common, type: AuditEventType.AUTHORIZATION as const, actor: userActor() };
    const a = next();
    if (a < 0.6) return { ...base, action: "authorization.login_succeeded", targets: { subjectUser: null }, changes: [] };
    if (a < 0.85) return { ...base, action: "authorization.logout", targets: { subjectUser: null }, changes: [] };
    if (a < 0.93) return { ...base, action: "authorization.login_failed", targets: { subjectUser: null }, changes: [] };
    if (a < 0.97) return { ...base, action: "authorization.password_changed", targets: { subjectUser: null }, changes: [] };
    return { ...base, action: "authorization.role_changed", targets: { subjectUser: userRef(user()) }, changes: [change("role", "agent", "admin")] };
  }
  if (pick < 0.87) {
    const rank = plan.zipfCustomers.rank(next());
    const base = { ...common, type: AuditEventType.CUSTOMER as const, actor: anyActor(), targets: { customer: { id: customerId(rank), name: customerName(rank) } } };
    const a = next();
    if (a < 0.75) return { ...base, action: "customer.updated", changes: [change("phone", null, `+1 555 01${String(n % 100).padStart(2, "0")}`), change("language", "en", "de")] };
    if (a < 0.95) return { ...base, action: "customer.created", changes: [] };
    return { ...base, action: "customer.merged", changes: [] };
  }
  if (pick < 0.95) {
    const section = choose(SECTIONS);
    const base = { ...common, type: AuditEventType.SETTINGS as const, actor: anyActor() };
    if (section === SettingsSection.SUPPORT_ACCESS) {
      return { ...base, action: next() < 0.5 ? "settings.support_access_granted" : "settings.support_access_revoked", targets: { settings: { section, objectId: null, objectName: null } }, changes: [] };
    }
    const object = Math.floor(next() * SETTINGS_OBJECTS.length);
    const settings = { section, objectId: `o-${object}`, objectName: SETTINGS_OBJECTS[object] };
    const action = choose(["settings.updated", "settings.created", "settings.deleted", "settings.enabled", "settings.disabled"]);
    return { ...base, action, targets: { settings }, changes: action === "settings.updated" ? [change("enabled", false, true)] : [] };
  }
  const base = { ...common, type: AuditEventType.BILLING as const, actor: userActor(), targets: { subjectUser: null } };
  const a = next();
  if (a < 0.4) return { ...base, action: "billing.plan_changed", changes: [change("plan", choose(PLANS), choose(PLANS))] };
  if (a < 0.8) return { ...base, action: "billing.seats_changed", changes: [change("seats", 10 + (n % 40), 11 + (n % 40))] };
  return { ...base, action: "billing.payment_method_added", changes: [] };
}

/** The AuditEventInput a producer sends for an event (JSON). */
export function toInput(event: NewAuditEvent): Record<string, unknown> {
  const { idempotencyKey, type, action, actor, changes } = event;
  const input: Record<string, unknown> = { idempotencyKey, type, action, occurredAt: event.occurredAt.toISOString(), actor, changes };
  for (const [name, value] of Object.entries(event.targets)) if (value !== null) input[name] = value;
  if (event.metadata !== null) input.metadata = event.metadata;
  if (event.source !== null) input.source = event.source;
  return input;
}

/** The columns the raw baseline fills: the migrations' audit_events table. */
const RAW_COLUMNS = "workspace_id, seq, id, recorded_at, idempotency_key, content_hash, type, action, occurred_at, actor_kind, actor_id, actor_name, customer_id, conversation_id, subject_user_id, settings_section, description, details, changes, metadata, search_text";

/** The raw baseline's multi-row INSERT. */
export function rawInsertSql(rows: number): string {
  const row = `(${RAW_COLUMNS.split(", ").map(() => "?").join(", ")})`;
  return `INSERT INTO audit_events (${RAW_COLUMNS}) VALUES ${Array(rows).fill(row).join(", ")}`;
}

/**
 * The raw baseline's row of an input: the columns the service fills, with
 * values of about the same size, built by the bench (hash, description,
 * details, search text). The first four (workspace, seq, id, recorded_at)
 * are set per insert, as {@link withIdentity} does.
 */
export function rawRow(input: Record<string, unknown>): unknown[] {
  const event = input as { actor: ActorRecord; customer?: { id: string; name: string }; conversation?: { id: string; subject: string | null } } & Record<string, unknown>;
  const subjectUser = event.subjectUser as { id: string; name: string } | undefined;
  const settings = event.settings as { section: string } | undefined;
  const description = `${event.actor.name} ${String(event.action).replace(/[._]/g, " ")}${event.conversation?.subject ? `: ${event.conversation.subject}` : ""}`;
  const details = { customer: event.customer, conversation: event.conversation, subjectUser, settings, workSession: event.workSession, csat: event.csat, source: event.source };
  const words = [description, event.customer?.name, subjectUser?.name, ...(event.changes as FieldChangeRecord[]).map((change) => JSON.stringify(change.after))];
  return [
    null, null, null, null,
    event.idempotencyKey,
    createHash("sha256").update(JSON.stringify(input)).digest(),
    event.type,
    event.action,
    new Date(String(event.occurredAt)),
    event.actor.kind,
    event.actor.id,
    event.actor.name,
    event.customer?.id ?? null,
    event.conversation?.id ?? null,
    subjectUser?.id ?? null,
    settings?.section ?? null,
    description,
    JSON.stringify(details),
    JSON.stringify(event.changes),
    event.metadata === undefined ? null : JSON.stringify(event.metadata),
    words.filter(Boolean).join(" "),
  ];
}

/** A row of {@link rawRow} as one insert stores it. */
export function withIdentity(row: unknown[], workspaceId: string, seq: number, recordedAt: Date): unknown[] {
  const stored = row.slice();
  stored[0] = workspaceId;
  stored[1] = seq;
  stored[2] = randomUUID().replace(/-/g, "").slice(0, 26);
  stored[3] = recordedAt;
  return stored;
}
