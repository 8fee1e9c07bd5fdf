import { generateKeyPairSync } from "node:crypto";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger } from "../src/common/logger";
import { config } from "../src/config";
import { findEventsInSeqRange } from "../src/database/audit-event.repository";
import { allCheckpoints } from "../src/database/merkle-checkpoint.repository";
import { storedSubtrees } from "../src/database/merkle-tile.repository";
import { CheckpointSigner } from "../src/integrity/checkpoint";
import { Checkpointer } from "../src/integrity/checkpointer";
import { eventLeafHash } from "../src/integrity/event-leaf";
import { consistencyProof, inclusionProof, verifyConsistency, verifyInclusion } from "../src/integrity/merkle";
import { MerkleSequencer } from "../src/integrity/merkle-sequencer";
import { verifyWorkspace } from "../src/integrity/verifier";
import { seedBulkEvents } from "./support/bulk-events";
import { TEST_DATABASE, useTestDatabase } from "./support/database";
import { withTriggersDropped } from "./support/dba";

const VERIFY_CLI = path.resolve(__dirname, "..", "dist", "src", "cli", "verify.js");
/** Events seeded per workspace, a checkpoint after each chunk. */
const CHUNKS = [200, 200, 200];

describe("tamper evidence", () => {
  const dataSource = useTestDatabase();
  const logger = createLogger("silent");
  const signer = new CheckpointSigner(config.integrity.signingKey);

  /** A workspace of its own with 600 events, in its Merkle log, with a checkpoint after each 200. */
  const loggedWorkspace = async (workspaceId: string) => {
    for (const [chunk, events] of CHUNKS.entries()) {
      await seedBulkEvents(dataSource, { workspaceId, events, seed: chunk + 10 });
      await new MerkleSequencer(dataSource, logger).catchUp();
      // An interval this short makes each chunk due at once.
      await new Promise((resolve) => setTimeout(resolve, 20));
      await new Checkpointer(dataSource, logger, signer, 0.01).catchUp();
    }
    return workspaceId;
  };
  const eventAt = async (workspaceId: string, seq: number) => (await findEventsInSeqRange(dataSource, workspaceId, seq, seq, 1))[0];
  const verify = (workspaceId: string) => verifyWorkspace(dataSource, workspaceId, signer.publicKey);
  /** The key files the command is given, in a folder of this file's own. */
  const keyFolder = mkdtempSync(path.join(tmpdir(), "audit-verify-"));
  afterAll(() => rmSync(keyFolder, { recursive: true, force: true }));
  const keyFile = (name: string, text: string | Buffer) => {
    writeFileSync(path.join(keyFolder, name), text);
    return path.join(keyFolder, name);
  };
  const signerKeyFile = () => keyFile("signer.pem", signer.publicKey.export({ type: "spki", format: "pem" }));
  const cli = (workspaceId: string, options: { args?: string[]; env?: Record<string, string> } = {}) =>
    spawnSync(process.execPath, [VERIFY_CLI, "--workspace", workspaceId, ...(options.args ?? [])], {
      env: { PATH: process.env.PATH ?? "", DATABASE_URL: TEST_DATABASE.url, NODE_ENV: "test", LOG_LEVEL: "silent", ...options.env },
      encoding: "utf8",
    });

  it("verifies an untouched log, and proves its events against every checkpoint", async () => {
    const workspaceId = await loggedWorkspace("ws-clean");
    expect(await verify(workspaceId)).toEqual({ workspaceId, events: 600, leavesInLog: 600, checkpoints: 3, findings: [] });
    const run = cli(workspaceId);
    expect({ status: run.status, stdout: run.stdout }).toEqual({ status: 0, stdout: `workspace ${workspaceId}: 600 events, 600 in the Merkle log, 3 checkpoints: verified\n` });

    const checkpoints = await allCheckpoints(dataSource, workspaceId);
    expect(checkpoints.map((checkpoint) => checkpoint.treeSize)).toEqual([200, 400, 600]);
    const subtrees = storedSubtrees(dataSource, workspaceId);
    for (const seq of [1, 137, 200, 201, 512, 600]) {
      const leaf = eventLeafHash(await eventAt(workspaceId, seq));
      for (const checkpoint of checkpoints.filter((candidate) => candidate.treeSize >= seq)) {
        const path = await inclusionProof(subtrees, seq - 1, checkpoint.treeSize);
        expect(verifyInclusion(leaf, seq - 1, checkpoint.treeSize, path, checkpoint.rootHash)).toBe(true);
      }
    }
    for (const [older, newer] of [[checkpoints[0], checkpoints[1]], [checkpoints[0], checkpoints[2]], [checkpoints[1], checkpoints[2]]]) {
      const proof = await consistencyProof(subtrees, older.treeSize, newer.treeSize);
      expect(verifyConsistency(older.treeSize, newer.treeSize, older.rootHash, newer.rootHash, proof)).toBe(true);
    }
  });

  it("verifies in production with the database's variables and a public key file alone", async () => {
    const workspaceId = await loggedWorkspace("ws-audited");
    const signerKey = signerKeyFile();
    // No token secret, issuer, audience or signing key: the service's own variables are not the auditor's.
    const production = { NODE_ENV: "production" };
    const run = cli(workspaceId, { args: ["--public-key", signerKey], env: production });
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({
      status: 0,
      stdout: `workspace ${workspaceId}: 600 events, 600 in the Merkle log, 3 checkpoints: verified\n`,
      stderr: "",
    });
    const withoutKey = cli(workspaceId, { env: production });
    expect({ status: withoutKey.status, stdout: withoutKey.stdout }).toEqual({ status: 1, stdout: "" });
    expect(withoutKey.stderr).toMatch(/^Configuration error: AUDIT_SIGNING_KEY must be .*\(required when NODE_ENV=production\)\.\n$/);
    const badDatabase = cli(workspaceId, { args: ["--public-key", signerKey], env: { ...production, DATABASE_URL: "postgres://somewhere/else" } });
    expect({ status: badDatabase.status, stdout: badDatabase.stdout }).toEqual({ status: 1, stdout: "" });
    expect(badDatabase.stderr).toMatch(/^Configuration error: DATABASE_URL must be /);
  });

  it("refuses a key file that is not an Ed25519 public key, and a workspace it holds nothing of, without calling either verified", async () => {
    const workspaceId = await loggedWorkspace("ws-keyfiles");
    const expected = "an Ed25519 public key in PEM (SPKI), as auditLogSigningKey's publicKeyPem.\n";
    const missing = path.join(keyFolder, "missing.pem");
    const cases: [string[], string][] = [
      [["--public-key", keyFile("not-a-key.pem", "hello\n")], `--public-key: ${path.join(keyFolder, "not-a-key.pem")} is not ${expected}`],
      [
        ["--public-key", keyFile("rsa.pem", generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "pem" }))],
        `--public-key: ${path.join(keyFolder, "rsa.pem")} holds an rsa key, not ${expected}`,
      ],
      [["--public-key", missing], `--public-key: cannot read ${missing} (ENOENT); it must be ${expected}`],
    ];
    for (const [args, stderr] of cases) {
      const run = cli(workspaceId, { args });
      expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 2, stdout: "", stderr });
    }
    const unknown = cli("ws-never-recorded");
    expect({ status: unknown.status, stdout: unknown.stdout, stderr: unknown.stderr }).toEqual({
      status: 2,
      stdout: "",
      stderr: "workspace ws-never-recorded: the database holds no event, no Merkle log and no checkpoint of it: nothing to verify (is the id right?)\n",
    });
    // The same workspace verifies once the key file is the signer's.
    expect(cli(workspaceId, { args: ["--public-key", signerKeyFile()] }).status).toBe(0);
  });

  it("names an event one field of which was changed", async () => {
    const workspaceId = await loggedWorkspace("ws-changed");
    const target = await eventAt(workspaceId, 300);
    const change = () => dataSource.query(`UPDATE audit_events SET description = CONCAT(description, '.') WHERE workspace_id = ? AND seq = 300`, [workspaceId]);
    await expect(change()).rejects.toThrow("audit_events is append-only: an event cannot be changed");
    expect((await verify(workspaceId)).findings).toEqual([]);
    await withTriggersDropped(dataSource, change);
    const report = await verify(workspaceId);
    expect(report.findings[0]).toMatchObject({ kind: "event-changed", seq: 300, eventId: target.id });
    // The checkpoints cover the changed event: their roots no longer match the events.
    expect(report.findings[1]).toMatchObject({ kind: "checkpoint-root", treeSize: 400 });
    const run = cli(workspaceId);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain(`event ${target.id} (seq 300)`);
  });

  it("names an event removed from the middle", async () => {
    const workspaceId = await loggedWorkspace("ws-removed");
    const remove = () => dataSource.query(`DELETE FROM audit_events WHERE workspace_id = ? AND seq = 250`, [workspaceId]);
    await expect(remove()).rejects.toThrow("audit_events is append-only: events are deleted only by the retention purge");
    await withTriggersDropped(dataSource, remove);
    expect((await verify(workspaceId)).findings[0]).toMatchObject({ kind: "event-missing", seq: 250 });
  });

  it("names the first of two events whose seqs were swapped", async () => {
    const workspaceId = await loggedWorkspace("ws-swapped");
    const [first, second] = [await eventAt(workspaceId, 100), await eventAt(workspaceId, 101)];
    await withTriggersDropped(dataSource, async () => {
      await dataSource.query(`UPDATE audit_events SET seq = 1000000 WHERE workspace_id = ? AND seq = 100`, [workspaceId]);
      await dataSource.query(`UPDATE audit_events SET seq = 100 WHERE workspace_id = ? AND seq = 101`, [workspaceId]);
      await dataSource.query(`UPDATE audit_events SET seq = 101 WHERE workspace_id = ? AND seq = 1000000`, [workspaceId]);
    });
    expect((await verify(workspaceId)).findings[0]).toMatchObject({ kind: "event-changed", seq: 100, eventId: second.id });
    expect(first.id).not.toBe(second.id);
  });

  it("names a checkpoint whose signature was replaced", async () => {
    const workspaceId = await loggedWorkspace("ws-resigned");
    const other = new CheckpointSigner(generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString());
    const [, middle] = await allCheckpoints(dataSource, workspaceId);
    const forged = other.sign(workspaceId, middle.treeSize, middle.rootHash, middle.signedAt);
    await dataSource.query(`UPDATE merkle_checkpoints SET signature = ? WHERE workspace_id = ? AND tree_size = ?`, [forged.signature, workspaceId, middle.treeSize]);
    const report = await verify(workspaceId);
    expect(report.findings).toEqual([expect.objectContaining({ kind: "checkpoint-signature", treeSize: 400 })]);
    expect(report.findings[0].message).toContain(`size 400 signed at ${middle.signedAt.toISOString()}`);
  });

  it("names the newest events removed", async () => {
    const workspaceId = await loggedWorkspace("ws-truncated");
    await withTriggersDropped(dataSource, () => dataSource.query(`DELETE FROM audit_events WHERE workspace_id = ? AND seq > 550`, [workspaceId]));
    expect((await verify(workspaceId)).findings[0]).toMatchObject({ kind: "events-truncated", seq: 551, treeSize: 600 });
  });

  it("names the checkpoint an event and its leaf contradict, when both were rewritten", async () => {
    const workspaceId = await loggedWorkspace("ws-rewritten");
    await withTriggersDropped(dataSource, () => dataSource.query(`UPDATE audit_events SET description = 'nothing happened' WHERE workspace_id = ? AND seq = 450`, [workspaceId]));
    // A DBA who also rewrites the log's leaf for the event: the rows and the tiles agree again, the signed roots do not.
    const leaf = eventLeafHash(await eventAt(workspaceId, 450));
    const [{ hashes }] = await dataSource.query(`SELECT hashes FROM merkle_tiles WHERE workspace_id = ? AND level = 0 AND tile_index = 1`, [workspaceId]);
    const rewritten = Buffer.from(hashes as Buffer);
    leaf.copy(rewritten, (449 - 256) * 32);
    await dataSource.query(`UPDATE merkle_tiles SET hashes = ? WHERE workspace_id = ? AND level = 0 AND tile_index = 1`, [rewritten, workspaceId]);
    expect((await verify(workspaceId)).findings).toEqual([expect.objectContaining({ kind: "checkpoint-root", treeSize: 600 })]);
  });
});
