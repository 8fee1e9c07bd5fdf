import type { QueryRunner } from "typeorm";
import { placeholders, Queryable } from "./statements";

/**
 * `search_postings` and `search_progress`: the workspace log's inverted index
 * (see migrations/1796544000000-SearchPostings.ts for the layout,
 * 1796630400000-DeltaPostings.ts for the form of a posting list, and
 * src/search/ for how it is written and read).
 */

/** Where an event is in a log's order, and so in a posting list. */
export interface Posting {
  /** occurred_at, in milliseconds. */
  time: number;
  seq: number;
}

/** Newest first: later occurred_at, then higher seq (the logs' order). */
export function newestFirst(a: Posting, b: Posting): number {
  return b.time - a.time || b.seq - a.seq;
}

/**
 * A posting list, newest first, as stored: the first posting's occurred_at
 * (in milliseconds) and seq, then each next posting as its difference from
 * the one before, every number a variable-length unsigned integer (LEB128: 7
 * bits a byte, low bits first). occurred_at only goes back along the list, so
 * its difference is the milliseconds earlier; seq usually goes down too, but
 * an event may have occurred before an older one, so its difference is signed
 * (zigzag: 0, -1, 1, -2 ... as 0, 1, 2, 3 ...). A round's events are close in
 * time and seq: most postings take 2 to 4 bytes rather than two fixed 6-byte
 * fields, which is less to send, parse and store on every round.
 *
 * Numbers stay below 2^53 (times in ms, seqs), so arithmetic, not 32-bit
 * bitwise operators, splits them.
 */
