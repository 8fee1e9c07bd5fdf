import { createHmac, hkdfSync } from "node:crypto";
import { BadUserInputError } from "../src/common/errors";
import { CursorCodec, CursorPayload } from "../src/logs/cursor";

const SECRET = "the secret of this test, long enough to sign tokens";
const OTHER_SECRET = "another service's secret, just as long as this one";
const POSITION: CursorPayload = { workspaceId: "ws-1", log: "customer:cu-zoe", occurredAt: new Date(Date.UTC(2026, 10, 25, 22, 26, 31, 123)), seq: 4711 };

describe("cursors", () => {
  const codec = new CursorCodec(SECRET);

  it("give back the position they were made from", () => {
    expect(codec.decode(codec.encode(POSITION))).toEqual(POSITION);
    expect(codec.positionIn(codec.encode(POSITION), POSITION.workspaceId, POSITION.log)).toEqual({ occurredAt: POSITION.occurredAt, seq: POSITION.seq });
  });

  it("are signed with HMAC-SHA-256 under a key derived from the secret, cut to 132 bits", () => {
    const [body, mac] = codec.encode(POSITION).split(".");
    const key = hkdfSync("sha256", SECRET, "audit-log", "cursor hmac-sha256 key", 32);
    expect(mac).toBe(createHmac("sha256", Buffer.from(key)).update(body).digest("base64url").slice(0, 22));
  });

  it("refuse a cursor signed with another secret with BAD_USER_INPUT", () => {
    const foreign = new CursorCodec(OTHER_SECRET).encode(POSITION);
    expect(foreign.split(".")[0]).toBe(codec.encode(POSITION).split(".")[0]);
    expect(() => codec.decode(foreign)).toThrow(BadUserInputError);
    expect(() => codec.positionIn(foreign, POSITION.workspaceId, POSITION.log, "before")).toThrow("before is not a cursor this service issued.");
  });
});
