import DataLoader from "dataloader";
import type { Conversation } from "./conversation.type";
import type { Customer } from "./customer.type";
import type { DirectoryService } from "./directory.service";
import type { User } from "./user.type";

export interface DirectoryLoaders {
  user: DataLoader<string, User | null>;
  customer: DataLoader<string, Customer | null>;
  conversation: DataLoader<string, Conversation | null>;
}

/** Loaders of one request, bound to the caller's workspace: one query per kind and tick. */
export function createDirectoryLoaders(
  directory: DirectoryService,
  workspaceId: string,
  options: { cache: boolean } = { cache: true },
): DirectoryLoaders {
  return {
    user: new DataLoader((ids) => directory.usersByIds(workspaceId, ids), options),
    customer: new DataLoader((ids) => directory.customersByIds(workspaceId, ids), options),
    conversation: new DataLoader((ids) => directory.conversationsByIds(workspaceId, ids), options),
  };
}

/**
 * Loaders for a caller that reads nothing (a producer's SERVICE token): every
 * entry is unknown, so the events it recorded resolve to what it sent, never
 * to the directory's current names, emails or ties.
 */
export function createEmptyDirectoryLoaders(): DirectoryLoaders {
  const unknown = async (ids: readonly string[]) => ids.map(() => null);
  return { user: new DataLoader(unknown), customer: new DataLoader(unknown), conversation: new DataLoader(unknown) };
}
