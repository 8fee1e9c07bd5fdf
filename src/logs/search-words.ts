import type { FulltextVocabulary } from "../database/fulltext-settings";

/**
 * What the workspace log's search can find: what the FULLTEXT index holds
 * (src/database/fulltext-settings.ts). A word the index cannot hold can
 * never narrow a search: required, it would match nothing; left out, it
 * leaves the search wider than the user asked, or empty, which would match
 * every event.
 */
export type SearchVocabulary = FulltextVocabulary;

/** Words of one search that are used, each as a required prefix; later ones are ignored. @default 10 */
export const MAX_SEARCH_WORDS = 10;

/** A search as the index can run it. */
export interface ParsedSearch {
  /** A boolean-mode expression: every word required, as a prefix; null when no word can be found. */
  expression: string | null;
  /** Words left out, as typed: too short, stop words, or past {@link MAX_SEARCH_WORDS}. */
  ignored: string[];
}

/**
 * Splits what a user typed into words (runs of letters, marks and digits:
 * search syntax is only ever a separator, so no input can make the query
 * fail) and keeps those the index can hold.
 */
export function parseSearch(text: string, vocabulary: SearchVocabulary): ParsedSearch {
  const used = new Set<string>();
  const ignored = new Map<string, string>();
  for (const word of text.normalize("NFC").split(/[^\p{L}\p{M}\p{N}]+/u)) {
    if (word === "") continue;
    const lower = word.toLowerCase();
    if (used.has(lower)) continue;
    const findable = [...word].length >= vocabulary.minWordLength && !vocabulary.stopwords.has(lower);
    if (findable && used.size < MAX_SEARCH_WORDS) used.add(lower);
    else if (!ignored.has(lower)) ignored.set(lower, word);
  }
  return { expression: used.size === 0 ? null : [...used].map((word) => `+${word}*`).join(" "), ignored: [...ignored.values()] };
}
