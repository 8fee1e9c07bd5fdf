import { ActorKind, AuditEventType, SettingsSection } from "./audit-event.enums";
import { AnyTargets, FieldChangeRecord, JsonValue, NewAuditEvent, targetsOf } from "./audit-event.record";

/**
 * The event catalog: for each type its actions, the targets each action
 * requires, and the sentence that describes an event.
 */

export type TargetName = keyof AnyTargets;

/** A condition an action puts on its input, checked by validation. */
export interface Requirement {
  /** Dotted input path reported when the condition fails, e.g. `csat.rating`. */
  path: string;
  message: string;
  holds(targets: AnyTargets): boolean;
}

/** What the directory knows that an event may leave out, for friendlier sentences. */
export interface KnownNames {
  /** The conversation's subject, when the event names the conversation by id only. */
  conversationSubject: string | null;
}

const NO_KNOWN_NAMES: KnownNames = { conversationSubject: null };

export interface ActionSpec {
  requires: Requirement[];
  describe(event: NewAuditEvent, known: KnownNames): string;
}

export interface TypeSpec {
  /** Targets an event of this type may carry; any other is refused. */
  targets: readonly TargetName[];
  actions: Readonly<Record<string, ActionSpec>>;
}

const present = (target: TargetName, path: string = target): Requirement => ({
  path,
  message: "is required for this action",
  holds: (targets) => targets[target] !== null,
});

const REQUIRES_CONVERSATION = present("conversation");
const REQUIRES_CUSTOMER = present("customer");
const REQUIRES_SUBJECT_USER = present("subjectUser");
const REQUIRES_SETTINGS = present("settings");
const REQUIRES_RATING: Requirement = {
  path: "csat.rating",
  message: "is required for conversation.csat_answered",
  holds: (targets) => targets.csat?.rating != null,
};
const REQUIRES_QUEUE: Requirement = {
  path: "workSession.queue",
  message: "is required for this action",
  holds: (targets) => Boolean(targets.workSession?.queue),
};
/** Work-session actions that are not about a conversation name no customer. */
const NO_CUSTOMER: Requirement = {
  path: "customer",
  message: "is allowed on WORK_SESSION events only with the conversation they are about (conversation_routed, conversation_accepted, conversation_rejected)",
  holds: (targets) => targets.customer === null,
};
const REQUIRES_SUPPORT_ACCESS: Requirement = {
  path: "settings.section",
  message: "must be SUPPORT_ACCESS for support access actions",
  holds: (targets) => targets.settings?.section === SettingsSection.SUPPORT_ACCESS,
};

/** Longest value quoted in a sentence; longer ones are cut with an ellipsis. */
const MAX_QUOTED = 80;

