import { createHash } from "node:crypto";
import { Role } from "../src/auth/principal";
import { createLogger } from "../src/common/logger";
import { findEventsInSeqRange } from "../src/database/audit-event.repository";
import { allCheckpoints, latestCheckpoint } from "../src/database/merkle-checkpoint.repository";
import { readTiles, storedSubtrees, tileKey, treeSize } from "../src/database/merkle-tile.repository";
import { DEVELOPMENT_SIGNING_KEY } from "../src/config/config";
import { AuditEventType } from "../src/events/audit-event.enums";
import type { AuditEventRecord } from "../src/events/audit-event.record";
import { CheckpointSigner, checkpointSignedBy } from "../src/integrity/checkpoint";
import { Checkpointer } from "../src/integrity/checkpointer";
import { canonicalJson } from "../src/common/canonical-json";
import { eventLeafHash, leafData } from "../src/integrity/event-leaf";
import {
  consistencyProof,
  EMPTY_ROOT,
  inclusionProof,
  inMemorySubtrees,
  leafHash,
  nodeHash,
  treeRoot,
  verifyConsistency,
  verifyInclusion,
} from "../src/integrity/merkle";
import { MerkleSequencer, READ_CHUNK } from "../src/integrity/merkle-sequencer";
import { appendLeaves, partialTiles, subtreesFromTiles, Tile, TILE_WIDTH } from "../src/integrity/tiles";
import { seedBulkEvents } from "./support/bulk-events";
import { useTestDatabase } from "./support/database";
import { withTriggersDropped } from "./support/dba";
import { eventInput } from "./support/events";
import { recordOver } from "./support/live";
import { useTestServer } from "./support/server";
import { OTHER_WORKSPACE, tokenFor, WORKSPACE } from "./support/tokens";

/** MTH as RFC 6962 §2.1 writes it, over the leaves' data: the reference the tree is checked against. */
function referenceRoot(data: readonly Buffer[]): Buffer {
  if (data.length === 0) return createHash("sha256").digest();
  if (data.length === 1) return leafHash(data[0]);
  let k = 1;
  while (k * 2 < data.length) k *= 2;
  return nodeHash(referenceRoot(data.slice(0, k)), referenceRoot(data.slice(k)));
}

const leafData_ = (n: number) => Buffer.from(`leaf ${n}`);

describe("the Merkle tree (RFC 6962)", () => {
  const data = Array.from({ length: 70 }, (_, n) => leafData_(n));
  const leaves = data.map(leafHash);
  const subtrees = inMemorySubtrees(leaves);

  it("hashes a node as SHA-256(0x01 ‖ left ‖ right), each result its own buffer", () => {
    const reference = (left: Buffer, right: Buffer) => createHash("sha256").update(Buffer.from([1])).update(left).update(right).digest();
    const first = nodeHash(leaves[0], leaves[1]);
    const second = nodeHash(leaves[2], leaves[3]);
    expect(first).toEqual(reference(leaves[0], leaves[1]));
    expect(second).toEqual(reference(leaves[2], leaves[3]));
    // Inputs of other lengths (a proof's entries come from outside) are hashed as they are.
    const short = Buffer.from("short");
    expect(nodeHash(short, leaves[0])).toEqual(reference(short, leaves[0]));
    expect(nodeHash(leaves[0], leaves[1])).toEqual(first);
  });

  it("has the RFC's root for every size", async () => {
    expect(await treeRoot(subtrees, 0)).toEqual(EMPTY_ROOT);
    for (let size = 1; size <= data.length; size++) expect(await treeRoot(subtrees, size)).toEqual(referenceRoot(data.slice(0, size)));
  });

  it("proves every leaf in every tree that holds it, and no other leaf, index or root", async () => {
    for (let size = 1; size <= 40; size++) {
      const root = await treeRoot(subtrees, size);
      for (let index = 0; index < size; index++) {
        const path = await inclusionProof(subtrees, index, size);
        expect(verifyInclusion(leaves[index], index, size, path, root)).toBe(true);
        expect(verifyInclusion(leaves[(index + 1) % 70], index, size, path, root)).toBe(false);
        if (size > 1) expect(verifyInclusion(leaves[index], (index + 1) % size, size, path, root)).toBe(false);
        expect(verifyInclusion(leaves[index], index, size, path, nodeHash(root, root))).toBe(false);
      }
    }
  });

  it("proves each tree a prefix of every larger one, and refuses a changed proof or root", async () => {
    for (let newSize = 1; newSize <= 40; newSize++) {
      const newRoot = await treeRoot(subtrees, newSize);
      for (let oldSize = 1; oldSize <= newSize; oldSize++) {
        const oldRoot = await treeRoot(subtrees, oldSize);
        const proof = await consistencyProof(subtrees, oldSize, newSize);
        expect(verifyConsistency(oldSize, newSize, oldRoot, newRoot, proof)).toBe(true);
        if (oldSize < newSize) {
          expect(verifyConsistency(oldSize, newSize, leaves[3], newRoot, proof)).toBe(false);
          expect(verifyConsistency(oldSize, newSize, oldRoot, newRoot, [...proof.slice(1), leaves[5]])).toBe(false);
        }
      }
    }
  });

  it("refuses a leaf outside the tree", async () => {
    await expect(inclusionProof(subtrees, 5, 5)).rejects.toThrow(RangeError);
    await expect(consistencyProof(subtrees, 6, 5)).rejects.toThrow(RangeError);
  });
});

