/**
 * Runs once before every test file (jest globalSetup): names each program that
 * is missing, in one line, or under CI=true stops the run.
 */
import { isInstalled, PROGRAMS, skipLine, skipsForbidden } from "./programs";

export default function checkPrograms(): void {
  const missing = PROGRAMS.filter((program) => !isInstalled(program));
  if (missing.length === 0) return;
  if (skipsForbidden()) {
    throw new Error(`CI=true runs every test, but ${missing.map((program) => `${program.executable} is missing (${program.install})`).join("; ")}`);
  }
  process.stdout.write(`\n${missing.map(skipLine).join("\n")}\n`);
}
