import { createCipheriv, createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { BoundedMap } from "../common/bounded-map";
import { BadUserInputError } from "../common/errors";

/** Where a page ends: the last event's (occurredAt, seq) in the log's order. */
export interface CursorPosition {
  occurredAt: Date;
  seq: number;
}

/** What a cursor says: which log of which workspace, and the position in it. */
export interface CursorPayload extends CursorPosition {
  workspaceId: string;
  /** `workspace`, `customer:<id>` or `conversation:<id>`. */
  log: string;
}

/** The cursor format; a cursor of any other version is refused. */
const VERSION = 4;
/** Bytes of a position as the tag covers it: one AES block, the time and the seq as 64-bit integers. */
const BLOCK = 16;
/** Logs whose tag keys are kept (16 bytes each, and the log's name). @default 4096 */
const LOG_KEYS_KEPT = 4_096;
const DOT = ".".charCodeAt(0);

/**
 * Opaque, tamper-evident cursors: `<body>.<tag>`, both base64url. The body is
 * the payload as JSON. The tag is AES-128 of the position (one block: the
 * time in milliseconds, the seq) under a key of the cursor's log: the first
 * 16 bytes of HMAC-SHA-256 of the workspace and the log, keyed from the
 * secret. A block cipher is a sound MAC for messages of one fixed-size block,
 * and the per-log key ties the tag to the log: a changed byte, a cursor of
 * another log or workspace, or anything else is BAD_USER_INPUT.
 *
 * Why not an HMAC per cursor: a page carries a cursor on each of its edges,
 * and an HMAC object per cursor was a large share of a page's CPU; one log
 * key per page and one AES call for all its positions cost far less (see
 * docs/performance.md, "Figures behind choices in the code").
 */
export class CursorCodec {
  private readonly key: Buffer;
  private readonly logKeys = new BoundedMap<string, Buffer>(LOG_KEYS_KEPT);

  constructor(secret: string) {
    // The token secret also signs tokens: the cursors get a key of their own derived from it.
    this.key = Buffer.from(hkdfSync("sha256", secret, "audit-log", "cursor log keys v4", 32));
  }

  encode(payload: CursorPayload): string {
    return this.encoderFor(payload.workspaceId, payload.log)([payload])[0];
  }

  /**
   * Encodes positions of one log: the log's key is derived once, and every
   * tag of the call comes from one AES call.
   */
  encoderFor(workspaceId: string, log: string): (positions: readonly CursorPosition[]) => string[] {
    // The body is JSON.stringify([VERSION, workspaceId, log, time, seq]) with spaces after the log, so that
    // what every cursor of the log shares fills whole base64 groups: it is encoded once, the rest per cursor.
    const shared = `[${VERSION},${JSON.stringify(workspaceId)},${JSON.stringify(log)},`;
    const sharedBase64 = Buffer.from(shared.padEnd(shared.length + ((3 - (Buffer.byteLength(shared) % 3)) % 3), " "), "utf8").toString("base64url");
    const logKey = this.logKey(workspaceId, log);
    return (positions) => {
      const tags = tagsOf(logKey, positions);
      const rests = positions.map((position) => `${position.occurredAt.getTime()},${position.seq}]`);
      // Every cursor's characters go into one buffer, and each cursor is one string read from it.
      const perCursor = sharedBase64.length + 1 + base64Length(BLOCK);
      const text = Buffer.allocUnsafe(rests.reduce((sum, rest) => sum + perCursor + base64Length(rest.length), 0));
      const ends: number[] = [];
      let at = 0;
      rests.forEach((rest, index) => {
        at += text.write(sharedBase64, at, "latin1");
        at = writeBase64url(text, at, rest.length, (offset) => rest.charCodeAt(offset));
        text[at++] = DOT;
        at = writeBase64url(text, at, BLOCK, (offset) => tags[index * BLOCK + offset]);
        ends.push(at);
      });
      const all = text.toString("latin1");
      return ends.map((end, index) => all.slice(index === 0 ? 0 : ends[index - 1], end));
    };
  }

  /** The cursor's payload, if it is genuine; throws BAD_USER_INPUT otherwise. */
  decode(cursor: string, argument = "after"): CursorPayload {
    const invalid = () => new BadUserInputError(`${argument} is not a cursor this service issued.`, [{ path: argument, message: "is not a valid cursor" }]);
    const [body, tag, extra] = cursor.split(".");
    if (!body || !tag || extra !== undefined) throw invalid();
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
    } catch {
      throw invalid();
    }
    if (!Array.isArray(parsed) || parsed.length !== 5 || parsed[0] !== VERSION) throw invalid();
    const [, workspaceId, log, time, seq] = parsed as unknown[];
    if (typeof workspaceId !== "string" || typeof log !== "string" || !Number.isSafeInteger(time) || !Number.isSafeInteger(seq)) {
      throw invalid();
    }
    const payload = { workspaceId, log, occurredAt: new Date(time as number), seq: seq as number };
    const expected = tagsOf(this.logKey(workspaceId, log), [payload]);
    const given = Buffer.from(tag, "base64url");
    // base64url decoding skips what is not base64url: the text must be the expected tag's, character for character.
    if (given.length !== BLOCK || given.toString("base64url") !== tag || !timingSafeEqual(given, expected)) throw invalid();
    return payload;
  }

  /** The position of a cursor issued for this workspace and log. */
  positionIn(cursor: string, workspaceId: string, log: string, argument = "after"): CursorPosition {
    const payload = this.decode(cursor, argument);
    if (payload.workspaceId !== workspaceId || payload.log !== log) {
      throw new BadUserInputError(`${argument} is a cursor of another log.`, [{ path: argument, message: "belongs to another log" }]);
    }
    return { occurredAt: payload.occurredAt, seq: payload.seq };
  }

  /** The AES-128 key of one log's tags; the keys of the logs read most recently are kept. */
  private logKey(workspaceId: string, log: string): Buffer {
    const name = JSON.stringify([workspaceId, log]);
    let key = this.logKeys.get(name);
    if (!key) {
      key = createHmac("sha256", this.key).update(name).digest().subarray(0, 16);
      this.logKeys.set(name, key);
    }
    return key;
  }
}

