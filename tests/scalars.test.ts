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
