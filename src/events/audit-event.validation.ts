import { BadUserInputError, InvalidInput } from "../common/errors";
import { isWellFormed, NOT_WELL_FORMED, valueProblems } from "../common/well-formed";
import { ActorKind, AuditEventType, SettingsSection } from "./audit-event.enums";
import type { AuditEventInput } from "./audit-event.inputs";
import type {
  ActorRecord,
  AnyTargets,
  ConversationRef,
  CsatDetails,
  CustomerRef,
  FieldChangeRecord,
  JsonValue,
  NewAuditEvent,
  SettingsTarget,
  SourceDetails,
  UserRef,
  WorkSessionDetails,
} from "./audit-event.record";
import { actionSpec, EVENT_CATALOG, TargetName } from "./event-catalog";

/** Bounds on what one call may record. */
export const LIMITS = {
  /** Events per call. */
  minEvents: 1,
  maxEvents: 1000,
  /** Characters of any id (user, customer, conversation, settings object, survey). */
  id: 128,
  /** Characters of a name, subject, email, queue or status. */
  name: 255,
  idempotencyKey: 255,
  /** Characters of a changed field's name. */
  field: 255,
  changes: 100,
  /** Bytes of `metadata`, serialized as JSON. */
  metadataBytes: 16 * 1024,
  /** Bytes of a change's `before` or `after`, serialized as JSON. */
  changeValueBytes: 16 * 1024,
  /** Levels of arrays and objects in `metadata` or a change's value; the database refuses JSON nested 32 deep. */
  jsonDepth: 16,
  /** Characters of a CSAT comment. */
  comment: 4000,
  /** Characters of a source's user agent. */
  userAgent: 1024,
  /** Characters of a source's IP address. */
  ip: 64,
  /** How far in the future occurredAt may be, for clock skew. */
  futureMs: 5 * 60_000,
  maxRatingScale: 100,
} as const;

/** Earliest occurredAt accepted. */
const EARLIEST = Date.UTC(1970, 0, 1);

/**
 * Checks every input against the catalog and the limits and returns them
 * normalized. Any problem anywhere fails the whole call: the error lists every
 * bad input by index and field path.
 */
export function validateEventInputs(inputs: readonly AuditEventInput[], now = new Date()): NewAuditEvent[] {
  if (inputs.length < LIMITS.minEvents || inputs.length > LIMITS.maxEvents) {
    throw new BadUserInputError(`Send ${LIMITS.minEvents} to ${LIMITS.maxEvents} events per call; got ${inputs.length}.`, [
      { path: "events", message: `must hold ${LIMITS.minEvents} to ${LIMITS.maxEvents} events` },
    ]);
  }
  const invalid: InvalidInput[] = [];
  const events: NewAuditEvent[] = [];
  inputs.forEach((input, index) => {
    const checker = new InputChecker(index, invalid);
    const event = normalize(input, checker, now);
    if (event) events.push(event);
  });
  if (invalid.length > 0) {
    const noun = invalid.length === 1 ? "problem" : "problems";
    throw new BadUserInputError(`The events have ${invalid.length} ${noun}; nothing was recorded.`, invalid);
  }
  return events;
}

/** Collects the problems of one input. */
class InputChecker {
  private failed = false;

  constructor(
    private readonly index: number,
    private readonly invalid: InvalidInput[],
  ) {}

  get ok(): boolean {
    return !this.failed;
  }

  fail(path: string, message: string): void {
    this.failed = true;
    this.invalid.push({ index: this.index, path, message });
  }

  /** A string stored as it came: well-formed Unicode. */
  text(value: string, path: string): string {
    if (!isWellFormed(value)) this.fail(path, NOT_WELL_FORMED);
    return value;
  }

  /** A required string: not blank, at most `max` characters. */
  required(value: string, path: string, max: number): string {
    if (value.trim() === "") this.fail(path, "must not be blank");
    else if (value.length > max) this.fail(path, `must be at most ${max} characters`);
    return this.text(value, path);
  }

