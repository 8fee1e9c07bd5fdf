import { Cipher, createCipheriv, createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
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
/** Logs whose tag ciphers are kept (an OpenSSL cipher context each, and the log's name). @default 4096 */
const LOG_CIPHERS_KEPT = 4_096;
const DOT = ".".charCodeAt(0);
const COMMA = ",".charCodeAt(0);
const CLOSE = "]".charCodeAt(0);
const ZERO = "0".charCodeAt(0);
const MINUS = "-".charCodeAt(0);
/** Most bytes of a position's own part of the body, `${time},${seq}]`: two safe integers (a sign and up to 16 digits each), a comma and a bracket. */
const MAX_REST_BYTES = 36;

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
 * and an HMAC object per cursor was a large share of a page's CPU; one
 * cipher per log, kept, and one AES call for all a page's positions cost far
 * less (see docs/performance.md, "Figures behind choices in the code").
 */
export class CursorCodec {
  private readonly key: Buffer;
  private readonly logCiphers = new BoundedMap<string, Cipher>(LOG_CIPHERS_KEPT);

  constructor(secret: string) {
    // The token secret also signs tokens: the cursors get a key of their own derived from it.
    this.key = Buffer.from(hkdfSync("sha256", secret, "audit-log", "cursor log keys v4", 32));
  }

  encode(payload: CursorPayload): string {
    return this.encoderFor(payload.workspaceId, payload.log)([payload])[0];
  }

  /**
   * Encodes positions of one log: the log's cipher is looked up once, and
   * every tag of the call comes from one AES call.
   */
  encoderFor(workspaceId: string, log: string): (positions: readonly CursorPosition[]) => string[] {
    // The body is JSON.stringify([VERSION, workspaceId, log, time, seq]) with spaces after the log, so that
    // what every cursor of the log shares fills whole base64 groups: it is encoded once, the rest per cursor.
    const shared = `[${VERSION},${JSON.stringify(workspaceId)},${JSON.stringify(log)},`;
    const sharedBase64 = Buffer.from(Buffer.from(shared.padEnd(shared.length + ((3 - (Buffer.byteLength(shared) % 3)) % 3), " "), "utf8").toString("base64url"), "latin1");
    const cipher = this.logCipher(workspaceId, log);
    return (positions) => {
      const tags = tagsOf(cipher, positions);
      // Every cursor's characters go into one buffer, and each cursor is one string read from it.
      const perCursor = sharedBase64.length + base64Length(MAX_REST_BYTES) + 1 + base64Length(BLOCK);
      const text = Buffer.allocUnsafe(positions.length * perCursor);
      const rest = Buffer.allocUnsafe(MAX_REST_BYTES);
      const ends: number[] = new Array(positions.length);
      let at = 0;
      for (let index = 0; index < positions.length; index++) {
        const position = positions[index];
        at += sharedBase64.copy(text, at);
        // `${time},${seq}]`: both safe integers, written as digits without a string between.
        let length = writeDigits(rest, 0, position.occurredAt.getTime());
        rest[length++] = COMMA;
        length = writeDigits(rest, length, position.seq);
        rest[length++] = CLOSE;
        at = writeBase64url(text, at, rest, 0, length);
        text[at++] = DOT;
        at = writeBase64url(text, at, tags, index * BLOCK, BLOCK);
        ends[index] = at;
      }
      const all = text.toString("latin1", 0, at);
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
    const expected = tagsOf(this.logCipher(workspaceId, log), [payload]);
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

  /**
   * The AES-128 cipher of one log's tags, keyed with the first 16 bytes of
   * HMAC-SHA-256 of the workspace and the log; kept for up to
   * LOG_CIPHERS_KEPT logs, the one kept first dropped first. ECB without
   * padding holds nothing between calls: each
   * whole block in is its tag out, so one cipher serves every call.
   */
  private logCipher(workspaceId: string, log: string): Cipher {
    const name = JSON.stringify([workspaceId, log]);
    let cipher = this.logCiphers.get(name);
    if (!cipher) {
      const key = createHmac("sha256", this.key).update(name).digest().subarray(0, 16);
      cipher = createCipheriv("aes-128-ecb", key, null).setAutoPadding(false);
      this.logCiphers.set(name, cipher);
    }
    return cipher;
  }
}

/** The tags of positions, one block each, in order: AES-128 of each position's block, in one call. */
function tagsOf(cipher: Cipher, positions: readonly CursorPosition[]): Buffer {
  const blocks = Buffer.allocUnsafe(positions.length * BLOCK);
  positions.forEach((position, index) => {
    writeInt64(blocks, position.occurredAt.getTime(), index * BLOCK);
    writeInt64(blocks, position.seq, index * BLOCK + 8);
  });
  return cipher.update(blocks);
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
 * Writes `length` bytes of `bytes` from `from` into `text` at `at` as
 * base64url without padding; returns where the writing ended. For the few
 * bytes of a cursor's parts, this costs less than a Buffer and its encoder
 * for each.
 */
function writeBase64url(text: Buffer, at: number, bytes: Buffer, from: number, length: number): number {
  const end = from + length;
  let index = from;
  for (; index + 2 < end; index += 3) {
    const group = (bytes[index] << 16) | (bytes[index + 1] << 8) | bytes[index + 2];
    text[at++] = BASE64URL[group >> 18];
    text[at++] = BASE64URL[(group >> 12) & 63];
    text[at++] = BASE64URL[(group >> 6) & 63];
    text[at++] = BASE64URL[group & 63];
  }
  if (index < end) {
    const group = (bytes[index] << 16) | (index + 1 < end ? bytes[index + 1] << 8 : 0);
    text[at++] = BASE64URL[group >> 18];
    text[at++] = BASE64URL[(group >> 12) & 63];
    if (index + 1 < end) text[at++] = BASE64URL[(group >> 6) & 63];
  }
  return at;
}

/** Writes a safe integer in decimal, as `String(value)` would, into `bytes` at `at`; returns where it ends. */
function writeDigits(bytes: Buffer, at: number, value: number): number {
  if (value < 0) {
    bytes[at] = MINUS;
    return writeDigits(bytes, at + 1, -value);
  }
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  for (let index = at + digits - 1, rest = value; index >= at; index--, rest = Math.floor(rest / 10)) bytes[index] = ZERO + (rest % 10);
  return at + digits;
}
