import { DateTimeScalar, isoDateTime } from "../src/common/scalars";

const DAY_MS = 86_400_000;

/** Times spread over the whole range a Date holds, in an order that keeps changing the day. */
function scatteredTimes(count: number): number[] {
  const times: number[] = [];
  let seed = 7;
  const next = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
  for (let n = 0; n < count; n++) times.push(Math.round((next() * 2 - 1) * 8.64e15));
  return times;
}

describe("isoDateTime", () => {
  it("writes what toISOString writes, over the whole range of dates", () => {
    for (const time of scatteredTimes(20_000)) expect(isoDateTime(new Date(time))).toBe(new Date(time).toISOString());
  });

  it("writes what toISOString writes around day boundaries, the epoch and extended years", () => {
    const edges = [0, -1, 1, DAY_MS - 1, DAY_MS, -DAY_MS, -DAY_MS - 1, Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(10000, 0, 1), Date.UTC(-1, 0, 1), 8.64e15, -8.64e15];
    for (const time of edges) expect(isoDateTime(new Date(time))).toBe(new Date(time).toISOString());
  });

  it("writes what toISOString writes every eleventh day of the four-digit years, at a time of day that keeps changing", () => {
    const differing: string[] = [];
    const first = Date.parse("0000-01-01T00:00:00Z");
    const last = Date.parse("9999-12-31T00:00:00Z");
    for (let day = first, n = 0; day <= last; day += 11 * DAY_MS, n++) {
      const date = new Date(day + ((n * 7_919_993) % DAY_MS));
      if (isoDateTime(date) !== date.toISOString()) differing.push(date.toISOString());
    }
    expect(differing).toEqual([]);
  });

  it("writes what toISOString writes around leap days and the ends of the four-digit years", () => {
    const utc = (year: number, month: number, day: number, ms = 0) => new Date(0).setUTCFullYear(year, month - 1, day) + ms;
    const times = [0, 4, 100, 400, 1900, 2000, 2024, 2100, 9996, 9999].flatMap((year) => [
      utc(year, 1, 1),
      utc(year, 1, 1) - 1,
      utc(year, 2, 28, DAY_MS - 1),
      utc(year, 2, 29),
      utc(year, 3, 1),
      utc(year, 3, 1) - 1,
      utc(year, 12, 31, DAY_MS - 1),
      utc(year + 1, 1, 1),
    ]);
    for (const time of times) expect(isoDateTime(new Date(time))).toBe(new Date(time).toISOString());
  });

  it("writes each time of one day, then of the next, as toISOString does", () => {
    const start = Date.UTC(2026, 10, 25, 23, 0, 0, 0);
    for (let time = start; time < start + 2 * 3_600_000; time += 997) expect(isoDateTime(new Date(time))).toBe(new Date(time).toISOString());
  });
});

describe("DateTime", () => {
  it("serializes a date as its ISO string", () => {
    expect(DateTimeScalar.serialize(new Date(Date.UTC(2026, 10, 25, 22, 26, 31, 123)))).toBe("2026-11-25T22:26:31.123Z");
  });

  it("refuses to serialize an invalid date", () => {
    expect(() => DateTimeScalar.serialize(new Date(NaN))).toThrow("DateTime cannot represent this value.");
  });
});
