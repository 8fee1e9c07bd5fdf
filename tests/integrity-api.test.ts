import { spawnSync } from "node:child_process";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createLogger } from "../src/common/logger";
import { config } from "../src/config";
import { AuditEventType } from "../src/events/audit-event.enums";
import { CheckpointSigner, checkpointSignedBy } from "../src/integrity/checkpoint";
import { Checkpointer } from "../src/integrity/checkpointer";
import { leafHash, verifyConsistency, verifyInclusion } from "../src/integrity/merkle";
import { useTestDatabase } from "./support/database";
import { eventInput } from "./support/events";
import { recordOver } from "./support/live";
import { errorCodes, GraphQLResponse, postGraphQL, useTestServer } from "./support/server";
import { Role, tokenFor, WORKSPACE } from "./support/tokens";

const CHECK_PROOF = path.resolve(__dirname, "..", "tools", "check-proof.mjs");

const CHECKPOINT_FIELDS = "workspaceId treeSize rootHash signedAt keyFingerprint signature note";
const LATEST_CHECKPOINT = `query Checkpoint { auditLogCheckpoint { ${CHECKPOINT_FIELDS} } }`;
const INCLUSION_PROOF = `
  query Inclusion($id: ID!, $treeSize: Int) {
    auditEventInclusionProof(id: $id, treeSize: $treeSize) { eventId leafIndex leafData leafHash auditPath checkpoint { ${CHECKPOINT_FIELDS} } }
  }`;
const CONSISTENCY_PROOF = `
  query Consistency($fromSize: Int!, $toSize: Int) {
    auditLogConsistencyProof(fromSize: $fromSize, toSize: $toSize) { path from { ${CHECKPOINT_FIELDS} } to { ${CHECKPOINT_FIELDS} } }
  }`;
const SIGNING_KEY = `query Key { auditLogSigningKey { algorithm fingerprint publicKeyPem } }`;

interface ShownCheckpoint {
  workspaceId: string;
  treeSize: number;
  rootHash: string;
  signedAt: string;
  keyFingerprint: string;
  signature: string;
  note: string;
}
interface InclusionProof {
  eventId: string;
  leafIndex: number;
  leafData: string;
  leafHash: string;
  auditPath: string[];
  checkpoint: ShownCheckpoint;
}

const fromBase64 = (text: string) => Buffer.from(text, "base64");
const asCheckpoint = (shown: ShownCheckpoint) => ({
  ...shown,
  rootHash: fromBase64(shown.rootHash),
  signature: fromBase64(shown.signature),
  signedAt: new Date(shown.signedAt),
});

