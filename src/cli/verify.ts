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
 * verifies; 1 naming the first event and the first checkpoint that do not.
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
    ? createPublicKey(readFileSync(values["public-key"], "utf8"))
    : new CheckpointSigner(fromProcessEnv(loadIntegrityConfig).signingKey).publicKey;
  const database = fromProcessEnv(loadDatabaseConfig);
  const dataSource = new DataSource(dataSourceOptions(database, []));
  await connect(dataSource, database);
  try {
    const report = await verifyWorkspace(dataSource, values.workspace, publicKey);
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

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof DatabaseUnavailableError ? error.message : error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
