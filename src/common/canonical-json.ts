/**
 * The one canonical JSON writer: the text an input's content hash
 * (`database/audit-event.storage.ts`) and an event's Merkle leaf
 * (`integrity/event-leaf.ts`) are computed from. Stored hashes depend on this
 * exact text, so it never changes.
 */

/**
 * JSON with object keys sorted, dates as ISO strings: equal content, equal
 * text. Keys are sorted as strings, by their UTF-16 code units (so "10" comes
 * before "9"), properties whose value is undefined are left out, undefined in
 * an array is null; strings and numbers are written as JSON.stringify writes
 * them, with no whitespace. For JSON values this is the canonical form of
 * RFC 8785 (JCS). Written directly, in one pass.
 */
export function canonicalJson(value: unknown): string {
  return writeCanonical(value ?? null) ?? "null";
}

/** The JSON of a value; undefined where JSON.stringify leaves a property out. */
function writeCanonical(value: unknown): string | undefined {
  switch (typeof value) {
    case "string":
      return quotedString(value);
    case "number":
      // As JSON.stringify writes numbers: the shortest round-trip form, null for NaN and the infinities.
      return Number.isFinite(value) ? String(value) : "null";
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      if (value === null) return "null";
      if (Array.isArray(value)) {
        let text = "[";
        for (let index = 0; index < value.length; index++) {
          if (index > 0) text += ",";
          text += writeCanonical(value[index]) ?? "null";
        }
        return `${text}]`;
      }
      if (value instanceof Date) return JSON.stringify(value);
      const record = value as Record<string, unknown>;
      let text = "";
      for (const key of sortedKeys(record)) {
        const item = writeCanonical(record[key]);
        if (item === undefined) continue;
        text += (text === "" ? "{" : ",") + quotedKey(key) + item;
      }
      return text === "" ? "{}" : `${text}}`;
    }
    default:
      return undefined;
  }
}

/** What JSON.stringify escapes in a string (quote, backslash, controls, lone surrogates), and any surrogate. */
const ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * A string as JSON.stringify writes it. Most strings of an event hold nothing
 * it escapes: those are quoted as they are, which costs the Merkle sequencer
 * less than a call of JSON.stringify per string.
 */
function quotedString(value: string): string {
  return ESCAPED.test(value) ? JSON.stringify(value) : `"${value}"`;
}

/** `"key":` for the keys events repeat (field names), quoted once; long or many keys are not kept. */
const QUOTED_KEYS = new Map<string, string>();
const QUOTED_KEYS_KEPT = 1_024;
const QUOTED_KEY_LENGTH_KEPT = 64;

function quotedKey(key: string): string {
  let quoted = QUOTED_KEYS.get(key);
  if (quoted === undefined) {
    quoted = `${JSON.stringify(key)}:`;
    if (QUOTED_KEYS.size < QUOTED_KEYS_KEPT && key.length <= QUOTED_KEY_LENGTH_KEPT) QUOTED_KEYS.set(key, quoted);
  }
  return quoted;
}

/** An object's keys in sorted order; most arrive sorted already. */
function sortedKeys(record: Record<string, unknown>): string[] {
  const keys = Object.keys(record);
  for (let i = 1; i < keys.length; i++) if (keys[i - 1] > keys[i]) return keys.sort();
  return keys;
}