  /** An optional string: blank becomes null; at most `max` characters. */
  optional(value: string | null | undefined, path: string, max: number): string | null {
    if (value === null || value === undefined || value.trim() === "") return null;
    if (value.length > max) this.fail(path, `must be at most ${max} characters`);
    return this.text(value, path);
  }

  /** JSON of well-formed strings and keys, at most {@link LIMITS.jsonDepth} levels deep, that serializes to at most `maxBytes`. */
  json(value: JsonValue | undefined, path: string, maxBytes: number): JsonValue {
    if (value === undefined) return null;
    const problems = valueProblems(value, path, LIMITS.jsonDepth);
    for (const problem of problems) this.fail(problem.path, problem.message);
    // Checked first: serializing a value nested too deep could exhaust the stack.
    if (problems.length > 0) return value;
    const bytes = Buffer.byteLength(JSON.stringify(value), "utf8");
    if (bytes > maxBytes) this.fail(path, `must serialize to at most ${maxBytes} bytes of JSON; it has ${bytes}`);
    return value;
  }
}

function normalize(input: AuditEventInput, check: InputChecker, now: Date): NewAuditEvent | undefined {
  const idempotencyKey = check.required(input.idempotencyKey, "idempotencyKey", LIMITS.idempotencyKey);
  const type = input.type;
  const spec = actionSpec(type, check.text(input.action, "action"));
  if (!spec) {
    const known = Object.keys(EVENT_CATALOG[type].actions).join(", ");
    check.fail("action", `${JSON.stringify(input.action)} is not a ${type} action; expected one of ${known}`);
  }

  const occurredAt = input.occurredAt;
  if (occurredAt.getTime() > now.getTime() + LIMITS.futureMs) {
    check.fail("occurredAt", "must not be more than 5 minutes in the future");
  } else if (occurredAt.getTime() < EARLIEST) {
    check.fail("occurredAt", "must not be before 1970-01-01");
  }

  const actor = normalizeActor(input, check);
  const targets = normalizeTargets(input, check);
  for (const name of Object.keys(targets) as TargetName[]) {
    if (targets[name] !== null && !EVENT_CATALOG[type].targets.includes(name)) {
      check.fail(name, `is not allowed on ${type} events`);
    }
  }
  for (const requirement of spec?.requires ?? []) {
    if (!requirement.holds(targets)) check.fail(requirement.path, requirement.message);
  }

  const changes = normalizeChanges(input, check);
  const metadata = check.json(input.metadata, "metadata", LIMITS.metadataBytes);
  const source = normalizeSource(input, check);
  if (!check.ok) return undefined;

  const common = { idempotencyKey, action: input.action, occurredAt, actor, changes, metadata, source };
  switch (type) {
    case AuditEventType.AUTHORIZATION:
    case AuditEventType.BILLING:
      return { ...common, type, targets: { subjectUser: targets.subjectUser } };
    case AuditEventType.CONVERSATION:
      return {
        ...common,
        type,
        targets: { conversation: targets.conversation!, customer: targets.customer, subjectUser: targets.subjectUser, csat: targets.csat },
      };
    case AuditEventType.CUSTOMER:
      return { ...common, type, targets: { customer: targets.customer! } };
    case AuditEventType.SETTINGS:
      return { ...common, type, targets: { settings: targets.settings! } };
    case AuditEventType.WORK_SESSION:
      return {
        ...common,
        type,
        targets: { workSession: targets.workSession, conversation: targets.conversation, customer: targets.customer, subjectUser: targets.subjectUser },
      };
  }
}

function normalizeActor(input: AuditEventInput, check: InputChecker): ActorRecord {
  const { kind } = input.actor;
  const name = check.required(input.actor.name, "actor.name", LIMITS.name);
  const id = check.optional(input.actor.id, "actor.id", LIMITS.id);
  if (kind === ActorKind.SYSTEM && id !== null) check.fail("actor.id", "must be null for the platform itself (SYSTEM)");
  if (kind !== ActorKind.SYSTEM && id === null) check.fail("actor.id", `is required for ${kind} actors`);
  return { kind, id, name };
}

