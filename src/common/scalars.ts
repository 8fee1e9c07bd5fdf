import { GraphQLError, GraphQLScalarType, Kind } from "graphql";

/** ISO-8601 with an explicit zone (Z or ±hh:mm), seconds and fraction optional. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

function parseDateTime(value: unknown): Date {
  if (typeof value !== "string" || !ISO_DATE_TIME.test(value)) {
    throw new GraphQLError(`DateTime must be an ISO-8601 date-time with a time zone, e.g. 2026-11-25T22:26:31.123Z; got ${JSON.stringify(value)}.`);
  }
  const date = new Date(value);
  const [year, month, day] = value.slice(0, 10).split("-").map(Number);
  // Date accepts 2026-02-31 and rolls it over; a date that does not exist is refused instead.
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (Number.isNaN(date.getTime()) || calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) {
    throw new GraphQLError(`DateTime ${JSON.stringify(value)} is not a real date-time.`);
  }
  return date;
}

const DAY_MS = 86_400_000;
/** Days from 0000-03-01 to the epoch, the origin of {@link isoDateTime}'s calendar. */
const EPOCH_FROM_MARCH_0000 = 719_468;
const FIRST_FOUR_DIGIT_YEAR = Date.parse("0000-01-01T00:00:00Z");
const FIRST_EXTENDED_YEAR = Date.parse("+010000-01-01T00:00:00Z");
const PADDED = Array.from({ length: 1000 }, (_, n) => String(n).padStart(3, "0"));

/**
 * What `date.toISOString()` returns, for a valid date, without module state.
 * Two date-times per event go through here on every page and delivery, and
 * toISOString is a call into V8's C++ runtime, which formats with printf;
 * this stays in optimized JavaScript. The calendar comes from days since the
 * epoch as in H. Hinnant's `civil_from_days` (years counted from March, so a
 * leap day is the last day of its year). Years outside 0000-9999 take
 * toISOString's extended format.
 */
export function isoDateTime(date: Date): string {
  const time = date.getTime();
  if (!(time >= FIRST_FOUR_DIGIT_YEAR && time < FIRST_EXTENDED_YEAR)) return date.toISOString();
  const day = Math.floor(time / DAY_MS);
  const fromMarch0000 = day + EPOCH_FROM_MARCH_0000;
  const era = Math.floor(fromMarch0000 / 146_097);
  const dayOfEra = fromMarch0000 - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1_460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153);
  const dayOfMonth = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1;
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  const year = era * 400 + yearOfEra + (month <= 2 ? 1 : 0);
  let rest = time - day * DAY_MS;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1_000);
  return `${PADDED[Math.floor(year / 10)]}${year % 10}-${PADDED[month].slice(1)}-${PADDED[dayOfMonth].slice(1)}T${PADDED[hours].slice(1)}:${PADDED[minutes].slice(1)}:${PADDED[seconds].slice(1)}.${PADDED[rest - seconds * 1_000]}Z`;
}

/** UTC date-time with millisecond precision, e.g. 2026-11-25T22:26:31.123Z. */
export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: "DateTime",
  description: "ISO-8601 date-time in UTC with millisecond precision, e.g. 2026-11-25T22:26:31.123Z.",
  serialize(value) {
    // Most values are valid Dates straight from storage.
    if (value instanceof Date && !Number.isNaN(value.getTime())) return isoDateTime(value);
    const date = typeof value === "string" ? new Date(value) : undefined;
    if (!date || Number.isNaN(date.getTime())) throw new GraphQLError("DateTime cannot represent this value.");
    return date.toISOString();
  },
  parseValue: parseDateTime,
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw new GraphQLError("DateTime must be a string.");
    return parseDateTime(ast.value);
  },
});
