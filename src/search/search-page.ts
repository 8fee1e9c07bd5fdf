import {
  EventPage,
  EventPageQuery,
  EventSearchText,
  findEventsBySeqs,
  scanSearchText,
  searchTextAfterSeq,
  searchTextOfSeqs,
} from "../database/audit-event.repository";
import { BlockPosition, indexedSeq, newestFirst, Posting, readPostingBlocks, termsWithPrefix } from "../database/search-postings.repository";
import type { Queryable } from "../database/statements";
import { matchesEveryWord, storedTerms } from "./search-terms";

/** How far a search page goes each way before it takes another. */
export interface SearchLimits {
  /** Events a page reads first, newest first through the log's own index, checking their words. @default 200 */
  sampleEvents: number;
  /** The most events a page reads that way in all: past it, the page reads the posting lists. @default 3000 */
  maxScannedEvents: number;
  /** Terms a word may stand for (the workspace's words it is a prefix of): past it, the word is too broad to read the postings of, and the log is scanned. @default 500 */
  maxTermsPerWord: number;
  /** Events not indexed yet that a page reads directly; past it (the indexer far behind), the log is scanned. @default 20000 */
  maxUnindexedEvents: number;
}

export const SEARCH_LIMITS: SearchLimits = { sampleEvents: 200, maxScannedEvents: 3_000, maxTermsPerWord: 500, maxUnindexedEvents: 20_000 };
/** Posting rows per read. */
const BLOCKS_PER_READ = 64;
/** Candidates checked per statement. */
const CHECK_CHUNK = 200;

/**
 * One page of a search of the workspace log: the events of `query` (its
 * conditions, range and position) whose words start with every word of
 * `words`, newest first.
 *
 * How it is found, cheapest way first:
 * 1. The newest `sampleEvents` events of the log, read through the
 *    log's own index, are checked word by word. A word in a fair share of the
 *    events fills the page here, or after a few more such reads when they
 *    promise to fill it within `maxScannedEvents`.
 * 2. Otherwise the rarest word of the sample drives: its terms (the
 *    workspace's words it is a prefix of) give their posting lists, newest
 *    first, from `search_postings`; each candidate is checked against the
 *    other words and the log's conditions. The page reads a term's newest rows
 *    first and stops as soon as it is full, so its cost follows the page, not
 *    the number of matches.
 * 3. Events after the indexed seq (the indexer's last few moments) are read
 *    and checked directly, and merge in by position.
 */
export async function findSearchPage(database: Queryable, query: EventPageQuery, words: readonly string[], limits = SEARCH_LIMITS): Promise<EventPage> {
  const need = query.size + 1;
  const found: EventSearchText[] = [];
  const wordHits = new Array<number>(words.length).fill(0);
  let position = query;
  let scanned = 0;
  for (let chunk = limits.sampleEvents; ;) {
    const events = await scanSearchText(database, position, chunk);
    scanned += events.length;
    for (const event of events) {
      const terms = storedTerms(event.searchText);
      words.forEach((word, index) => {
        if (terms.some((term) => term.startsWith(word))) wordHits[index] += 1;
      });
      if (matchesEveryWord(terms, words)) found.push(event);
      if (found.length === need) break;
    }
    if (found.length >= need || events.length < chunk) return pageOf(database, query, found.slice(0, need));
    position = after(query, events[events.length - 1]);
    // Read on only while the share of matches so far promises a full page soon.
    const share = found.length / scanned;
    const toRead = share > 0 ? (need - found.length) / share : Infinity;
    if (scanned + toRead > limits.maxScannedEvents) break;
    chunk = Math.min(limits.maxScannedEvents - scanned, Math.ceil(toRead * 1.5));
  }

  const rest = await indexedAndUnindexed(database, position, words, wordHits, need - found.length, limits);
  return pageOf(database, query, [...found, ...rest].slice(0, need));
}

/** Up to `need` matches older than `query`'s position: from the posting lists, and from the events after the indexed seq. */
async function indexedAndUnindexed(
  database: Queryable,
  query: EventPageQuery,
  words: readonly string[],
  wordHits: readonly number[],
  need: number,
  limits: SearchLimits,
): Promise<EventSearchText[]> {
  const indexed = await indexedSeq(database, query.workspaceId);
  const unindexed = await searchTextAfterSeq(database, query, indexed, limits.maxUnindexedEvents + 1);
  // The indexer far behind (after the migration, say): the log is scanned instead, which finds every event.
  if (unindexed.length > limits.maxUnindexedEvents) return scanAll(database, query, words, need, limits);
  const fresh = unindexed.filter((event) => matchesEveryWord(storedTerms(event.searchText), words));

  // The rarest word of the sample drives (the longest among equals: a longer word tends to be rarer).
  const driver = words.map((word, index) => ({ word, hits: wordHits[index] })).sort((a, b) => a.hits - b.hits || b.word.length - a.word.length)[0].word;
  const terms = await termsWithPrefix(database, query.workspaceId, driver, limits.maxTermsPerWord + 1);
  if (terms.length > limits.maxTermsPerWord) return scanAll(database, query, words, need, limits);
  const postings = terms.length === 0 ? [] : await postingMatches(database, query, terms, words, indexed, need);
  return [...postings, ...fresh].sort(newestFirst).slice(0, need);
}

