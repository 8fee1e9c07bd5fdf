import DataLoader from "dataloader";
import type { DirectoryService } from "./directory.service";
import type { User } from "./user.type";

export interface DirectoryLoaders {
  user: DataLoader<string, User | null>;
}

/** Loaders of one request, bound to the caller's workspace: one query per kind and tick. */
export function createDirectoryLoaders(directory: DirectoryService, workspaceId: string): DirectoryLoaders {
  return {
    user: new DataLoader((ids) => directory.usersByIds(workspaceId, ids)),
  };
}