function quote(text: string): string {
  const short = text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED - 1)}…` : text;
  return `'${short}'`;
}

/** "Ana Diaz", "Routing rule 'VIP' (automation)", "Zapier (API client)", "Platform (system)". */
export function actorLabel(event: NewAuditEvent): string {
  const { kind, name } = event.actor;
  switch (kind) {
    case ActorKind.USER:
      return name;
    case ActorKind.AUTOMATION:
      return `${name} (automation)`;
    case ActorKind.API_CLIENT:
      return `${name} (API client)`;
    case ActorKind.SYSTEM:
      return `${name} (system)`;
  }
}

function conversationLabel(targets: AnyTargets): string {
  const conversation = targets.conversation;
  if (!conversation) return "a conversation";
  return conversation.subject ? `conversation ${quote(conversation.subject)}` : `conversation ${conversation.id}`;
}

function customerLabel(targets: AnyTargets): string {
  return targets.customer ? `customer ${quote(targets.customer.name)}` : "a customer";
}

const SECTION_NOUN: Record<SettingsSection, string> = {
  [SettingsSection.SEARCHES]: "saved search",
  [SettingsSection.SHORTCUTS]: "shortcut",
  [SettingsSection.BUSINESS_RULES]: "business rule",
  [SettingsSection.SUPPORT_ACCESS]: "support access",
};

function settingsLabel(targets: AnyTargets): string {
  const settings = targets.settings;
  if (!settings) return "a setting";
  const noun = SECTION_NOUN[settings.section];
  const name = settings.objectName ?? settings.objectId;
  return name ? `the ${noun} ${quote(name)}` : `a ${noun}`;
}

/** A changed value as words: a plain word as is, text with spaces quoted, lists in brackets, nothing as "none". */
export function valueText(value: JsonValue | undefined): string {
  if (value === null || value === undefined || value === "") return "none";
  if (typeof value === "string") return /\s/.test(value) || value.length > MAX_QUOTED ? quote(value) : value;
  if (Array.isArray(value)) {
    const items = value.map((item) => (typeof item === "string" ? item : JSON.stringify(item))).join(", ");
    return items.length > MAX_QUOTED ? `[${items.slice(0, MAX_QUOTED - 1)}…]` : `[${items}]`;
  }
  if (typeof value === "object") return quote(JSON.stringify(value));
  return String(value);
}

function findChange(event: NewAuditEvent, field: string): FieldChangeRecord | undefined {
  return event.changes.find((change) => change.field === field);
}

/** " from X to Y" for a change of `field`, or "" when the event does not carry it. */
function fromTo(event: NewAuditEvent, field: string): string {
  const change = findChange(event, field);
  return change ? ` from ${valueText(change.before)} to ${valueText(change.after)}` : "";
}

/** ": subject, tags" listing the changed fields, or "". */
function changedFields(event: NewAuditEvent): string {
  if (event.changes.length === 0) return "";
  const fields = event.changes.slice(0, 5).map((change) => change.field);
  const more = event.changes.length > 5 ? ` and ${event.changes.length - 5} more` : "";
  return ` (${fields.join(", ")}${more})`;
}

function subjectUserName(targets: AnyTargets): string | null {
  return targets.subjectUser?.name ?? null;
}

/** Builds an action whose sentence is "<actor> <text>", text computed from the targets. */
function action(requires: Requirement[], text: (targets: AnyTargets, event: NewAuditEvent) => string): ActionSpec {
  return {
    requires,
    describe: (event, known) => {
      const targets = targetsOf(event);
      const conversation = targets.conversation && !targets.conversation.subject && known.conversationSubject
        ? { ...targets.conversation, subject: known.conversationSubject }
        : targets.conversation;
      return `${actorLabel(event)} ${text({ ...targets, conversation }, event)}`;
    },
  };
}

const AUTHORIZATION: TypeSpec = {
  targets: ["subjectUser"],
  actions: {
    "authorization.login_succeeded": action([], () => "signed in"),
    "authorization.login_failed": action([], () => "failed to sign in"),
    "authorization.logout": action([], () => "signed out"),
    "authorization.password_changed": action([], (t) =>
      subjectUserName(t) ? `changed the password of ${subjectUserName(t)}` : "changed their password",
    ),
    "authorization.mfa_enabled": action([], (t) =>
      `enabled two-factor authentication${subjectUserName(t) ? ` for ${subjectUserName(t)}` : ""}`,
    ),
    "authorization.mfa_disabled": action([], (t) =>
      `disabled two-factor authentication${subjectUserName(t) ? ` for ${subjectUserName(t)}` : ""}`,
    ),
    "authorization.role_changed": action([REQUIRES_SUBJECT_USER], (t, e) => `changed the role of ${subjectUserName(t)}${fromTo(e, "role")}`),
    "authorization.user_invited": action([REQUIRES_SUBJECT_USER], (t) => `invited ${subjectUserName(t)}`),
    "authorization.user_deactivated": action([REQUIRES_SUBJECT_USER], (t) => `deactivated ${subjectUserName(t)}`),
    "authorization.api_key_created": action([], () => "created an API key"),
    "authorization.api_key_revoked": action([], () => "revoked an API key"),
  },
};

const BILLING: TypeSpec = {
  targets: ["subjectUser"],
  actions: {
    "billing.payment_method_added": action([], () => "added a payment method"),
    "billing.payment_method_removed": action([], () => "removed a payment method"),
    "billing.plan_changed": action([], (_t, e) => `changed the plan${fromTo(e, "plan")}`),
    "billing.seats_changed": action([], (_t, e) => `changed the number of seats${fromTo(e, "seats")}`),
    "billing.billing_contact_changed": action([], (t, e) =>
      subjectUserName(t) ? `made ${subjectUserName(t)} the billing contact` : `changed the billing contact${fromTo(e, "billingContact")}`,
    ),
  },
};

const CONVERSATION: TypeSpec = {
  targets: ["conversation", "customer", "subjectUser", "csat"],
  actions: {
    "conversation.created": action([REQUIRES_CONVERSATION], (t) =>
      `created ${conversationLabel(t)}${t.customer ? ` for ${customerLabel(t)}` : ""}`,
    ),
    "conversation.updated": action([REQUIRES_CONVERSATION], (t, e) => `updated ${conversationLabel(t)}${changedFields(e)}`),
    "conversation.status_changed": action([REQUIRES_CONVERSATION], (t, e) =>
      `changed the status of ${conversationLabel(t)}${fromTo(e, "status")}`,
    ),
    "conversation.assigned": action([REQUIRES_CONVERSATION], (t) =>
      `assigned ${conversationLabel(t)}${subjectUserName(t) ? ` to ${subjectUserName(t)}` : ""}`,
    ),
    "conversation.unassigned": action([REQUIRES_CONVERSATION], (t) =>
      `unassigned ${conversationLabel(t)}${subjectUserName(t) ? ` from ${subjectUserName(t)}` : ""}`,
    ),
    "conversation.priority_changed": action([REQUIRES_CONVERSATION], (t, e) =>
      `changed the priority of ${conversationLabel(t)}${fromTo(e, "priority")}`,
    ),
    "conversation.tags_changed": action([REQUIRES_CONVERSATION], (t, e) => `changed the tags of ${conversationLabel(t)}${fromTo(e, "tags")}`),
    "conversation.merged": action([REQUIRES_CONVERSATION], (t) => `merged ${conversationLabel(t)} into another conversation`),
    "conversation.deleted": action([REQUIRES_CONVERSATION], (t) => `deleted ${conversationLabel(t)}`),
    "conversation.csat_survey_sent": action([REQUIRES_CONVERSATION], (t) => `sent a CSAT survey for ${conversationLabel(t)}`),
    "conversation.csat_answered": action([REQUIRES_CONVERSATION, REQUIRES_RATING], (t) => {
      const csat = t.csat!;
      const rating = csat.ratingScale ? `${csat.rating} out of ${csat.ratingScale}` : `${csat.rating}`;
      const who = t.customer ? ` from ${customerLabel(t)}` : "";
      return `recorded a CSAT rating of ${rating}${who} for ${conversationLabel(t)}${csat.comment ? `: ${quote(csat.comment)}` : ""}`;
    }),
  },
};

const CUSTOMER: TypeSpec = {
  targets: ["customer"],
  actions: {
    "customer.created": action([REQUIRES_CUSTOMER], (t) => `created ${customerLabel(t)}`),
    "customer.updated": action([REQUIRES_CUSTOMER], (t, e) => `updated ${customerLabel(t)}${changedFields(e)}`),
    "customer.merged": action([REQUIRES_CUSTOMER], (t) => `merged ${customerLabel(t)} with another customer`),
    "customer.deleted": action([REQUIRES_CUSTOMER], (t) => `deleted ${customerLabel(t)}`),
  },
};

const SETTINGS: TypeSpec = {
  targets: ["settings"],
  actions: {
    "settings.created": action([REQUIRES_SETTINGS], (t) => `created ${settingsLabel(t)}`),
    "settings.updated": action([REQUIRES_SETTINGS], (t, e) => `updated ${settingsLabel(t)}${changedFields(e)}`),
    "settings.deleted": action([REQUIRES_SETTINGS], (t) => `deleted ${settingsLabel(t)}`),
    "settings.enabled": action([REQUIRES_SETTINGS], (t) => `enabled ${settingsLabel(t)}`),
    "settings.disabled": action([REQUIRES_SETTINGS], (t) => `disabled ${settingsLabel(t)}`),
    "settings.support_access_granted": action([REQUIRES_SETTINGS, REQUIRES_SUPPORT_ACCESS], () => "granted support access to the platform's support staff"),
    "settings.support_access_revoked": action([REQUIRES_SETTINGS, REQUIRES_SUPPORT_ACCESS], () => "revoked support access from the platform's support staff"),
  },
};

const WORK_SESSION: TypeSpec = {
  targets: ["workSession", "conversation", "customer", "subjectUser"],
  actions: {
    "work_session.started": action([NO_CUSTOMER], () => "started a work session"),
    "work_session.ended": action([NO_CUSTOMER], () => "ended a work session"),
    "work_session.status_changed": action([NO_CUSTOMER], (t, e) => {
      const change = fromTo(e, "status");
      if (change) return `changed their status${change}`;
      return t.workSession?.status ? `changed their status to ${quote(t.workSession.status)}` : "changed their status";
    }),
    "work_session.queue_joined": action([REQUIRES_QUEUE, NO_CUSTOMER], (t) => `joined the queue ${quote(t.workSession!.queue!)}`),
    "work_session.queue_left": action([REQUIRES_QUEUE, NO_CUSTOMER], (t) => `left the queue ${quote(t.workSession!.queue!)}`),
    "work_session.conversation_routed": action([REQUIRES_CONVERSATION], (t) => {
      const to = subjectUserName(t) ? ` to ${subjectUserName(t)}` : "";
      const queue = t.workSession?.queue ? ` from the queue ${quote(t.workSession.queue)}` : "";
      return `routed ${conversationLabel(t)}${to}${queue}`;
    }),
    "work_session.conversation_accepted": action([REQUIRES_CONVERSATION], (t) => `accepted ${conversationLabel(t)}`),
    "work_session.conversation_rejected": action([REQUIRES_CONVERSATION], (t) => `rejected ${conversationLabel(t)}`),
  },
};

export const EVENT_CATALOG: Readonly<Record<AuditEventType, TypeSpec>> = {
  [AuditEventType.AUTHORIZATION]: AUTHORIZATION,
  [AuditEventType.BILLING]: BILLING,
  [AuditEventType.CONVERSATION]: CONVERSATION,
  [AuditEventType.CUSTOMER]: CUSTOMER,
  [AuditEventType.SETTINGS]: SETTINGS,
  [AuditEventType.WORK_SESSION]: WORK_SESSION,
};

/** The spec of an action of a type, or undefined when the pair is not in the catalog. */
export function actionSpec(type: AuditEventType, action: string): ActionSpec | undefined {
  const actions = EVENT_CATALOG[type]?.actions;
  return actions && Object.hasOwn(actions, action) ? actions[action] : undefined;
}

/**
 * The one sentence describing an event, from what it recorded; a conversation
 * it names by id only is called by the subject the directory knows.
 */
export function describeEvent(event: NewAuditEvent, known: KnownNames = NO_KNOWN_NAMES): string {
  const spec = actionSpec(event.type, event.action);
  if (!spec) throw new Error(`${event.type}/${event.action} is not in the event catalog`);
  return spec.describe(event, known);
}
