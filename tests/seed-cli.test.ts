import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { createLogger } from "../src/common/logger";
import { DEMO_WORKSPACE } from "../src/demo/demo-data";
import { MerkleSequencer } from "../src/integrity/merkle-sequencer";
import { SearchIndexer } from "../src/search/search-indexer";
import { TEST_DATABASE, useTestDatabase } from "./support/database";

const CLI = path.resolve(__dirname, "..", "dist", "src", "cli", "seed.js");
const seed = (args: string[] = []) =>
  promisify(execFile)(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, DATABASE_URL: TEST_DATABASE.url, NODE_ENV: "test" } });

describe("npm run seed", () => {
  const dataSource = useTestDatabase();
  const demoRows = async (table: string) =>
    Number((await dataSource.query(`SELECT COUNT(*) AS n FROM ${table} WHERE workspace_id = ?`, [DEMO_WORKSPACE]))[0].n);

  it("with --reset records the demo workspace anew, its search index and Merkle log gone with the old events", async () => {
    await seed();
    const events = await demoRows("audit_events");
    expect(events).toBeGreaterThan(0);
    await new SearchIndexer(dataSource, createLogger("silent")).catchUp();
    await new MerkleSequencer(dataSource, createLogger("silent")).catchUp();
    expect(await demoRows("merkle_tiles")).toBeGreaterThan(0);
    expect(await demoRows("search_progress")).toBe(1);

    const { stdout } = await seed(["--reset"]);
    expect(stdout).toMatch(/^Recorded \d+ demo events/);
    expect(await demoRows("audit_events")).toBe(events);
    // The new events start again from seq 1: nothing of the old index or log may stand for them.
    for (const table of ["search_postings", "search_progress", "merkle_trees", "merkle_tiles", "merkle_checkpoints"]) expect(await demoRows(table)).toBe(0);
  }, 120_000);
});
