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

/** UTC date-time with millisecond precision, e.g. 2026-11-25T22:26:31.123Z. */
export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: "DateTime",
  description: "ISO-8601 date-time in UTC with millisecond precision, e.g. 2026-11-25T22:26:31.123Z.",
  serialize(value) {
    // Most values are valid Dates straight from storage.
    if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString();
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