describe("tiles", () => {
  /** Appends leaves in the given chunks, as rounds do, keeping the tiles as a store would. */
  const build = (total: number, chunks: number[]) => {
    const store = new Map<string, Buffer[]>();
    const leaves = Array.from({ length: total }, (_, n) => leafHash(leafData_(n)));
    let size = 0;
    for (let c = 0; size < total; c++) {
      const take = Math.min(chunks[c % chunks.length], total - size);
      const wanted = partialTiles(size);
      const changed: Tile[] = appendLeaves(size, (at) => {
        expect(wanted).toContainEqual(at);
        return store.get(`${at.level}/${at.index}`)!;
      }, leaves.slice(size, size + take));
      for (const tile of changed) store.set(`${tile.level}/${tile.index}`, tile.hashes);
      size += take;
    }
    return { store, leaves };
  };

  it("hold, across rounds of any size, the hashes of the tree built in memory", async () => {
    const total = TILE_WIDTH * TILE_WIDTH + 3 * TILE_WIDTH + 17;
    const { store, leaves } = build(total, [1, 255, 1000, 7, 256, 4099]);
    expect(store.get("0/0")).toHaveLength(TILE_WIDTH);
    expect(store.get(`0/${TILE_WIDTH + 3}`)).toHaveLength(17);
    expect(store.get("1/1")).toHaveLength(3);
    expect(store.get("2/0")).toHaveLength(1);
    const fromTiles = subtreesFromTiles(async (at) => store.get(`${at.level}/${at.index}`) ?? []);
    const inMemory = inMemorySubtrees(leaves);
    for (const size of [1, 255, 256, 257, 65_535, 65_536, total]) expect(await treeRoot(fromTiles, size)).toEqual(await treeRoot(inMemory, size));
    const root = await treeRoot(fromTiles, total);
    for (const index of [0, 255, 256, 65_535, total - 1]) {
      expect(verifyInclusion(leaves[index], index, total, await inclusionProof(fromTiles, index, total), root)).toBe(true);
    }
    expect(verifyConsistency(300, total, await treeRoot(fromTiles, 300), root, await consistencyProof(fromTiles, 300, total))).toBe(true);
  });

  it("serve a proof from a few tiles, not from the leaves", async () => {
    const total = 70_000;
    const { store } = build(total, [5_000]);
    const read: string[] = [];
    const fromTiles = subtreesFromTiles(async (at) => {
      read.push(`${at.level}/${at.index}`);
      return store.get(`${at.level}/${at.index}`) ?? [];
    });
    await inclusionProof(fromTiles, 12_345, total);
    expect(new Set(read).size).toBe(read.length);
    expect(read.length).toBeLessThanOrEqual(6);
  });
});

