import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { buildSchema, findBreakingChanges } from "graphql";
import { dataSource } from "../ormconfig";
import { createLogger } from "../src/common/logger";
import { config } from "../src/config";
import { createServices } from "../src/server/app-services";
import { buildAppSchema } from "../src/server/schema";

/** The API contract clients build against, committed with the service. */
const CONTRACT = path.resolve(__dirname, "..", "schema", "contract.graphql");
/** Where the clients' teams publish it, beside a checkout of this repository when there is one. */
const PUBLISHED_CONTRACT = path.resolve(__dirname, "..", "..", "shared", "api", "contract.graphql");

describe("the API contract", () => {
  it("is not broken by the schema the service builds", async () => {
    const contract = buildSchema(readFileSync(CONTRACT, "utf8"));
    const served = await buildAppSchema(createServices(dataSource, config, createLogger("silent")));
    expect(findBreakingChanges(contract, served).map((change) => change.description)).toEqual([]);
  });

  (existsSync(PUBLISHED_CONTRACT) ? it : it.skip)("is the same text as the published contract beside the repository", () => {
    expect(readFileSync(CONTRACT, "utf8")).toBe(readFileSync(PUBLISHED_CONTRACT, "utf8"));
  });
});
