import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
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
const VERSION = 3;
/**
 * base64url characters of the HMAC kept: 132 of its 256 bits. A forger has
 * to guess a tag online, one request per guess, so 128 bits are far beyond
 * reach, and a cursor travels in every page and every delivery: the full
 * tag would add 21 characters to each for no gain in safety.
 */
const MAC_CHARS = 22;

/**
 * Opaque, tamper-evident cursors: the position as JSON, base64url, then its
 * HMAC-SHA-256, cut to {@link MAC_CHARS}. A changed byte, a cursor of another
 * log or workspace, or anything else is BAD_USER_INPUT.
 */
export class CursorCodec {
  private readonly key: Buffer;

  constructor(secret: string) {
    // The token secret also signs tokens: the cursors get a key of their own derived from it.
    this.key = Buffer.from(hkdfSync("sha256", secret, "audit-log", "cursor hmac-sha256 key", 32));
  }

  encode(payload: CursorPayload): string {
    return this.encoderFor(payload.workspaceId, payload.log)(payload);
  }

  /** Encodes positions of one log: what every cursor of it shares is written once. */
  encoderFor(workspaceId: string, log: string): (position: CursorPosition) => string {
    // The same text as JSON.stringify([VERSION, workspaceId, log, time, seq]).
    const prefix = `[${VERSION},${JSON.stringify(workspaceId)},${JSON.stringify(log)},`;
    return (position) => {
      const body = Buffer.from(`${prefix}${position.occurredAt.getTime()},${position.seq}]`).toString("base64url");
      return `${body}.${this.sign(body)}`;
    };
  }

  /** The cursor's payload, if it is genuine; throws BAD_USER_INPUT otherwise. */
  decode(cursor: string, argument = "after"): CursorPayload {
    const invalid = () => new BadUserInputError(`${argument} is not a cursor this service issued.`, [{ path: argument, message: "is not a valid cursor" }]);
    const [body, mac, extra] = cursor.split(".");
    if (!body || !mac || extra !== undefined) throw invalid();
    const expected = Buffer.from(this.sign(body));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
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
    return { workspaceId, log, occurredAt: new Date(time as number), seq: seq as number };
  }

  /** The position of a cursor issued for this workspace and log. */
  positionIn(cursor: string, workspaceId: string, log: string, argument = "after"): CursorPosition {
    const payload = this.decode(cursor, argument);
    if (payload.workspaceId !== workspaceId || payload.log !== log) {
      throw new BadUserInputError(`${argument} is a cursor of another log.`, [{ path: argument, message: "belongs to another log" }]);
    }
    return { occurredAt: payload.occurredAt, seq: payload.seq };
  }

  private sign(body: string): string {
    return createHmac("sha256", this.key).update(body).digest("base64url").slice(0, MAC_CHARS);
  }
}
