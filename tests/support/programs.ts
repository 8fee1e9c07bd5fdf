/**
 * Programs some test files need beyond Node and the database. Without one, its
 * tests are skipped and `npm test` prints one line saying what to install;
 * under CI=true a missing program fails the run instead, so CI runs every test.
 */
import { accessSync, constants } from "node:fs";
import path from "node:path";

export interface Program {
  /** Which tests need it, for the skip line. */
  readonly tests: string;
  /** The executable, by absolute path or by name on PATH. */
  readonly executable: string;
  /** How to install it on Debian or Ubuntu. */
  readonly install: string;
}

export const CHROMIUM: Program = { tests: "GraphiQL browser tests", executable: "/usr/bin/chromium", install: "apt-get install chromium" };
export const REDIS_SERVER: Program = { tests: "live tail through Redis tests", executable: "redis-server", install: "apt-get install redis-server" };

export const MARIADBD: Program = { tests: "fault tests", executable: "/usr/sbin/mariadbd", install: "apt-get install mariadb-server" };
export const MARIADB_INSTALL_DB: Program = { tests: "fault tests", executable: "/usr/bin/mariadb-install-db", install: "apt-get install mariadb-server" };

export const PROGRAMS: readonly Program[] = [CHROMIUM, REDIS_SERVER, MARIADBD, MARIADB_INSTALL_DB];

/** Whether every test must run (CI=true): then a missing program is a failure, not a skip. */
export const skipsForbidden = (): boolean => process.env.CI === "true";

export function isInstalled(program: Program): boolean {
  const candidates = path.isAbsolute(program.executable)
    ? [program.executable]
    : (process.env.PATH ?? "").split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, program.executable));
  return candidates.some((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export const skipLine = (program: Program): string => `${program.tests} skipped: \`${program.install}\``;

/**
 * `describe`, or `describe.skip` when the program is missing and skips are allowed.
 * Under CI=true the tests run anyway and fail on the missing program.
 */
export function describeWith(program: Program): jest.Describe {
  return isInstalled(program) || skipsForbidden() ? describe : describe.skip;
}
