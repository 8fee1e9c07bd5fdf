import type { DataSource } from "typeorm";
import { Principal, Role } from "../auth/principal";
import { BadUserInputError, ForbiddenError, InvalidInput } from "../common/errors";
import { placeholders, Statement } from "../database/statements";
import type { Conversation } from "./conversation.type";
import type { Customer } from "./customer.type";
import type { User } from "./user.type";

/** A user, customer or conversation as one event names it, with the event's occurredAt. */
export interface UserMention {
  id: string;
  name: string;
  email: string | null;
  occurredAt: Date;
}

export interface CustomerMention {
  id: string;
  name: string;
  occurredAt: Date;
}

export interface ConversationMention {
  id: string;
  subject: string | null;
  /** The customer the event ties the conversation to, if any. */
  customerId: string | null;
  occurredAt: Date;
}

export interface DirectoryMentions {
  users: UserMention[];
  customers: CustomerMention[];
  conversations: ConversationMention[];
}

interface ConversationRow {
  id: string;
  subject: string | null;
  customer_id: string | null;
}

/**
 * The workspace directory: the current name of every user, customer and
 * conversation events mention. A value is replaced only by one from an event
 * that occurred later, whatever the order events arrive in.
 */
export class DirectoryService {
  constructor(private readonly dataSource: DataSource) {}

  /** Customers whose current name contains the text (ignoring case), by name; blank text lists the first ones. */
  async findCustomers(principal: Principal, nameContains: string, first: number | null): Promise<Customer[]> {
    const limit = checkPicker(principal, nameContains, first, "nameContains");
    const text = nameContains.trim();
    return this.dataSource.query(
      `SELECT id, name FROM customers WHERE workspace_id = ? ${text ? "AND name LIKE ?" : ""} ORDER BY name, id LIMIT ?`,
      [principal.workspaceId, ...(text ? [containsPattern(text)] : []), limit],
    );
  }

  /** Users whose current name or email contains the text (ignoring case), by name; no text lists the first ones. */
  async findUsers(principal: Principal, search: string | null, first: number | null): Promise<User[]> {
    const limit = checkPicker(principal, search ?? "", first, "search");
    const text = (search ?? "").trim();
    return this.dataSource.query(
      `SELECT id, name, email FROM users WHERE workspace_id = ? ${text ? "AND (name LIKE ? OR email LIKE ?)" : ""} ORDER BY name, id LIMIT ?`,
      [principal.workspaceId, ...(text ? [containsPattern(text), containsPattern(text)] : []), limit],
    );
  }

  /** The users with these ids in the workspace, in the order of `ids` (null where unknown). */
  async usersByIds(workspaceId: string, ids: readonly string[]): Promise<(User | null)[]> {
    const rows: User[] = await this.selectByIds(`SELECT id, name, email FROM users`, workspaceId, ids);
    return inOrder(ids, rows);
  }

  async customersByIds(workspaceId: string, ids: readonly string[]): Promise<(Customer | null)[]> {
    const rows: Customer[] = await this.selectByIds(`SELECT id, name FROM customers`, workspaceId, ids);
    return inOrder(ids, rows);
  }

  async conversationsByIds(workspaceId: string, ids: readonly string[]): Promise<(Conversation | null)[]> {
    const rows: ConversationRow[] = await this.selectByIds(`SELECT id, subject, customer_id FROM conversations`, workspaceId, ids);
    return inOrder(
      ids,
      rows.map((row) => ({ id: row.id, subject: row.subject, customerId: row.customer_id })),
    );
  }

