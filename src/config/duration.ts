/** Seconds per unit of a written duration. */
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** A written duration: a whole number and a unit, `90s`, `15m`, `24h` or `365d`. */
export const DURATION_FORMAT = "a duration like 90s, 15m, 24h or 365d";

/** Parses a duration like `90s`, `15m`, `24h` or `365d` into seconds (0 for `0s`); undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)\s*([smhd])$/.exec(text.trim());
  if (!match) return undefined;
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS];
  return Number.isSafeInteger(seconds) ? seconds : undefined;
}

/** Seconds written in the largest unit that divides them: 86400 is `1d`, 5400 is `90m`. */
export function formatDuration(seconds: number): string {
  for (const unit of ["d", "h", "m"] as const) {
    if (seconds % UNIT_SECONDS[unit] === 0) return `${seconds / UNIT_SECONDS[unit]}${unit}`;
  }
  return `${seconds}s`;
}
