import { decodePostings, encodePostings, newestFirst, Posting } from "../src/database/search-postings.repository";

/** A round's postings as the indexer makes them: newest first. */
const round = (postings: Posting[]): Posting[] => [...postings].sort(newestFirst);

describe("a posting list as stored", () => {
  it("reads back exactly what was written, newest first", () => {
    const postings = round([
      { time: Date.UTC(2026, 11, 6, 12, 0, 0, 1), seq: 1_001 },
      { time: Date.UTC(2026, 11, 6, 12, 0, 0, 1), seq: 1_000 },
      { time: Date.UTC(2026, 11, 6, 12, 0, 0, 0), seq: 999 },
      { time: Date.UTC(2026, 11, 6, 11, 59, 0), seq: 998 },
    ]);
    expect(decodePostings(encodePostings(postings))).toEqual(postings);
  });

  it("keeps events that occurred before older ones (seq rising while time falls)", () => {
    const postings = round([
      { time: Date.UTC(2026, 0, 1), seq: 5 },
      { time: Date.UTC(2025, 0, 1), seq: 9 },
      { time: Date.UTC(2024, 0, 1), seq: 7 },
      { time: Date.UTC(2023, 0, 1), seq: 1_000_000 },
      { time: Date.UTC(1970, 0, 1), seq: 1 },
    ]);
    expect(decodePostings(encodePostings(postings))).toEqual(postings);
  });

  it("holds the largest times and seqs the columns do: DATETIME's last millisecond and BIGINT seqs past 2^48", () => {
    const postings = round([
      { time: Date.UTC(9999, 11, 31, 23, 59, 59, 999), seq: 2 ** 52 },
      { time: 0, seq: 1 },
    ]);
    expect(decodePostings(encodePostings(postings))).toEqual(postings);
  });

  it("takes a few bytes a posting for a round's events, close in time and seq", () => {
    const start = Date.UTC(2026, 11, 6, 12);
    const postings = round(Array.from({ length: 1_000 }, (_, index) => ({ time: start + index * 37, seq: 500_000 + index * 3 })));
    const stored = encodePostings(postings);
    expect(decodePostings(stored)).toEqual(postings);
    // 12 bytes for the first (two numbers near 2^40 and 2^19), then 1 byte for 37 ms and 1 for seq's step of 3 (zigzag 6).
    expect(stored.length).toBe(6 + 3 + 999 * 2);
  });

  it("encodes one list independently of the one before (the shared scratch buffer is copied out)", () => {
    const first = encodePostings([{ time: 1_000, seq: 2 }]);
    const second = encodePostings([{ time: 2_000_000, seq: 300 }]);
    expect(decodePostings(first)).toEqual([{ time: 1_000, seq: 2 }]);
    expect(decodePostings(second)).toEqual([{ time: 2_000_000, seq: 300 }]);
  });
});