  /**
   * The upserts of what a batch of events mentions, to run inside the
   * recording transaction: one multi-row statement per table. Rows are sorted
   * by id so that concurrent writers lock them in the same order.
   */
  upsertStatements(workspaceId: string, mentions: DirectoryMentions): Statement[] {
    const statements: Statement[] = [];
    const byId = <T extends { id: string }>(rows: T[]) => [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    if (mentions.users.length > 0) {
      // Per user: the latest mention, and the latest one carrying an email (the same upsert rules merge them).
      const rows = byId(latestPerId(mentions.users, (user) => user.email !== null));
      statements.push({
        sql: `INSERT INTO users (workspace_id, id, name, email, name_occurred_at) VALUES ${placeholders(rows.length, 5)}
         ON DUPLICATE KEY UPDATE
           email = IF(VALUES(email) IS NOT NULL AND (email IS NULL OR VALUES(name_occurred_at) >= name_occurred_at), VALUES(email), email),
           name = IF(VALUES(name_occurred_at) >= name_occurred_at, VALUES(name), name),
           name_occurred_at = GREATEST(name_occurred_at, VALUES(name_occurred_at))`,
        values: rows.flatMap((user) => [workspaceId, user.id, user.name, user.email, user.occurredAt]),
      });
    }
    if (mentions.customers.length > 0) {
      const rows = byId(latestPerId(mentions.customers, () => false));
      statements.push({
        sql: `INSERT INTO customers (workspace_id, id, name, name_occurred_at) VALUES ${placeholders(rows.length, 4)}
         ON DUPLICATE KEY UPDATE
           name = IF(VALUES(name_occurred_at) >= name_occurred_at, VALUES(name), name),
           name_occurred_at = GREATEST(name_occurred_at, VALUES(name_occurred_at))`,
        values: rows.flatMap((customer) => [workspaceId, customer.id, customer.name, customer.occurredAt]),
      });
    }
    if (mentions.conversations.length > 0) {
      // Per conversation: the latest mention with a subject, the latest with a customer, and the latest of all.
      const rows = byId([
        ...new Set([
          ...latestPerId(mentions.conversations.filter((conversation) => conversation.subject !== null), () => false),
          ...latestPerId(mentions.conversations.filter((conversation) => conversation.customerId !== null), () => false),
          ...latestPerId(mentions.conversations, () => false),
        ]),
      ]);
      // A subject or customer is only replaced by one the event actually carries, and only by a later event.
      statements.push({
        sql: `INSERT INTO conversations (workspace_id, id, subject, subject_occurred_at, customer_id, customer_occurred_at)
         VALUES ${placeholders(rows.length, 6)}
         ON DUPLICATE KEY UPDATE
           subject = IF(VALUES(subject) IS NOT NULL AND (subject_occurred_at IS NULL OR VALUES(subject_occurred_at) >= subject_occurred_at), VALUES(subject), subject),
           subject_occurred_at = IF(VALUES(subject) IS NOT NULL, GREATEST(COALESCE(subject_occurred_at, VALUES(subject_occurred_at)), VALUES(subject_occurred_at)), subject_occurred_at),
           customer_id = IF(VALUES(customer_id) IS NOT NULL AND (customer_occurred_at IS NULL OR VALUES(customer_occurred_at) >= customer_occurred_at), VALUES(customer_id), customer_id),
           customer_occurred_at = IF(VALUES(customer_id) IS NOT NULL, GREATEST(COALESCE(customer_occurred_at, VALUES(customer_occurred_at)), VALUES(customer_occurred_at)), customer_occurred_at)`,
        values: rows.flatMap((conversation) => [
          workspaceId,
          conversation.id,
          conversation.subject,
          conversation.subject === null ? null : conversation.occurredAt,
          conversation.customerId,
          conversation.customerId === null ? null : conversation.occurredAt,
        ]),
      });
    }
    return statements;
  }

  /** The query of the directory's entries of some conversations; {@link conversationEntriesFrom} reads its rows. */
  conversationEntriesQuery(workspaceId: string, ids: readonly string[]): Statement {
    return { sql: `SELECT id, subject, customer_id FROM conversations WHERE workspace_id = ? AND id IN (?)`, values: [workspaceId, [...new Set(ids)]] };
  }

  /** Each conversation's entry by id (absent: unknown conversation). */
  conversationEntriesFrom(rows: unknown): Map<string, Conversation> {
    return new Map((rows as ConversationRow[]).map((row) => [row.id, { id: row.id, subject: row.subject, customerId: row.customer_id }]));
  }

  private async selectByIds<T>(select: string, workspaceId: string, ids: readonly string[]): Promise<T[]> {
    if (ids.length === 0) return [];
    return this.dataSource.query(`${select} WHERE workspace_id = ? AND id IN (?)`, [workspaceId, ids]);
  }
}

/**
 * The mentions that can change the directory: per id, the latest one, plus
 * the latest that passes `alsoKeep` when that is an older one. An older
 * mention loses to a later one in the upsert anyway, so dropping it changes
 * nothing but the work.
 */
function latestPerId<T extends { id: string; occurredAt: Date }>(mentions: T[], alsoKeep: (mention: T) => boolean): T[] {
  const latest = new Map<string, T>();
  const latestKept = new Map<string, T>();
  for (const mention of mentions) {
    const current = latest.get(mention.id);
    if (!current || mention.occurredAt >= current.occurredAt) latest.set(mention.id, mention);
    if (alsoKeep(mention)) {
      const kept = latestKept.get(mention.id);
      if (!kept || mention.occurredAt >= kept.occurredAt) latestKept.set(mention.id, mention);
    }
  }
  const result = [...latest.values()];
  for (const [id, kept] of latestKept) if (latest.get(id) !== kept) result.push(kept);
  return result;
}

/** Picker page size. */
export const PICKER_SIZE = { default: 20, min: 1, max: 100 } as const;
/** Longest picker text, in characters. @default 255 */
export const MAX_PICKER_TEXT = 255;

function checkPicker(principal: Principal, text: string, first: number | null, argument: string): number {
  if (principal.role === Role.SERVICE) throw new ForbiddenError();
  const invalid: InvalidInput[] = [];
  if (text.length > MAX_PICKER_TEXT) invalid.push({ path: argument, message: `must be at most ${MAX_PICKER_TEXT} characters` });
  const limit = first ?? PICKER_SIZE.default;
  if (!Number.isInteger(limit) || limit < PICKER_SIZE.min || limit > PICKER_SIZE.max) {
    invalid.push({ path: "first", message: `must be from ${PICKER_SIZE.min} to ${PICKER_SIZE.max}` });
  }
  if (invalid.length > 0) throw BadUserInputError.listing(invalid);
  return limit;
}

/** A LIKE pattern matching the text anywhere, its own % and _ taken literally. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (character) => `\\${character}`)}%`;
}

function inOrder<T extends { id: string }>(ids: readonly string[], rows: T[]): (T | null)[] {
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => byId.get(id) ?? null);
}