describe("an event's leaf", () => {
  const event = {
    workspaceId: "ws-1",
    seq: 7,
    id: "01EVENT",
    idempotencyKey: "k-1",
    type: AuditEventType.CUSTOMER,
    action: "customer.updated",
    occurredAt: new Date("2026-11-01T09:00:00.123Z"),
    recordedAt: new Date("2026-11-01T09:00:01.000Z"),
    description: "Ana updated Zoë",
    actor: { kind: "USER", id: "u-ana", name: "Ana Diaz", current: { id: "u-ana", name: "Ana D.", email: null } },
    targets: { customer: { id: "cu-zoe", name: "Zoë Park" } },
    changes: [{ field: "tier", before: "silver", after: { level: "gold", since: 2026 } }],
    metadata: { b: 1, a: [true, null, "x"] },
    source: { ip: "203.0.113.7", userAgent: "ua", requestId: "r" },
    customerId: "cu-zoe",
  } as unknown as AuditEventRecord;

  it("is canonical JSON: members sorted, no whitespace, undefined members left out", () => {
    expect(canonicalJson({ b: [2, { d: "é", c: null }], a: "\u2028", z: undefined })).toBe('{"a":"\u2028","b":[2,{"c":null,"d":"é"}]}');
    const text = leafData(event).toString("utf8");
    expect(text.startsWith('{"action":"customer.updated","actor":{"id":"u-ana","kind":"USER","name":"Ana Diaz"},"changes":')).toBe(true);
    expect(text).toContain('"occurredAt":"2026-11-01T09:00:00.123Z"');
    expect(text).toContain('"v":1');
  });

  it("keeps the bytes of the leaves logs already hold, escapes and number forms included", () => {
    expect(eventLeafHash(event).toString("hex")).toBe("e5bbb8b3f90506d349f4d79d66e07e355d792bc4bdb736758e8673523077de24");
    const awkward = {
      ...event,
      seq: 8,
      id: "01ESCAPES",
      type: AuditEventType.SETTINGS,
      action: "settings.updated",
      description: 'Ana changed "Refund\\macro"\n\ttwice',
      actor: { kind: "SYSTEM", id: null, name: "Platform" },
      targets: { settings: { section: "SHORTCUTS", objectId: null, objectName: "Refund \u2028 macro 😀" } },
      changes: [{ field: "body", before: null, after: ["\u0000\u001f\u007f", "lone \ud800", 1.5e-7, -0, 1e21, 0.1] }],
      metadata: { "9": "nine", "10": "ten", b: { "": true, é: false, Z: 1 } },
      source: null,
    } as unknown as AuditEventRecord;
    const text = leafData(awkward).toString("utf8");
    expect(text).toContain('"after":["\\u0000\\u001f\u007f","lone \\ud800",1.5e-7,0,1e+21,0.1]');
    expect(text).toContain('"description":"Ana changed \\"Refund\\\\macro\\"\\n\\ttwice"');
    expect(text).toContain('"metadata":{"10":"ten","9":"nine","b":{"":true,"Z":1,"é":false}}');
    expect(text).toContain('"objectName":"Refund \u2028 macro 😀"');
    expect(eventLeafHash(awkward).toString("hex")).toBe("ca0e783fc52e49e2efbbeaddb17b9e1dfbf2938cecc9f4a9466d51d95e48cdca");
    expect(eventLeafHash(awkward)).toEqual(leafHash(leafData(awkward)));
  });

  it("changes with every field the log shows, and not with the directory's current names or the customer it is filed under", () => {
    const base = eventLeafHash(event);
    const changedFields: Partial<AuditEventRecord>[] = [
      { seq: 8 },
      { id: "01OTHER" },
      { workspaceId: "ws-2" },
      { action: "customer.created" },
      { occurredAt: new Date("2026-11-01T09:00:00.124Z") },
      { recordedAt: new Date("2026-11-01T09:00:01.001Z") },
      { description: "Ana updated Zoe" },
      { actor: { ...event.actor, name: "Ana" } },
      { targets: { customer: { id: "cu-zoe", name: "Zoe Park" } } } as Partial<AuditEventRecord>,
      { changes: [{ field: "tier", before: "silver", after: "gold" }] },
      { metadata: { b: 2, a: [true, null, "x"] } },
      { source: { ip: "203.0.113.8", userAgent: "ua", requestId: "r" } },
    ];
    for (const change of changedFields) expect(eventLeafHash({ ...event, ...change } as AuditEventRecord)).not.toEqual(base);
    const unchanged = { ...event, customerId: "cu-other", actor: { ...event.actor, current: null } } as AuditEventRecord;
    expect(eventLeafHash(unchanged)).toEqual(base);
    // Members in another order are the same leaf.
    expect(eventLeafHash({ ...event, metadata: { a: [true, null, "x"], b: 1 } } as AuditEventRecord)).toEqual(base);
  });
});

