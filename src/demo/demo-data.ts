import { seededRandom } from "../common/random";
import { ActorKind, AuditEventType, SettingsSection } from "../events/audit-event.enums";
import type { AuditEventInput } from "../events/audit-event.inputs";
import type { JsonValue } from "../events/audit-event.record";

/**
 * A realistic, deterministic demo workspace: 10 users, 200 customers, 1,000
 * conversations and 60 days of events of every type and action. The same seed
 * always gives the same events; only their dates follow the day it runs.
 */

export const DEMO_WORKSPACE = "demo";
export const DEMO_DAYS = 60;

/** The demo's people. The first is an admin, the second an agent: their tokens are printed. */
export const DEMO_USERS = [
  { id: "u-ana", name: "Ana Diaz", email: "ana.diaz@demo.example", role: "admin" },
  { id: "u-ben", name: "Ben Ode", email: "ben.ode@demo.example", role: "agent" },
  { id: "u-chloe", name: "Chloé Martin", email: "chloe.martin@demo.example", role: "agent" },
  { id: "u-dev", name: "Dev Patel", email: "dev.patel@demo.example", role: "admin" },
  { id: "u-emeka", name: "Emeka Obi", email: "emeka.obi@demo.example", role: "agent" },
  { id: "u-farah", name: "Farah Haddad", email: "farah.haddad@demo.example", role: "agent" },
  { id: "u-gus", name: "Gus Lindqvist", email: "gus.lindqvist@demo.example", role: "agent" },
  { id: "u-hana", name: "Hana Sato", email: "hana.sato@demo.example", role: "agent" },
  { id: "u-ivan", name: "Ivan Petrov", email: "ivan.petrov@demo.example", role: "agent" },
  { id: "u-jade", name: "Jade Moreau", email: "jade.moreau@demo.example", role: "agent" },
] as const;

const AGENTS = DEMO_USERS.filter((user) => user.role === "agent");
const ADMINS = DEMO_USERS.filter((user) => user.role === "admin");

const AUTOMATIONS = {
  vipRule: { kind: ActorKind.AUTOMATION, id: "rule-vip", name: "Routing rule 'VIP'" },
  staleWorkflow: { kind: ActorKind.AUTOMATION, id: "wf-auto-close", name: "Workflow 'Auto-close stale'" },
  router: { kind: ActorKind.AUTOMATION, id: "queue-router", name: "Queue router" },
  surveyBot: { kind: ActorKind.AUTOMATION, id: "csat-bot", name: "CSAT survey bot" },
};
const PLATFORM = { kind: ActorKind.SYSTEM, id: null, name: "Platform" };
const ZAPIER = { kind: ActorKind.API_CLIENT, id: "key-zapier", name: "Zapier" };

const FIRST_NAMES = ["Zoë", "Ivo", "Noor", "Liam", "Mei", "Omar", "Sofia", "Tariq", "Uma", "Viktor", "Wen", "Yara", "Aiko", "Bruno", "Carmen", "Diego", "Elif", "Femi", "Greta", "Hugo"];
const LAST_NAMES = ["Park", "Lind", "Bakker", "Kowalski", "Nguyen", "Rossi", "Silva", "Haas", "Okafor", "Jensen"];
const SUBJECTS = [
  "Refund for order #{n}",
  "Where is my parcel #{n}?",
  "Broken zipper on jacket",
  "Invoice copy for March",
  "Change delivery address",
  "Discount code not working",
  "Parcel arrived damaged",
  "Cancel my subscription",
  "Wrong size delivered",
  "Payment declined twice",
];
const QUEUES = ["General", "Returns", "Billing", "VIP"];
const TAGS = ["shipping", "refund", "damaged", "billing", "vip", "urgent", "follow-up"];
const SETTINGS_OBJECTS: Record<SettingsSection, string[]> = {
  [SettingsSection.SEARCHES]: ["Open tickets", "Unassigned VIP", "Waiting on customer"],
  [SettingsSection.SHORTCUTS]: ["Refund macro", "Shipping delay apology", "Ask for order number"],
  [SettingsSection.BUSINESS_RULES]: ["VIP routing", "Auto-close after 7 days", "Escalate angry customers"],
  [SettingsSection.SUPPORT_ACCESS]: [],
};

