import type { DataSource } from "typeorm";
import type { User } from "./user.type";

interface UserRow {
  id: string;
  name: string;
  email: string | null;
}

/** Reads the workspace directory: users, customers and conversations by id. */
export class DirectoryService {
  constructor(private readonly dataSource: DataSource) {}

  /** The users with these ids in the workspace, in the order of `ids` (null where unknown). */
  async usersByIds(workspaceId: string, ids: readonly string[]): Promise<(User | null)[]> {
    if (ids.length === 0) return [];
    const rows: UserRow[] = await this.dataSource.query(
      `SELECT id, name, email FROM users WHERE workspace_id = ? AND id IN (?)`,
      [workspaceId, ids],
    );
    return inOrder(ids, rows);
  }
}

function inOrder<T extends { id: string }>(ids: readonly string[], rows: T[]): (T | null)[] {
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => byId.get(id) ?? null);
}