/** The tags of positions, one block each, in order: AES-128 of each position's block, in one call. */
function tagsOf(logKey: Buffer, positions: readonly CursorPosition[]): Buffer {
  const blocks = Buffer.allocUnsafe(positions.length * BLOCK);
  positions.forEach((position, index) => {
    writeInt64(blocks, position.occurredAt.getTime(), index * BLOCK);
    writeInt64(blocks, position.seq, index * BLOCK + 8);
  });
  const cipher = createCipheriv("aes-128-ecb", logKey, null).setAutoPadding(false);
  return Buffer.concat([cipher.update(blocks), cipher.final()]);
}

/** A safe integer as a 64-bit two's complement big-endian integer, without a BigInt. */
function writeInt64(buffer: Buffer, value: number, offset: number): void {
  const high = Math.floor(value / 2 ** 32);
  buffer.writeInt32BE(high, offset);
  buffer.writeUInt32BE(value - high * 2 ** 32, offset + 4);
}

const BASE64URL = Buffer.from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", "latin1");

/** Characters of `bytes` bytes in base64url without padding. */
function base64Length(bytes: number): number {
  return Math.ceil((bytes * 4) / 3);
}

/**
 * Writes `length` bytes, read one by one, into `text` at `at` as base64url
 * without padding; returns where the writing ended. For the few bytes of a
 * cursor's parts, this costs less than a Buffer and its encoder for each.
 */
function writeBase64url(text: Buffer, at: number, length: number, byteAt: (index: number) => number): number {
  let index = 0;
  for (; index + 2 < length; index += 3) {
    const group = (byteAt(index) << 16) | (byteAt(index + 1) << 8) | byteAt(index + 2);
    text[at++] = BASE64URL[group >> 18];
    text[at++] = BASE64URL[(group >> 12) & 63];
    text[at++] = BASE64URL[(group >> 6) & 63];
    text[at++] = BASE64URL[group & 63];
  }
  if (index < length) {
    const group = (byteAt(index) << 16) | (index + 1 < length ? byteAt(index + 1) << 8 : 0);
    text[at++] = BASE64URL[group >> 18];
    text[at++] = BASE64URL[(group >> 12) & 63];
    if (index + 1 < length) text[at++] = BASE64URL[(group >> 6) & 63];
  }
  return at;
}
