import type { BatchedTransaction, Queryable } from "./statements";

/** `workspaces`: each workspace's seq counter. */

/**
 * Takes `count` seqs of the workspace, creating its row if need be, and
 * gives the last of them: the events take the `count` seqs up to it, in
 * order. The row stays locked until commit, so seq order is commit order.
 * Both ways, LAST_INSERT_ID(expr) sets the session's LAST_INSERT_ID() to the
 * new last seq: the event inserts that follow in the same round trip count
 * back from it (`insertReservedEvents` in audit-event.repository.ts).
 */
export function reserveSeqs(transaction: BatchedTransaction, workspaceId: string, count: number): Promise<number> {
  return transaction.read(
    {
      sql: `INSERT INTO workspaces (id, last_seq) VALUES (?, LAST_INSERT_ID(?)) ON DUPLICATE KEY UPDATE last_seq = LAST_INSERT_ID(last_seq + ?)`,
      values: [workspaceId, count, count],
    },
    lastSeqFrom,
  );
}

function lastSeqFrom(result: unknown): number {
  const lastSeq = Number((result as { insertId: number }).insertId);
  if (!Number.isSafeInteger(lastSeq) || lastSeq < 1) throw new Error(`the seq reservation returned ${lastSeq}`);
  return lastSeq;
}

/** The last seq the workspace has taken; 0 before its first event. */
export async function findLastSeq(database: Queryable, workspaceId: string): Promise<number> {
  const rows = (await database.query(`SELECT last_seq FROM workspaces WHERE id = ?`, [workspaceId])) as { last_seq: number }[];
  return Number(rows[0]?.last_seq ?? 0);
}

/** Deletes the workspace's row: its seqs start again from 1. */
export async function deleteWorkspace(database: Queryable, workspaceId: string): Promise<void> {
  await database.query(`DELETE FROM workspaces WHERE id = ?`, [workspaceId]);
}
