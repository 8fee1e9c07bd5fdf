import { deleteEventsOfWorkspace, KeptEventRows } from "../src/database/audit-event.repository";
import { deleteWorkspace } from "../src/database/workspace.repository";
import { seedBulkEvents } from "./support/bulk-events";
import { useTestDatabase } from "./support/database";
import { statementsDuring } from "./support/statements";

const WORKSPACE = "ws-rows";
const OTHER = "ws-rows-other";

interface Key {
  seq: number;
  id: string;
  occurred_at: Date;
}

describe("the events' rows kept for log pages", () => {
  const dataSource = useTestDatabase();

  beforeAll(async () => {
    await seedBulkEvents(dataSource, { workspaceId: WORKSPACE, events: 30, seed: 1 });
    await seedBulkEvents(dataSource, { workspaceId: OTHER, events: 30, seed: 2 });
  });

  /** The keys of a workspace's events, as a page's statement reads them, newest seq first. */
  const keysOf = async (workspaceId: string, limit = 10): Promise<Key[]> =>
    dataSource.query(`SELECT seq, id, occurred_at FROM audit_events WHERE workspace_id = ? ORDER BY seq DESC LIMIT ?`, [workspaceId, limit]);
  const rowsOf = async (rows: KeptEventRows, workspaceId: string, keys: Key[]) => {
    let read!: Awaited<ReturnType<KeptEventRows["rowsOf"]>>;
    const statements = await statementsDuring(dataSource, async () => {
      read = await rows.rowsOf(dataSource, workspaceId, keys);
    });
    return { read, statements: statements.length };
  };

  it("reads the rows it does not keep in one statement, in the keys' order, then gives them from memory", async () => {
    const rows = new KeptEventRows();
    const keys = await keysOf(WORKSPACE);
    const first = await rowsOf(rows, WORKSPACE, keys);
    expect(first.statements).toBe(1);
    expect(first.read.map((row) => row.id)).toEqual(keys.map((key) => key.id));
    const [stored] = await dataSource.query(`SELECT description, changes FROM audit_events WHERE workspace_id = ? AND seq = ?`, [WORKSPACE, keys[0].seq]);
    expect(first.read[0]).toMatchObject({ description: stored.description, changes: stored.changes });
    expect(rows.size).toBe(10);

    // Five kept, five more: one statement for the five it lacks.
    const more = await keysOf(WORKSPACE, 15);
    const second = await rowsOf(rows, WORKSPACE, more.slice(5));
    expect(second.statements).toBe(1);
    expect(second.read.map((row) => row.id)).toEqual(more.slice(5).map((key) => key.id));
    expect((await rowsOf(rows, WORKSPACE, more)).statements).toBe(0);

  });

  it("never gives one workspace's row for another's seq", async () => {
    const rows = new KeptEventRows();
    const keys = await keysOf(WORKSPACE);
    await rowsOf(rows, WORKSPACE, keys);
    const other = await keysOf(OTHER);
    expect(other.map((key) => key.seq)).toEqual(keys.map((key) => key.seq));
    const read = await rowsOf(rows, OTHER, other);
    expect(read.statements).toBe(1);
    expect(read.read.map((row) => row.id)).toEqual(other.map((key) => key.id));
    // Each workspace's rows are kept side by side: the first workspace's are still there.
    expect((await rowsOf(rows, WORKSPACE, keys)).statements).toBe(0);
  });

  it("gives a row only for its event's id: a workspace recorded anew from seq 1 shows its new events", async () => {
    const workspace = "ws-rows-reset";
    await seedBulkEvents(dataSource, { workspaceId: workspace, events: 10, seed: 3 });
    const rows = new KeptEventRows();
    const before = await keysOf(workspace);
    await rowsOf(rows, workspace, before);

    const runner = dataSource.createQueryRunner();
    await deleteEventsOfWorkspace(runner, workspace).finally(() => runner.release());
    // Gone meanwhile (purged): left out of the page rather than shown from memory.
    expect((await rowsOf(new KeptEventRows(), workspace, before)).read).toEqual([]);
    await deleteWorkspace(dataSource, workspace);
    await seedBulkEvents(dataSource, { workspaceId: workspace, events: 10, seed: 4 });
    const after = await keysOf(workspace);
    expect(after.map((key) => key.seq)).toEqual(before.map((key) => key.seq));
    const read = await rowsOf(rows, workspace, after);
    expect(read.statements).toBe(1);
    expect(read.read.map((row) => row.id)).toEqual(after.map((key) => key.id));
    expect(read.read.map((row) => row.id)).not.toContain(before[0].id);
  });

  it("keeps at most its bound of rows, dropping those kept first", async () => {
    const rows = new KeptEventRows(8);
    const keys = await keysOf(WORKSPACE, 12);
    const read = await rowsOf(rows, WORKSPACE, keys);
    // A page larger than the bound still gets every row.
    expect(read.read).toHaveLength(12);
    expect(rows.size).toBe(8);
    // The newest four were kept first, and dropped first.
    expect((await rowsOf(rows, WORKSPACE, keys.slice(4))).statements).toBe(0);
    expect((await rowsOf(rows, WORKSPACE, keys.slice(0, 4))).statements).toBe(1);
  });
});