function normalizeTargets(input: AuditEventInput, check: InputChecker): AnyTargets {
  const customer: CustomerRef | null = input.customer
    ? {
        id: check.required(input.customer.id, "customer.id", LIMITS.id),
        name: check.required(input.customer.name, "customer.name", LIMITS.name),
      }
    : null;
  const conversation: ConversationRef | null = input.conversation
    ? {
        id: check.required(input.conversation.id, "conversation.id", LIMITS.id),
        subject: check.optional(input.conversation.subject, "conversation.subject", LIMITS.name),
      }
    : null;
  const subjectUser: UserRef | null = input.subjectUser
    ? {
        id: check.required(input.subjectUser.id, "subjectUser.id", LIMITS.id),
        name: check.required(input.subjectUser.name, "subjectUser.name", LIMITS.name),
        email: check.optional(input.subjectUser.email, "subjectUser.email", LIMITS.name),
      }
    : null;
  if (subjectUser?.email && !/^[^\s@]+@[^\s@]+$/.test(subjectUser.email)) check.fail("subjectUser.email", "must be an email address");
  const settings: SettingsTarget | null = input.settings
    ? {
        section: input.settings.section as SettingsSection,
        objectId: check.optional(input.settings.objectId, "settings.objectId", LIMITS.id),
        objectName: check.optional(input.settings.objectName, "settings.objectName", LIMITS.name),
      }
    : null;
  const workSession: WorkSessionDetails | null = input.workSession
    ? {
        queue: check.optional(input.workSession.queue, "workSession.queue", LIMITS.name),
        status: check.optional(input.workSession.status, "workSession.status", LIMITS.name),
      }
    : null;
  const csat = input.csat ? normalizeCsat(input.csat, check) : null;
  return { customer, conversation, subjectUser, settings, workSession, csat };
}

function normalizeCsat(input: NonNullable<AuditEventInput["csat"]>, check: InputChecker): CsatDetails {
  const rating = input.rating ?? null;
  const ratingScale = input.ratingScale ?? null;
  if (ratingScale !== null && (ratingScale < 1 || ratingScale > LIMITS.maxRatingScale)) {
    check.fail("csat.ratingScale", `must be from 1 to ${LIMITS.maxRatingScale}`);
  }
  if (rating !== null && rating < 0) check.fail("csat.rating", "must not be negative");
  if (rating !== null && ratingScale !== null && rating > ratingScale) check.fail("csat.rating", "must not exceed csat.ratingScale");
  return {
    surveyId: check.optional(input.surveyId, "csat.surveyId", LIMITS.id),
    rating,
    ratingScale,
    comment: check.optional(input.comment, "csat.comment", LIMITS.comment),
  };
}

function normalizeChanges(input: AuditEventInput, check: InputChecker): FieldChangeRecord[] {
  const changes = input.changes ?? [];
  if (changes.length > LIMITS.changes) {
    check.fail("changes", `must hold at most ${LIMITS.changes} changes; it has ${changes.length}`);
    return [];
  }
  return changes.map((change, position) => ({
    field: check.required(change.field, `changes.${position}.field`, LIMITS.field),
    before: check.json(change.before, `changes.${position}.before`, LIMITS.changeValueBytes),
    after: check.json(change.after, `changes.${position}.after`, LIMITS.changeValueBytes),
  }));
}

function normalizeSource(input: AuditEventInput, check: InputChecker): SourceDetails | null {
  if (!input.source) return null;
  const source = {
    ip: check.optional(input.source.ip, "source.ip", LIMITS.ip),
    userAgent: check.optional(input.source.userAgent, "source.userAgent", LIMITS.userAgent),
    requestId: check.optional(input.source.requestId, "source.requestId", LIMITS.id),
  };
  return source.ip || source.userAgent || source.requestId ? source : null;
}
