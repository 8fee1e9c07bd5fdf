import type { ActorKind, AuditEventType, SettingsSection } from "./audit-event.enums";

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface ActorRecord {
  kind: ActorKind;
  /** Null for the platform itself (SYSTEM). */
  id: string | null;
  /** The name as recorded on the event. */
  name: string;
  /**
   * The directory's entry for a USER actor, read with the event (see
   * {@link CurrentEntries}): null when the directory has none; absent when
   * the event was read without it.
   */
  current?: UserRef | null;
}

export interface UserRef {
  id: string;
  name: string;
  email: string | null;
}

export interface CustomerRef {
  id: string;
  name: string;
}

export interface ConversationRef {
  id: string;
  subject: string | null;
}

export interface SettingsTarget {
  section: SettingsSection;
  objectId: string | null;
  objectName: string | null;
}

export interface WorkSessionDetails {
  queue: string | null;
  status: string | null;
}

export interface CsatDetails {
  surveyId: string | null;
  rating: number | null;
  ratingScale: number | null;
  comment: string | null;
}

export interface FieldChangeRecord {
  field: string;
  before: JsonValue;
  after: JsonValue;
}

export interface SourceDetails {
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

/** Targets each event type may carry (the catalog requires some of them per action). */
export interface TargetsByType {
  AUTHORIZATION: { subjectUser: UserRef | null };
  BILLING: { subjectUser: UserRef | null };
  CONVERSATION: {
    conversation: ConversationRef;
    customer: CustomerRef | null;
    subjectUser: UserRef | null;
    csat: CsatDetails | null;
  };
  CUSTOMER: { customer: CustomerRef };
  SETTINGS: { settings: SettingsTarget };
  WORK_SESSION: {
    workSession: WorkSessionDetails | null;
    conversation: ConversationRef | null;
    /** Only with the conversation: that conversation's customer. */
    customer: CustomerRef | null;
    subjectUser: UserRef | null;
  };
}

interface NewEventOf<T extends AuditEventType> {
  type: T;
  idempotencyKey: string;
  /** Dotted action name from the event catalog. */
  action: string;
  occurredAt: Date;
  actor: ActorRecord;
  targets: TargetsByType[T];
  changes: FieldChangeRecord[];
  metadata: JsonValue | null;
  source: SourceDetails | null;
}

/** A validated input, ready to store: one shape per event type. */
export type NewAuditEvent = { [T in AuditEventType]: NewEventOf<T> }[AuditEventType];

/**
 * What the directory holds now for what an event mentions, read in the same
 * statement as the event: a log's page shows current names without asking
 * the directory again. Each is null when the directory has no entry. Events
 * read another way (the live tail, a recording's answer) carry none, and
 * their fields ask the directory's loaders.
 */
export interface CurrentEntries {
  /** The event's conversation, with the customer the directory ties it to. */
  conversation: (ConversationRef & { customerId: string | null; customer: CustomerRef | null }) | null;
  /** The event's customer (its `customerId`). */
  customer: CustomerRef | null;
  /** The user the action applied to. */
  subjectUser: UserRef | null;
}

/** What the service adds when it stores an event. */
export interface StoredFields {
  workspaceId: string;
  /** Position in the workspace's commit order; the live tail resumes from it. */
  seq: number;
  /** Opaque, unique, URL-safe. */
  id: string;
  recordedAt: Date;
  description: string;
  /**
   * The customer the event was recorded with: the one it names, or for an
   * event on a conversation that names none, the conversation's customer in
   * the directory at the time. Never changed after: an event recorded before
   * its conversation had a customer joins that customer's log through the
   * log's own entries, not here.
   */
  customerId: string | null;
  /** Set when the event was read with the directory's entries (see {@link CurrentEntries}). */
  current?: CurrentEntries;
}

export type AuditEventRecord = NewAuditEvent & StoredFields;

/** The targets of any event type, each null when the type does not carry it. */
export interface AnyTargets {
  customer: CustomerRef | null;
  conversation: ConversationRef | null;
  subjectUser: UserRef | null;
  settings: SettingsTarget | null;
  workSession: WorkSessionDetails | null;
  csat: CsatDetails | null;
}

/** Uniform read access to an event's targets, whatever its type. */
export function targetsOf(event: NewAuditEvent): AnyTargets {
  const targets: Partial<AnyTargets> = event.targets;
  return {
    customer: targets.customer ?? null,
    conversation: targets.conversation ?? null,
    subjectUser: targets.subjectUser ?? null,
    settings: targets.settings ?? null,
    workSession: targets.workSession ?? null,
    csat: targets.csat ?? null,
  };
}
