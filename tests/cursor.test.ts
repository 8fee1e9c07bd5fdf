import { createCipheriv, createHmac, hkdfSync } from "node:crypto";
import { BadUserInputError } from "../src/common/errors";
import { CursorCodec, CursorPayload } from "../src/logs/cursor";

const SECRET = "the secret of this test, long enough to sign tokens";
const OTHER_SECRET = "another service's secret, just as long as this one";
const POSITION: CursorPayload = { workspaceId: "ws-1", log: "customer:cu-zoe", occurredAt: new Date(Date.UTC(2026, 10, 25, 22, 26, 31, 123)), seq: 4711 };

/** The tag as the format describes it, computed here with BigInts and node:crypto alone. */
function expectedTag(secret: string, payload: CursorPayload): string {
  const key = Buffer.from(hkdfSync("sha256", secret, "audit-log", "cursor log keys v4", 32));
  const logKey = createHmac("sha256", key).update(JSON.stringify([payload.workspaceId, payload.log])).digest().subarray(0, 16);
  const block = Buffer.alloc(16);
  block.writeBigInt64BE(BigInt(payload.occurredAt.getTime()), 0);
  block.writeBigInt64BE(BigInt(payload.seq), 8);
  const cipher = createCipheriv("aes-128-ecb", logKey, null).setAutoPadding(false);
  return Buffer.concat([cipher.update(block), cipher.final()]).toString("base64url");
}

describe("cursors", () => {
  const codec = new CursorCodec(SECRET);

  it("give back the position they were made from", () => {
    expect(codec.decode(codec.encode(POSITION))).toEqual(POSITION);
    expect(codec.positionIn(codec.encode(POSITION), POSITION.workspaceId, POSITION.log)).toEqual({ occurredAt: POSITION.occurredAt, seq: POSITION.seq });
  });

  it("carry the payload as JSON and AES-128 of the position under the log's key, derived from the secret", () => {
    const [body, tag] = codec.encode(POSITION).split(".");
    expect(JSON.parse(Buffer.from(body, "base64url").toString("utf8"))).toEqual([4, POSITION.workspaceId, POSITION.log, POSITION.occurredAt.getTime(), POSITION.seq]);
    expect(tag).toBe(expectedTag(SECRET, POSITION));
  });

  it("encode a page's positions as they encode each alone, whatever the log's name and the position", () => {
    const workspaceId = "wş-ü";
    for (const log of ["workspace", "customer:çü-1", "conversation:c-12"]) {
      const positions = [
        { occurredAt: new Date(Date.UTC(1969, 11, 31, 23, 59, 59, 999)), seq: 1 },
        { occurredAt: new Date(Date.UTC(2026, 0, 1)), seq: 2 ** 40 + 3 },
        // The per-cursor part of the body, "time,seq]", is 5, 28, 18 and 34 bytes long here: every remainder of its base64 groups.
        { occurredAt: new Date(Date.UTC(2026, 0, 1)), seq: 123 },
        { occurredAt: new Date(8.64e15), seq: Number.MAX_SAFE_INTEGER },
      ];
      const page = codec.encoderFor(workspaceId, log)(positions);
      // The log's cipher is kept between calls, and carries nothing from one call to the next.
      expect(codec.encoderFor(workspaceId, log)([...positions].reverse())).toEqual([...page].reverse());
      positions.forEach((position, index) => {
        const payload = { workspaceId, log, ...position };
        expect(page[index]).toBe(codec.encode(payload));
        expect(page[index].split(".")[1]).toBe(expectedTag(SECRET, payload));
        expect(codec.decode(page[index])).toEqual(payload);
      });
    }
  });

  it("refuse a cursor signed with another secret with BAD_USER_INPUT", () => {
    const foreign = new CursorCodec(OTHER_SECRET).encode(POSITION);
    expect(foreign.split(".")[0]).toBe(codec.encode(POSITION).split(".")[0]);
    expect(() => codec.decode(foreign)).toThrow(BadUserInputError);
    expect(() => codec.positionIn(foreign, POSITION.workspaceId, POSITION.log, "before")).toThrow("before is not a cursor this service issued.");
  });

  it("refuse a tag moved to another log, a tag with characters base64url would skip, and the HMAC cursors of version 3", () => {
    const [body, tag] = codec.encode(POSITION).split(".");
    const otherLog = codec.encode({ ...POSITION, log: "customer:cu-ivo" }).split(".")[0];
    const key = Buffer.from(hkdfSync("sha256", SECRET, "audit-log", "cursor hmac-sha256 key", 32));
    const versionThreeBody = Buffer.from(JSON.stringify([3, POSITION.workspaceId, POSITION.log, POSITION.occurredAt.getTime(), POSITION.seq])).toString("base64url");
    const versionThree = `${versionThreeBody}.${createHmac("sha256", key).update(versionThreeBody).digest("base64url").slice(0, 22)}`;
    for (const cursor of [`${otherLog}.${tag}`, `${body}.${tag}=`, `${body}.${tag.slice(0, 11)}!${tag.slice(11)}`, versionThree]) {
      expect(() => codec.decode(cursor)).toThrow("after is not a cursor this service issued.");
    }
  });
});
