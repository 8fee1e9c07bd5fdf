import { Principal, Role } from "../auth/principal";
import { BadUserInputError, ForbiddenError, InvalidInput } from "../common/errors";
import { ConversationMention, findConversationsByIds, readConversationsByIds, upsertConversations } from "../database/conversation.repository";
import { CustomerMention, findCustomersByIds, searchCustomers, upsertCustomers } from "../database/customer.repository";
import type { BatchedTransaction } from "../database/statements";
import { findUsersByIds, searchUsers, upsertUsers, UserMention } from "../database/user.repository";
import type { Conversation } from "./conversation.type";
import type { Customer } from "./customer.type";
import type { User } from "./user.type";
import type { Queryable } from "../database/statements";

/** What a batch of events names: users, customers and conversations, each with its event's occurredAt. */
export interface DirectoryMentions {
  users: UserMention[];
  customers: CustomerMention[];
  conversations: ConversationMention[];
}

/**
 * The workspace directory: the current name of every user, customer and
 * conversation events mention. A value is replaced only by one from an event
 * that occurred later, whatever the order events arrive in.
 */
export class DirectoryService {
  constructor(private readonly reads: Queryable) {}

  /** Customers whose current name contains the text (ignoring case), by name; blank text lists the first ones. */
  async findCustomers(principal: Principal, nameContains: string, first: number | null): Promise<Customer[]> {
    const limit = checkPicker(principal, nameContains, first, "nameContains");
    return searchCustomers(this.reads, principal.workspaceId, nameContains.trim(), limit);
  }

  /** Users whose current name or email contains the text (ignoring case), by name; no text lists the first ones. */
  async findUsers(principal: Principal, search: string | null, first: number | null): Promise<User[]> {
    const limit = checkPicker(principal, search ?? "", first, "search");
    return searchUsers(this.reads, principal.workspaceId, (search ?? "").trim(), limit);
  }

  /** The users with these ids in the workspace, in the order of `ids` (null where unknown). */
  async usersByIds(workspaceId: string, ids: readonly string[]): Promise<(User | null)[]> {
    return inOrder(ids, await findUsersByIds(this.reads, workspaceId, ids));
  }

  async customersByIds(workspaceId: string, ids: readonly string[]): Promise<(Customer | null)[]> {
    return inOrder(ids, await findCustomersByIds(this.reads, workspaceId, ids));
  }

  async conversationsByIds(workspaceId: string, ids: readonly string[]): Promise<(Conversation | null)[]> {
    return inOrder(ids, await findConversationsByIds(this.reads, workspaceId, ids));
  }

  /**
   * Records what a batch of events mentions, within the recording
   * transaction: one multi-row upsert per table, sent with the transaction's
   * next round trip.
   */
  upsertMentions(transaction: BatchedTransaction, workspaceId: string, mentions: DirectoryMentions): void {
    // Per user: the latest mention, and the latest one carrying an email (the same upsert rules merge them).
    upsertUsers(transaction, workspaceId, latestPerId(mentions.users, (user) => user.email !== null));
    upsertCustomers(transaction, workspaceId, latestPerId(mentions.customers, () => false));
    // Per conversation: the latest mention with a subject, the latest with a customer, and the latest of all.
    upsertConversations(transaction, workspaceId, [
      ...new Set([
        ...latestPerId(mentions.conversations.filter((conversation) => conversation.subject !== null), () => false),
        ...latestPerId(mentions.conversations.filter((conversation) => conversation.customerId !== null), () => false),
        ...latestPerId(mentions.conversations, () => false),
      ]),
    ]);
  }

  /**
   * Within the recording transaction, the directory's entries of some
   * conversations (subject and customer), by id, as they stand when the
   * transaction's next round trip reads them; absent: unknown conversation.
   */
  readConversations(transaction: BatchedTransaction, workspaceId: string, ids: readonly string[]): Promise<Map<string, Conversation>> {
    return readConversationsByIds(transaction, workspaceId, ids);
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

/** Items a picker returns: `first`, from 1 to 100, default 20. */
export const PICKER_SIZE = { default: 20, min: 1, max: 100 } as const;
/** Longest picker text, in characters. */
const MAX_PICKER_TEXT = 255;

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

function inOrder<T extends { id: string }>(ids: readonly string[], rows: T[]): (T | null)[] {
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => byId.get(id) ?? null);
}