export interface DemoCustomer {
  id: string;
  name: string;
}

export interface DemoConversation {
  id: string;
  subject: string;
  customer: DemoCustomer;
}

/** Ids follow a pattern: conv-0001 … conv-1000, cust-001 … cust-200. */
export function demoCustomers(): DemoCustomer[] {
  return Array.from({ length: 200 }, (_, n) => ({
    id: `cust-${String(n + 1).padStart(3, "0")}`,
    name: `${FIRST_NAMES[n % FIRST_NAMES.length]} ${LAST_NAMES[Math.floor(n / FIRST_NAMES.length) % LAST_NAMES.length]}`,
  }));
}

/**
 * Every demo event, oldest first, ending at `end`. Each event has a stable
 * idempotency key, so recording them twice stores them once.
 */
export function demoEvents(end: Date, seed = 20261126): AuditEventInput[] {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const chance = (p: number) => random() < p;
  const start = end.getTime() - DEMO_DAYS * 86_400_000;
  const at = (ms: number) => new Date(Math.min(ms, end.getTime()));
  const events: (AuditEventInput & { sortKey: number })[] = [];
  let counter = 0;
  const add = (time: number, event: Omit<AuditEventInput, "idempotencyKey" | "occurredAt">) => {
    counter += 1;
    events.push({ ...event, idempotencyKey: `demo-${String(counter).padStart(6, "0")}`, occurredAt: at(time), sortKey: time } as AuditEventInput & { sortKey: number });
  };
  const userActor = (user: (typeof DEMO_USERS)[number]) => ({ kind: ActorKind.USER, id: user.id, name: user.name });
  const userRef = (user: (typeof DEMO_USERS)[number]) => ({ id: user.id, name: user.name, email: user.email });
  const change = (field: string, before: JsonValue, after: JsonValue) => ({ field, before, after });
  const source = (user?: { id: string }) => ({ ip: `198.51.100.${1 + Math.floor(random() * 200)}`, userAgent: "Mozilla/5.0 (agent console)", requestId: user ? `req-${user.id}-${counter}` : null });

  // The workspace's people: invited at the start, one role change, one deactivation later on.
  for (const [n, user] of DEMO_USERS.entries()) {
    add(start + n * 600_000, { type: AuditEventType.AUTHORIZATION, action: "authorization.user_invited", actor: userActor(DEMO_USERS[0]), subjectUser: userRef(user) });
  }
  add(start + 3 * 86_400_000, {
    type: AuditEventType.AUTHORIZATION,
    action: "authorization.role_changed",
    actor: userActor(DEMO_USERS[0]),
    subjectUser: userRef(DEMO_USERS[3]),
    changes: [change("role", "agent", "admin")],
  });
  add(start + 40 * 86_400_000, { type: AuditEventType.AUTHORIZATION, action: "authorization.user_deactivated", actor: userActor(DEMO_USERS[3]), subjectUser: { id: "u-kim", name: "Kim Temp", email: "kim.temp@demo.example" } });
  add(start + 5 * 86_400_000, { type: AuditEventType.AUTHORIZATION, action: "authorization.api_key_created", actor: userActor(DEMO_USERS[0]), metadata: { keyName: "Zapier" } });
  add(start + 50 * 86_400_000, { type: AuditEventType.AUTHORIZATION, action: "authorization.api_key_revoked", actor: userActor(DEMO_USERS[3]), metadata: { keyName: "Old importer" } });

  // Billing, now and then.
  add(start + 2 * 86_400_000, { type: AuditEventType.BILLING, action: "billing.payment_method_added", actor: userActor(DEMO_USERS[0]), metadata: { brand: "visa", last4: "4242" } });
  add(start + 20 * 86_400_000, { type: AuditEventType.BILLING, action: "billing.plan_changed", actor: userActor(DEMO_USERS[0]), changes: [change("plan", "Team", "Enterprise")] });
  add(start + 21 * 86_400_000, { type: AuditEventType.BILLING, action: "billing.seats_changed", actor: userActor(DEMO_USERS[3]), changes: [change("seats", 8, 12)] });
  add(start + 30 * 86_400_000, { type: AuditEventType.BILLING, action: "billing.billing_contact_changed", actor: userActor(DEMO_USERS[0]), subjectUser: userRef(DEMO_USERS[3]) });
  add(start + 45 * 86_400_000, { type: AuditEventType.BILLING, action: "billing.payment_method_removed", actor: userActor(DEMO_USERS[3]), metadata: { brand: "mastercard", last4: "5454" } });

  // Settings in all four sections.
  for (const section of [SettingsSection.SEARCHES, SettingsSection.SHORTCUTS, SettingsSection.BUSINESS_RULES]) {
    for (const [n, name] of SETTINGS_OBJECTS[section].entries()) {
      const objectId = `${section.toLowerCase()}-${n + 1}`;
      const actor = userActor(pick(ADMINS));
      const created = start + (1 + n * 7 + random() * 5) * 86_400_000;
      add(created, { type: AuditEventType.SETTINGS, action: "settings.created", actor, settings: { section, objectId, objectName: name } });
      add(created + 3 * 86_400_000, { type: AuditEventType.SETTINGS, action: "settings.updated", actor: userActor(pick(ADMINS)), settings: { section, objectId, objectName: name }, changes: [change("name", name, name), change("position", n, n + 1)] });
      if (section === SettingsSection.BUSINESS_RULES) {
        add(created + 4 * 86_400_000, { type: AuditEventType.SETTINGS, action: "settings.disabled", actor, settings: { section, objectId, objectName: name } });
        add(created + 5 * 86_400_000, { type: AuditEventType.SETTINGS, action: "settings.enabled", actor, settings: { section, objectId, objectName: name } });
      }
      if (n === 2) add(created + 20 * 86_400_000, { type: AuditEventType.SETTINGS, action: "settings.deleted", actor, settings: { section, objectId, objectName: name } });
    }
  }
  for (const day of [10, 11, 35]) {
    add(start + day * 86_400_000, { type: AuditEventType.SETTINGS, action: "settings.support_access_granted", actor: userActor(DEMO_USERS[0]), settings: { section: SettingsSection.SUPPORT_ACCESS }, metadata: { hours: 24, reason: "Investigating slow searches" } });
    add(start + (day + 1) * 86_400_000, { type: AuditEventType.SETTINGS, action: "settings.support_access_revoked", actor: PLATFORM, settings: { section: SettingsSection.SUPPORT_ACCESS } });
  }

  // Customers: created over time (some by the Zapier integration), updated, a few renamed, merged or deleted.
  const customers = demoCustomers();
  for (const [n, customer] of customers.entries()) {
    const created = start + (n / customers.length) * 50 * 86_400_000;
    add(created, { type: AuditEventType.CUSTOMER, action: "customer.created", actor: n % 3 === 0 ? ZAPIER : userActor(pick(AGENTS)), customer });
    if (chance(0.4)) add(created + random() * 9 * 86_400_000, { type: AuditEventType.CUSTOMER, action: "customer.updated", actor: userActor(pick(AGENTS)), customer, changes: [change("phone", null, `+31 20 555 ${String(1000 + n).slice(-4)}`)] });
  }
  const renamed = customers[7];
  add(start + 55 * 86_400_000, { type: AuditEventType.CUSTOMER, action: "customer.updated", actor: userActor(DEMO_USERS[1]), customer: { id: renamed.id, name: `${renamed.name}-Kowalski` }, changes: [change("name", renamed.name, `${renamed.name}-Kowalski`)] });
  add(start + 56 * 86_400_000, { type: AuditEventType.CUSTOMER, action: "customer.merged", actor: userActor(DEMO_USERS[2]), customer: customers[150], metadata: { mergedInto: customers[15].id } });
  add(start + 57 * 86_400_000, { type: AuditEventType.CUSTOMER, action: "customer.deleted", actor: userActor(DEMO_USERS[0]), customer: customers[199], metadata: { reason: "GDPR erasure request" } });

  // Conversations: created, routed, assigned, worked on, closed, surveyed.
  for (let n = 0; n < 1000; n++) {
    const id = `conv-${String(n + 1).padStart(4, "0")}`;
    const customer = customers[Math.floor(random() ** 1.6 * customers.length)];
    const subject = pick(SUBJECTS).replace("{n}", String(10_000 + n));
    const created = start + (n / 1000) * (DEMO_DAYS - 0.5) * 86_400_000 + random() * 3_600_000;
    const ref = { id, subject };
    const agent = pick(AGENTS);
    const queue = pick(QUEUES);
    let time = created;
    const next = (minutes: number) => (time += minutes * 60_000 * (0.5 + random()));
    add(time, { type: AuditEventType.CONVERSATION, action: "conversation.created", actor: n % 4 === 0 ? ZAPIER : PLATFORM, conversation: ref, customer, metadata: { channel: pick(["email", "chat", "phone"]) } });
    const router = queue === "VIP" ? AUTOMATIONS.vipRule : AUTOMATIONS.router;
    add(next(2), { type: AuditEventType.WORK_SESSION, action: "work_session.conversation_routed", actor: AUTOMATIONS.router, conversation: { id }, subjectUser: userRef(agent), workSession: { queue } });
    if (chance(0.1)) {
      add(next(1), { type: AuditEventType.WORK_SESSION, action: "work_session.conversation_rejected", actor: userActor(agent), conversation: { id }, workSession: { queue } });
    } else {
      add(next(1), { type: AuditEventType.WORK_SESSION, action: "work_session.conversation_accepted", actor: userActor(agent), conversation: { id }, workSession: { queue } });
    }
    add(next(1), { type: AuditEventType.CONVERSATION, action: "conversation.assigned", actor: router, conversation: { id }, subjectUser: userRef(agent) });
    add(next(20), { type: AuditEventType.CONVERSATION, action: "conversation.status_changed", actor: userActor(agent), conversation: { id }, changes: [change("status", "open", "pending")] });
    if (chance(0.35)) add(next(15), { type: AuditEventType.CONVERSATION, action: "conversation.priority_changed", actor: userActor(agent), conversation: { id }, changes: [change("priority", "normal", pick(["high", "urgent"]))] });
    if (chance(0.5)) {
      const tags = [pick(TAGS), pick(TAGS)].filter((tag, i, all) => all.indexOf(tag) === i);
      add(next(10), { type: AuditEventType.CONVERSATION, action: "conversation.tags_changed", actor: userActor(agent), conversation: { id }, changes: [change("tags", [], tags)] });
    }
    if (chance(0.2)) add(next(30), { type: AuditEventType.CONVERSATION, action: "conversation.updated", actor: userActor(agent), conversation: { id, subject: `${subject} (follow-up)` }, changes: [change("subject", subject, `${subject} (follow-up)`)] });
    if (chance(0.08)) {
      const other = pick(AGENTS);
      add(next(60), { type: AuditEventType.CONVERSATION, action: "conversation.unassigned", actor: userActor(agent), conversation: { id }, subjectUser: userRef(agent) });
      add(next(5), { type: AuditEventType.CONVERSATION, action: "conversation.assigned", actor: userActor(agent), conversation: { id }, subjectUser: userRef(other) });
    }
    if (chance(0.03)) {
      add(next(30), { type: AuditEventType.CONVERSATION, action: "conversation.merged", actor: userActor(agent), conversation: { id }, metadata: { mergedInto: `conv-${String(Math.max(1, n)).padStart(4, "0")}` } });
      continue;
    }
    if (chance(0.01)) {
      add(next(30), { type: AuditEventType.CONVERSATION, action: "conversation.deleted", actor: userActor(pick(ADMINS)), conversation: { id }, metadata: { reason: "Spam" } });
      continue;
    }
    const closer = chance(0.15) ? AUTOMATIONS.staleWorkflow : userActor(agent);
    add(next(240), { type: AuditEventType.CONVERSATION, action: "conversation.status_changed", actor: closer, conversation: { id }, changes: [change("status", "pending", "done")] });
    if (chance(0.6)) {
      add(next(5), { type: AuditEventType.CONVERSATION, action: "conversation.csat_survey_sent", actor: AUTOMATIONS.surveyBot, conversation: { id }, csat: { surveyId: `survey-${n + 1}` } });
      if (chance(0.6)) {
        const rating = Math.max(1, Math.min(5, Math.round(3.6 + (random() - 0.35) * 4)));
        const comment = rating >= 4 ? pick(["Quick and kind, thank you!", "Solved in minutes", "Great help"]) : pick(["Took too long", "Still waiting for my refund", null]);
        add(next(180), {
          type: AuditEventType.CONVERSATION,
          action: "conversation.csat_answered",
          actor: PLATFORM,
          conversation: { id },
          customer,
          csat: { surveyId: `survey-${n + 1}`, rating, ratingScale: 5, comment },
        });
      }
    }
  }

  // Every working day: sign-ins, a work session per agent with queues and statuses.
  for (let day = 0; day < DEMO_DAYS; day++) {
    const dayStart = start + day * 86_400_000;
    if (day === 12) add(dayStart + 9 * 3_600_000, { type: AuditEventType.AUTHORIZATION, action: "authorization.password_changed", actor: userActor(DEMO_USERS[2]) });
    if (day === 14) add(dayStart + 9 * 3_600_000, { type: AuditEventType.AUTHORIZATION, action: "authorization.mfa_enabled", actor: userActor(DEMO_USERS[4]) });
    if (day === 44) add(dayStart + 9 * 3_600_000, { type: AuditEventType.AUTHORIZATION, action: "authorization.mfa_disabled", actor: userActor(DEMO_USERS[0]), subjectUser: userRef(DEMO_USERS[8]) });
    if (new Date(dayStart).getUTCDay() % 6 === 0) continue;
    for (const user of DEMO_USERS) {
      if (!chance(0.8)) continue;
      const actor = userActor(user);
      let time = dayStart + (7 + random() * 3) * 3_600_000;
      if (chance(0.05)) add(time - 120_000, { type: AuditEventType.AUTHORIZATION, action: "authorization.login_failed", actor, source: source(user), metadata: { reason: "wrong password" } });
      add(time, { type: AuditEventType.AUTHORIZATION, action: "authorization.login_succeeded", actor, source: source(user) });
      if (user.role === "agent") {
        const queue = pick(QUEUES);
        add((time += 60_000), { type: AuditEventType.WORK_SESSION, action: "work_session.started", actor, workSession: { status: "available" } });
        add((time += 30_000), { type: AuditEventType.WORK_SESSION, action: "work_session.queue_joined", actor, workSession: { queue } });
        add((time += 4 * 3_600_000), { type: AuditEventType.WORK_SESSION, action: "work_session.status_changed", actor, workSession: { status: "on break" }, changes: [change("status", "available", "on break")] });
        add((time += 1_800_000), { type: AuditEventType.WORK_SESSION, action: "work_session.status_changed", actor, workSession: { status: "available" }, changes: [change("status", "on break", "available")] });
        add((time += 3 * 3_600_000), { type: AuditEventType.WORK_SESSION, action: "work_session.queue_left", actor, workSession: { queue } });
        add((time += 60_000), { type: AuditEventType.WORK_SESSION, action: "work_session.ended", actor });
      }
      add((time += 60_000), { type: AuditEventType.AUTHORIZATION, action: "authorization.logout", actor });
    }
  }

  return events
    .sort((a, b) => a.sortKey - b.sortKey)
    .map(({ sortKey: _sortKey, ...event }) => event as AuditEventInput);
}