/** Up to `need` of the indexed events (seq up to `indexed`) older than the position that hold one of `terms` and every word, newest first. */
async function postingMatches(
  database: Queryable,
  query: EventPageQuery,
  terms: readonly string[],
  words: readonly string[],
  indexed: number,
  need: number,
): Promise<EventSearchText[]> {
  const matches: EventSearchText[] = [];
  const seen = new Set<number>();
  let waiting: Posting[] = [];
  let resume: BlockPosition | null = null;
  const before = query.after ? query.after.occurredAt : query.to;
  do {
    const read = await readPostingBlocks(database, query.workspaceId, terms, { before, from: query.from, resume, limit: BLOCKS_PER_READ });
    for (const block of read.blocks) for (const posting of block.postings) if (isCandidate(posting, query, indexed, seen)) waiting.push(posting);
    waiting.sort(newestFirst);
    // No row still to read holds a posting later than the last row read's newest one.
    const settledUntil = read.next ? read.blocks[read.blocks.length - 1].newestAt : -Infinity;
    const settled = waiting.filter((posting) => posting.time > settledUntil);
    waiting = waiting.filter((posting) => posting.time <= settledUntil);
    for (let start = 0; start < settled.length && matches.length < need; start += CHECK_CHUNK) {
      matches.push(...(await checked(database, query, settled.slice(start, start + CHECK_CHUNK), words)));
    }
    resume = read.next;
  } while (resume && matches.length < need);
  return matches.slice(0, need);
}

/** Whether a posting may be on the page: indexed, not seen yet, within the range and older than the position. */
function isCandidate(posting: Posting, query: EventPageQuery, indexed: number, seen: Set<number>): boolean {
  if (posting.seq > indexed || seen.has(posting.seq)) return false;
  if (query.from && posting.time < query.from.getTime()) return false;
  if (query.to && posting.time >= query.to.getTime()) return false;
  const after = query.after;
  if (after && !(posting.time < after.occurredAt.getTime() || (posting.time === after.occurredAt.getTime() && posting.seq < after.seq))) return false;
  seen.add(posting.seq);
  return true;
}

/** The candidates (newest first) that the log's conditions show and that hold every word, in the same order. */
async function checked(database: Queryable, query: EventPageQuery, candidates: readonly Posting[], words: readonly string[]): Promise<EventSearchText[]> {
  const events = new Map(
    (
      await searchTextOfSeqs(
        database,
        query,
        candidates.map((posting) => posting.seq),
      )
    ).map((event) => [event.seq, event]),
  );
  const matches: EventSearchText[] = [];
  for (const candidate of candidates) {
    const event = events.get(candidate.seq);
    if (event && matchesEveryWord(storedTerms(event.searchText), words)) matches.push(event);
  }
  return matches;
}

/** Up to `need` matches older than the position, by reading the log through its own index: slow for a rare word, but it needs no index. */
async function scanAll(database: Queryable, query: EventPageQuery, words: readonly string[], need: number, limits: SearchLimits): Promise<EventSearchText[]> {
  const matches: EventSearchText[] = [];
  let position = query;
  for (;;) {
    const events = await scanSearchText(database, position, limits.maxScannedEvents);
    for (const event of events) if (matchesEveryWord(storedTerms(event.searchText), words)) matches.push(event);
    if (matches.length >= need || events.length < limits.maxScannedEvents) return matches.slice(0, need);
    position = after(query, events[events.length - 1]);
  }
}

/** The query, from just after an event it read on. */
function after(query: EventPageQuery, event: EventSearchText): EventPageQuery {
  return { ...query, after: { occurredAt: new Date(event.time), seq: event.seq } };
}

/** The page of the matches (one more than the page when older ones follow), whole, with the directory's entries. */
async function pageOf(database: Queryable, query: EventPageQuery, matches: readonly EventSearchText[]): Promise<EventPage> {
  const shown = matches.slice(0, query.size);
  const events = await findEventsBySeqs(
    database,
    query.workspaceId,
    shown.map((match) => match.seq),
    query.parts,
  );
  return { events, hasMore: matches.length > query.size };
}
