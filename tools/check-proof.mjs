#!/usr/bin/env node
// Checks one audit event's inclusion proof against a signed checkpoint and the
// log's public key, with nothing but Node.js (node:crypto): no database, no
// dependency. See docs/integrity.md.
//
//   node tools/check-proof.mjs proof.json public-key.pem
//
// proof.json: the `auditEventInclusionProof` object as the API returns it
// (leafData, leafIndex, auditPath, checkpoint { workspaceId, treeSize,
// rootHash, signedAt, signature }), or a whole GraphQL response holding it.
// Exit 0 when the event is in the log the checkpoint signs; 1, saying why, when
// not; 2 when the input cannot be checked (unreadable, not a proof, not an
// Ed25519 key).
import { createHash, createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";

const [proofFile, keyFile] = process.argv.slice(2);
if (!proofFile || !keyFile) {
  process.stderr.write("usage: node tools/check-proof.mjs proof.json public-key.pem\n");
  process.exit(2);
}

// Input that cannot be checked at all exits 2 with one line: it proves nothing either way.
function unusable(reason) {
  process.stderr.write(`cannot check: ${reason}\n`);
  process.exit(2);
}

function readText(file, what) {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    return unusable(`${what} ${file} cannot be read (${error.code ?? error.message})`);
  }
}

const proof = proofIn(readText(proofFile, "the proof file"));
const publicKey = ed25519KeyIn(readText(keyFile, "the key file"));
const { checkpoint } = proof;

/** The inclusion proof in the file's JSON, checked for every field the steps below read. */
function proofIn(text) {
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    return unusable(`${proofFile} is not JSON`);
  }
  const found = parsed?.data?.auditEventInclusionProof ?? parsed?.auditEventInclusionProof ?? parsed;
  if (Array.isArray(parsed?.errors) && !parsed?.data?.auditEventInclusionProof) {
    return unusable(`${proofFile} is a response without a proof: ${parsed.errors.map((error) => error?.message).join("; ")}`);
  }
  const problem = (expected, path) => `${proofFile} is not an inclusion proof: ${path} is missing or not ${expected}`;
  const isString = (value) => typeof value === "string";
  const isSize = (value) => Number.isSafeInteger(value) && value >= 0;
  const fields = [
    [found?.leafData, "leafData", "a string", isString],
    [found?.leafIndex, "leafIndex", "a whole number", isSize],
    [found?.auditPath, "auditPath", "a list of strings", (value) => Array.isArray(value) && value.every(isString)],
    [found?.checkpoint?.workspaceId, "checkpoint.workspaceId", "a string", isString],
    [found?.checkpoint?.treeSize, "checkpoint.treeSize", "a whole number", isSize],
    [found?.checkpoint?.rootHash, "checkpoint.rootHash", "a string", isString],
    [found?.checkpoint?.signedAt, "checkpoint.signedAt", "a time", (value) => isString(value) && !Number.isNaN(Date.parse(value))],
    [found?.checkpoint?.signature, "checkpoint.signature", "a string", isString],
  ];
  for (const [value, path, expected, valid] of fields) if (!valid(value)) unusable(problem(expected, path));
  return found;
}

/** The Ed25519 public key in the PEM text (a private key's PEM gives its public key). */
function ed25519KeyIn(text) {
  let key;
  try {
    key = createPublicKey(text);
  } catch {
    return unusable(`${keyFile} is not a public key in PEM (SPKI), as auditLogSigningKey's publicKeyPem`);
  }
  if (key.asymmetricKeyType !== "ed25519") unusable(`${keyFile} holds an ${key.asymmetricKeyType} key, not the log's Ed25519 key`);
  return key;
}

const sha256 = (...parts) => parts.reduce((hash, part) => hash.update(part), createHash("sha256")).digest();
const leaf = (data) => sha256(Buffer.from([0]), data);
const node = (left, right) => sha256(Buffer.from([1]), left, right);

function fail(reason) {
  process.stdout.write(`NOT verified: ${reason}\n`);
  process.exit(1);
}

// 1. The checkpoint is the log's: its note, signed by the key.
const root = Buffer.from(checkpoint.rootHash, "base64");
const note = `audit-log/${checkpoint.workspaceId}\n${checkpoint.treeSize}\n${root.toString("base64")}\n${new Date(checkpoint.signedAt).toISOString()}\n`;
if (!verify(null, Buffer.from(note, "utf8"), publicKey, Buffer.from(checkpoint.signature, "base64"))) fail("the checkpoint's signature does not verify with the public key");

// 2. The leaf is the event as given (its canonical JSON).
const leafHash = leaf(Buffer.from(proof.leafData, "utf8"));
let event;
try {
  event = JSON.parse(proof.leafData);
} catch {
  fail("the leaf's data is not an event's JSON");
}
if (event?.workspaceId !== checkpoint.workspaceId || event.seq !== proof.leafIndex + 1) fail("the event is not the leaf the proof is for");

// 3. The audit path leads from the leaf to the signed root (RFC 9162 §2.1.3.2).
let fn = proof.leafIndex;
let sn = checkpoint.treeSize - 1;
if (fn > sn) fail("the leaf is outside the checkpoint's log");
let hash = leafHash;
for (const sibling of proof.auditPath.map((entry) => Buffer.from(entry, "base64"))) {
  if (sn === 0) fail("the audit path is too long");
  if (fn % 2 === 1 || fn === sn) {
    hash = node(sibling, hash);
    while (fn % 2 === 0 && fn !== 0) {
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
  } else {
    hash = node(hash, sibling);
  }
  fn = Math.floor(fn / 2);
  sn = Math.floor(sn / 2);
}
if (sn !== 0 || !hash.equals(root)) fail("the event's leaf and audit path do not lead to the checkpoint's root");

process.stdout.write(
  `verified: event ${event.id} (seq ${event.seq}) is in the log of workspace ${checkpoint.workspaceId} as the checkpoint of size ${checkpoint.treeSize} signed at ${checkpoint.signedAt}\n`,
);