export function encodePostings(postings: readonly Posting[]): Buffer {
  const bytes = scratch(postings.length * MAX_POSTING_BYTES);
  let length = 0;
  const write = (value: number) => {
    while (value >= 0x80) {
      bytes[length++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    bytes[length++] = value;
  };
  let previous: Posting | undefined;
  for (const posting of postings) {
    if (previous) {
      write(previous.time - posting.time);
      const seqStep = previous.seq - posting.seq;
      write(seqStep >= 0 ? 2 * seqStep : -2 * seqStep - 1);
    } else {
      write(posting.time);
      write(posting.seq);
    }
    previous = posting;
  }
  return Buffer.from(bytes.subarray(0, length));
}

export function decodePostings(buffer: Uint8Array): Posting[] {
  const postings: Posting[] = [];
  if (buffer.length === 0) return postings;
  let offset = 0;
  const read = () => {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = buffer[offset++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
  };
  let time = read();
  let seq = read();
  postings.push({ time, seq });
  while (offset < buffer.length) {
    time -= read();
    const seqStep = read();
    seq -= seqStep % 2 === 0 ? seqStep / 2 : -(seqStep + 1) / 2;
    postings.push({ time, seq });
  }
  return postings;
}

/** The most bytes a posting takes: two numbers below 2^53, 8 bytes each at 7 bits a byte. */
const MAX_POSTING_BYTES = 16;
let scratchBytes = new Uint8Array(64 * 1024);

/** A reusable buffer of at least `size` bytes for encoding (the encoded list is copied out of it). */
function scratch(size: number): Uint8Array {
  if (scratchBytes.length < size) scratchBytes = new Uint8Array(size);
  return scratchBytes;
}

/** One row of `search_postings`: a term's postings from one indexing round, newest first. */
export interface PostingBlock {
  term: string;
  postings: Posting[];
}

/** An event as the indexer reads it. */
export interface EventToIndex {
  seq: number;
  occurredAt: Date;
  searchText: string;
}

/** Rows per INSERT into `search_postings`. */
const INSERT_CHUNK = 1_000;

/**
 * Gives the workspace its progress row, at seq 0, unless it has one. Outside
 * the indexing transaction: two transactions that both insert the missing
 * row and then lock it deadlock each other.
 */
export async function ensureProgressRow(database: Queryable, workspaceId: string): Promise<void> {
  await database.query(`INSERT IGNORE INTO search_progress (workspace_id, indexed_seq) VALUES (?, 0)`, [workspaceId]);
}

/**
 * The seq up to which the workspace's events are indexed, locked until the
 * transaction ends: indexers of several instances take turns per workspace,
 * and none indexes an event twice. The row must exist ({@link ensureProgressRow}).
 */
export async function lockIndexedSeq(runner: QueryRunner, workspaceId: string): Promise<number> {
  const rows = (await runner.query(`SELECT indexed_seq AS seq FROM search_progress WHERE workspace_id = ? FOR UPDATE`, [workspaceId])) as {
    seq: number | string;
  }[];
  return Number(rows[0].seq);
}

export async function setIndexedSeq(runner: QueryRunner, workspaceId: string, seq: number): Promise<void> {
  await runner.query(`UPDATE search_progress SET indexed_seq = ? WHERE workspace_id = ?`, [seq, workspaceId]);
}

/** The seq up to which the workspace's events are indexed (0: none). */
export async function indexedSeq(database: Queryable, workspaceId: string): Promise<number> {
  const rows = (await database.query(`SELECT indexed_seq AS seq FROM search_progress WHERE workspace_id = ?`, [workspaceId])) as { seq: number | string }[];
  return rows.length > 0 ? Number(rows[0].seq) : 0;
}

/** Up to `limit` of the workspace's events after seq `afterSeq`, in seq order, as the indexer reads them. */
export async function eventsToIndex(database: Queryable, workspaceId: string, afterSeq: number, limit: number): Promise<EventToIndex[]> {
  const rows = (await database.query(`SELECT seq, occurred_at, search_text FROM audit_events WHERE workspace_id = ? AND seq > ? ORDER BY seq LIMIT ?`, [
    workspaceId,
    afterSeq,
    limit,
  ])) as { seq: number | string; occurred_at: Date; search_text: string }[];
  return rows.map((row) => ({ seq: Number(row.seq), occurredAt: row.occurred_at, searchText: row.search_text }));
}

/** Stores one indexing round's posting lists, one row per term, after the workspace's earlier rounds. `firstSeq` is the round's first seq. */
export async function insertPostingBlocks(runner: QueryRunner, workspaceId: string, firstSeq: number, blocks: readonly PostingBlock[]): Promise<void> {
  for (let start = 0; start < blocks.length; start += INSERT_CHUNK) {
    const chunk = blocks.slice(start, start + INSERT_CHUNK);
    const values: unknown[] = [];
    for (const { term, postings } of chunk) {
      values.push(workspaceId, term, new Date(postings[0].time), firstSeq, new Date(postings[postings.length - 1].time), encodePostings(postings));
    }
    await runner.query(
      `INSERT INTO search_postings (workspace_id, term, newest_at, first_seq, oldest_at, delta_postings) VALUES ${placeholders(chunk.length, 6)}`,
      values,
    );
  }
}

/** Removes the workspace's index and its progress: for a workspace recorded anew from seq 1. */
export async function deleteSearchIndexOfWorkspace(database: Queryable, workspaceId: string): Promise<void> {
  await database.query(`DELETE FROM search_postings WHERE workspace_id = ?`, [workspaceId]);
  await database.query(`DELETE FROM search_progress WHERE workspace_id = ?`, [workspaceId]);
}

/** Workspaces whose last seq is past their indexed seq. */
export async function workspacesBehind(database: Queryable): Promise<string[]> {
  const rows = (await database.query(
    `SELECT w.id FROM workspaces AS w LEFT JOIN search_progress AS p ON p.workspace_id = w.id WHERE w.last_seq > COALESCE(p.indexed_seq, 0)`,
  )) as { id: string }[];
  return rows.map((row) => row.id);
}

/**
 * The workspace's terms that start with `prefix`, in term order, at most
 * `limit`: read from the index's key, one entry per term however many rows
 * it has.
 */
export async function termsWithPrefix(database: Queryable, workspaceId: string, prefix: string, limit: number): Promise<string[]> {
  const { sql, params } = termsWithPrefixStatement(workspaceId, prefix, limit);
  return ((await database.query(sql, params)) as { term: string }[]).map((row) => row.term);
}

/** The statement {@link termsWithPrefix} sends. */
export function termsWithPrefixStatement(workspaceId: string, prefix: string, limit: number): { sql: string; params: unknown[] } {
  // A search word holds only letters, marks and digits, so it has no LIKE wildcard to escape.
  return {
    sql: `SELECT DISTINCT term FROM search_postings FORCE INDEX (ix_search_postings_term) WHERE workspace_id = ? AND term LIKE ? ORDER BY term LIMIT ?`,
    params: [workspaceId, `${prefix}%`, limit],
  };
}

/** Where a read of posting rows resumes: after this row in (newest_at, first_seq, term) descending order. */
export interface BlockPosition {
  newestAt: Date;
  firstSeq: number;
  term: string;
}

/** Posting rows read, and where the next read resumes (null: none left). */
export interface BlockRead {
  blocks: { newestAt: number; postings: Posting[] }[];
  next: BlockPosition | null;
}

/**
 * Up to `limit` posting rows of the terms, newest first, leaving out rows
 * whose postings are all after `before` (their oldest is later: a later page
 * starts where its cursor is) or all before `from` (their newest is earlier).
 * Resumes after `resume`.
 */
export async function readPostingBlocks(database: Queryable, workspaceId: string, terms: readonly string[], options: BlockReadOptions): Promise<BlockRead> {
  const { sql, params } = postingBlocksStatement(workspaceId, terms, options);
  const rows = (await database.query(sql, params)) as { term: string; newest_at: Date; first_seq: number | string; delta_postings: Buffer }[];
  const last = rows[rows.length - 1];
  return {
    blocks: rows.map((row) => ({ newestAt: row.newest_at.getTime(), postings: decodePostings(row.delta_postings) })),
    next: rows.length < options.limit || !last ? null : { newestAt: last.newest_at, firstSeq: Number(last.first_seq), term: last.term },
  };
}

export interface BlockReadOptions {
  before: Date | null;
  from: Date | null;
  resume: BlockPosition | null;
  limit: number;
}

/** The statement {@link readPostingBlocks} sends. */
export function postingBlocksStatement(workspaceId: string, terms: readonly string[], options: BlockReadOptions): { sql: string; params: unknown[] } {
  // One term reads along the key in order; several are merged by a sort of their rows (the page's LIMIT bounds what it returns).
  const one = terms.length === 1;
  const conditions = ["workspace_id = ?", one ? "term = ?" : "term IN (?)"];
  const params: unknown[] = [workspaceId, one ? terms[0] : terms];
  if (options.before) {
    conditions.push("oldest_at <= ?");
    params.push(options.before);
  }
  if (options.from) {
    conditions.push("newest_at >= ?");
    params.push(options.from);
  }
  if (options.resume) {
    const { newestAt, firstSeq, term } = options.resume;
    conditions.push("(newest_at < ? OR (newest_at = ? AND (first_seq < ? OR (first_seq = ? AND term < ?))))");
    params.push(newestAt, newestAt, firstSeq, firstSeq, term);
  }
  return {
    sql: `SELECT term, newest_at, first_seq, delta_postings FROM search_postings FORCE INDEX (ix_search_postings_term) WHERE ${conditions.join(" AND ")} ORDER BY newest_at DESC, first_seq DESC${one ? "" : ", term DESC"} LIMIT ?`,
    params: [...params, options.limit],
  };
}