describe("proofs of the Merkle log in the API", () => {
  const dataSource = useTestDatabase();
  const server = useTestServer();
  let admin: string;
  let ids: string[];

  const ask = <T>(query: string, variables: Record<string, unknown> = {}, token = admin) => postGraphQL<T>(server.graphqlUrl, { query, variables }, { token });
  const record = async (count: number, from: number) =>
    recordOver(
      server.graphqlUrl,
      await tokenFor(Role.SERVICE),
      Array.from({ length: count }, (_, n) => eventInput(AuditEventType.CUSTOMER, "customer.updated", { idempotencyKey: `proof-${from + n}` })),
    );

  beforeAll(async () => {
    admin = await tokenFor(Role.ADMIN);
    expect((await ask<{ auditLogCheckpoint: null }>(LATEST_CHECKPOINT)).body.data).toEqual({ auditLogCheckpoint: null });
    ids = await record(300, 0);
    // The running instance's thread appends them and signs the workspace's first checkpoint.
    await server.services.background.catchUp();
  });

  it("serves the latest checkpoint and the key that signed it", async () => {
    const { body } = await ask<{ auditLogCheckpoint: ShownCheckpoint }>(LATEST_CHECKPOINT);
    const checkpoint = body.data!.auditLogCheckpoint;
    expect(checkpoint).toMatchObject({ workspaceId: WORKSPACE, treeSize: 300 });
    expect(checkpoint.note).toBe(`audit-log/${WORKSPACE}\n300\n${checkpoint.rootHash}\n${checkpoint.signedAt}\n`);
    const key = (await ask<{ auditLogSigningKey: { algorithm: string; fingerprint: string; publicKeyPem: string } }>(SIGNING_KEY, {}, await tokenFor(Role.AGENT))).body.data!
      .auditLogSigningKey;
    expect(key).toMatchObject({ algorithm: "Ed25519", fingerprint: checkpoint.keyFingerprint });
    expect(checkpointSignedBy(asCheckpoint(checkpoint), createPublicKey(key.publicKeyPem))).toBe(true);
  });

  it("proves an event in the log, which the standalone checker verifies with the public key alone", async () => {
    const { body } = await ask<{ auditEventInclusionProof: InclusionProof }>(INCLUSION_PROOF, { id: ids[137] });
    const proof = body.data!.auditEventInclusionProof;
    expect(proof).toMatchObject({ eventId: ids[137], leafIndex: 137 });
    expect(leafHash(Buffer.from(proof.leafData, "utf8")).toString("base64")).toBe(proof.leafHash);
    expect(verifyInclusion(fromBase64(proof.leafHash), proof.leafIndex, proof.checkpoint.treeSize, proof.auditPath.map(fromBase64), fromBase64(proof.checkpoint.rootHash))).toBe(true);

    const key = (await ask<{ auditLogSigningKey: { publicKeyPem: string } }>(SIGNING_KEY)).body.data!.auditLogSigningKey.publicKeyPem;
    const folder = mkdtempSync(path.join(os.tmpdir(), "audit-proof-"));
    try {
      const proofFile = path.join(folder, "proof.json");
      const keyFile = path.join(folder, "key.pem");
      const check = (proofJson: unknown, options: { proofText?: string; keyText?: string | Buffer } = {}) => {
        writeFileSync(proofFile, options.proofText ?? JSON.stringify(proofJson));
        writeFileSync(keyFile, options.keyText ?? key);
        return spawnSync(process.execPath, [CHECK_PROOF, proofFile, keyFile], { encoding: "utf8" });
      };
      const good = check(body);
      expect({ status: good.status, stdout: good.stdout }).toEqual({
        status: 0,
        stdout: `verified: event ${ids[137]} (seq 138) is in the log of workspace ${WORKSPACE} as the checkpoint of size 300 signed at ${proof.checkpoint.signedAt}\n`,
      });
      const changed = check({ ...proof, leafData: proof.leafData.replace('"customer.updated"', '"customer.created"') });
      expect({ status: changed.status, stdout: changed.stdout }).toEqual({ status: 1, stdout: "NOT verified: the event's leaf and audit path do not lead to the checkpoint's root\n" });
      const resigned = check({ ...proof, checkpoint: { ...proof.checkpoint, treeSize: 299 } });
      expect(resigned.stdout).toBe("NOT verified: the checkpoint's signature does not verify with the public key\n");

      // Input that cannot be checked proves nothing either way: exit 2, one line saying what is wrong.
      const rsaKey = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "pem" });
      const unusable: [string, ReturnType<typeof check>, string][] = [
        ["not JSON", check(null, { proofText: "proof: yes" }), `${proofFile} is not JSON`],
        ["a response with errors", check({ errors: [{ message: "Forbidden." }], data: null }), `${proofFile} is a response without a proof: Forbidden.`],
        ["a proof without its path", check({ ...proof, auditPath: undefined }), `${proofFile} is not an inclusion proof: auditPath is missing or not a list of strings`],
        ["a checkpoint without its size", check({ ...proof, checkpoint: { ...proof.checkpoint, treeSize: "300" } }), `${proofFile} is not an inclusion proof: checkpoint.treeSize is missing or not a whole number`],
        ["a key file that is not a key", check(body, { keyText: "not a key" }), `${keyFile} is not a public key in PEM (SPKI), as auditLogSigningKey's publicKeyPem`],
        ["an RSA key", check(body, { keyText: rsaKey }), `${keyFile} holds an rsa key, not the log's Ed25519 key`],
      ];
      for (const [what, run, reason] of unusable) {
        expect({ what, status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ what, status: 2, stdout: "", stderr: `cannot check: ${reason}\n` });
      }
      const unreadable = spawnSync(process.execPath, [CHECK_PROOF, path.join(folder, "missing.json"), keyFile], { encoding: "utf8" });
      expect({ status: unreadable.status, stderr: unreadable.stderr }).toEqual({ status: 2, stderr: `cannot check: the proof file ${path.join(folder, "missing.json")} cannot be read (ENOENT)\n` });
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it("proves a later checkpoint consistent with an earlier one, and events against either", async () => {
    const later = await record(100, 300);
    await server.services.background.catchUp();
    // The instance signs every 60 s; a checkpointer with a short interval signs the grown log now.
    await new Promise((resolve) => setTimeout(resolve, 20));
    await new Checkpointer(dataSource, createLogger("silent"), new CheckpointSigner(config.integrity.signingKey), 0.01).catchUp();

    const { body } = await ask<{ auditLogConsistencyProof: { path: string[]; from: ShownCheckpoint; to: ShownCheckpoint } }>(CONSISTENCY_PROOF, { fromSize: 300 });
    const { from, to, path: proof } = body.data!.auditLogConsistencyProof;
    expect([from.treeSize, to.treeSize]).toEqual([300, 400]);
    expect(verifyConsistency(300, 400, fromBase64(from.rootHash), fromBase64(to.rootHash), proof.map(fromBase64))).toBe(true);

    for (const [id, treeSize] of [[ids[5], 300], [ids[5], 400], [later[99], 400]] as const) {
      const shown = (await ask<{ auditEventInclusionProof: InclusionProof }>(INCLUSION_PROOF, { id, treeSize })).body.data!.auditEventInclusionProof;
      expect(verifyInclusion(fromBase64(shown.leafHash), shown.leafIndex, treeSize, shown.auditPath.map(fromBase64), fromBase64(shown.checkpoint.rootHash))).toBe(true);
    }
    const tooEarly = await ask(INCLUSION_PROOF, { id: later[0], treeSize: 300 });
    expect(errorCodes(tooEarly)).toEqual(["BAD_USER_INPUT"]);
  });

  it.each([
    ["an agent", INCLUSION_PROOF, () => ({ id: ids[0] }), Role.AGENT, "FORBIDDEN"],
    ["a service", LATEST_CHECKPOINT, () => ({}), Role.SERVICE, "FORBIDDEN"],
    ["an unknown event", INCLUSION_PROOF, () => ({ id: "01ZZZZZZZZZZZZZZZZZZZZZZZZ" }), Role.ADMIN, "NOT_FOUND"],
    ["a size no checkpoint has", INCLUSION_PROOF, () => ({ id: ids[0], treeSize: 299 }), Role.ADMIN, "NOT_FOUND"],
    ["a size of 0", INCLUSION_PROOF, () => ({ id: ids[0], treeSize: 0 }), Role.ADMIN, "BAD_USER_INPUT"],
    ["a negative fromSize", CONSISTENCY_PROOF, () => ({ fromSize: -1 }), Role.ADMIN, "BAD_USER_INPUT"],
    ["fromSize past toSize", CONSISTENCY_PROOF, () => ({ fromSize: 400, toSize: 300 }), Role.ADMIN, "BAD_USER_INPUT"],
  ])("refuses %s", async (_what, query, variables, role, code) => {
    const response: GraphQLResponse = await ask(query, variables(), await tokenFor(role));
    expect(errorCodes(response)).toEqual([code]);
  });
});
