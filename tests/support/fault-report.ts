import { appendFileSync } from "node:fs";

/** How long each outage lasts: seconds, so the suite stays short (`npm run faults` sets FAULT_OUTAGE_MS longer). */
export const OUTAGE_MS = Number(process.env.FAULT_OUTAGE_MS ?? 3_000);

/**
 * What a fault test measured, from the clients' side. With FAULT_REPORT set to
 * a file, each test appends one JSON line to it (`npm run faults` writes the
 * run docs/reliability.md cites); without it, nothing is written.
 */
export function reportFault(fault: string, figures: Record<string, unknown>): void {
  const file = process.env.FAULT_REPORT;
  if (!file) return;
  appendFileSync(file, `${JSON.stringify({ fault, at: new Date().toISOString(), ...figures })}\n`);
}
