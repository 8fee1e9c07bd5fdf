import "reflect-metadata";
import { createPublicKey, KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { DataSource } from "typeorm";
import { loadDatabaseConfig, loadIntegrityConfig } from "../config/config";
import { fromProcessEnv } from "../config/process-env";
import { dataSourceOptions } from "../database/data-source-options";
import { connect, DatabaseUnavailableError } from "../database/prepare";
import { CheckpointSigner } from "../integrity/checkpoint";
import { verifyWorkspace } from "../integrity/verifier";

const USAGE = "usage: npm run verify -- --workspace <id> [--public-key <file.pem>]";

/**
 * `npm run verify -- --workspace W`: recomputes the workspace's Merkle log
 * from its rows and checks every checkpoint against it and the public key
 * (AUDIT_SIGNING_KEY's, or the one in --public-key). Exit 0 when everything
 * verifies; 1 naming the first event and the first checkpoint that do not;
 * 2 when it could not verify: a wrong argument, a key file that is not an
 * Ed25519 public key, a workspace of which the database holds nothing (a
 * mistyped id would otherwise pass as verified), the database unreachable.
 * It reads the database's variables and, without --public-key,
 * AUDIT_SIGNING_KEY: none of the service's others, so that an auditor sets
 * only what verifying needs. Its DataSource is therefore its own, made as the
 * project's is, without migrations: it only reads.
 */
async function main(): Promise<number> {
  const { values } = parseArgs({ options: { workspace: { type: "string" }, "public-key": { type: "string" } }, strict: true });
  if (!values.workspace) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const publicKey: KeyObject = values["public-key"]
    ? publicKeyFrom(values["public-key"])
    : new CheckpointSigner(fromProcessEnv(loadIntegrityConfig).signingKey).publicKey;
  const database = fromProcessEnv(loadDatabaseConfig);
  const dataSource = new DataSource(dataSourceOptions(database, []));
  await connect(dataSource, database);
  try {
    const report = await verifyWorkspace(dataSource, values.workspace, publicKey);
    if (report.events === 0 && report.leavesInLog === 0 && report.checkpoints === 0) {
      process.stderr.write(`workspace ${report.workspaceId}: the database holds no event, no Merkle log and no checkpoint of it: nothing to verify (is the id right?)\n`);
      return 2;
    }
    const summary = `workspace ${report.workspaceId}: ${report.events} events, ${report.leavesInLog} in the Merkle log, ${report.checkpoints} checkpoints`;
    if (report.findings.length === 0) {
      process.stdout.write(`${summary}: verified\n`);
      return 0;
    }
    process.stdout.write(`${summary}: NOT verified\n${report.findings.map((finding) => `- ${finding.message}\n`).join("")}`);
    return 1;
  } finally {
    await dataSource.destroy();
  }
}

/** The Ed25519 public key in a PEM file (SPKI, as `auditLogSigningKey { publicKeyPem }` gives it). */
function publicKeyFrom(file: string): KeyObject {
  const expected = "an Ed25519 public key in PEM (SPKI), as auditLogSigningKey's publicKeyPem";
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`--public-key: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? "error"}); it must be ${expected}.`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey(text);
  } catch {
    throw new Error(`--public-key: ${file} is not ${expected}.`);
  }
  if (key.asymmetricKeyType !== "ed25519") throw new Error(`--public-key: ${file} holds an ${key.asymmetricKeyType ?? "unknown"} key, not ${expected}.`);
  return key;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof DatabaseUnavailableError ? error.message : error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
