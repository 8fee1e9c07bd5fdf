import { canonicalJson } from "../src/common/canonical-json";
import { seededRandom } from "../src/common/random";
import { sha256 } from "../src/common/sha256";
import { contentHash, newEventId } from "../src/database/audit-event.storage";
import type { NewAuditEvent } from "../src/events/audit-event.record";

/** An event with every awkward value: nested arrays and objects, unsorted keys, escapes, undefined, -0. */
const EVENT = {
  idempotencyKey: "golden-1",
  type: "CONVERSATION",
  action: "conversation.status_changed",
  occurredAt: new Date("2026-11-25T22:26:31.123Z"),
  actor: { kind: "USER", id: "u-ana", name: "Ana Díaz", email: null },
  targets: { conversation: { id: "c-1", subject: 'Order "1001" <arrived> damaged\n' }, customer: { id: "cu-1", name: "Zoë" } },
  changes: [
    { field: "status", before: "open", after: "pending" },
    { field: "tags", before: ["a", { z: 1, a: [true, false, null, 1.5e-7, -0] }], after: null },
  ],
  metadata: { zeta: 1, alpha: { nested: "✓", list: [3, 2, 1] }, gone: undefined },
  source: null,
} as unknown as NewAuditEvent;

/**
 * The text hashes have been computed from since the first event was stored,
 * written the simplest way: keys sorted as strings, undefined properties left
 * out, dates as ISO strings.
 */
const reference = (value: unknown): string => {
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(reference).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${reference(item)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
};

describe("SHA-256", () => {
  it("gives the standard digests of text (as UTF-8) and of bytes, 32 bytes each", () => {
    // FIPS 180-2's "abc" example; "é" is hashed as its two UTF-8 bytes.
    expect(sha256("abc").toString("hex")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256(Buffer.from("abc")).equals(sha256("abc"))).toBe(true);
    expect(sha256("é").equals(sha256(Buffer.from([0xc3, 0xa9])))).toBe(true);
    expect(sha256("").toString("hex")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });
});

describe("content hashes", () => {
  it("keep the value stored events were hashed with (a change would turn every repeat into a conflict)", () => {
    expect(contentHash(EVENT).toString("hex")).toBe("f0efc66ec58821fe15b84eaa74b32185ca9faac07d1bb4a99c16597cb0e61a1d");
  });

  it.each([
    ["the event", EVENT],
    ["an array with holes of undefined", [1, undefined, "x"]],
    ["NaN and infinities", { a: Number.NaN, b: Number.POSITIVE_INFINITY }],
    ["an empty object and array", { b: {}, a: [] }],
    ["a bare string", 'quote " and \\ backslash'],
    ["strings with nothing to escape, controls, lone and paired surrogates", ["plain é", "tab\t", "\u0000\u001f\u007f", "lone \ud800", "\udc00", "pair 😀", "\u2028"]],
    ["null", null],
    ["keys already in order, down to the leaves", { a: [{ b: 1, c: { d: null, e: [new Date(0)] } }], z: "end" }],
    ["keys that are array indexes", { b: { "10": "ten", "9": "nine", x: 1, "01": "zero one" }, a: { "2": 2, "1": 1 } }],
    ["keys past the largest array index", { "4294967295": "string key", "4294967294": "index", "-1": "string key", "1.5": "string key" }],
  ])("write %s exactly as the stored hashes' text", (_name, value) => {
    expect(canonicalJson(value)).toBe(reference(value));
  });

  it("write 2,000 generated values exactly as the stored hashes' text", () => {
    // Fixed-seed values: nested objects and arrays, keys of every kind, in random order.
    const random = seededRandom(42);
    const next = (below: number) => Math.floor(random() * below);
    const KEYS = ["a", "b", "Z", "é", "0", "7", "10", "01", "-1", "1.5", "4294967294", "4294967295", "aa", "a b", ""];
    const generate = (depth: number): unknown => {
      switch (next(depth > 3 ? 5 : 8)) {
        case 0: return null;
        case 1: return next(2) === 0;
        case 2: return next(1000) / 7 - 50;
        case 3: return `s${next(100)}"\\`;
        case 4: return new Date(1_700_000_000_000 + next(1_000_000));
        case 5: return Array.from({ length: next(4) }, () => generate(depth + 1));
        default: {
          const value: Record<string, unknown> = {};
          for (let n = next(5); n > 0; n--) value[KEYS[next(KEYS.length)]] = next(9) === 0 ? undefined : generate(depth + 1);
          return value;
        }
      }
    };
    for (let n = 0; n < 2_000; n++) {
      const value = generate(0);
      expect(canonicalJson(value)).toBe(reference(value));
    }
  });

  it("sort keys as strings, array indexes included, as every stored hash did", () => {
    expect(canonicalJson({ "9": "nine", "10": "ten", b: 1, a: 2 })).toBe('{"10":"ten","9":"nine","a":2,"b":1}');
  });

  it("do not depend on key order", () => {
    const reordered = { ...EVENT, metadata: { alpha: { list: [3, 2, 1], nested: "✓" }, zeta: 1 } } as unknown as NewAuditEvent;
    expect(contentHash(reordered).equals(contentHash(EVENT))).toBe(true);
    const changed = { ...EVENT, metadata: { zeta: 2 } } as unknown as NewAuditEvent;
    expect(contentHash(changed).equals(contentHash(EVENT))).toBe(false);
  });
});

describe("event ids", () => {
  it("are 26 characters of Crockford base32, distinct, and ordered by time", () => {
    const ids = Array.from({ length: 2_000 }, (_, n) => newEventId(1_795_000_000_000 + n));
    for (const id of ids) expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });
});
