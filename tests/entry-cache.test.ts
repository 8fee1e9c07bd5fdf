import { createLogger } from "../src/common/logger";
import type { EntryIds } from "../src/database/directory-entries.repository";
import type { AuditEventRecord } from "../src/events/audit-event.record";
import { createEventBus } from "../src/live-tail/event-bus";
import { AuditEventPublisher } from "../src/recording/event-publisher";
import { DirectoryEntryCache } from "../src/directory/entry-cache";
import { entryChangesOf, readEntryChanges, shareEntryChanges } from "../src/directory/entry-changes";
import { useTestDatabase } from "./support/database";
import { statementsDuring } from "./support/statements";

const WORKSPACE = "ws-kept";
const OTHER = "ws-kept-other";
const NONE: EntryIds = { users: [], customers: [], conversations: [] };

describe("the directory's entries kept for log pages", () => {
  const dataSource = useTestDatabase();

  beforeAll(async () => {
    for (const workspace of [WORKSPACE, OTHER]) {
      await dataSource.query(`INSERT INTO users (workspace_id, id, name, email, name_occurred_at) VALUES (?, 'u-1', ?, 'ana@example.com', NOW(3))`, [workspace, `Ana of ${workspace}`]);
      await dataSource.query(`INSERT INTO customers (workspace_id, id, name, name_occurred_at) VALUES (?, 'cu-1', ?, NOW(3)), (?, 'cu-2', 'Ben', NOW(3))`, [
        workspace,
        `Zoë of ${workspace}`,
        workspace,
      ]);
      await dataSource.query(`INSERT INTO conversations (workspace_id, id, subject, subject_occurred_at, customer_id, customer_occurred_at) VALUES (?, 'c-1', 'Refund', NOW(3), 'cu-1', NOW(3))`, [
        workspace,
      ]);
    }
  });

  /** The entries for `ids` at `version`, and the statements it took. */
  const read = async (cache: DirectoryEntryCache, workspaceId: string, version: number, ids: Partial<EntryIds>) => {
    let entries!: Awaited<ReturnType<DirectoryEntryCache["entriesFor"]>>;
    const statements = await statementsDuring(dataSource, async () => {
      entries = await cache.entriesFor(dataSource, workspaceId, version, { ...NONE, ...ids });
    });
    return { entries, statements: statements.length };
  };

  it("reads what it does not keep in one statement, then answers from memory while the version holds", async () => {
    const cache = new DirectoryEntryCache();
    const first = await read(cache, WORKSPACE, 7, { users: ["u-1", "u-gone"], customers: ["cu-2"], conversations: ["c-1", "c-gone"] });
    expect(first.statements).toBe(1);
    expect(first.entries.user("u-1")).toEqual({ id: "u-1", name: `Ana of ${WORKSPACE}`, email: "ana@example.com" });
    expect(first.entries.user("u-gone")).toBeNull();
    expect(first.entries.customerName("cu-2")).toBe("Ben");
    expect(first.entries.conversation("c-1")).toEqual({ id: "c-1", subject: "Refund", customerId: "cu-1" });
    expect(first.entries.conversation("c-gone")).toBeNull();
    // The conversation's customer is read with it.
    expect(first.entries.customerName("cu-1")).toBe(`Zoë of ${WORKSPACE}`);

    // An id the directory does not hold is remembered as such too.
    const again = await read(cache, WORKSPACE, 7, { users: ["u-1", "u-gone"], customers: ["cu-1", "cu-2"], conversations: ["c-1", "c-gone"] });
    expect(again.statements).toBe(0);
    expect(again.entries.customerName("cu-1")).toBe(`Zoë of ${WORKSPACE}`);
    expect(again.entries.user("u-gone")).toBeNull();
  });

  it("reads again at another version, and never gives one workspace's entries to another", async () => {
    const cache = new DirectoryEntryCache();
    await read(cache, WORKSPACE, 1, { customers: ["cu-1"] });
    await dataSource.query(`UPDATE customers SET name = 'Zoë Park-Lee' WHERE workspace_id = ? AND id = 'cu-1'`, [WORKSPACE]);
    // The same version: what was kept (only recording changes the directory, and it moves the version).
    expect((await read(cache, WORKSPACE, 1, { customers: ["cu-1"] })).entries.customerName("cu-1")).toBe(`Zoë of ${WORKSPACE}`);
    const moved = await read(cache, WORKSPACE, 2, { customers: ["cu-1"] });
    expect(moved.statements).toBe(1);
    expect(moved.entries.customerName("cu-1")).toBe("Zoë Park-Lee");
    const other = await read(cache, OTHER, 2, { customers: ["cu-1"] });
    expect(other.statements).toBe(1);
    expect(other.entries.customerName("cu-1")).toBe(`Zoë of ${OTHER}`);
    await dataSource.query(`UPDATE customers SET name = ? WHERE workspace_id = ? AND id = 'cu-1'`, [`Zoë of ${WORKSPACE}`, WORKSPACE]);
  });

  it("forgets what this instance's stored events mention when they follow the kept version, and moves to theirs", async () => {
    const cache = new DirectoryEntryCache();
    const logger = createLogger("silent");
    const bus = createEventBus({ logger });
    // As the services wire it: the recorder's publisher tells the cache of each commit's events.
    const publisher = new AuditEventPublisher(bus.pubSub, [shareEntryChanges(cache, bus, logger)]);
    /** A stored event as the recorder publishes it: what the entries need of it is its seq and what it mentions. */
    const stored = (seq: number, targets: Record<string, unknown>, actorId: string | null = null) =>
      ({ workspaceId: WORKSPACE, seq, actor: { kind: actorId ? "USER" : "SYSTEM", id: actorId, name: "Someone" }, targets }) as unknown as AuditEventRecord;
    const ids = { users: ["u-1"], customers: ["cu-2"], conversations: ["c-1"] };
    try {
      expect((await read(cache, WORKSPACE, 10, ids)).statements).toBe(1);
      // Seqs 11 and 12 follow 10: the customer and the user they mention are forgotten, the rest kept for version 12.
      publisher.publish([stored(11, { customer: { id: "cu-2", name: "Ben" } }), stored(12, {}, "u-1")]);
      expect(cache.size).toBe(2);
      const next = await read(cache, WORKSPACE, 12, ids);
      expect(next.statements).toBe(1);
      expect(next.entries.customerName("cu-2")).toBe("Ben");
      expect(cache.size).toBe(4);
      expect((await read(cache, WORKSPACE, 12, ids)).statements).toBe(0);
      // Events that do not follow the kept version (13 came from elsewhere) change nothing; the page's version then tells.
      publisher.publish([stored(14, { conversation: { id: "c-1", subject: "Refund" } })]);
      expect(cache.size).toBe(4);
      expect((await read(cache, WORKSPACE, 12, ids)).statements).toBe(0);
      expect((await read(cache, WORKSPACE, 14, ids)).statements).toBe(1);
    } finally {
      await bus.close();
    }
  });

  it("takes changes told by another instance as its own, and only when they follow the kept version", async () => {
    const cache = new DirectoryEntryCache();
    const ids = { users: ["u-1"], customers: ["cu-2"], conversations: ["c-1"] };
    await read(cache, WORKSPACE, 20, ids);
    const changes = { workspaceId: WORKSPACE, firstSeq: 21, lastSeq: 25, users: [], customers: ["cu-2"], conversations: [] };
    // Told late, after a page read version 26: nothing changes.
    cache.entriesChanged({ ...changes, firstSeq: 19, lastSeq: 20 });
    expect(cache.keptVersion(WORKSPACE)).toBe(20);
    cache.entriesChanged(changes);
    expect(cache.keptVersion(WORKSPACE)).toBe(25);
    expect(cache.size).toBe(3);
    // Told again (the same message twice): nothing more.
    cache.entriesChanged(changes);
    expect(cache.keptVersion(WORKSPACE)).toBe(25);
    expect(cache.keptVersion(OTHER)).toBeUndefined();
  });

  it("tells what stored events may change: their seqs and each entry they mention once", () => {
    const stored = (seq: number, targets: Record<string, unknown>, actorId: string | null = null) =>
      ({ workspaceId: WORKSPACE, seq, actor: { kind: actorId ? "USER" : "AUTOMATION", id: actorId ?? "rule-1", name: "Someone" }, targets }) as unknown as AuditEventRecord;
    const events = [
      stored(3, { conversation: { id: "c-1" }, customer: { id: "cu-1", name: "Zoë" } }, "u-1"),
      stored(4, { subjectUser: { id: "u-2", name: "Ben" } }, "u-1"),
      // An automation's id is no user's.
      stored(5, { customer: { id: "cu-1", name: "Zoë" } }),
    ];
    expect(entryChangesOf({ workspaceId: WORKSPACE, events })).toEqual({
      workspaceId: WORKSPACE,
      firstSeq: 3,
      lastSeq: 5,
      users: ["u-1", "u-2"],
      customers: ["cu-1"],
      conversations: ["c-1"],
    });
    expect(entryChangesOf({ workspaceId: WORKSPACE, events: [] })).toBeNull();
  });

  it.each([
    ["nothing", null],
    ["a string", "changes"],
    ["no workspace", { firstSeq: 1, lastSeq: 1, users: [], customers: [], conversations: [] }],
    ["a seq as text", { workspaceId: WORKSPACE, firstSeq: "1", lastSeq: 1, users: [], customers: [], conversations: [] }],
    ["seq 0", { workspaceId: WORKSPACE, firstSeq: 0, lastSeq: 1, users: [], customers: [], conversations: [] }],
    ["seqs backwards", { workspaceId: WORKSPACE, firstSeq: 5, lastSeq: 4, users: [], customers: [], conversations: [] }],
    ["a fractional seq", { workspaceId: WORKSPACE, firstSeq: 1.5, lastSeq: 2, users: [], customers: [], conversations: [] }],
    ["an id that is no string", { workspaceId: WORKSPACE, firstSeq: 1, lastSeq: 1, users: [7], customers: [], conversations: [] }],
    ["a missing list", { workspaceId: WORKSPACE, firstSeq: 1, lastSeq: 1, users: [], customers: [] }],
  ])("refuses a message from another instance that is not a change: %s", (_name, message) => {
    expect(readEntryChanges(message)).toBeNull();
  });

  it("keeps at most its bound of entries, dropping the workspace read least recently first", async () => {
    const cache = new DirectoryEntryCache(4);
    const ids = { users: ["u-1"], customers: ["cu-2"], conversations: ["c-1"] };
    // c-1 with its customer cu-1: four entries each.
    await read(cache, WORKSPACE, 1, ids);
    expect(cache.size).toBe(4);
    await read(cache, OTHER, 1, ids);
    expect(cache.size).toBe(4);
    expect((await read(cache, OTHER, 1, ids)).statements).toBe(0);
    expect((await read(cache, WORKSPACE, 1, ids)).statements).toBe(1);

    // A page that needs more than the bound still gets all its entries; the workspace starts over within it.
    const small = new DirectoryEntryCache(2);
    const big = await read(small, WORKSPACE, 1, ids);
    expect(big.entries.user("u-1")?.name).toBe(`Ana of ${WORKSPACE}`);
    expect(big.entries.customerName("cu-1")).toBe(`Zoë of ${WORKSPACE}`);
    expect(big.entries.conversation("c-1")?.subject).toBe("Refund");
    expect(small.size).toBeLessThanOrEqual(2);
  });
});