describe("the Merkle sequencer", () => {
  const dataSource = useTestDatabase();
  const server = useTestServer();
  const logger = createLogger("silent");

  /** The log as the database holds it: its size, and its root from the tiles. */
  const storedLog = async (workspaceId: string) => {
    const size = await treeSize(dataSource, workspaceId);
    const fromTiles = storedSubtrees(dataSource, workspaceId);
    return { size, fromTiles, root: await treeRoot(fromTiles, size) };
  };
  /** The log recomputed from the rows, as a verifier would. */
  const recomputed = async (workspaceId: string) => {
    const [{ last }] = await dataSource.query(`SELECT MAX(seq) AS last FROM audit_events WHERE workspace_id = ?`, [workspaceId]);
    const events = await findEventsInSeqRange(dataSource, workspaceId, 1, Number(last), Number(last));
    const leaves = events.map(eventLeafHash);
    return { leaves, root: await treeRoot(inMemorySubtrees(leaves), leaves.length) };
  };

  it("appends every event in seq order, across rounds and partial tiles, to the log a verifier recomputes from the rows", async () => {
    await seedBulkEvents(dataSource, { workspaceId: WORKSPACE, events: 700, seed: 3 });
    await new MerkleSequencer(dataSource, logger).catchUp();
    let expected = await recomputed(WORKSPACE);
    let log = await storedLog(WORKSPACE);
    expect(log.size).toBe(700);
    expect(log.root).toEqual(expected.root);

    // More events, recorded through the service: the running instance's thread appends them to the partial tiles.
    const service = await tokenFor(Role.SERVICE);
    await recordOver(server.graphqlUrl, service, Array.from({ length: 20 }, (_, n) => eventInput(AuditEventType.CUSTOMER, "customer.updated", { idempotencyKey: `merkle-${n}` })));
    await server.services.background.catchUp();
    expected = await recomputed(WORKSPACE);
    log = await storedLog(WORKSPACE);
    expect(log.size).toBe(720);
    expect(log.root).toEqual(expected.root);
    for (const index of [0, 255, 256, 699, 719]) {
      expect(verifyInclusion(expected.leaves[index], index, log.size, await inclusionProof(log.fromTiles, index, log.size), log.root)).toBe(true);
    }
  });

  it("signs a checkpoint of the log's size and root once the log grew, not again while it does not, nor within the interval", async () => {
    const signer = new CheckpointSigner(DEVELOPMENT_SIGNING_KEY);
    await new MerkleSequencer(dataSource, logger).catchUp();
    const quick = new Checkpointer(dataSource, logger, signer, 0.05);
    // The test server's own checkpointer may have just signed the size its sequencer had reached: one
    // interval later, the quick one signs the whole log (and so would the server's, were it first).
    await new Promise((resolve) => setTimeout(resolve, 60));
    await quick.catchUp();
    const first = (await latestCheckpoint(dataSource, WORKSPACE))!;
    const log = await storedLog(WORKSPACE);
    expect(first).toMatchObject({ workspaceId: WORKSPACE, treeSize: log.size, rootHash: log.root, keyFingerprint: signer.fingerprint });
    expect(checkpointSignedBy(first, signer.publicKey)).toBe(true);
    expect(checkpointSignedBy({ ...first, treeSize: first.treeSize - 1 }, signer.publicKey)).toBe(false);
    expect(checkpointSignedBy({ ...first, rootHash: leafHash(Buffer.from("x")) }, signer.publicKey)).toBe(false);

    // Nothing new: no checkpoint, however often it looks. (The test server's own checkpointer may have signed an earlier size.)
    const signed = (await allCheckpoints(dataSource, WORKSPACE)).length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    await quick.catchUp();
    expect(await allCheckpoints(dataSource, WORKSPACE)).toHaveLength(signed);

    // New events: a checkpoint once the interval is past, none before.
    await seedBulkEvents(dataSource, { workspaceId: WORKSPACE, events: 30, seed: 5 });
    await new MerkleSequencer(dataSource, logger).catchUp();
    await new Checkpointer(dataSource, logger, signer, 3_600).catchUp();
    expect(await allCheckpoints(dataSource, WORKSPACE)).toHaveLength(signed);
    await quick.catchUp();
    const checkpoints = await allCheckpoints(dataSource, WORKSPACE);
    expect(checkpoints.slice(-2).map((checkpoint) => checkpoint.treeSize)).toEqual([first.treeSize, first.treeSize + 30]);
    const [older, newer] = checkpoints.slice(-2);
    const proof = await consistencyProof(storedSubtrees(dataSource, WORKSPACE), older.treeSize, newer.treeSize);
    expect(verifyConsistency(older.treeSize, newer.treeSize, older.rootHash, newer.rootHash, proof)).toBe(true);
  });

  it("stops before a seq that is missing, and says so, rather than leave a gap in the log", async () => {
    // A gap among the first statement's events, and one at its last event (where a short read must not pass for the end).
    for (const [workspaceId, more, missing] of [
      ["ws-gap", 10, 14],
      ["ws-gap-chunk", READ_CHUNK + 10, 10 + READ_CHUNK],
    ] as const) {
      await seedBulkEvents(dataSource, { workspaceId, events: 10, seed: 6 });
      await new MerkleSequencer(dataSource, logger).catchUp();
      await seedBulkEvents(dataSource, { workspaceId, events: more, seed: 7 });
      await withTriggersDropped(dataSource, () => dataSource.query(`DELETE FROM audit_events WHERE workspace_id = ? AND seq = ?`, [workspaceId, missing]));
      await expect(new MerkleSequencer(dataSource, logger).catchUp()).rejects.toThrow(`workspace ${workspaceId}: the event of seq ${missing} is missing; its Merkle log stops at ${missing - 1}`);
      expect(await treeSize(dataSource, workspaceId)).toBe(missing - 1);
      // Out of the way of the other tests' sweeps.
      await dataSource.query(`DELETE FROM workspaces WHERE id = ?`, [workspaceId]);
    }
  });

  it("never appends an event twice when sequencers of two instances run at once", async () => {
    await seedBulkEvents(dataSource, { workspaceId: OTHER_WORKSPACE, events: 12_000, seed: 4 });
    await Promise.all([new MerkleSequencer(dataSource, logger).catchUp(), new MerkleSequencer(dataSource, logger).catchUp()]);
    const log = await storedLog(OTHER_WORKSPACE);
    expect(log.size).toBe(12_000);
    expect(log.root).toEqual((await recomputed(OTHER_WORKSPACE)).root);
  });
});
